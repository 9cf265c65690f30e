r"""Ranking losses over lists of scored items.

Each loss scores lists ``[..., n]`` (the last axis is the list) and returns one value
per list. As in optax and rax, ``where`` and ``weights`` are per *item*, shaped like
(or broadcast to) the scores: ``where`` marks the valid items (padding is False) and
``weights`` weighs each item. A weight constant over a list (shape ``[..., 1]``)
weighs the whole list, for every loss here, since each is linear in it; a list
with every item masked is left out of ``"mean"``.

These are plain functions, not loss definitions: their per-item masks and weights
are inputs of the list's loss, not weights of the per-list losses (which is all a
definition's ``where``/``weights`` can be). Their derivatives are written by hand,
each a ``jax.custom_jvp`` whose rule is in jnp operations, so second order works.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction
from jaxloss._metric import check_weights, reduce_checked
from jaxloss._reduction import compute_dtype

__all__ = ["pairwise_hinge_loss", "pairwise_logistic_loss", "ranking_softmax_loss"]


def _list_inputs(
    scores: ArrayLike, labels: ArrayLike, where: ArrayLike | None, weights: ArrayLike | None
) -> tuple[jax.Array, jax.Array, jax.Array | None, jax.Array | None]:
    """The scores, labels, item mask and item weights, checked (shapes at trace time)."""
    scores_array = _checks.as_array("logits", scores)
    _checks.check_floating("logits", scores_array)
    if scores_array.ndim == 0:
        raise ValueError("logits must have a list axis, got a scalar")
    labels_array = _checks.as_array("labels", labels)
    _checks.check_numeric("labels", labels_array)
    _checks.check_same_shape("logits", scores_array, "labels", labels_array)
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, scores_array.shape, "logits")
    weights_array = None
    if weights is not None:
        check_weights(weights)
        weights_array = _checks.as_array("weights", weights)
        _checks.check_numeric("weights", weights_array)
        _checks.check_broadcastable("weights", weights_array, scores_array.shape, "logits")
    return scores_array, labels_array, where_array, weights_array


def _spelled_out(scores, labels, where, weights):
    """Compute-dtype scores, labels and weights and a boolean mask, all of one shape."""
    dtype = compute_dtype(scores.dtype)
    shape = scores.shape
    valid = jnp.ones(shape, bool) if where is None else jnp.broadcast_to(where, shape)
    item_weights = (
        jnp.ones(shape, dtype) if weights is None else jnp.broadcast_to(weights, shape)
    ).astype(dtype)
    return scores.astype(dtype), labels.astype(dtype), valid, item_weights


# --------------------------------------------------------------------------------------
# ranking_softmax_loss (optax's)


def _softmax_pieces(scores, labels, weights, valid):
    # The log-sum-exp over the valid items of each list, shifted by their maximum.
    maximum = jnp.max(jnp.where(valid, scores, -jnp.inf), axis=-1, keepdims=True)
    maximum = jax.lax.stop_gradient(jnp.where(jnp.isfinite(maximum), maximum, 0))
    exponentials = jnp.where(valid, jnp.exp(jnp.where(valid, scores, 0) - maximum), 0)
    total = jnp.sum(exponentials, axis=-1, keepdims=True)
    safe_total = jnp.where(total > 0, total, 1)
    # L - s_i, the negative log-softmax of each valid item; 0 at masked ones.
    surprise = jnp.where(valid, jnp.log(safe_total) + maximum - jnp.where(valid, scores, 0), 0)
    relevance = jnp.where(valid, labels * weights, 0)
    return exponentials / safe_total, surprise, relevance


@jax.custom_jvp
def _ranking_softmax(scores, labels, weights, valid):
    _, surprise, relevance = _softmax_pieces(scores, labels, weights, valid)
    return jnp.sum(relevance * surprise, axis=-1)


@_ranking_softmax.defjvp
def _ranking_softmax_jvp(primals, tangents):
    scores, labels, weights, valid = primals
    d_scores, d_labels, d_weights, _ = tangents
    softmax, surprise, relevance = _softmax_pieces(scores, labels, weights, valid)
    value = jnp.sum(relevance * surprise, axis=-1)
    # d/ds_k of sum_i r_i (L - s_i) is p_k sum_i r_i - r_k (0 at masked items, whose
    # softmax and relevance are 0); d/dy_k = w_k (L - s_k), d/dw_k = y_k (L - s_k).
    d_value = jnp.sum(
        (softmax * jnp.sum(relevance, axis=-1, keepdims=True) - relevance) * d_scores
        + surprise * (weights * d_labels + labels * d_weights),
        axis=-1,
    )
    return value, d_value


def ranking_softmax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""The ranking softmax loss, optax's ``ranking_softmax_loss``.

    .. math:: \ell(s, y) = -\sum_i w_i y_i \log\frac{e^{s_i}}{\sum_{j\ \mathrm{valid}} e^{s_j}}

    over the valid items of each list. The relevance labels are used as they are, not
    normalized to sum to 1 (optax's definition; rax and TF-Ranking normalize them).
    A weight multiplies its item's label, as in optax; a zero-weighted valid item still
    takes part in the normalizer, a masked one does not.

    ``reduction="none"`` returns exactly optax's ``reduce_fn=None`` (0 for a list
    without valid items), ``"sum"`` its ``jnp.sum`` and ``"mean"`` its ``jnp.mean``
    (over the lists with at least one valid item). Finite at scores of any finite size
    (optax's own extreme case, ``3.4e37``, included). Derivative in closed form:
    :math:`p_k \sum_i w_i y_i - w_k y_k`, :math:`p` the softmax over the valid items.

    Args:
      logits: scores ``[..., n]``.
      labels: relevance labels ``[..., n]`` (graded relevance, >= 0).
      where: optional boolean mask of valid items, broadcast to ``logits``.
      weights: optional non-negative item weights, broadcast to ``logits``.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``, over the lists.

    Returns:
      A scalar, or one loss per list (``[...]``) when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.ranking_softmax_loss(jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(1.40760..., dtype=float32)
    """
    scores, label_array, where_array, weights_array = _list_inputs(logits, labels, where, weights)
    return _ranking_softmax_reduced(
        scores, label_array, where_array, weights_array, reduction=reduction
    )


@functools.partial(jax.jit, static_argnames=("reduction",))
def _ranking_softmax_reduced(scores, labels, where, weights, *, reduction):
    spelled_scores, spelled_labels, valid, item_weights = _spelled_out(
        scores, labels, where, weights
    )
    loss = _ranking_softmax(spelled_scores, spelled_labels, item_weights, valid)
    lists = None if where is None else jnp.any(valid, axis=-1)
    return reduce_checked(
        loss,
        reduction=reduction,
        weights=None,
        where=None,
        none_dtype=scores.dtype,
        selected=lists,
    )


# --------------------------------------------------------------------------------------
# pairwise_hinge_loss and pairwise_logistic_loss (rax's definitions)


def _pair_loss(differences: jax.Array, kind: str) -> tuple[jax.Array, jax.Array]:
    """``f(s_i - s_j)`` and ``f'`` for the hinge ``max(0, 1 - d)`` or ``log(1 + e^-d)``."""
    if kind == "hinge":
        return jnp.maximum(1 - differences, 0), -(differences < 1).astype(differences.dtype)
    # log(1 + exp(-d)) = relu(-d) + log1p(exp(-|d|)): no overflow at large |d|.
    value = jax.nn.relu(-differences) + jnp.log1p(jnp.exp(-jnp.abs(differences)))
    return value, -jax.nn.sigmoid(-differences)


def _pairs(scores, labels, weights, valid, kind):
    # Pair (i, j) counts when item i is more relevant than item j and both are valid;
    # it is weighted by the more relevant item's weight, as rax does.
    counted = (
        (labels[..., :, None] > labels[..., None, :]) & valid[..., :, None] & valid[..., None, :]
    )
    differences = scores[..., :, None] - scores[..., None, :]
    values, slopes = _pair_loss(differences, kind)
    pair_weights = jnp.where(counted, weights[..., :, None], 0)
    return counted, jnp.where(counted, values, 0), pair_weights * slopes


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _pairwise(scores, labels, weights, valid, kind: str):
    counted, values, _ = _pairs(scores, labels, weights, valid, kind)
    return jnp.sum(jnp.where(counted, weights[..., :, None], 0) * values, axis=(-2, -1))


@_pairwise.defjvp
def _pairwise_jvp(kind, primals, tangents):
    scores, labels, weights, valid = primals
    d_scores, _, d_weights, _ = tangents
    counted, values, weighted_slopes = _pairs(scores, labels, weights, valid, kind)
    value = jnp.sum(jnp.where(counted, weights[..., :, None], 0) * values, axis=(-2, -1))
    # d/ds_k: sum_j A_kj w_k f'(s_k - s_j) - sum_i A_ik w_i f'(s_i - s_k); the labels
    # only order the items (piecewise constant); d/dw_i = sum_j A_ij f(s_i - s_j).
    d_value = jnp.sum(
        (jnp.sum(weighted_slopes, axis=-1) - jnp.sum(weighted_slopes, axis=-2)) * d_scores
        + jnp.sum(values, axis=-1) * d_weights,
        axis=-1,
    )
    return value, d_value


def _pairwise_loss(scores, labels, where, weights, *, kind, reduction):
    scores_array, label_array, where_array, weights_array = _list_inputs(
        scores, labels, where, weights
    )
    return _pairwise_reduced(
        scores_array, label_array, where_array, weights_array, kind=kind, reduction=reduction
    )


@functools.partial(jax.jit, static_argnames=("kind", "reduction"))
def _pairwise_reduced(scores, labels, where, weights, *, kind, reduction):
    spelled_scores, spelled_labels, valid, item_weights = _spelled_out(
        scores, labels, where, weights
    )
    loss = _pairwise(spelled_scores, spelled_labels, item_weights, valid, kind)
    counted = (
        (spelled_labels[..., :, None] > spelled_labels[..., None, :])
        & valid[..., :, None]
        & valid[..., None, :]
    )
    return reduce_checked(
        loss,
        reduction=reduction,
        weights=None,
        where=None,
        none_dtype=scores.dtype,
        selected=jnp.any(counted, axis=(-2, -1)),
    )


def pairwise_hinge_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""The pairwise hinge ranking loss over each list (rax's ``pairwise_hinge_loss``).

    .. math:: \ell(s, y) = \sum_{i,j} [y_i > y_j]\, w_i \max(0, 1 - (s_i - s_j))

    over the pairs of valid items. rax's ``reduce_fn=jnp.mean`` averages over the
    pairs of the whole batch: that is ``reduction="sum"`` divided by the pair count.
    Derivative in closed form: :math:`-w_i [s_i - s_j < 1]` for :math:`s_i`, the
    opposite for :math:`s_j`, summed over the pairs.

    Args:
      logits: scores ``[..., n]``.
      labels: relevance labels ``[..., n]``; item ``i`` should outrank ``j`` when
        ``labels[i] > labels[j]``.
      where: optional boolean mask of valid items, broadcast to ``logits``.
      weights: optional non-negative item weights, broadcast to ``logits``; a pair
        is weighted by its more relevant item's weight (rax's rule).
      reduction: ``"mean"`` over the lists with at least one pair, ``"sum"`` (rax's
        default ``jnp.sum``) or ``"none"``: the sum over each list's pairs.

    Returns:
      A scalar, or one loss per list (``[...]``) when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.pairwise_hinge_loss(jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(2., dtype=float32)
    """
    return _pairwise_loss(logits, labels, where, weights, kind="hinge", reduction=reduction)


def pairwise_logistic_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    where: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
) -> jax.Array:
    r"""The pairwise logistic (RankNet) loss over each list (rax's ``pairwise_logistic_loss``).

    .. math:: \ell(s, y) = \sum_{i,j} [y_i > y_j]\, w_i \log(1 + e^{-(s_i - s_j)})

    over the pairs of valid items, written as ``relu(-d) + log1p(exp(-|d|))`` so that
    no score difference overflows. rax's ``reduce_fn=jnp.mean`` averages over the
    pairs of the whole batch: that is ``reduction="sum"`` divided by the pair count.
    Derivative in closed form: :math:`-w_i\,\sigma(-(s_i - s_j))` for :math:`s_i`,
    the opposite for :math:`s_j`, summed over the pairs.

    Args:
      logits: scores ``[..., n]``.
      labels: relevance labels ``[..., n]``; item ``i`` should outrank ``j`` when
        ``labels[i] > labels[j]``.
      where: optional boolean mask of valid items, broadcast to ``logits``.
      weights: optional non-negative item weights, broadcast to ``logits``; a pair
        is weighted by its more relevant item's weight (rax's rule).
      reduction: ``"mean"`` over the lists with at least one pair, ``"sum"`` (rax's
        default ``jnp.sum``) or ``"none"``: the sum over each list's pairs.

    Returns:
      A scalar, or one loss per list (``[...]``) when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.pairwise_logistic_loss(
      ...     jnp.array([2.0, 1.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(1.62652..., dtype=float32)
    """
    return _pairwise_loss(logits, labels, where, weights, kind="logistic", reduction=reduction)
