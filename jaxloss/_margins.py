"""Margin losses: the hinges, perceptrons and torch's margin losses."""

from __future__ import annotations

__all__: list[str] = []
