"""Sequence losses: connectionist temporal classification (CTC)."""

from __future__ import annotations

__all__: list[str] = []
