"""torch adapters: LinearCrossEntropyLoss / linear_cross_entropy."""

from __future__ import annotations

__all__: list[str] = []
