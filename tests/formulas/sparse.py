"""Textbook formulas: sparse (see tests/formulas/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def _sparse_plus(z, xp):
    # Blondel, Martins & Niculae, "Learning with Fenchel-Young Losses" (JMLR 2020),
    # sec. 4.4: 0 for z <= -1, (z + 1)^2 / 4 for |z| < 1, z for z >= 1 (jax.nn.sparse_plus).
    return xp.where(z <= -1, 0.0, xp.where(z >= 1, z, (z + 1) ** 2 / 4))


def _sparsemax_loss(logits, labels, *, xp):
    # The Fenchel-Young loss of the binary sparsemax (ibid.): Omega*(z) + Omega(y) - z y
    # with Omega*(z) = sparse_plus(z) and Omega(y) = y^2 - y; for y in {0, 1} it is
    # optax's sparse_plus(-z) (y = 1) or sparse_plus(z) (y = 0).
    return _sparse_plus(logits, xp) + labels**2 - labels - logits * labels


def _sparsemax_threshold(scores, xp):
    # Martins & Astudillo, "From Softmax to Sparsemax" (ICML 2016), Algorithm 1: with
    # z sorted in decreasing order, k(z) = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)} and
    # tau = (sum_{j<=k(z)} z_(j) - 1) / k(z).
    num_classes = scores.shape[-1]
    ordered = -xp.sort(-scores, axis=-1)
    ranks = xp.arange(1, num_classes + 1, dtype=scores.dtype).reshape(
        (1,) * (scores.ndim - 1) + (-1,)
    )
    cumulative = xp.cumsum(ordered, axis=-1)
    size = xp.sum(1 + ranks * ordered > cumulative, axis=-1, keepdims=True)
    threshold = (xp.take_along_axis(cumulative, size - 1, axis=-1) - 1) / size.astype(scores.dtype)
    return threshold, size


def _multiclass_sparsemax_loss(scores, labels, *, xp):
    # Martins & Astudillo (ICML 2016), eq. (17): -z_y + 1/2 sum_{j in S(z)} (z_j^2 - tau^2)
    # + 1/2, with S(z) = {j : z_j > tau}.
    from tests.reference import _one_hot

    threshold, _ = _sparsemax_threshold(scores, xp)
    in_support = scores > threshold
    squares = xp.sum(xp.where(in_support, scores**2 - threshold**2, 0.0), axis=-1)
    label_score = xp.sum(_one_hot(labels, scores.shape[-1], scores.dtype, xp) * scores, axis=-1)
    return -label_score + squares / 2 + 0.5


FORMULAS["sparsemax_loss"] = _sparsemax_loss
FORMULAS["multiclass_sparsemax_loss"] = _multiclass_sparsemax_loss
