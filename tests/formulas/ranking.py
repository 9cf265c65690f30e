"""Textbook formulas: ranking (see tests/formulas/__init__.py).

The ranking losses are plain functions (per-item masks and weights); these are their
references, one list at a time, written from rax's and optax's definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

FORMULAS: dict[str, Callable[..., Any]] = {}


def ranking_softmax(scores, labels, valid, weights, *, xp: ModuleType = np):
    """optax's ranking_softmax_loss for one list: -sum_i w_i y_i log softmax(s | valid)_i."""
    kept = [i for i in range(scores.shape[0]) if valid[i]]
    if not kept:
        return 0.0 * xp.sum(scores)
    valid_scores = xp.stack([scores[i] for i in kept])
    log_normalizer = xp.log(xp.sum(xp.exp(valid_scores - xp.max(valid_scores)))) + xp.max(
        valid_scores
    )
    return -sum(weights[i] * labels[i] * (scores[i] - log_normalizer) for i in kept)


def pairwise(scores, labels, valid, weights, *, kind: str, xp: ModuleType = np):
    """rax's pairwise_{hinge,logistic}_loss for one list with reduce_fn=jnp.sum."""
    total = 0.0 * xp.sum(scores)
    count = scores.shape[0]
    for i in range(count):
        for j in range(count):
            if labels[i] > labels[j] and valid[i] and valid[j]:
                difference = scores[i] - scores[j]
                if kind == "hinge":
                    pair = xp.maximum(1 - difference, 0)
                else:
                    pair = xp.log1p(xp.exp(-difference))
                total = total + weights[i] * pair
    return total
