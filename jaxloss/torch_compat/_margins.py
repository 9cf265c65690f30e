"""torch adapters of the margin losses.

SoftMarginLoss, HingeEmbeddingLoss, MarginRankingLoss, MultiMarginLoss,
MultiLabelMarginLoss, MultiLabelSoftMarginLoss.
"""

from __future__ import annotations

__all__: list[str] = []
