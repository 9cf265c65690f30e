r"""Classification losses: the cross-entropies and their variants, and the square losses.

Each loss is one :class:`~jaxloss._definition.LossDefinition` followed by its public
``def``. The class axis of per-example losses is the last one after ``axis`` is moved
there; their unreduced loss has one value per example. A class index outside
``[0, C)`` gives a NaN loss for its example (it is never wrapped around or silently
ignored); mask such examples with ``where`` to leave them out, or check them with
``jaxloss.checked``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction, check_array_range
from jaxloss._definition import LossDefinition, Parameter
from jaxloss._frontend import as_checked_array
from jaxloss._reduction import compute_dtype, reduce
from jaxloss._regression import LOGIT_EXTREMES, REAL_EXTREMES

__all__ = [
    "binary_cross_entropy",
    "generalized_cross_entropy",
    "one_hot",
    "one_hot_mse",
    "poly_loss_cross_entropy",
    "rescaled_square_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "softmax_focal_loss",
    "softmax_focal_loss_with_integer_labels",
    "squentropy",
    "z_loss",
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
# Softmax helpers, exact at infinite logits.


def _softmax_parts(logits: jax.Array):
    """``(shifted, exponentials, total, maximum)`` of each row, the last two ``[..., 1]``.

    ``shifted`` is the logits less their row maximum. A ``+inf`` logit is the row
    maximum, and ``inf - inf`` would be NaN; it is shifted to 0 instead, and every
    finite logit of its row to ``-inf``: the softmax's limit, all mass on the ``+inf``
    class. A row of only ``-inf`` logits has no softmax and stays NaN.
    """
    maximum = jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    shifted = jnp.where(logits == jnp.inf, 0, logits - maximum)
    exponentials = jnp.exp(shifted)
    total = jnp.sum(exponentials, axis=-1, keepdims=True)
    return shifted, exponentials, total, maximum


def _softmax(logits: jax.Array) -> jax.Array:
    """``softmax(logits)`` over the last axis, one-hot on a single ``+inf`` logit."""
    _, exponentials, total, _ = _softmax_parts(logits)
    return exponentials / total


def _integer_parts(logits: jax.Array, labels: jax.Array):
    """``(probabilities, log_total, label_shifted, total, maximum)`` for integer labels.

    All but the probabilities are ``[...]``: ``-log softmax(z)_y`` is
    ``log_total - label_shifted``. The label's logit is gathered from the raw logits
    and shifted after: reading a shifted ``[N, C]`` array instead would make XLA
    store it. A ``+inf`` logit is handled as in :func:`_softmax_parts`.
    """
    maximum = jax.lax.stop_gradient(jnp.max(logits, axis=-1))
    exponentials = jnp.exp(jnp.where(logits == jnp.inf, 0, logits - maximum[..., None]))
    total = jnp.sum(exponentials, axis=-1)
    label_logit = _gather(logits, labels)
    label_shifted = jnp.where(label_logit == jnp.inf, 0, label_logit - maximum)
    probabilities = exponentials / total[..., None]
    return probabilities, jnp.log(total), label_shifted, total, maximum


def _without_limit(value: jax.Array, total: jax.Array, maximum: jax.Array) -> jax.Array:
    """NaN where two or more logits of an example are ``+inf``: no limit exists there.

    With a ``+inf`` maximum, ``total`` counts the ``+inf`` logits (``exp(0) = 1``
    each, ``exp(-inf) = 0`` for the rest); ``total`` and ``maximum`` are ``[...]``.
    """
    return jnp.where((maximum == jnp.inf) & (total > 1), jnp.nan, value)


def _z_penalty(coefficient: jax.Array, log_sum_exp: jax.Array, probabilities: jax.Array):
    """The z-loss ``c logsumexp(z)^2`` per example, its gradient and its ``d/dc``.

    ``log_sum_exp`` is ``[..., 1]``. ``times`` keeps ``c = 0`` at exactly 0, even
    where ``logsumexp`` is infinite.
    """
    value = times(coefficient, jnp.square(log_sum_exp))[..., 0]
    # d/dz_c of c lse^2 is 2 c lse softmax(z)_c.
    d_logits = times(2 * coefficient, log_sum_exp) * probabilities
    return value, d_logits, jnp.square(log_sum_exp)[..., 0]


def _z_penalty_product(coefficient, log_sum_exp, probabilities, vector, softmax_vector):
    """The z-loss's Hessian times ``vector``: ``2c (p p^T + lse (diag(p) - p p^T)) v``."""
    along = probabilities * jnp.sum(probabilities * vector, axis=-1, keepdims=True)
    return times(2 * coefficient, along + times(softmax_vector, log_sum_exp))


_Z_LOSS = Parameter("z_loss", low=0.0)


# --------------------------------------------------------------------------------------
# softmax_cross_entropy (class axis last)


def _softmax_cross_entropy(
    logits: jax.Array,
    targets: jax.Array,
    smoothing: jax.Array,
    z_loss: jax.Array,
):
    num_classes = logits.shape[-1]
    smoothed = (1 - smoothing) * targets + smoothing / num_classes
    # Subtracting the row maximum first is exact, so `shifted - normaliser` keeps its
    # precision at large logits, where `z - logsumexp(z)` would lose it (float32's
    # spacing at 1e4 is 1e-3).
    shifted, exponentials, total, maximum = _softmax_parts(logits)
    normaliser = jnp.log(total)
    target_sum = jnp.sum(smoothed, axis=-1, keepdims=True)
    # -sum_c y_c (shifted_c - normaliser) = normaliser sum(y) - sum_c y_c shifted_c;
    # `times` gives 0 * (-inf) = 0, so a class masked with a -inf logit adds nothing.
    value = (normaliser * target_sum)[..., 0] - jnp.sum(times(smoothed, shifted), axis=-1)
    log_probabilities = shifted - normaliser
    probabilities = exponentials / total
    # d/dz_c of -sum_k y_k log softmax(z)_k is softmax(z)_c sum_k y_k - y_c; the softmax
    # reuses the value's exponentials, so value and gradient take one pass.
    d_logits = probabilities * target_sum - smoothed
    d_targets = -(1 - smoothing) * log_probabilities
    d_smoothing = jnp.sum((targets - 1 / num_classes) * log_probabilities, axis=-1)
    penalty, d_penalty, d_z_loss = _z_penalty(z_loss, maximum + normaliser, probabilities)
    value = _without_limit(value + penalty, total[..., 0], maximum[..., 0])
    return value, (d_logits + d_penalty, d_targets, d_smoothing, d_z_loss)


def _softmax_cross_entropy_curvature(logits, targets, smoothing, z_loss, vector) -> jax.Array:
    # d/dz of p sum(y) - y is sum(y) (diag(p) - p p^T), per example.
    smoothed_sum = (1 - smoothing) * jnp.sum(targets, axis=-1, keepdims=True) + smoothing
    _, exponentials, total, maximum = _softmax_parts(logits)
    probabilities = exponentials / total
    product = _softmax_product(probabilities, vector)
    log_sum_exp = maximum + jnp.log(total)
    penalty = _z_penalty_product(z_loss, log_sum_exp, probabilities, vector, product)
    return smoothed_sum * product + penalty


SOFTMAX_CROSS_ENTROPY = LossDefinition(
    name="softmax_cross_entropy",
    value_and_partials=_softmax_cross_entropy,
    curvature=_softmax_cross_entropy_curvature,
    domain="logit",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    parameters=(_LABEL_SMOOTHING, _Z_LOSS),
    class_axis=True,
    options={"label_smoothing": 0.1},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.softmax_cross_entropy`.

    With :math:`p = \operatorname{softmax}(z)` and
    :math:`\partial \log p_k / \partial z_c = [k = c] - p_c`:
    :math:`\partial\ell/\partial z_c = p_c \sum_k y_k - y_c`, i.e. ``p - y`` for targets
    summing to 1, the targets being smoothed first when ``label_smoothing > 0``; the
    z-loss adds :math:`2 c \operatorname{logsumexp}(z)\, p_c`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[-0.5,  0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.softmax_cross_entropy`, ``[..., C, C]``.

    :math:`(\sum_c y_c)\,(\operatorname{diag}(p) - p p^\top)` with
    :math:`p = \operatorname{softmax}(z)` (``diag(p) - p p^T`` for targets summing
    to 1): positive semi-definite. The z-loss adds
    :math:`2c\,(p p^\top + \operatorname{logsumexp}(z)(\operatorname{diag}(p) - p p^\top))`.
    The definition's closed form is the Hessian-vector product; the blocks are built
    from it column by column.

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
    z_loss: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against probability (or one-hot) targets.

    .. math:: \ell_n = -\sum_c y_{nc} \log \operatorname{softmax}(z_n)_c
        + c_z \operatorname{logsumexp}(z_n)^2

    One value per example before reduction. Its gradient is
    :math:`\operatorname{softmax}(z)\sum_c y_c - y`, i.e. ``softmax(z) - y`` for
    targets that sum to 1. A class masked with a ``-inf`` logit and target 0 adds 0
    (``0 log 0 = 0``) to the value and the gradient, as in optax's
    ``safe_softmax_cross_entropy`` (optax's ``softmax_cross_entropy`` gives NaN
    there). A ``+inf`` logit gives the limit: 0 when all the target mass is on its
    class, ``+inf`` otherwise, with a finite gradient; two ``+inf`` logits in one
    example have no limit and give NaN.

    Args:
      logits: scores with a class axis.
      targets: class probabilities, same shape as ``logits``.
      axis: the class axis.
      label_smoothing: ``alpha`` in ``[0, 1]``; targets become
        ``(1 - alpha) y + alpha / C`` (see :func:`jaxloss.smooth_labels`).
      z_loss: coefficient :math:`c_z \ge 0` of the z-loss
        :math:`c_z \operatorname{logsumexp}(z)^2` (see :func:`jaxloss.z_loss`) added
        to each example; 0 (the default) adds nothing.
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
        z_loss=z_loss,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# safe_softmax_cross_entropy


def _safe_softmax_cross_entropy(logits: jax.Array, targets: jax.Array):
    zero = jnp.zeros((), logits.dtype)
    value, partials = _softmax_cross_entropy(logits, targets, zero, zero)
    return value, partials[:2]


def _safe_softmax_cross_entropy_curvature(logits, targets, vector) -> jax.Array:
    target_sum = jnp.sum(targets, axis=-1, keepdims=True)
    return target_sum * _softmax_product(_softmax(logits), vector)


SAFE_SOFTMAX_CROSS_ENTROPY = LossDefinition(
    name="safe_softmax_cross_entropy",
    value_and_partials=_safe_softmax_cross_entropy,
    curvature=_safe_softmax_cross_entropy_curvature,
    domain="logit",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    class_axis=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.safe_softmax_cross_entropy`.

    :math:`p \sum_c y_c - y` with :math:`p = \operatorname{softmax}(z)`; 0 at a class
    masked with a ``-inf`` logit and target 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.safe_softmax_cross_entropy(
      ...     jnp.array([[0.0, 0.0, -jnp.inf]]), jnp.array([[1.0, 0.0, 0.0]]))
      Array([[-0.5,  0.5,  0. ]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.safe_softmax_cross_entropy`:
    :math:`(\sum_c y_c)(\operatorname{diag}(p) - p p^\top)`, ``[..., C, C]``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.safe_softmax_cross_entropy(
      ...     jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """,
)


@SAFE_SOFTMAX_CROSS_ENTROPY.public
def safe_softmax_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy with ``0 log 0 = 0`` at ``-inf`` logits, optax's name.

    .. math:: \ell_n = -\sum_c y_{nc} \log \operatorname{softmax}(z_n)_c

    optax's ``safe_softmax_cross_entropy``: a class whose logit is ``-inf`` and whose
    target is 0 adds nothing to the value or the gradient, where optax's
    ``softmax_cross_entropy`` gives NaN. :func:`jaxloss.softmax_cross_entropy` is
    already safe in this sense (and adds ``label_smoothing`` and ``z_loss``); this is
    the same loss under optax's name and argument names. A ``+inf`` logit gives the
    limit (0 when all target mass is on its class), where optax gives NaN.

    Args:
      logits: scores with a class axis.
      labels: class probabilities, same shape as ``logits``.
      axis: the class axis (optax's function has none: its classes are last).
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"`` (optax's values).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[-jnp.inf, 0.0, 0.0], [-jnp.inf, 0.0, -jnp.inf]])
      >>> labels = jnp.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]])
      >>> jaxloss.safe_softmax_cross_entropy(logits, labels, reduction="none")
      Array([0.693..., 0.        ], dtype=float32)
    """
    return SAFE_SOFTMAX_CROSS_ENTROPY(
        logits, labels, axis=axis, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# softmax_cross_entropy_with_integer_labels


def _smoothed_one_hot(labels: jax.Array, num_classes: int, smoothing, dtype) -> jax.Array:
    return (1 - smoothing) * _one_hot(labels, num_classes, dtype) + smoothing / num_classes


def _softmax_integer(logits: jax.Array, labels: jax.Array, smoothing: jax.Array, z_loss):
    # logsumexp(z) - (1 - a) z_y - a mean(z), on max-shifted logits: the label's logit
    # is gathered, not multiplied by a one-hot row, so no [N, C] target array is built.
    num_classes = logits.shape[-1]
    probabilities, log_total, label_shifted, total, maximum = _integer_parts(logits, labels)
    label_logit = _gather(logits, labels)
    mean_logit = jnp.mean(logits, axis=-1)
    # mean(z) - max(z) with a +inf maximum: -inf when some logit is finite (the
    # smoothing's mass on it costs +inf), 0 for a single class.
    mean_shifted = jnp.where(
        maximum == jnp.inf, 0.0 if num_classes == 1 else -jnp.inf, mean_logit - maximum
    )
    # With a = 0 the mean is skipped, so -inf logits at masked classes add nothing.
    smoothing_term = jnp.where(smoothing == 0, 0, smoothing * mean_shifted)
    value = log_total - times(1 - smoothing, label_shifted) - smoothing_term
    log_sum_exp = (maximum + log_total)[..., None]
    penalty, d_penalty, d_z_loss = _z_penalty(z_loss, log_sum_exp, probabilities)
    value = _without_limit(value + penalty, total, maximum)
    value = nan_outside_classes(value, labels, num_classes)
    # The smoothed one-hot row sums to 1, so the derivative is softmax(z) - target; the
    # softmax reuses the value's exponentials: one exponential per logit for both.
    target = _smoothed_one_hot(labels, num_classes, smoothing, logits.dtype)
    # d/da of -(1 - a) z_y - a mean(z) is z_y - mean(z).
    return value, (probabilities - target + d_penalty, None, label_logit - mean_logit, d_z_loss)


def _softmax_integer_curvature(logits, labels, smoothing, z_loss, vector) -> jax.Array:
    # The smoothed one-hot row sums to 1: diag(p) - p p^T, whatever the label.
    _, exponentials, total, maximum = _softmax_parts(logits)
    probabilities = exponentials / total
    product = _softmax_product(probabilities, vector)
    log_sum_exp = maximum + jnp.log(total)
    return product + _z_penalty_product(z_loss, log_sum_exp, probabilities, vector, product)


SOFTMAX_CROSS_ENTROPY_WITH_INTEGER_LABELS = LossDefinition(
    name="softmax_cross_entropy_with_integer_labels",
    value_and_partials=_softmax_integer,
    curvature=_softmax_integer_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=(_LABEL_SMOOTHING, _Z_LOSS),
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
    z_loss: ArrayLike = 0.0,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy against integer class labels, torch's ``nn.CrossEntropyLoss``.

    .. math:: \ell_n = -\log \operatorname{softmax}(z_n)_{y_n}
        + c_z \operatorname{logsumexp}(z_n)^2

    With ``label_smoothing = alpha`` the target is ``(1 - alpha) onehot(y) + alpha/C``.
    The gradient is ``softmax(z) - target`` (plus the z-loss's
    :math:`2 c_z \operatorname{logsumexp}(z) \operatorname{softmax}(z)`). A ``+inf``
    logit gives the limit: 0 on the label's class, ``+inf`` on another, with a finite
    gradient (optax and torch give NaN); two ``+inf`` logits in one example have no
    limit and give NaN. A ``-inf`` logit masks its class.

    ``class_weights[y_n]`` multiplies example ``n``'s weight, and ``"mean"`` divides
    by the summed weights, as torch does. (With label smoothing torch also weights
    each smoothing term by its own class; jaxloss weights the whole example by its
    label's class.) A label outside ``[0, C)`` gives a NaN loss for its example.

    Args:
      logits: scores with a class axis.
      labels: integer class indices, shaped like ``logits`` without ``axis``.
      axis: the class axis.
      label_smoothing: ``alpha`` in ``[0, 1]``.
      z_loss: coefficient :math:`c_z \ge 0` of the z-loss (see
        :func:`jaxloss.z_loss`); 0 (the default) adds nothing.
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
        z_loss=z_loss,
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
    # Where the sum of squares overflows (|z_y| > 1.8e19 in float32, say), the
    # subtraction would give inf - inf = NaN: the loss is inf there (exact unless k is
    # small enough to bring k (z_y - m)^2 back below the dtype's largest number).
    total = jnp.where(jnp.isinf(squares), jnp.inf, total)
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
# sigmoid_focal_loss


def _sigmoid_focal(
    logits: jax.Array, targets: jax.Array, alpha: jax.Array | None, gamma: jax.Array
):
    # The cross-entropy softplus(z) - y z in sigmoid_binary_cross_entropy's exact form.
    cross_entropy = (
        times(1 - targets, jax.nn.relu(logits))
        + times(targets, jax.nn.relu(-logits))
        + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )
    probability, complement_probability = jax.nn.sigmoid(logits), jax.nn.sigmoid(-logits)
    # 1 - p_t = (1 - y) s + y (1 - s): two non-negative terms, no cancellation, and
    # sigmoid(-z) keeps 1 - s exact where s rounds to 1.
    complement = (1 - targets) * probability + targets * complement_probability
    modulating = complement**gamma
    # r = s (1 - s) / (1 - p_t) = 1 / (1 + (1 - y) e^z + y e^-z) lies in [0, 1]: it
    # carries the factor (1 - p_t)^(gamma - 1) of the derivative, unbounded for
    # gamma < 1, as (1 - p_t)^gamma r. An overflowing e^z gives r = 0, the limit.
    ratio = 1 / (1 + times(1 - targets, jnp.exp(logits)) + times(targets, jnp.exp(-logits)))
    # 1 - 2y times d(1 - p_t)/dz = (1 - 2y) s (1 - s) = (1 - 2y) r (1 - p_t).
    slope = gamma * (1 - 2 * targets)
    unweighted = modulating * cross_entropy
    # dL/dz = a_t (1 - p_t)^gamma (gamma (1 - 2y) r ce + s - y); r ce -> 0 as ce -> inf.
    d_unweighted = modulating * (slope * times(ratio, cross_entropy) + probability - targets)
    # d/dy: (1 - p_t)^gamma (gamma (1 - 2s) ce / (1 - p_t) - z); ce = 0 where 1 - p_t = 0.
    safe_complement = jnp.where(complement == 0, 1, complement)
    d_unweighted_targets = gamma * modulating * (complement_probability - probability) * (
        cross_entropy / safe_complement
    ) - times(modulating, logits)
    d_gamma = times(unweighted, jnp.log(complement))
    if alpha is None:
        return unweighted, (d_unweighted, d_unweighted_targets, None, d_gamma)
    # a_t = alpha y + (1 - alpha)(1 - y); alpha = 0 with y = 1 weighs even ce = inf by 0.
    balance = alpha * targets + (1 - alpha) * (1 - targets)
    value = times(balance, unweighted)
    d_targets = balance * d_unweighted_targets + times(2 * alpha - 1, unweighted)
    d_alpha = times(2 * targets - 1, unweighted)
    return value, (balance * d_unweighted, d_targets, d_alpha, balance * d_gamma)


def _sigmoid_focal_curvature(
    logits: jax.Array, targets: jax.Array, alpha: jax.Array | None, gamma: jax.Array
) -> jax.Array:
    # With u = 1 - p_t, k = gamma (1 - 2y), r as above (r' = r (1 - 2s) - (1 - 2y) r^2):
    # d2L/dz2 = a_t u^gamma [gamma (gamma - 1)(1 - 2y)^2 r^2 ce + 2 k r (s - y)
    #                        + k r (1 - 2s) ce + s (1 - s)].
    cross_entropy = (
        times(1 - targets, jax.nn.relu(logits))
        + times(targets, jax.nn.relu(-logits))
        + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )
    probability, complement_probability = jax.nn.sigmoid(logits), jax.nn.sigmoid(-logits)
    complement = (1 - targets) * probability + targets * complement_probability
    ratio = 1 / (1 + times(1 - targets, jnp.exp(logits)) + times(targets, jnp.exp(-logits)))
    ratio_entropy = times(ratio, cross_entropy)
    slope = gamma * (1 - 2 * targets)
    bracket = (
        gamma * (gamma - 1) * jnp.square(1 - 2 * targets) * ratio * ratio_entropy
        + 2 * slope * ratio * (probability - targets)
        + slope * (complement_probability - probability) * ratio_entropy
        + probability * complement_probability
    )
    curvature = complement**gamma * bracket
    if alpha is None:
        return curvature
    return (alpha * targets + (1 - alpha) * (1 - targets)) * curvature


SIGMOID_FOCAL_LOSS = LossDefinition(
    name="sigmoid_focal_loss",
    value_and_partials=_sigmoid_focal,
    curvature=_sigmoid_focal_curvature,
    domain="logit",
    target_kind="probability",
    link="identity",
    parameters=(
        Parameter("alpha", low=0.0, high=1.0, optional=True),
        Parameter("gamma", low=0.0),
    ),
    options={"alpha": 0.25, "gamma": 0.5},
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.sigmoid_focal_loss`.

    With :math:`s = \sigma(z)`, :math:`u = 1 - p_t = (1-y)s + y(1-s)`, the
    cross-entropy :math:`c` and :math:`r = s(1-s)/u = 1/(1 + (1-y)e^z + y e^{-z})`:
    :math:`\alpha_t u^\gamma\,(\gamma(1-2y)\,r\,c + s - y)`. Writing
    :math:`u^{\gamma-1} s(1-s)` as :math:`u^\gamma r` keeps it finite for
    :math:`\gamma < 1` at any logit; :math:`\gamma = 0` gives :math:`s - y`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.sigmoid_focal_loss(
      ...     jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]), reduction="sum")
      Array([-0.298...,  1.076...], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.sigmoid_focal_loss`.

    With :math:`k = \gamma(1-2y)` and the notation of its gradient:
    :math:`\alpha_t u^\gamma\,[\gamma(\gamma-1)(1-2y)^2 r^2 c + 2kr(s-y) + kr(1-2s)c
    + s(1-s)]`, which is :math:`s(1-s)` for :math:`\gamma = 0`. Unlike the
    cross-entropy's, it can be negative: the focal loss is not convex in the logit.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sigmoid_focal_loss(
      ...     jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]), reduction="sum")
      Array([0.399..., 0.154...], dtype=float32)
    """,
)


@SIGMOID_FOCAL_LOSS.public
def sigmoid_focal_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    alpha: ArrayLike | None = None,
    gamma: ArrayLike = 2.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Sigmoid focal loss (Lin et al. 2017), optax's ``sigmoid_focal_loss``.

    .. math:: \ell_i = \alpha_t\,(1 - p_t)^\gamma\,
        \big(-y_i\log\sigma(z_i) - (1-y_i)\log\sigma(-z_i)\big)

    with :math:`1 - p_t = (1-y)\sigma(z) + y\,\sigma(-z)` and
    :math:`\alpha_t = \alpha y + (1-\alpha)(1-y)` (1 without ``alpha``), for hard or
    soft labels, as optax defines it; :math:`\gamma = 0` is
    :func:`jaxloss.sigmoid_binary_cross_entropy`. Value and gradient are exact at
    logits of any size, infinite ones included (0 at ``(+inf, 1)``, where optax gives
    NaN), and for any :math:`\gamma \ge 0`: the gradient's
    :math:`(1-p_t)^{\gamma-1}` factor is never formed.

    Keras's ``BinaryFocalCrossentropy`` differs: it takes probabilities (clipped to
    ``[1e-7, 1 - 1e-7]``) unless ``from_logits=True``, uses ``alpha`` only with
    ``apply_class_balancing=True`` (default ``alpha=0.25``), and averages over the
    last axis per sample; jaxloss's ``reduction="mean"`` averages over every element.

    Args:
      logits: scores, any shape.
      labels: targets in ``[0, 1]`` (binary or soft), same shape as ``logits``.
      alpha: optional weight in ``[0, 1]`` of the positive term, ``1 - alpha`` of the
        negative one; ``None`` (the default) weighs both by 1.
      gamma: focusing exponent :math:`\gamma \ge 0`.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``logits`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.sigmoid_focal_loss(
      ...     jnp.array([0.0, 2.0]), jnp.array([1.0, 0.0]), reduction="none")
      Array([0.173..., 1.650...], dtype=float32)
    """
    return SIGMOID_FOCAL_LOSS(
        logits, labels, alpha=alpha, gamma=gamma, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# softmax_focal_loss and softmax_focal_loss_with_integer_labels (Keras's categorical focal)


def _focal_terms(surprisal: jax.Array, probabilities: jax.Array, gamma: jax.Array):
    """``(complement, modulating, weight, safe_complement)`` of each class term.

    ``surprisal`` is ``-log p >= 0``; ``complement`` is ``1 - p = -expm1(-surprisal)``,
    exact as ``p -> 1``; ``modulating`` is ``(1 - p)^gamma``; ``weight`` is
    ``phi(p) = (1 - p)^gamma (gamma p (-log p) / (1 - p) + 1)``, the class's share of
    the gradient, bounded by ``1 + gamma``: ``-log p / (1 - p) -> 1`` as ``p -> 1``.
    """
    complement = -jnp.expm1(-surprisal)
    modulating = complement**gamma
    safe_complement = jnp.where(complement == 0, 1, complement)
    ratio = jnp.where(complement == 0, 1, surprisal / safe_complement)
    # modulating + ..., not modulating * (... + 1): XLA's CPU backend would store the
    # broadcast 1 as an [N, C] array.
    weight = modulating + gamma * modulating * times(probabilities, ratio)
    return complement, modulating, weight, safe_complement


def _focal_weight_slope(surprisal, probabilities, gamma, complement, modulating, safe_complement):
    """``phi'(p)``, zeroed where ``p = 1`` (there the softmax's Jacobian is 0).

    ``phi'(p) = gamma (1 - p)^(gamma - 1) (-log p - 2 - (gamma - 1) p (-log p) / (1 - p))``.
    """
    ratio = jnp.where(complement == 0, 1, surprisal / safe_complement)
    bracket = surprisal - 2 - (gamma - 1) * times(probabilities, ratio)
    return jnp.where(complement == 0, 0, gamma * modulating / safe_complement * bracket)


def _softmax_focal(logits: jax.Array, targets: jax.Array, alpha: jax.Array, gamma: jax.Array):
    shifted, exponentials, total, maximum = _softmax_parts(logits)
    probabilities = exponentials / total
    surprisal = jnp.log(total) - shifted
    _, modulating, weight, _ = _focal_terms(surprisal, probabilities, gamma)
    class_terms = modulating * surprisal
    # `times`: a class masked with a -inf logit (surprisal inf) and target 0 adds 0.
    unweighted = jnp.sum(times(targets, class_terms), axis=-1)
    value = _without_limit(alpha * unweighted, total[..., 0], maximum[..., 0])
    # dL/dz = alpha (p sum_c g_c - g) with g_c = y_c phi(p_c): the cross-entropy's
    # gradient with effective targets g.
    effective = targets * weight
    d_logits = alpha * (probabilities * jnp.sum(effective, axis=-1, keepdims=True) - effective)
    complement = -jnp.expm1(-surprisal)
    d_gamma = alpha * jnp.sum(times(targets, times(class_terms, jnp.log(complement))), axis=-1)
    return value, (d_logits, alpha * class_terms, unweighted, d_gamma)


def _softmax_focal_curvature(logits, targets, alpha, gamma, vector) -> jax.Array:
    # With w = (diag(p) - p p^T) v, G = sum_c g_c and T_c = y_c phi'(p_c) w_c:
    # H v = alpha (w G + p sum_c T_c - T).
    shifted, exponentials, total, _ = _softmax_parts(logits)
    probabilities = exponentials / total
    surprisal = jnp.log(total) - shifted
    complement, modulating, weight, safe = _focal_terms(surprisal, probabilities, gamma)
    slope = _focal_weight_slope(surprisal, probabilities, gamma, complement, modulating, safe)
    product = _softmax_product(probabilities, vector)
    change = times(targets, times(product, slope))
    total_weight = jnp.sum(targets * weight, axis=-1, keepdims=True)
    return alpha * (
        product * total_weight + probabilities * jnp.sum(change, axis=-1, keepdims=True) - change
    )


def _softmax_focal_integer(logits: jax.Array, labels: jax.Array, alpha, gamma):
    num_classes = logits.shape[-1]
    probabilities, log_total, label_shifted, total, maximum = _integer_parts(logits, labels)
    surprisal = log_total - label_shifted
    label_probability = jnp.exp(label_shifted) / total
    complement, modulating, weight, _ = _focal_terms(surprisal, label_probability, gamma)
    unweighted = modulating * surprisal
    value = _without_limit(alpha * unweighted, total, maximum)
    value = nan_outside_classes(value, labels, num_classes)
    one_hot_rows = _one_hot(labels, num_classes, logits.dtype)
    d_logits = (alpha * weight)[..., None] * (probabilities - one_hot_rows)
    d_gamma = alpha * times(unweighted, jnp.log(complement))
    return value, (d_logits, None, unweighted, d_gamma)


def _softmax_focal_integer_curvature(logits, labels, alpha, gamma, vector) -> jax.Array:
    # H v = alpha (phi(p_y) w + phi'(p_y) w_y (p - onehot(y))), w = (diag(p) - p p^T) v.
    probabilities, log_total, label_shifted, total, _ = _integer_parts(logits, labels)
    surprisal = log_total - label_shifted
    label_probability = jnp.exp(label_shifted) / total
    complement, modulating, weight, safe = _focal_terms(surprisal, label_probability, gamma)
    slope = _focal_weight_slope(surprisal, label_probability, gamma, complement, modulating, safe)
    product = _softmax_product(probabilities, vector)
    one_hot_rows = _one_hot(labels, logits.shape[-1], logits.dtype)
    label_product = jnp.sum(one_hot_rows * product, axis=-1, keepdims=True)
    return alpha * (
        weight[..., None] * product
        + times(label_product, slope[..., None]) * (probabilities - one_hot_rows)
    )


_FOCAL_PARAMETERS = (Parameter("alpha", low=0.0), Parameter("gamma", low=0.0))
_FOCAL_GRADIENT = r"""
    With :math:`p = \operatorname{softmax}(z)`, :math:`\ell_c = -\log p_c` and
    :math:`g_c = y_c\,\phi(p_c)`,
    :math:`\phi(p) = (1-p)^\gamma\big(\gamma\,p\,\ell/(1-p) + 1\big)`:
    :math:`\alpha\,(p \sum_c g_c - g)`, the cross-entropy's gradient with effective
    targets :math:`g` (:math:`\gamma = 0` gives :math:`g = y`). :math:`\ell/(1-p) \to 1`
    as :math:`p \to 1`, so :math:`\phi \le 1 + \gamma` for every :math:`\gamma \ge 0`.
"""
_FOCAL_HESSIAN = r"""
    With :math:`w = (\operatorname{diag}(p) - p p^\top) v` and
    :math:`T_c = y_c \phi'(p_c) w_c`, where
    :math:`\phi'(p) = \gamma (1-p)^{\gamma-1}(\ell - 2 - (\gamma-1)p\ell/(1-p))`:
    :math:`H v = \alpha\,(w \sum_c g_c + p \sum_c T_c - T)`. Not positive
    semi-definite in general: the focal loss is not convex in the logits.
"""

SOFTMAX_FOCAL_LOSS = LossDefinition(
    name="softmax_focal_loss",
    value_and_partials=_softmax_focal,
    curvature=_softmax_focal_curvature,
    domain="logit",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    parameters=_FOCAL_PARAMETERS,
    class_axis=True,
    options={"alpha": 1.0, "gamma": 0.5},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.softmax_focal_loss`.
    """
    + _FOCAL_GRADIENT
    + r"""
    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_focal_loss(
      ...     jnp.array([[1.0, 0.0, -1.0]]), jnp.array([[1.0, 0.0, 0.0]]), alpha=1.0)
      Array([[-0.0982...,  0.0718...,  0.0264...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.softmax_focal_loss`, ``[..., C, C]``.
    """
    + _FOCAL_HESSIAN
    + r"""
    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_focal_loss(
      ...     jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]), alpha=1.0)
      Array([[[ 0.399..., -0.399...],
              [-0.399...,  0.399...]]], dtype=float32)
    """,
)


@SOFTMAX_FOCAL_LOSS.public
def softmax_focal_loss(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    alpha: ArrayLike = 0.25,
    gamma: ArrayLike = 2.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax focal loss against class probabilities, Keras's ``CategoricalFocalCrossentropy``.

    .. math:: \ell_n = -\alpha \sum_c y_{nc}\,(1 - p_{nc})^\gamma \log p_{nc},
        \qquad p_n = \operatorname{softmax}(z_n)

    Lin et al.'s focal loss over a softmax, written as Keras writes it: each class's
    cross-entropy term is scaled by its own :math:`(1 - p_c)^\gamma`. :math:`\gamma = 0`
    is ``alpha`` times :func:`jaxloss.softmax_cross_entropy`. The defaults are Keras's
    (``alpha=0.25``, ``gamma=2.0``); ``alpha`` is one factor for every class (for one
    per class, use :func:`jaxloss.softmax_focal_loss_with_integer_labels` and its
    ``class_weights``).

    Where Keras differs: it takes probabilities by default (``from_logits=False``),
    clips them to ``[1e-7, 1 - 1e-7]`` and offers ``label_smoothing``; jaxloss takes
    logits, clips nothing (exact at logits of any size; a ``-inf`` logit with target 0
    masks its class; a single ``+inf`` logit gives the limit) and leaves smoothing to
    :func:`jaxloss.smooth_labels`. optax has no softmax focal loss.

    Args:
      logits: scores with a class axis.
      targets: class probabilities (or one-hot rows), same shape as ``logits``.
      axis: the class axis.
      alpha: non-negative factor of the whole loss.
      gamma: focusing exponent :math:`\gamma \ge 0`.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[1.0, 0.0, -1.0]])
      >>> jaxloss.softmax_focal_loss(logits, jnp.array([[1.0, 0.0, 0.0]]))
      Array(0.0114..., dtype=float32)
    """
    return SOFTMAX_FOCAL_LOSS(
        logits,
        targets,
        axis=axis,
        alpha=alpha,
        gamma=gamma,
        reduction=reduction,
        weights=weights,
        where=where,
    )


SOFTMAX_FOCAL_LOSS_WITH_INTEGER_LABELS = LossDefinition(
    name="softmax_focal_loss_with_integer_labels",
    value_and_partials=_softmax_focal_integer,
    curvature=_softmax_focal_integer_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=_FOCAL_PARAMETERS,
    class_axis=True,
    class_weights=True,
    options={"alpha": 1.0, "gamma": 0.5},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.softmax_focal_loss_with_integer_labels`.
    """
    + _FOCAL_GRADIENT
    + r"""
    With a label, :math:`g = \phi(p_y)\,\operatorname{onehot}(y)`: the gradient is
    :math:`\alpha\,\phi(p_y)\,(p - \operatorname{onehot}(y))`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_focal_loss_with_integer_labels(
      ...     jnp.array([[1.0, 0.0, -1.0]]), jnp.array([0]), alpha=1.0)
      Array([[-0.0982...,  0.0718...,  0.0264...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.softmax_focal_loss_with_integer_labels`.
    """
    + _FOCAL_HESSIAN
    + r"""
    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_focal_loss_with_integer_labels(
      ...     jnp.zeros((1, 2)), jnp.array([0]), alpha=1.0)
      Array([[[ 0.399..., -0.399...],
              [-0.399...,  0.399...]]], dtype=float32)
    """,
)


@SOFTMAX_FOCAL_LOSS_WITH_INTEGER_LABELS.public
def softmax_focal_loss_with_integer_labels(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    alpha: ArrayLike = 0.25,
    gamma: ArrayLike = 2.0,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Softmax focal loss against integer labels, Keras's ``CategoricalFocalCrossentropy``.

    .. math:: \ell_n = -\alpha\,(1 - p_{n y_n})^\gamma \log p_{n y_n},
        \qquad p_n = \operatorname{softmax}(z_n)

    :func:`jaxloss.softmax_focal_loss` with one-hot targets, without building them.
    Keras's per-class ``alpha`` (a list) is ``class_weights`` here, multiplied into
    each example's weight by its label (and into the ``"mean"``'s denominator, as
    torch's class weights are; Keras divides by the number of examples). Keras's
    other differences are listed under :func:`jaxloss.softmax_focal_loss`. A label
    outside ``[0, C)`` gives a NaN loss for its example.

    Args:
      logits: scores with a class axis.
      labels: integer class indices, shaped like ``logits`` without ``axis``.
      axis: the class axis.
      alpha: non-negative factor of the whole loss.
      gamma: focusing exponent :math:`\gamma \ge 0`.
      class_weights: optional weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[1.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
      >>> jaxloss.softmax_focal_loss_with_integer_labels(
      ...     logits, jnp.array([0, 2]), reduction="none")
      Array([0.0114..., 0.122...], dtype=float32)
    """
    return SOFTMAX_FOCAL_LOSS_WITH_INTEGER_LABELS(
        logits,
        labels,
        axis=axis,
        alpha=alpha,
        gamma=gamma,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# poly_loss_cross_entropy


def _poly_loss(logits: jax.Array, targets: jax.Array, epsilon: jax.Array):
    shifted, exponentials, total, maximum = _softmax_parts(logits)
    normaliser = jnp.log(total)
    probabilities = exponentials / total
    target_sum = jnp.sum(targets, axis=-1, keepdims=True)
    cross_entropy = (normaliser * target_sum)[..., 0] - jnp.sum(times(targets, shifted), axis=-1)
    # sum_c y_c (1 - p_c), the first polynomial term, as optax writes it.
    first_term = jnp.sum(targets * (1 - probabilities), axis=-1)
    value = _without_limit(cross_entropy + epsilon * first_term, total[..., 0], maximum[..., 0])
    # d/dz_j sum_c y_c (1 - p_c) = -p_j (y_j - y . p).
    overlap = jnp.sum(targets * probabilities, axis=-1, keepdims=True)
    d_logits = probabilities * target_sum - targets - epsilon * probabilities * (targets - overlap)
    d_targets = (normaliser - shifted) + epsilon * (1 - probabilities)
    return value, (d_logits, d_targets, first_term)


def _poly_loss_curvature(logits, targets, epsilon, vector) -> jax.Array:
    # d/dz of -eps p (y - s), s = y . p, along v: -eps (w (y - s) - p (y . w)), with
    # w = (diag(p) - p p^T) v; the cross-entropy adds sum(y) w.
    probabilities = _softmax(logits)
    product = _softmax_product(probabilities, vector)
    overlap = jnp.sum(targets * probabilities, axis=-1, keepdims=True)
    target_sum = jnp.sum(targets, axis=-1, keepdims=True)
    along = jnp.sum(targets * product, axis=-1, keepdims=True)
    return target_sum * product - epsilon * (product * (targets - overlap) - probabilities * along)


POLY_LOSS_CROSS_ENTROPY = LossDefinition(
    name="poly_loss_cross_entropy",
    value_and_partials=_poly_loss,
    curvature=_poly_loss_curvature,
    domain="logit",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    parameters=(Parameter("epsilon"),),
    class_axis=True,
    options={"epsilon": -1.0},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.poly_loss_cross_entropy`.

    :math:`p \sum_c y_c - y - \epsilon\,p \odot (y - y^\top p)` with
    :math:`p = \operatorname{softmax}(z)`: the cross-entropy's gradient plus
    :math:`\epsilon\,\partial_z \sum_c y_c(1 - p_c)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.poly_loss_cross_entropy(
      ...     jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[-1.,  1.]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.poly_loss_cross_entropy`, ``[..., C, C]``.

    With :math:`w = (\operatorname{diag}(p) - p p^\top) v`:
    :math:`H v = (\sum_c y_c)\,w - \epsilon\,(w \odot (y - y^\top p) - p\,(y^\top w))`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.poly_loss_cross_entropy(
      ...     jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """,
)


@POLY_LOSS_CROSS_ENTROPY.public
def poly_loss_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    epsilon: ArrayLike = 2.0,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Poly-1 loss (Leng et al. 2022), optax's ``poly_loss_cross_entropy``.

    .. math:: \ell_n = -\sum_c y_{nc} \log p_{nc} + \epsilon \sum_c y_{nc}(1 - p_{nc}),
        \qquad p_n = \operatorname{softmax}(z_n)

    The cross-entropy with the coefficient of its first polynomial term
    :math:`(1 - p_t)` raised by :math:`\epsilon` (2 for ImageNet classification,
    -1 for detection, per the paper); :math:`\epsilon = 0` is
    :func:`jaxloss.softmax_cross_entropy`. ``reduction="none"`` gives optax's values.
    optax's ``where`` may also mask single classes; here a ``-inf`` logit with target
    0 masks a class, and ``where`` masks examples. A single ``+inf`` logit gives the
    limit. Keras has no poly loss.

    Args:
      logits: scores with a class axis.
      labels: class probabilities (or one-hot rows), same shape as ``logits``.
      epsilon: the first polynomial coefficient's change, any finite number.
      axis: the class axis.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]])
      >>> labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])
      >>> jaxloss.poly_loss_cross_entropy(logits, labels, reduction="none")
      Array([0.482..., 1.256...], dtype=float32)
    """
    return POLY_LOSS_CROSS_ENTROPY(
        logits,
        labels,
        epsilon=epsilon,
        axis=axis,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# generalized_cross_entropy


def _generalized_cross_entropy(logits: jax.Array, labels: jax.Array, q: jax.Array):
    num_classes = logits.shape[-1]
    probabilities, log_total, label_shifted, total, maximum = _integer_parts(logits, labels)
    surprisal = log_total - label_shifted
    # (1 - p_y^q) / q = -expm1(-q (-log p_y)) / q: exact as q -> 0, where it tends to
    # the cross-entropy -log p_y.
    power = jnp.exp(-q * surprisal)
    value = -jnp.expm1(-q * surprisal) / q
    value = nan_outside_classes(_without_limit(value, total, maximum), labels, num_classes)
    # d/dz of -p_y^q / q is -p_y^(q-1) p_y (onehot - p) = p_y^q (p - onehot).
    d_logits = power[..., None] * (probabilities - _one_hot(labels, num_classes, logits.dtype))
    # d/dq (1 - e^(-q s)) / q = (s e^(-q s) - value) / q.
    d_q = (times(power, surprisal) - value) / q
    return value, (d_logits, None, d_q)


def _generalized_cross_entropy_curvature(logits, labels, q, vector) -> jax.Array:
    # d/dz of P (p - e), P = p_y^q, dP/dz = q P (e - p): H v = P (w - q d (d . v)) with
    # d = p - e and w = (diag(p) - p p^T) v.
    probabilities, log_total, label_shifted, _, _ = _integer_parts(logits, labels)
    power = jnp.exp(-q * (log_total - label_shifted))[..., None]
    difference = probabilities - _one_hot(labels, logits.shape[-1], logits.dtype)
    along = jnp.sum(difference * vector, axis=-1, keepdims=True)
    return power * (_softmax_product(probabilities, vector) - q * difference * along)


GENERALIZED_CROSS_ENTROPY = LossDefinition(
    name="generalized_cross_entropy",
    value_and_partials=_generalized_cross_entropy,
    curvature=_generalized_cross_entropy_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=(Parameter("q", low=0.0, high=1.0, low_open=True),),
    class_axis=True,
    class_weights=True,
    options={"q": 0.3},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.generalized_cross_entropy`.

    :math:`p_y^q\,(p - \operatorname{onehot}(y))`: the cross-entropy's gradient scaled
    by :math:`p_y^q`, small for examples the model finds unlikely (the noisy ones, in
    Zhang & Sabuncu's argument).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.generalized_cross_entropy(
      ...     jnp.zeros((1, 2)), jnp.array([0]), q=1.0)
      Array([[-0.25,  0.25]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.generalized_cross_entropy`, ``[..., C, C]``.

    :math:`p_y^q\,\big(\operatorname{diag}(p) - p p^\top - q\,d d^\top\big)` with
    :math:`d = p - \operatorname{onehot}(y)`: not positive semi-definite for
    :math:`q > 0` (the loss is bounded, not convex).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.generalized_cross_entropy(
      ...     jnp.zeros((1, 2)), jnp.array([0]), q=0.5)
      Array([[[ 0.0883..., -0.0883...],
              [-0.0883...,  0.0883...]]], dtype=float32)
    """,
)


@GENERALIZED_CROSS_ENTROPY.public
def generalized_cross_entropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    q: ArrayLike = 0.7,
    axis: int = -1,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Generalized cross-entropy (the :math:`L_q` loss) of Zhang & Sabuncu (NeurIPS 2018).

    .. math:: \ell_n = \frac{1 - p_{n y_n}^{\,q}}{q},
        \qquad p_n = \operatorname{softmax}(z_n)

    From "Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy
    Labels": ``q = 1`` is the mean absolute error between the softmax and the one-hot
    target (up to a factor 2), robust to label noise; as :math:`q \to 0` it tends to
    the cross-entropy, computed exactly here (as ``-expm1(q log p_y) / q``). The paper
    uses ``q = 0.7``, the default. Bounded by :math:`1/q`. Keras's
    ``CategoricalGeneralizedCrossEntropy`` is the same formula on probabilities, with
    ``q`` in (0, 1) and 0.5 by default; neither optax nor torch has it.

    Args:
      logits: scores with a class axis.
      labels: integer class indices, shaped like ``logits`` without ``axis``.
      q: exponent in ``(0, 1]``.
      axis: the class axis.
      class_weights: optional weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
      >>> jaxloss.generalized_cross_entropy(logits, jnp.array([0, 2]), reduction="none")
      Array([0.160..., 0.766...], dtype=float32)
    """
    return GENERALIZED_CROSS_ENTROPY(
        logits,
        labels,
        q=q,
        axis=axis,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# squentropy


def _squentropy(logits: jax.Array, labels: jax.Array):
    num_classes = logits.shape[-1]
    probabilities, log_total, label_shifted, total, maximum = _integer_parts(logits, labels)
    one_hot_rows = _one_hot(labels, num_classes, logits.dtype)
    # The incorrect classes' squares are summed directly, not as sum(z^2) - z_y^2: no
    # cancellation when z_y is large, and an infinite z_y leaves them finite.
    incorrect = jnp.where(one_hot_rows > 0, 0, logits)
    scale = 1 / (num_classes - 1) if num_classes > 1 else 0.0
    value = log_total - label_shifted + scale * jnp.sum(jnp.square(incorrect), axis=-1)
    value = nan_outside_classes(_without_limit(value, total, maximum), labels, num_classes)
    return value, (probabilities - one_hot_rows + 2 * scale * incorrect, None)


def _squentropy_curvature(logits, labels, vector) -> jax.Array:
    # diag(p) - p p^T, plus 2 / (C - 1) on the incorrect classes' diagonal.
    num_classes = logits.shape[-1]
    scale = 1 / (num_classes - 1) if num_classes > 1 else 0.0
    incorrect = jnp.where(_one_hot(labels, num_classes, logits.dtype) > 0, 0, vector)
    return _softmax_product(_softmax(logits), vector) + 2 * scale * incorrect


SQUENTROPY = LossDefinition(
    name="squentropy",
    value_and_partials=_squentropy,
    curvature=_squentropy_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    class_axis=True,
    class_weights=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.squentropy`.

    :math:`p - \operatorname{onehot}(y) + \frac{2}{C-1} z \odot (1 - \operatorname{onehot}(y))`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.squentropy(jnp.array([[0.0, 1.0]]), jnp.array([0]))
      Array([[-0.731...,  2.731...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.squentropy`, ``[..., C, C]``.

    :math:`\operatorname{diag}(p) - p p^\top + \frac{2}{C-1}\operatorname{diag}(1 -
    \operatorname{onehot}(y))`: positive semi-definite (definite on the incorrect
    classes), the loss is convex.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.squentropy(jnp.zeros((1, 2)), jnp.array([0]))
      Array([[[ 0.25, -0.25],
              [-0.25,  2.25]]], dtype=float32)
    """,
)


@SQUENTROPY.public
def squentropy(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Squentropy (Hui, Belkin & Wright, ICML 2023): cross-entropy plus a square loss.

    .. math:: \ell_n = -\log \operatorname{softmax}(z_n)_{y_n}
        + \frac{1}{C-1}\sum_{c \ne y_n} z_{nc}^2

    From "Cut your Losses with Squentropy": the cross-entropy plus the mean square of
    the logits of the incorrect classes (their square loss against target 0); with
    one class there are none and it is the cross-entropy. Neither optax, torch nor
    Keras has it. A ``+inf`` logit on the label's class leaves the cross-entropy at its
    limit 0.

    Args:
      logits: scores with a class axis.
      labels: integer class indices, shaped like ``logits`` without ``axis``.
      axis: the class axis.
      class_weights: optional weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[2.0, 0.0, -1.0]])
      >>> jaxloss.squentropy(logits, jnp.array([0]))
      Array(0.669..., dtype=float32)
    """
    return SQUENTROPY(
        logits,
        labels,
        axis=axis,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# z_loss: one input, so a plain function with its own closed-form derivative rule.

_COEFFICIENT = Parameter("coefficient", low=0.0)


@jax.custom_jvp
def _z_loss_core(logits: jax.Array, coefficient: jax.Array) -> jax.Array:
    return _z_loss_rule((logits, coefficient), None)[0]


def _z_loss_rule(primals, tangents):
    logits, coefficient = primals
    _, exponentials, total, maximum = _softmax_parts(logits)
    log_sum_exp = maximum + jnp.log(total)
    value, d_logits, d_coefficient = _z_penalty(coefficient, log_sum_exp, exponentials / total)
    if tangents is None:
        return value, None
    logits_dot, coefficient_dot = tangents
    tangent = jnp.zeros_like(value)
    # As in the definitions' rule: a symbolic zero is skipped, so an infinite partial
    # that is not asked for cannot turn into 0 * inf = NaN.
    if not isinstance(logits_dot, SymbolicZero):
        tangent = tangent + jnp.sum(d_logits * logits_dot, axis=-1)
    if not isinstance(coefficient_dot, SymbolicZero):
        tangent = tangent + d_coefficient * coefficient_dot
    return value, tangent


_z_loss_core.defjvp(_z_loss_rule, symbolic_zeros=True)


@functools.partial(jax.jit, static_argnames=("reduction", "axis"))
def _z_loss_compiled(logits, coefficient, weights, where, *, reduction, axis):
    logits_array = _checks.as_array("logits", logits)
    _checks.check_floating("logits", logits_array)
    if logits_array.ndim == 0:
        raise ValueError("logits must have a class axis, got a scalar")
    logits_array = jnp.moveaxis(logits_array, _checks.check_axis(axis, logits_array.ndim), -1)
    loss_shape = logits_array.shape[:-1]
    dtype = compute_dtype(logits_array.dtype)
    first = logits_array.astype(dtype)
    weights_array = None
    if weights is not None:
        weights_array = as_checked_array("weights", weights)
        _checks.check_broadcastable("weights", weights_array, loss_shape)
        weights_array = jnp.broadcast_to(weights_array.astype(dtype), loss_shape)
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss_shape)
        where_array = jnp.broadcast_to(where_array, loss_shape)
        # Masked rows are replaced before the core runs: a NaN there cannot reach the
        # gradient as 0 * NaN.
        first = jnp.where(where_array[..., None], first, 0.5)
    coefficient_array = as_checked_array("coefficient", coefficient)
    if coefficient_array.ndim != 0:
        raise ValueError(f"coefficient must be a scalar, got shape {coefficient_array.shape}")
    loss = _z_loss_core(first, coefficient_array.astype(dtype))
    return reduce(
        loss,
        reduction=reduction,
        weights=weights_array,
        where=where_array,
        none_dtype=logits_array.dtype,
    )


def z_loss(
    logits: ArrayLike,
    *,
    coefficient: ArrayLike = 1e-4,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The z-loss of large-model training: a penalty on the softmax's log-normaliser.

    .. math:: \ell_n = c\,\operatorname{logsumexp}(z_n)^2

    Added to the cross-entropy, it keeps :math:`\log Z = \operatorname{logsumexp}(z)`
    near 0 and so the logits from drifting, which stabilises training in low
    precision (PaLM, Chowdhery et al. 2022, section 5, uses :math:`c = 10^{-4}`, the
    default; also Mesh TensorFlow / T5X's ``z_loss``). The softmax cross-entropies take
    the same penalty as their ``z_loss`` option. It has one input, not two, so it is a
    plain function rather than a registry row: no ``jaxloss.gradients.z_loss``; its
    ``jax.grad`` is the closed form :math:`2c \operatorname{logsumexp}(z)\operatorname{softmax}(z)`.
    Neither optax, torch nor Keras has it.

    Args:
      logits: scores with a class axis.
      coefficient: :math:`c \ge 0`, a scalar.
      axis: the class axis.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss (``logits`` without ``axis``).

    Returns:
      A scalar, or the per-example penalties when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.z_loss(jnp.array([[2.0, 0.0, -1.0]]), coefficient=1.0)
      Array(4.708..., dtype=float32)
    """
    _checks.check_reduction(reduction)
    _COEFFICIENT.check_concrete(coefficient)
    if weights is not None:
        check_array_range(
            "weights",
            weights,
            lambda values: np.isfinite(values) & (values >= 0),
            "must be finite and non-negative",
        )
    return _z_loss_compiled(logits, coefficient, weights, where, reduction=reduction, axis=axis)


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
