"""Ranking losses over lists of scored items."""

from __future__ import annotations

__all__: list[str] = []
