"""torch adapters of the metric-learning losses.

CosineEmbeddingLoss, TripletMarginLoss, TripletMarginWithDistanceLoss.
"""

from __future__ import annotations

__all__: list[str] = []
