"""Segmentation overlap losses: Dice, generalized Dice and Tversky."""

from __future__ import annotations

__all__: list[str] = []
