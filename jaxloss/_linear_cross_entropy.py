"""Large-vocabulary cross-entropy from the hidden states, without the logits."""

from __future__ import annotations

__all__: list[str] = []
