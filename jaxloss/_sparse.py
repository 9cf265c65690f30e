"""Sparsemax and Fenchel-Young losses."""

from __future__ import annotations

__all__: list[str] = []
