r"""Classification losses: the cross-entropies, one_hot_mse and the rescaled square loss.

The class axis of per-example losses is the last one after ``axis`` is moved there;
their unreduced loss has one value per example. A class index outside ``[0, C)``
gives a NaN loss for its example (it is never wrapped around or silently ignored);
mask such examples with ``where`` to leave them out, or check them with
``jaxloss.checked``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxloss import _checks, _reduction
from jaxloss._checks import Reduction
from jaxloss._regression import mse_core

# torch's binary_cross_entropy clamps each log at -100 so that p = 0 or 1 stays finite.
_LOG_CLAMP = -100.0
# torch's gradient of binary_cross_entropy divides by max(p (1 - p), 1e-12).
_BCE_GRADIENT_EPSILON = 1e-12


def _one_hot(labels: jax.Array, num_classes: int, dtype) -> jax.Array:
    # An explicit iota of the full shape: jax.nn.one_hot relies on rank promotion.
    classes = jax.lax.broadcasted_iota(labels.dtype, (*labels.shape, num_classes), labels.ndim)
    return (labels[..., None] == classes).astype(dtype)


def _times(coefficient: jax.Array, log_value: jax.Array) -> jax.Array:
    """``coefficient * log_value`` with the convention ``0 * log 0 = 0``."""
    return jnp.where(coefficient == 0, 0, coefficient * log_value)


def _nan_outside_classes(loss: jax.Array, labels: jax.Array, num_classes: int) -> jax.Array:
    """Marks the loss of an out-of-range label as NaN instead of a plausible number."""
    valid = (labels >= 0) & (labels < num_classes)
    if loss.ndim > labels.ndim:
        valid = valid[..., None]
    return jnp.where(valid, loss, jnp.nan)


# --------------------------------------------------------------------------------------
# Binary losses.


def _binary_cross_entropy_value_and_partials(probabilities: jax.Array, targets: jax.Array):
    log_p = jnp.maximum(jnp.log(probabilities), _LOG_CLAMP)
    log_not_p = jnp.maximum(jnp.log1p(-probabilities), _LOG_CLAMP)
    value = -(targets * log_p + (1 - targets) * log_not_p)
    # d/dp = -t/p + (1 - t)/(1 - p) = (p - t) / (p (1 - p)), clamped as torch does.
    slope = jnp.maximum(probabilities * (1 - probabilities), _BCE_GRADIENT_EPSILON)
    return value, ((probabilities - targets) / slope, log_not_p - log_p)


binary_cross_entropy_core = _reduction.elementwise_custom_jvp(
    _binary_cross_entropy_value_and_partials
)


def binary_cross_entropy_derivative(probabilities: jax.Array, targets: jax.Array) -> jax.Array:
    return _binary_cross_entropy_value_and_partials(probabilities, targets)[1][0]


def _sigmoid_bce_value_and_partials(
    logits: jax.Array, targets: jax.Array, pos_weight: jax.Array | float = 1.0
):
    # log_sigmoid(-z) is log(1 - sigmoid(z)) without the cancellation at large z.
    log_p = jax.nn.log_sigmoid(logits)
    log_not_p = jax.nn.log_sigmoid(-logits)
    positive = pos_weight * targets
    # _times keeps (z, y) = (+inf, 1) at 0 rather than 0 * -inf = NaN.
    value = -(_times(positive, log_p) + _times(1 - targets, log_not_p))
    # d/dz = (1 - y) sigmoid(z) - w y sigmoid(-z), which is sigmoid(z) - y when w = 1.
    d_logits = (1 - targets) * jax.nn.sigmoid(logits) - positive * jax.nn.sigmoid(-logits)
    d_targets = log_not_p - pos_weight * log_p
    d_pos_weight = -_times(targets, log_p)
    return value, (d_logits, d_targets, d_pos_weight)


def _sigmoid_bce_unit_weight(logits: jax.Array, targets: jax.Array):
    # Without pos_weight the loss is softplus(z) - y z, written as
    # (1 - y) relu(z) + y relu(-z) + log1p(exp(-|z|)): one transcendental pair instead
    # of two log-sigmoids, and _times keeps (z, y) = (+inf, 1) at 0 rather than NaN.
    value = (
        _times(1 - targets, jax.nn.relu(logits))
        + _times(targets, jax.nn.relu(-logits))
        + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )
    # d/dz = sigmoid(z) - y; d/dy = log sigmoid(-z) - log sigmoid(z) = -z.
    return value, (jax.nn.sigmoid(logits) - targets, -logits)


def _sigmoid_bce_weighted(logits: jax.Array, targets: jax.Array, pos_weight: jax.Array):
    return _sigmoid_bce_value_and_partials(
        logits, targets, jnp.broadcast_to(pos_weight, logits.shape)
    )


sigmoid_binary_cross_entropy_core = _reduction.elementwise_custom_jvp(_sigmoid_bce_unit_weight)
sigmoid_binary_cross_entropy_pos_weight_core = _reduction.elementwise_custom_jvp(
    _sigmoid_bce_weighted
)


def sigmoid_binary_cross_entropy_derivative(
    logits: jax.Array, targets: jax.Array, pos_weight: jax.Array | float = 1.0
) -> jax.Array:
    return _sigmoid_bce_weighted(logits, targets, jnp.asarray(pos_weight, logits.dtype))[1][0]


# --------------------------------------------------------------------------------------
# Softmax losses (class axis last).


def _shifted_log_softmax_parts(logits: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``z - max(z)`` and ``log sum exp(z - max(z))`` per row.

    Subtracting the row maximum first is exact, so ``shifted - normaliser`` keeps its
    precision at large logits, where ``z - logsumexp(z)`` would lose it (float32's
    spacing at 1e4 is 1e-3). ``stop_gradient`` on the maximum: it cancels exactly.
    """
    shifted = logits - jax.lax.stop_gradient(jnp.max(logits, axis=-1, keepdims=True))
    normaliser = jnp.log(jnp.sum(jnp.exp(shifted), axis=-1, keepdims=True))
    return shifted, normaliser


def _softmax(logits: jax.Array) -> jax.Array:
    # exp(shifted - normaliser) shares the normaliser with the loss value and fuses into
    # its consumer, where jax.nn.softmax's second reduction would store an [N, C] array.
    shifted, normaliser = _shifted_log_softmax_parts(logits)
    return jnp.exp(shifted - normaliser)


@jax.custom_jvp
def softmax_cross_entropy_core(logits: jax.Array, targets: jax.Array) -> jax.Array:
    # -sum_c y_c (shifted_c - normaliser) = normaliser sum(y) - sum_c y_c shifted_c;
    # _times gives 0 * (-inf) = 0, so a class masked with a -inf logit adds nothing.
    shifted, normaliser = _shifted_log_softmax_parts(logits)
    weighted_logits = jnp.sum(_times(targets, shifted), axis=-1)
    return normaliser[..., 0] * jnp.sum(targets, axis=-1) - weighted_logits


def softmax_cross_entropy_derivative(logits: jax.Array, targets: jax.Array) -> jax.Array:
    # d/dz_c of -sum_k y_k log softmax(z)_k is softmax(z)_c sum_k y_k - y_c.
    return _softmax(logits) * jnp.sum(targets, axis=-1, keepdims=True) - targets


def _softmax_cross_entropy_rule(primals, tangents):
    logits, targets = primals
    logits_dot, targets_dot = tangents
    value = softmax_cross_entropy_core(logits, targets)
    tangent = jnp.zeros_like(value)
    if not isinstance(logits_dot, SymbolicZero):
        derivative = softmax_cross_entropy_derivative(logits, targets)
        tangent = tangent + jnp.sum(derivative * logits_dot, axis=-1)
    if not isinstance(targets_dot, SymbolicZero):
        shifted, normaliser = _shifted_log_softmax_parts(logits)
        tangent = tangent - jnp.sum((shifted - normaliser) * targets_dot, axis=-1)
    return value, tangent


softmax_cross_entropy_core.defjvp(_softmax_cross_entropy_rule, symbolic_zeros=True)


def _smoothed_one_hot(labels: jax.Array, num_classes: int, smoothing, dtype) -> jax.Array:
    one_hot_rows = _one_hot(labels, num_classes, dtype)
    return (1 - smoothing) * one_hot_rows + smoothing / num_classes


def _integer_value(logits: jax.Array, labels: jax.Array, smoothing: jax.Array) -> jax.Array:
    # logsumexp(z) - (1 - a) z_y - a mean(z), on max-shifted logits: the label's logit
    # is gathered, not multiplied by a one-hot row, so no [N, C] target array is built.
    # The gather and the mean read the raw logits and subtract the row maximum after:
    # reading the shifted array instead would make XLA store it, [N, C].
    maximum = jax.lax.stop_gradient(jnp.max(logits, axis=-1))
    normaliser = jnp.log(jnp.sum(jnp.exp(logits - maximum[..., None]), axis=-1))
    label_logit = jnp.take_along_axis(logits, labels[..., None], axis=-1, mode="clip")[..., 0]
    # With a = 0 the mean is skipped, so -inf logits at masked classes add nothing.
    smoothing_term = jnp.where(smoothing == 0, 0, smoothing * (jnp.mean(logits, axis=-1) - maximum))
    return normaliser - (1 - smoothing) * (label_logit - maximum) - smoothing_term


@jax.custom_jvp
def softmax_integer_core(logits: jax.Array, labels: jax.Array, smoothing: jax.Array):
    loss = _integer_value(logits, labels, smoothing)
    return _nan_outside_classes(loss, labels, logits.shape[-1])


def _softmax_integer_rule(primals, tangents):
    logits, labels, smoothing = primals
    logits_dot, _, smoothing_dot = tangents
    value = softmax_integer_core(logits, labels, smoothing)
    tangent = jnp.zeros_like(value)
    if not isinstance(logits_dot, SymbolicZero):
        derivative = softmax_integer_derivative(logits, labels, smoothing)
        tangent = tangent + jnp.sum(derivative * logits_dot, axis=-1)
    if not isinstance(smoothing_dot, SymbolicZero):
        # d/da of -(1 - a) z_y - a mean(z) is z_y - mean(z).
        label_logit = jnp.take_along_axis(logits, labels[..., None], axis=-1, mode="clip")
        slope = label_logit[..., 0] - jnp.mean(logits, axis=-1)
        tangent = tangent + slope * smoothing_dot
    return value, tangent


softmax_integer_core.defjvp(_softmax_integer_rule, symbolic_zeros=True)


def softmax_integer_derivative(logits: jax.Array, labels: jax.Array, smoothing: jax.Array):
    # The smoothed one-hot row sums to 1, so the derivative is softmax(z) - target.
    targets = _smoothed_one_hot(labels, logits.shape[-1], smoothing, logits.dtype)
    return _softmax(logits) - targets


def one_hot_mse_core(predictions: jax.Array, labels: jax.Array) -> jax.Array:
    num_classes = predictions.shape[-1]
    valid = (labels >= 0) & (labels < num_classes)
    # An out-of-range label gets a NaN target row: the select fuses into the loss,
    # where marking the [N, C] loss afterwards would store it.
    targets = jnp.where(valid[..., None], _one_hot(labels, num_classes, predictions.dtype), jnp.nan)
    return mse_core(predictions, targets)


def one_hot_mse_derivative(predictions: jax.Array, labels: jax.Array) -> jax.Array:
    targets = _one_hot(labels, predictions.shape[-1], predictions.dtype)
    return 2 * (predictions - targets)


def _rescaled_terms(logits: jax.Array, labels: jax.Array, k: jax.Array, m: jax.Array):
    """The shifted logits and each class's factor: ``k`` for the label, 1 elsewhere."""
    one_hot_rows = _one_hot(labels, logits.shape[-1], logits.dtype)
    return logits - m * one_hot_rows, 1 + (k - 1) * one_hot_rows


def rescaled_square_core(logits, labels, k, m) -> jax.Array:
    # (sum_i z_i^2 - z_y^2 + k (z_y - m)^2) / C with z_y gathered: one pass over the
    # logits, no [N, C] one-hot or factor array.
    label_logit = jnp.take_along_axis(logits, labels[..., None], axis=-1, mode="clip")[..., 0]
    squares = jnp.sum(jnp.square(logits), axis=-1)
    total = squares - jnp.square(label_logit) + k * jnp.square(label_logit - m)
    # An infinite label logit makes the loss infinite; the subtraction would give inf - inf.
    total = jnp.where(jnp.isinf(label_logit), jnp.inf, total)
    return _nan_outside_classes(total / logits.shape[-1], labels, logits.shape[-1])


def rescaled_square_derivative(logits, labels, k, m) -> jax.Array:
    shifted, factor = _rescaled_terms(logits, labels, k, m)
    return 2 * factor * shifted / logits.shape[-1]


# Second derivatives with respect to the first argument (``jaxloss.hessians``).


def binary_cross_entropy_second_derivative(probabilities: jax.Array, targets: jax.Array):
    # d/dp of (p - y) / (p (1 - p)) is y / p^2 + (1 - y) / (1 - p)^2; where torch's clamp
    # holds the denominator at 1e-12, the derivative of (p - y) / 1e-12 is 1e12.
    slope = probabilities * (1 - probabilities)
    curvature = targets / jnp.square(probabilities) + (1 - targets) / jnp.square(1 - probabilities)
    return jnp.where(slope > _BCE_GRADIENT_EPSILON, curvature, 1 / _BCE_GRADIENT_EPSILON)


def sigmoid_binary_cross_entropy_second_derivative(
    logits: jax.Array, targets: jax.Array, pos_weight: jax.Array | float = 1.0
) -> jax.Array:
    # d/dz of (1 - y) s - w y (1 - s) is s (1 - s) ((1 - y) + w y) >= 0: convex.
    slope = jax.nn.sigmoid(logits) * jax.nn.sigmoid(-logits)
    pos_weight = jnp.broadcast_to(jnp.asarray(pos_weight, logits.dtype), logits.shape)
    return slope * ((1 - targets) + pos_weight * targets)


def _diagonal_matrix(values: jax.Array) -> jax.Array:
    """``[..., C] -> [..., C, C]`` with ``values`` on the diagonal."""
    size = values.shape[-1]
    identity = jnp.eye(size, dtype=values.dtype).reshape((1,) * (values.ndim - 1) + (size, size))
    return values[..., :, None] * identity


def softmax_cross_entropy_second_derivative(logits: jax.Array, targets: jax.Array):
    # d/dz of p sum(y) - y is sum(y) (diag(p) - p p^T), per example.
    probabilities = _softmax(logits)
    total = jnp.sum(targets, axis=-1)[..., None, None]
    outer = probabilities[..., :, None] * probabilities[..., None, :]
    return total * (_diagonal_matrix(probabilities) - outer)


def smoothed_softmax_second_derivative(logits, targets, smoothing) -> jax.Array:
    smoothed = (1 - smoothing) * targets + smoothing / logits.shape[-1]
    return softmax_cross_entropy_second_derivative(logits, smoothed)


def softmax_integer_second_derivative(logits, labels, smoothing) -> jax.Array:
    targets = _smoothed_one_hot(labels, logits.shape[-1], smoothing, logits.dtype)
    return softmax_cross_entropy_second_derivative(logits, targets)


def one_hot_mse_second_derivative(predictions: jax.Array, labels: jax.Array) -> jax.Array:
    return jnp.full_like(predictions, 2)


def rescaled_square_second_derivative(logits, labels, k, m) -> jax.Array:
    _, factor = _rescaled_terms(logits, labels, k, m)
    return _diagonal_matrix(2 * factor / logits.shape[-1])


# --------------------------------------------------------------------------------------
# Public losses.


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
    return _reduction.run_elementwise(
        binary_cross_entropy_core,
        "probabilities",
        probabilities,
        targets,
        (),
        reduction,
        weights,
        where,
    )


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
      pos_weight: optional weight :math:`w_+` of the positive term, broadcast to
        ``logits`` (one per class for multi-label problems), as in torch.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``logits`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.sigmoid_binary_cross_entropy(jnp.array([0.0, 2.0]), jnp.array([0.0, 1.0]))
      Array(0.410..., dtype=float32)
    """
    if pos_weight is None:
        core, params = sigmoid_binary_cross_entropy_core, ()
    else:
        pos_weight_array = _reduction.as_checked_array("pos_weight", pos_weight)
        _checks.check_broadcastable("pos_weight", pos_weight_array, jnp.shape(logits))
        core, params = sigmoid_binary_cross_entropy_pos_weight_core, (pos_weight_array,)
    return _reduction.run_elementwise(
        core, "logits", logits, targets, params, reduction, weights, where
    )


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
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return _reduction.run(
        smoothed_softmax_core,
        "logits",
        logits,
        "targets",
        targets,
        (label_smoothing,),
        reduction=reduction,
        weights=weights,
        where=where,
        per_example=True,
        axis=axis,
    )


def smoothed_softmax_core(logits: jax.Array, targets: jax.Array, smoothing: jax.Array):
    smoothed = (1 - smoothing) * targets + smoothing / logits.shape[-1]
    return softmax_cross_entropy_core(logits, smoothed)


def smoothed_softmax_derivative(logits: jax.Array, targets: jax.Array, smoothing: jax.Array):
    smoothed = (1 - smoothing) * targets + smoothing / logits.shape[-1]
    return softmax_cross_entropy_derivative(logits, smoothed)


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
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return _reduction.run(
        softmax_integer_core,
        "logits",
        logits,
        "labels",
        labels,
        (label_smoothing,),
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind="labels",
        per_example=True,
        axis=axis,
        class_weights=class_weights,
    )


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
    return _reduction.run(
        one_hot_mse_core,
        "predictions",
        predictions,
        "labels",
        labels,
        (),
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind="labels",
    )


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
      k: weight of the true class's term.
      m: target value of the true class's logit.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.rescaled_square_loss(jnp.array([[0.8, 0.1, 0.1]]), jnp.array([0]))
      Array(0.02, dtype=float32)
    """
    return _reduction.run(
        rescaled_square_core,
        "logits",
        logits,
        "labels",
        labels,
        (k, m),
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind="labels",
        per_example=True,
    )


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
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    return _one_hot(labels_array, num_classes, dtype)


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
    _checks.check_concrete_range("alpha", alpha, 0.0, 1.0)
    alpha_array = jnp.asarray(alpha, targets_array.dtype)
    return (1 - alpha_array) * targets_array + alpha_array / targets_array.shape[-1]
