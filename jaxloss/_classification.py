r"""Classification losses: the cross-entropies, one_hot_mse and the rescaled square loss.

Each loss is one :class:`~jaxloss._definition.LossDefinition` followed by its public
``def``. The class axis of per-example losses is the last one after ``axis`` is moved
there; their unreduced loss has one value per example. A class index outside
``[0, C)`` gives a NaN loss for its example (it is never wrapped around or silently
ignored); mask such examples with ``where`` to leave them out, or check them with
``jaxloss.checked``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction
from jaxloss._definition import LossDefinition, Parameter
from jaxloss._regression import LOGIT_EXTREMES, REAL_EXTREMES

__all__ = [
    "binary_cross_entropy",
    "one_hot",
    "one_hot_mse",
    "rescaled_square_loss",
    "sigmoid_binary_cross_entropy",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]

# torch's binary_cross_entropy clamps each log at -100 so that p = 0 or 1 stays finite.
_LOG_CLAMP = -100.0
# torch's gradient of binary_cross_entropy divides by max(p (1 - p), 1e-12).
_BCE_GRADIENT_EPSILON = 1e-12
_PROBABILITY_EXTREMES = (0.0, 1e-12, 0.5, 1.0 - 1e-7, 1.0)
_LABEL_SMOOTHING = Parameter("label_smoothing", low=0.0, high=1.0)


def _one_hot(labels: jax.Array, num_classes: int, dtype) -> jax.Array:
    # An explicit iota of the full shape: jax.nn.one_hot relies on rank promotion.
    classes = jax.lax.broadcasted_iota(labels.dtype, (*labels.shape, num_classes), labels.ndim)
    return (labels[..., None] == classes).astype(dtype)


def times(coefficient: jax.Array, log_value: jax.Array) -> jax.Array:
    """``coefficient * log_value`` with the convention ``0 * log 0 = 0``."""
    return jnp.where(coefficient == 0, 0, coefficient * log_value)


def nan_outside_classes(loss: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
    """Marks the loss of an out-of-range label as NaN instead of a plausible number."""
    valid = (labels >= 0) & (labels < num_classes)
    if loss.ndim > labels.ndim:
        valid = valid[..., None]
    return jnp.where(valid, loss, jnp.nan)


def _gather(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Each example's label logit, ``[...]``; an out-of-range label reads a clipped one."""
    return jnp.take_along_axis(logits, labels[..., None], axis=-1, mode="clip")[..., 0]


def _softmax_product(probabilities: jax.Array, vector: jax.Array) -> jax.Array:
    """``(diag(p) - p p^T) v`` per example: the softmax's Jacobian times ``v``."""
    return probabilities * (vector - jnp.sum(probabilities * vector, axis=-1, keepdims=True))


# --------------------------------------------------------------------------------------
# binary_cross_entropy


def _binary_cross_entropy(probabilities: jax.Array, targets: jax.Array):
    log_p = jnp.maximum(jnp.log(probabilities), _LOG_CLAMP)
    log_not_p = jnp.maximum(jnp.log1p(-probabilities), _LOG_CLAMP)
    value = -(targets * log_p + (1 - targets) * log_not_p)
    # d/dp = -t/p + (1 - t)/(1 - p) = (p - t) / (p (1 - p)), clamped as torch does.
    slope = jnp.maximum(probabilities * (1 - probabilities), _BCE_GRADIENT_EPSILON)
    return value, ((probabilities - targets) / slope, log_not_p - log_p)


def _binary_cross_entropy_curvature(probabilities: jax.Array, targets: jax.Array):
    # d/dp of (p - y) / (p (1 - p)) is y / p^2 + (1 - y) / (1 - p)^2; where torch's clamp
    # holds the denominator at 1e-12, the derivative of (p - y) / 1e-12 is 1e12.
    slope = probabilities * (1 - probabilities)
    curvature = targets / jnp.square(probabilities) + (1 - targets) / jnp.square(1 - probabilities)
    return jnp.where(slope > _BCE_GRADIENT_EPSILON, curvature, 1 / _BCE_GRADIENT_EPSILON)


BINARY_CROSS_ENTROPY = LossDefinition(
    name="binary_cross_entropy",
    value_and_partials=_binary_cross_entropy,
    curvature=_binary_cross_entropy_curvature,
    domain="probability",
    target_kind="probability",
    link="sigmoid",
    extremes=_PROBABILITY_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.binary_cross_entropy`.

    :math:`-y/p + (1-y)/(1-p) = (p - y) / (p(1-p))`, with the denominator clamped at
    :math:`10^{-12}` as torch does.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))
      Array([-2.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.binary_cross_entropy`.

    :math:`y/p^2 + (1-y)/(1-p)^2`, and :math:`10^{12}` where torch's clamp of
    :math:`p(1-p)` at :math:`10^{-12}` applies.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))
      Array([4.], dtype=float32)
    """,
)


@BINARY_CROSS_ENTROPY.public
def binary_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary cross-entropy on probabilities, torch's ``nn.BCELoss()``.

    .. math:: \ell_i = -\big(y_i \log p_i + (1 - y_i)\log(1 - p_i)\big)

    Each log is clamped at -100, as torch does, so ``p = 0`` or ``1`` stays finite.
    The gradient is :math:`(p - y) / \max(p(1-p), 10^{-12})`. Prefer
    :func:`jaxloss.sigmoid_binary_cross_entropy` on logits: it is exact where this
    one clamps.

    Args:
      probabilities: values in ``[0, 1]``, any shape.
      targets: values in ``[0, 1]``, same shape as ``probabilities``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``probabilities`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.binary_cross_entropy(jnp.array([0.9, 0.2]), jnp.array([1.0, 0.0]))
      Array(0.164..., dtype=float32)
    """
    return BINARY_CROSS_ENTROPY(
        probabilities, targets, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# sigmoid_binary_cross_entropy


def _sigmoid_binary_cross_entropy(
    logits: jax.Array, targets: jax.Array, pos_weight: jax.Array | None
):
    probabilities = jax.nn.sigmoid(logits)
    if pos_weight is None:
        # The loss is softplus(z) - y z, written as (1 - y) relu(z) + y relu(-z) +
        # log1p(exp(-|z|)): one transcendental pair instead of two log-sigmoids, and
        # `times` keeps (z, y) = (+inf, 1) at 0 rather than 0 * inf = NaN.
        value = (
            times(1 - targets, jax.nn.relu(logits))
            + times(targets, jax.nn.relu(-logits))
            + jnp.log1p(jnp.exp(-jnp.abs(logits)))
        )
        # d/dz = sigmoid(z) - y; d/dy = log sigmoid(-z) - log sigmoid(z) = -z.
        return value, (probabilities - targets, -logits, None)
    # log_sigmoid(-z) is log(1 - sigmoid(z)) without the cancellation at large z.
    log_p = jax.nn.log_sigmoid(logits)
    log_not_p = jax.nn.log_sigmoid(-logits)
    positive = pos_weight * targets
    value = -(times(positive, log_p) + times(1 - targets, log_not_p))
    # d/dz = (1 - y) sigmoid(z) - w y sigmoid(-z), which is sigmoid(z) - y when w = 1.
    d_logits = (1 - targets) * probabilities - positive * jax.nn.sigmoid(-logits)
    return value, (d_logits, log_not_p - pos_weight * log_p, -times(targets, log_p))


def _sigmoid_binary_cross_entropy_curvature(
    logits: jax.Array, targets: jax.Array, pos_weight: jax.Array | None
) -> jax.Array:
    # d/dz of (1 - y) s - w y (1 - s) is s (1 - s) ((1 - y) + w y) >= 0: convex.
    # sigmoid(z) * sigmoid(-z) is s (1 - s) without the cancellation of 1 - s.
    slope = jax.nn.sigmoid(logits) * jax.nn.sigmoid(-logits)
    if pos_weight is None:
        return slope
    return slope * ((1 - targets) + pos_weight * targets)


SIGMOID_BINARY_CROSS_ENTROPY = LossDefinition(
    name="sigmoid_binary_cross_entropy",
    value_and_partials=_sigmoid_binary_cross_entropy,
    curvature=_sigmoid_binary_cross_entropy_curvature,
    domain="logit",
    target_kind="probability",
    link="identity",
    parameters=(Parameter("pos_weight", low=0.0, optional=True),),
    options={"pos_weight": 2.5},
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.sigmoid_binary_cross_entropy`.

    From :math:`\frac{d}{dz}\log\sigma(z) = \sigma(-z)` and
    :math:`\frac{d}{dz}\log\sigma(-z) = -\sigma(z)`:
    :math:`(1-y)\sigma(z) - w_+ y\,\sigma(-z)`, which is :math:`\sigma(z) - y` when
    :math:`w_+ = 1`; for ``"mean"``, :math:`(\sigma(z) - y)/N`. No :math:`\sigma'(z)`
    factor: the gradient stays large while the prediction is wrong.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.sigmoid_binary_cross_entropy(
      ...     jnp.array([0.0, 10.0]), jnp.array([1.0, 0.0]))
      Array([-0.25 ,  0.49...], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.sigmoid_binary_cross_entropy`.

    :math:`\sigma(z)(1-\sigma(z))\,((1-y) + w_+ y)`, which is :math:`\sigma(1-\sigma) \ge 0`
    without ``pos_weight``: the loss is convex in the logit.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sigmoid_binary_cross_entropy(
      ...     jnp.array([0.0, 2.0]), jnp.zeros(2), reduction="sum")
      Array([0.25 , 0.104...], dtype=float32)
    """,
)


@SIGMOID_BINARY_CROSS_ENTROPY.public
def sigmoid_binary_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    pos_weight: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary cross-entropy on logits, torch's ``nn.BCEWithLogitsLoss()``.

    .. math:: \ell_i = -\big(w_+ y_i \log\sigma(z_i) + (1 - y_i)\log\sigma(-z_i)\big)

    Its gradient is :math:`(1-y)\sigma(z) - w_+ y\,\sigma(-z)`, which is
    :math:`\sigma(z) - y` without ``pos_weight``: unlike ``sigmoid_mse`` it does not
    vanish when the sigmoid saturates on the wrong side. Value and gradient are
    finite and exact at logits of any size, infinite ones included (the loss at
    ``(+inf, 1)`` is 0 with gradient 0).

    Args:
      logits: pre-sigmoid scores, any shape.
      targets: values in ``[0, 1]``, same shape as ``logits``.
      pos_weight: optional non-negative weight :math:`w_+` of the positive term, broadcast to
        ``logits`` (one per class for multi-label problems), as in torch.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``logits`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([0.0, 1.0]))
      Array(0.410..., dtype=float32)
    """
    return SIGMOID_BINARY_CROSS_ENTROPY(
        logits, targets, pos_weight=pos_weight, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# softmax_cross_entropy (class axis last)


def _softmax_cross_entropy(logits: jax.Array, targets: jax.Array, smoothing: jax.Array):
    num_classes = logits.shape[-1]
    smoothed = (1 - smoothing) * targets + smoothing / num_classes
    # Subtracting the row maximum first is exact, so `shifted - normaliser` keeps its
    # precision at large logits, where `z - logsumexp(z)` would lose it (float32's
    # spacing at 1e4 is 1e-3).
    shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    exponentials = jnp.exp(shifted)
    total = jnp.sum(exponentials, axis=-1, keepdims=True)
    normaliser = jnp.log(total)
    target_sum = jnp.sum(smoothed, axis=-1, keepdims=True)
    # -sum_c y_c (shifted_c - normaliser) = normaliser sum(y) - sum_c y_c shifted_c;
    # `times` gives 0 * (-inf) = 0, so a class masked with a -inf logit adds nothing.
    value = (normaliser * target_sum)[..., 0] - jnp.sum(times(smoothed, shifted), axis=-1)
    log_probabilities = shifted - normaliser
    # d/dz_c of -sum_k y_k log softmax(z)_k is softmax(z)_c sum_k y_k - y_c; the softmax
    # reuses the value's exponentials, so value and gradient take one pass.
    d_logits = exponentials / total * target_sum - smoothed
    d_targets = -(1 - smoothing) * log_probabilities
    d_smoothing = jnp.sum((targets - 1 / num_classes) * log_probabilities, axis=-1)
    return value, (d_logits, d_targets, d_smoothing)


def _softmax_cross_entropy_curvature(logits, targets, smoothing, vector) -> jax.Array:
    # d/dz of p sum(y) - y is sum(y) (diag(p) - p p^T), per example.
    smoothed_sum = (1 - smoothing) * jnp.sum(targets, axis=-1, keepdims=True) + smoothing
    return smoothed_sum * _softmax_product(jax.nn.softmax(logits, axis=-1), vector)


SOFTMAX_CROSS_ENTROPY = LossDefinition(
    name="softmax_cross_entropy",
    value_and_partials=_softmax_cross_entropy,
    curvature=_softmax_cross_entropy_curvature,
    domain="logit",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    parameters=(_LABEL_SMOOTHING,),
    class_axis=True,
    options={"label_smoothing": 0.1},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.softmax_cross_entropy`.

    With :math:`p = \operatorname{softmax}(z)` and
    :math:`\partial \log p_k / \partial z_c = [k = c] - p_c`:
    :math:`\partial\ell/\partial z_c = p_c \sum_k y_k - y_c`, i.e. ``p - y`` for targets
    summing to 1, the targets being smoothed first when ``label_smoothing > 0``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[-0.5,  0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.softmax_cross_entropy`, ``[..., C, C]``.

    :math:`(\sum_c y_c)\,(\operatorname{diag}(p) - p p^\top)` with
    :math:`p = \operatorname{softmax}(z)` (``diag(p) - p p^T`` for targets summing
    to 1): positive semi-definite. The definition's closed form is the
    Hessian-vector product; the blocks are built from it column by column.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """,
)


@SOFTMAX_CROSS_ENTROPY.public
def softmax_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    label_smoothing: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against probability (or one-hot) targets.

    .. math:: \ell_n = -\sum_c y_{nc} \log \operatorname{softmax}(z_n)_c

    One value per example before reduction. Its gradient is
    :math:`\operatorname{softmax}(z)\sum_c y_c - y`, i.e. ``softmax(z) - y`` for
    targets that sum to 1. A class masked with a ``-inf`` logit and target 0 adds 0
    (``0 log 0 = 0``) to the value and the gradient.

    Args:
      logits: scores with a class axis.
      targets: class probabilities, same shape as ``logits``.
      axis: the class axis.
      label_smoothing: ``alpha`` in ``[0, 1]``; targets become
        ``(1 - alpha) y + alpha / C`` (see :func:`jaxloss.smooth_labels`).
      reduction, weights, where: as in :func:`jaxloss.mse`, with ``weights`` and
        ``where`` broadcast to the per-example loss (``logits`` without ``axis``).

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[2.0, 0.0, -1.0]])
      >>> jaxloss.softmax_cross_entropy(logits, jnp.array([[1.0, 0.0, 0.0]]))
      Array(0.169..., dtype=float32)
    """
    return SOFTMAX_CROSS_ENTROPY(
        logits,
        targets,
        axis=axis,
        label_smoothing=label_smoothing,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# softmax_cross_entropy_with_integer_labels


def _smoothed_one_hot(labels: jax.Array, num_classes: int, smoothing, dtype) -> jax.Array:
    return (1 - smoothing) * _one_hot(labels, num_classes, dtype) + smoothing / num_classes


def _softmax_integer(logits: jax.Array, labels: jax.Array, smoothing: jax.Array):
    # logsumexp(z) - (1 - a) z_y - a mean(z), on max-shifted logits: the label's logit
    # is gathered, not multiplied by a one-hot row, so no [N, C] target array is built.
    # The gather and the mean read the raw logits and subtract the row maximum after:
    # reading the shifted array instead would make XLA store it, [N, C].
    num_classes = logits.shape[-1]
    maximum = jax.lax.stop_gradient(jnp.max(logits, axis=-1))
    exponentials = jnp.exp(logits - maximum[..., None])
    total = jnp.sum(exponentials, axis=-1)
    label_logit = _gather(logits, labels)
    mean_logit = jnp.mean(logits, axis=-1)
    # With a = 0 the mean is skipped, so -inf logits at masked classes add nothing.
    smoothing_term = jnp.where(smoothing == 0, 0, smoothing * (mean_logit - maximum))
    value = jnp.log(total) - (1 - smoothing) * (label_logit - maximum) - smoothing_term
    value = nan_outside_classes(value, labels, num_classes)
    # The smoothed one-hot row sums to 1, so the derivative is softmax(z) - target; the
    # softmax reuses the value's exponentials: one exponential per logit for both.
    target = _smoothed_one_hot(labels, num_classes, smoothing, logits.dtype)
    d_logits = exponentials / total[..., None] - target
    # d/da of -(1 - a) z_y - a mean(z) is z_y - mean(z).
    return value, (d_logits, None, label_logit - mean_logit)


def _softmax_integer_curvature(logits, labels, smoothing, vector) -> jax.Array:
    # The smoothed one-hot row sums to 1: diag(p) - p p^T, whatever the label.
    return _softmax_product(jax.nn.softmax(logits, axis=-1), vector)


SOFTMAX_CROSS_ENTROPY_WITH_INTEGER_LABELS = LossDefinition(
    name="softmax_cross_entropy_with_integer_labels",
    value_and_partials=_softmax_integer,
    curvature=_softmax_integer_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=(_LABEL_SMOOTHING,),
    class_axis=True,
    class_weights=True,
    options={"label_smoothing": 0.1},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.softmax_cross_entropy_with_integer_labels`.

    ``softmax(z) - target`` with ``target = (1 - alpha) onehot(y) + alpha / C``, each
    example scaled by its weight (``class_weights[y]`` included) and the reduction.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_cross_entropy_with_integer_labels(
      ...     jnp.zeros((1, 2)), jnp.array([1]))
      Array([[ 0.5, -0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.softmax_cross_entropy_with_integer_labels`.

    :math:`\operatorname{diag}(p) - p p^\top` per example, ``[..., C, C]``, scaled by
    the example's weight (``class_weights[y]`` included) and the reduction. It does
    not depend on the label.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_cross_entropy_with_integer_labels(
      ...     jnp.zeros((1, 2)), jnp.array([1]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """,
)


@SOFTMAX_CROSS_ENTROPY_WITH_INTEGER_LABELS.public
def softmax_cross_entropy_with_integer_labels(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    label_smoothing: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against integer class labels, torch's ``nn.CrossEntropyLoss``.

    .. math:: \ell_n = -\log \operatorname{softmax}(z_n)_{y_n}

    With ``label_smoothing = alpha`` the target is ``(1 - alpha) onehot(y) + alpha/C``.
    The gradient is ``softmax(z) - target``.

    ``class_weights[y_n]`` multiplies example ``n``'s weight, and ``"mean"`` divides
    by the summed weights, as torch does. (With label smoothing torch also weights
    each smoothing term by its own class; jaxloss weights the whole example by its
    label's class.) A label outside ``[0, C)`` gives a NaN loss for its example.

    Args:
      logits: scores with a class axis.
      labels: integer class indices, shaped like ``logits`` without ``axis``.
      axis: the class axis.
      label_smoothing: ``alpha`` in ``[0, 1]``.
      class_weights: optional weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
      >>> jaxloss.softmax_cross_entropy_with_integer_labels(
      ...     logits, jnp.array([0, 2]), reduction="none")
      Array([0.169..., 1.098...], dtype=float32)
    """
    return SOFTMAX_CROSS_ENTROPY_WITH_INTEGER_LABELS(
        logits,
        labels,
        axis=axis,
        label_smoothing=label_smoothing,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# one_hot_mse


def _one_hot_mse(predictions: jax.Array, labels: jax.Array):
    num_classes = predictions.shape[-1]
    valid = (labels >= 0) & (labels < num_classes)
    # An out-of-range label gets a NaN target row: the select fuses into the loss,
    # where marking the [N, C] loss afterwards would store it.
    targets = jnp.where(valid[..., None], _one_hot(labels, num_classes, predictions.dtype), jnp.nan)
    difference = predictions - targets
    return jnp.square(difference), (2 * difference, None)


ONE_HOT_MSE = LossDefinition(
    name="one_hot_mse",
    value_and_partials=_one_hot_mse,
    curvature=lambda predictions, labels: jnp.full_like(predictions, 2),
    domain="real",
    target_kind="labels",
    link="softmax",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.one_hot_mse`: ``2 (p - onehot(y))``; ``/ (N C)`` for
    ``"mean"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.one_hot_mse(jnp.array([[0.5, 0.5]]), jnp.array([0]))
      Array([[-0.5,  0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.one_hot_mse`: 2 per element (``2/(NC)`` for mean).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.one_hot_mse(jnp.array([[0.5, 0.5]]), jnp.array([0]))
      Array([[1., 1.]], dtype=float32)
    """,
)


@ONE_HOT_MSE.public
def one_hot_mse(
    predictions: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean squared error against one-hot encoded integer labels.

    .. math:: \ell_{nc} = (p_{nc} - [c = y_n])^2

    Equal to ``mse(predictions, one_hot(labels, C))``: the mean runs over all
    ``N * C`` elements, as torch's ``MSELoss`` does with one-hot targets. This is
    how MSE is used for multi-class problems; cross-entropy takes the indices
    directly. The gradient is ``2 (p - onehot(y))`` scaled by the reduction.

    Args:
      predictions: floating array ``[..., C]`` (often softmax outputs).
      labels: integer class indices, shape ``[...]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        elementwise loss ``[..., C]`` (per-example weights need shape ``[..., 1]``).

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.one_hot_mse(jnp.array([[0.8, 0.1, 0.1]]), jnp.array([0]))
      Array(0.02, dtype=float32)
    """
    return ONE_HOT_MSE(predictions, labels, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# rescaled_square_loss


def _rescaled_square(logits: jax.Array, labels: jax.Array, k: jax.Array, m: jax.Array):
    num_classes = logits.shape[-1]
    # (sum_i z_i^2 - z_y^2 + k (z_y - m)^2) / C with z_y gathered: one pass over the
    # logits, no [N, C] one-hot or factor array.
    label_logit = _gather(logits, labels)
    squares = jnp.sum(jnp.square(logits), axis=-1)
    total = squares - jnp.square(label_logit) + k * jnp.square(label_logit - m)
    # An infinite label logit makes the loss infinite; the subtraction would give inf - inf.
    total = jnp.where(jnp.isinf(label_logit), jnp.inf, total)
    value = nan_outside_classes(total / num_classes, labels, num_classes)
    one_hot_rows = _one_hot(labels, num_classes, logits.dtype)
    factor = 1 + (k - 1) * one_hot_rows
    d_logits = 2 * factor * (logits - m * one_hot_rows) / num_classes
    d_k = jnp.square(label_logit - m) / num_classes
    d_m = -2 * k * (label_logit - m) / num_classes
    return value, (d_logits, None, d_k, d_m)


def _rescaled_square_curvature(logits, labels, k, m, vector) -> jax.Array:
    # Diagonal: 2k/C at the label's class, 2/C elsewhere.
    factor = 1 + (k - 1) * _one_hot(labels, logits.shape[-1], logits.dtype)
    return 2 * factor * vector / logits.shape[-1]


RESCALED_SQUARE_LOSS = LossDefinition(
    name="rescaled_square_loss",
    value_and_partials=_rescaled_square,
    curvature=_rescaled_square_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=(Parameter("k", low=0.0, low_open=True), Parameter("m")),
    options={"k": 3.0, "m": 2.0},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.rescaled_square_loss`.

    :math:`\frac{2k}{C}(z_y - m)` for the label's logit and :math:`\frac2C z_i` for the
    others.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.rescaled_square_loss(
      ...     jnp.array([[0.5, 0.5]]), jnp.array([0]), reduction="sum")
      Array([[-0.5,  0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.rescaled_square_loss`, ``[..., C, C]``.

    Diagonal: :math:`2k/C` at the label's class and :math:`2/C` elsewhere.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.rescaled_square_loss(
      ...     jnp.zeros((1, 2)), jnp.array([0]), k=3.0, reduction="sum")
      Array([[[3., 0.],
              [0., 1.]]], dtype=float32)
    """,
)


@RESCALED_SQUARE_LOSS.public
def rescaled_square_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    k: ArrayLike = 1.0,
    m: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The rescaled square loss of Hui & Belkin (ICLR 2021) on raw logits.

    .. math:: \ell_n = \frac1C\Big[k (z_{n y_n} - m)^2 + \sum_{i \ne y_n} z_{ni}^2\Big]

    ``k = m = 1`` is one-hot MSE on the logits (per example). Hui & Belkin use
    ``k > 1`` and ``m > 1`` for many classes. The gradient is
    ``(2/C) factor * (z - m onehot(y))`` with ``factor`` ``k`` at the label, 1 elsewhere.

    Args:
      logits: scores ``[..., C]``.
      labels: integer class indices, shape ``[...]``.
      k: positive, finite weight of the true class's term.
      m: finite target value of the true class's logit.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.rescaled_square_loss(jnp.array([[0.8, 0.1, 0.1]]), jnp.array([0]))
      Array(0.02, dtype=float32)
    """
    return RESCALED_SQUARE_LOSS(
        logits, labels, k=k, m=m, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# Helpers.


def one_hot(labels: ArrayLike, num_classes: int, *, dtype=jnp.float32) -> jax.Array:
    """One-hot rows of width ``num_classes`` for integer ``labels``.

    A label outside ``[0, num_classes)`` gives an all-zero row, as ``jax.nn.one_hot`` does.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.one_hot(jnp.array([2, 0]), 3)
      Array([[0., 0., 1.],
             [1., 0., 0.]], dtype=float32)
    """
    labels_array = _checks.as_array("labels", labels)
    _checks.check_integer("labels", labels_array)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise TypeError(f"num_classes must be an int, got {type(num_classes).__name__}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return _one_hot(labels_array, int(num_classes), dtype)


def smooth_labels(targets: ArrayLike, alpha: ArrayLike) -> jax.Array:
    """Label smoothing: ``(1 - alpha) * targets + alpha / C`` over the last axis.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.smooth_labels(jnp.array([1.0, 0.0, 0.0, 0.0]), 0.2)
      Array([0.85, 0.05, 0.05, 0.05], dtype=float32)
    """
    targets_array = _checks.as_array("targets", targets)
    _checks.check_floating("targets", targets_array)
    if targets_array.ndim == 0:
        raise ValueError("targets must have a class axis, got a scalar")
    Parameter("alpha", low=0.0, high=1.0).check_concrete(alpha)
    alpha_array = jnp.asarray(alpha, targets_array.dtype)
    return (1 - alpha_array) * targets_array + alpha_array / targets_array.shape[-1]
