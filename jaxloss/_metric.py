"""Metric learning: triplet, contrastive (NT-Xent), circle and cosine-embedding losses."""

from __future__ import annotations

__all__: list[str] = []
