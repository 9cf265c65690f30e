"""Textbook formulas: segmentation (see tests/formulas/__init__.py).

The segmentation losses are plain functions; this is their reference, written from
Milletari et al. 2016 / Salehi et al. 2017 with optax's smoothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def tversky(probabilities, targets, *, smooth=1.0, alpha=0.5, beta=0.5, xp: ModuleType):
    """1 - (TP + s) / (TP + a FP + b FN + s) per (example, class), [B, *spatial, C] inputs."""
    axes = tuple(range(1, probabilities.ndim - 1))
    true_positive = xp.sum(probabilities * targets, axis=axes)
    false_positive = xp.sum(probabilities * (1 - targets), axis=axes)
    false_negative = xp.sum((1 - probabilities) * targets, axis=axes)
    return 1 - (true_positive + smooth) / (
        true_positive + alpha * false_positive + beta * false_negative + smooth
    )
