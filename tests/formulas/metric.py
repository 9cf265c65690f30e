"""Textbook formulas: metric learning (see tests/formulas/__init__.py).

``FORMULAS`` holds the loss definitions' unreduced formulas; the other functions are
the batch-coupled losses' references, written from their sources independently of
jaxloss (loops and plain sums where jaxloss uses masked log-sum-exps).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

FORMULAS: dict[str, Callable[..., Any]] = {}


def triplet_margin_loss(anchors, positives, negatives, *, xp: ModuleType, **options):
    # optax's triplet_margin_loss: (sum (a - x)^p + eps)^(1/p) per distance, Balntas et
    # al. 2016's max(d(a, p) - d(a, n) + margin, 0); |a - x| so that odd p is a norm.
    p = options.get("norm_degree", 2.0)
    eps = options.get("eps", 1e-6)
    margin = options.get("margin", 1.0)
    d_positive = (xp.sum(xp.abs(anchors - positives) ** p, axis=-1) + eps) ** (1 / p)
    d_negative = (xp.sum(xp.abs(anchors - negatives) ** p, axis=-1) + eps) ** (1 / p)
    return xp.maximum(d_positive - d_negative + margin, 0)


def cosine_embedding(input1, input2, target, *, xp: ModuleType, **options):
    # torch's CosineEmbeddingLoss (ATen's cosine_embedding_loss): cos with 1e-12 added
    # to each squared norm; 1 - cos for y = 1, max(0, cos - margin) for y = -1, the two
    # joined linearly in y as jaxloss documents (torch's own numbers: tests/test_metric.py).
    margin = options.get("margin", 0.0)
    cosine = xp.sum(input1 * input2, axis=-1) / xp.sqrt(
        (xp.sum(input1**2, axis=-1) + 1e-12) * (xp.sum(input2**2, axis=-1) + 1e-12)
    )
    # (1 + y)/2 (1 - cos) + (1 - y)/2 max(0, cos - margin): torch's two cases at y = +-1,
    # and differentiable in y, as jaxloss's definition is.
    return (1 + target) / 2 * (1 - cosine) + (1 - target) / 2 * xp.maximum(cosine - margin, 0)


FORMULAS["triplet_margin_loss"] = triplet_margin_loss
FORMULAS["cosine_embedding"] = cosine_embedding


def ntxent_pairs(embeddings, labels, temperature, *, xp: ModuleType = np, epsilon=None):
    """Chen et al. 2020's NT-Xent per positive pair, [N, N] (0 off the positive pairs).

    optax's cosine: e / sqrt(max(|e|^2, eps)); each positive pair (i, j), i != j, is a
    softmax cross-entropy of s_ij against s_ij and the negatives of i.
    """
    if epsilon is None:
        epsilon = np.finfo(np.float32).eps
    norms = xp.sqrt(xp.maximum(xp.sum(embeddings**2, axis=-1, keepdims=True), epsilon))
    units = embeddings / norms
    scores = units @ units.T / temperature
    count = embeddings.shape[0]
    rows = []
    for i in range(count):
        row = []
        negatives = [k for k in range(count) if labels[k] != labels[i]]
        for j in range(count):
            if j == i or labels[j] != labels[i]:
                row.append(0.0 * scores[i, j])
                continue
            logits = xp.stack([scores[i, j]] + [scores[i, k] for k in negatives])
            row.append(xp.log(xp.sum(xp.exp(logits))) - scores[i, j])
        rows.append(xp.stack(row))
    return xp.stack(rows)


def circle_rows(embeddings, labels, *, gamma=80.0, margin=0.4, remove_diagonal=True, xp=np):
    """Keras 3's keras.losses.circle, per anchor, written from its source's formula.

    d = max(1 - x x^T, 0); positives: same label (not (i, i) with remove_diagonal),
    negatives: other labels; logits -g [m + d]_+ (m - d) and g [1 + m - d]_+ (1 - m - d);
    loss softplus(logsumexp(positive logits) + logsumexp(negative logits)).
    """
    distances = xp.maximum(1 - embeddings @ embeddings.T, 0)
    count = embeddings.shape[0]
    losses = []
    for i in range(count):
        positive = [
            -gamma * xp.maximum(margin + distances[i, j], 0) * (margin - distances[i, j])
            for j in range(count)
            if labels[j] == labels[i] and not (remove_diagonal and j == i)
        ]
        negative = [
            gamma * xp.maximum(1 + margin - distances[i, j], 0) * (1 - margin - distances[i, j])
            for j in range(count)
            if labels[j] != labels[i]
        ]
        if not positive or not negative:
            losses.append(0.0 * distances[i, i])
            continue
        total = xp.log(xp.sum(xp.exp(xp.stack(positive)))) + xp.log(
            xp.sum(xp.exp(xp.stack(negative)))
        )
        losses.append(xp.logaddexp(0.0, total))
    return xp.stack(losses)
