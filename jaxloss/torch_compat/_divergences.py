"""torch adapters: KLDivLoss, PoissonNLLLoss, GaussianNLLLoss."""

from __future__ import annotations

__all__: list[str] = []
