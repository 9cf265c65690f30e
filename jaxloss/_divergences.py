"""Divergences between distributions: the KL divergences and their relatives."""

from __future__ import annotations

__all__: list[str] = []
