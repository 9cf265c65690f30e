"""Textbook formulas: margins (see tests/formulas/__init__.py).

Where a loss has a kink, the formula is written so that ``jax.grad`` of it takes the
subgradient the defining library takes there: ``maximum(0, m)`` (JAX's slope 1/2 at
``m = 0``, and an equal split among tied maxima in ``max``) for optax's and Keras's
losses, which are written that way; a ``where`` on ``m >= 0`` (torch's ``clamp_min``
passes the slope at the bound) or on ``m > 0`` (torch's kernels count strictly positive
gaps) for torch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def formula(name: str):
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        FORMULAS[name] = function
        return function

    return register


def _one_hot(labels, num_classes, dtype, xp):
    from tests.reference import _one_hot

    return _one_hot(labels, num_classes, dtype, xp)


@formula("hinge_loss")
def hinge_loss(scores, targets, *, xp):
    # optax.losses.hinge_loss: jnp.maximum(0, 1 - predictor_outputs * targets).
    return xp.maximum(0.0, 1 - scores * targets)


@formula("perceptron_loss")
def perceptron_loss(scores, targets, *, xp):
    # optax.losses.perceptron_loss: jnp.maximum(0, -predictor_outputs * targets).
    return xp.maximum(0.0, -scores * targets)


@formula("squared_hinge")
def squared_hinge(scores, targets, *, xp):
    # keras.losses.squared_hinge, per element: square(maximum(1 - y_true * y_pred, 0)).
    return xp.maximum(1 - targets * scores, 0.0) ** 2


@formula("multiclass_hinge_loss")
def multiclass_hinge_loss(scores, labels, *, xp):
    # Crammer & Singer (JMLR 2001), as optax writes it: max_c (s_c + 1 - [c = y]) - s_y.
    one_hot = _one_hot(labels, scores.shape[-1], scores.dtype, xp)
    return xp.max(scores + 1 - one_hot, axis=-1) - xp.sum(scores * one_hot, axis=-1)


@formula("multiclass_perceptron_loss")
def multiclass_perceptron_loss(scores, labels, *, xp):
    # Collins (EMNLP 2002), as optax writes it: max_c s_c - s_y.
    one_hot = _one_hot(labels, scores.shape[-1], scores.dtype, xp)
    return xp.max(scores, axis=-1) - xp.sum(scores * one_hot, axis=-1)


@formula("categorical_hinge")
def categorical_hinge(scores, targets, *, xp):
    # keras.losses.categorical_hinge: pos = sum(y_true * y_pred), neg = max((1 - y_true)
    # * y_pred), maximum(neg - pos + 1, 0).
    positive = xp.sum(targets * scores, axis=-1)
    negative = xp.max((1 - targets) * scores, axis=-1)
    return xp.maximum(negative - positive + 1, 0.0)


@formula("soft_margin")
def soft_margin(scores, targets, *, xp):
    # torch.nn.SoftMarginLoss: log(1 + exp(-y x)), as logaddexp(0, -y x) so that float64
    # is exact at any margin.
    return xp.logaddexp(0.0, -targets * scores)


@formula("hinge_embedding")
def hinge_embedding(distances, targets, *, xp, margin=1.0):
    # torch.nn.HingeEmbeddingLoss: x for y = 1, max(0, margin - x) for y = -1; the
    # `>= 0` keeps the slope at the kink, as torch's clamp_min does.
    gap = margin - distances
    return xp.where(targets > 0, distances, xp.where(gap >= 0, gap, 0.0))


@formula("margin_ranking")
def margin_ranking(input1, input2, targets, *, xp, margin=0.0):
    # torch.nn.MarginRankingLoss: max(0, -y (x1 - x2) + margin); the `>= 0` keeps the
    # slope at the kink, as torch's clamp_min does.
    gap = margin - targets * (input1 - input2)
    return xp.where(gap >= 0, gap, 0.0)


@formula("multi_margin")
def multi_margin(scores, labels, *, xp, p=1.0, margin=1.0):
    # torch.nn.MultiMarginLoss: sum_{i != y} max(0, margin - x[y] + x[i])**p / C, the
    # hinge counted where strictly positive, as torch's kernel. The power of a safe
    # base keeps d/dp of the inactive entries at 0 (0**p log 0 would be NaN).
    num_classes = scores.shape[-1]
    one_hot = _one_hot(labels, num_classes, scores.dtype, xp)
    label_score = xp.sum(scores * one_hot, axis=-1, keepdims=True)
    gap = margin - label_score + scores
    active = (gap > 0) & (one_hot == 0)
    powered = xp.where(active, xp.where(active, gap, 1.0) ** p, 0.0)
    return xp.sum(powered, axis=-1) / num_classes


@formula("multilabel_margin")
def multilabel_margin(scores, targets, *, xp):
    # torch.nn.MultiLabelMarginLoss: sum over target classes j and non-target classes i
    # of max(0, 1 - (x[j] - x[i])) / C, strictly positive hinges only. Targets t in
    # [0, 1] weigh the pair (j, i), j != i, by t_j (1 - t_i): the 0/1 case is torch's.
    num_classes = scores.shape[-1]
    # Pairs as a (C, C) grid, j down and i across, the diagonal left out: a loop over
    # the pairs would unroll C^2 operations into the trace (a million at C = 1024).
    gap = 1 - scores[..., :, None] + scores[..., None, :]
    weight = targets[..., :, None] * (1 - targets[..., None, :])
    off_diagonal = xp.broadcast_to(~xp.eye(num_classes, dtype=bool), gap.shape)
    hinges = xp.where(off_diagonal, weight * xp.where(gap > 0, gap, 0.0), 0.0)
    total = xp.sum(hinges, axis=(-2, -1))
    return total / num_classes


@formula("multilabel_soft_margin")
def multilabel_soft_margin(logits, targets, *, xp):
    # torch.nn.MultiLabelSoftMarginLoss: -1/C sum_i y_i log sigmoid(x_i)
    # + (1 - y_i) log sigmoid(-x_i).
    from tests.reference import _log_sigmoid

    per_class = targets * _log_sigmoid(logits, xp) + (1 - targets) * _log_sigmoid(-logits, xp)
    return -xp.sum(per_class, axis=-1) / logits.shape[-1]
