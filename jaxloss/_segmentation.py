r"""Segmentation overlap losses: Dice, generalized Dice and Tversky.

Predictions and one-hot targets are ``[batch, *spatial, classes]``; each loss sums
over the spatial axes and has one value per (example, class), optax's layout. For a
class :math:`c` with predicted probabilities :math:`p`, targets :math:`t`,
:math:`I = \sum p t`, :math:`P = \sum p` and :math:`T = \sum t`:

.. math::
    \ell_c = 1 - \frac{I + s}{I + \alpha (P - I) + \beta (T - I) + s}

(Tversky; Dice at :math:`\alpha = \beta = 1/2`), with optax's smoothing :math:`s`
(default 1) in numerator and denominator.

The empty-mask convention: with :math:`s > 0`, an empty target predicted empty has
coefficient :math:`s/s = 1` (loss 0), and an empty target predicted anywhere has
loss close to 1 only when :math:`P \gg s`. With :math:`s = 0` an empty target and an
empty prediction give :math:`0/0`: optax returns NaN; here the coefficient is 1 (two
empty masks agree perfectly), so the loss and its gradient are 0.

These are plain functions, not loss definitions: each (example, class) value reads
all the pixels of its example (a definition's per-example loss reduces only the
last axis) and the softmax reads across the classes. The derivative is written by
hand, a ``jax.custom_jvp`` whose rule is in jnp operations (second order works).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Parameter, Reduction
from jaxloss._metric import check_weights, reduce_checked
from jaxloss._reduction import compute_dtype

__all__ = ["binary_dice_loss", "dice_loss", "multiclass_generalized_dice_loss", "tversky_loss"]

Link = Literal["softmax", "sigmoid", "identity"]
# optax's epsilon in the generalized Dice weights 1 / (T_c^2 + epsilon).
_GENERALIZED_DICE_EPSILON = 1e-7
_SMOOTH = Parameter("smooth", low=0.0)
_ALPHA = Parameter("alpha", low=0.0)
_BETA = Parameter("beta", low=0.0)


def _probabilities(predictions: jax.Array, link: Link) -> jax.Array:
    if link == "softmax":
        return jax.nn.softmax(predictions, axis=-1)
    if link == "sigmoid":
        return jax.nn.sigmoid(predictions)
    return predictions


def _probability_tangent(predictions, probabilities, d_predictions, link: Link):
    if link == "softmax":
        # The softmax's Jacobian times the tangent: p (dz - sum_c p_c dz_c).
        inner = jnp.sum(probabilities * d_predictions, axis=-1, keepdims=True)
        return probabilities * (d_predictions - inner)
    if link == "sigmoid":
        # sigmoid(z) sigmoid(-z) is s (1 - s) without the cancellation of 1 - s.
        return probabilities * jax.nn.sigmoid(-predictions) * d_predictions
    return d_predictions


def _tversky_pieces(probabilities, targets, smooth, alpha, beta, axes):
    intersection = jnp.sum(probabilities * targets, axis=axes, keepdims=True)
    predicted = jnp.sum(probabilities, axis=axes, keepdims=True)
    actual = jnp.sum(targets, axis=axes, keepdims=True)
    numerator = intersection + smooth
    denominator = (
        intersection + alpha * (predicted - intersection) + beta * (actual - intersection) + smooth
    )
    empty = denominator == 0
    safe_denominator = jnp.where(empty, 1, denominator)
    # 0 / 0 (s = 0, nothing predicted, nothing there) is a perfect match: loss 0.
    loss = jnp.where(empty, 0, 1 - numerator / safe_denominator)
    return intersection, predicted, actual, numerator, safe_denominator, empty, loss


@functools.partial(jax.custom_jvp, nondiff_argnums=(5, 6))
def _tversky(predictions, targets, smooth, alpha, beta, link: Link, axes: tuple[int, ...]):
    probabilities = _probabilities(predictions, link)
    loss = _tversky_pieces(probabilities, targets, smooth, alpha, beta, axes)[-1]
    return jnp.squeeze(loss, axis=axes)


@_tversky.defjvp
def _tversky_jvp(link: Link, axes: tuple[int, ...], primals, tangents):
    predictions, targets, smooth, alpha, beta = primals
    d_predictions, d_targets, d_smooth, d_alpha, d_beta = tangents
    probabilities = _probabilities(predictions, link)
    intersection, predicted, actual, numerator, denominator, empty, loss = _tversky_pieces(
        probabilities, targets, smooth, alpha, beta, axes
    )
    # L = 1 - N / D with N = I + s, D = (1 - a - b) I + a P + b T + s:
    # dL/dp = -(t D - N ((1 - a - b) t + a)) / D^2, dL/dt likewise with p and b,
    # dL/ds = -(D - N) / D^2, dL/da = N (P - I) / D^2, dL/db = N (T - I) / D^2.
    inverse_square = jnp.where(empty, 0, 1 / denominator**2)
    shared = 1 - alpha - beta
    d_probabilities = -(targets * denominator - numerator * (shared * targets + alpha))
    d_target_values = -(probabilities * denominator - numerator * (shared * probabilities + beta))
    tangent_probabilities = _probability_tangent(predictions, probabilities, d_predictions, link)
    d_loss = inverse_square * (
        jnp.sum(
            d_probabilities * tangent_probabilities + d_target_values * d_targets,
            axis=axes,
            keepdims=True,
        )
        - (denominator - numerator) * d_smooth
        + numerator * (predicted - intersection) * d_alpha
        + numerator * (actual - intersection) * d_beta
    )
    return jnp.squeeze(loss, axis=axes), jnp.squeeze(d_loss, axis=axes)


def _spatial_axes(ndim: int, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(1, ndim - 1))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = tuple(_checks.check_axis(int(a), ndim) for a in axes)
    if ndim - 1 in normalized:
        raise ValueError(f"axis must not include the class axis (the last), got {axis}")
    return tuple(sorted(set(normalized)))


def _segmentation_inputs(predictions: ArrayLike, targets: ArrayLike):
    predictions_array = _checks.as_array("predictions", predictions)
    _checks.check_floating("predictions", predictions_array)
    targets_array = _checks.as_array("targets", targets)
    _checks.check_numeric("targets", targets_array)
    # optax's rule: a binary input may come without its class axis.
    if predictions_array.ndim == targets_array.ndim - 1:
        predictions_array = predictions_array[..., None]
    if targets_array.ndim == predictions_array.ndim - 1:
        targets_array = targets_array[..., None]
    _checks.check_same_shape("predictions", predictions_array, "targets", targets_array)
    if predictions_array.ndim == 0:
        raise ValueError("predictions must have a class axis, got a scalar")
    return predictions_array, targets_array


@functools.partial(jax.jit, static_argnames=("link", "axes", "generalized", "ignore_background"))
def _per_class(
    predictions, targets, smooth, alpha, beta, *, link, axes, generalized, ignore_background
):
    dtype = compute_dtype(predictions.dtype)
    logits = predictions.astype(dtype)
    values = targets.astype(dtype)
    parameters = (jnp.asarray(p).astype(dtype) for p in (smooth, alpha, beta))
    loss = _tversky(logits, values, *parameters, link, axes)
    if generalized:
        # optax's weights: 1 / (T_c^2 + 1e-7) over the whole batch, rescaled to sum to C.
        frequencies = jnp.sum(values, axis=tuple(range(values.ndim - 1)))
        inverse = 1 / (frequencies**2 + _GENERALIZED_DICE_EPSILON)
        class_weights = inverse / jnp.sum(inverse) * inverse.shape[0]
        # Spelled out to the loss's [batch, C]: no implicit rank promotion.
        loss = loss * jnp.broadcast_to(class_weights, loss.shape)
    if ignore_background and loss.shape[-1] > 1:
        loss = loss[..., 1:]
    return loss


def dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    class_weights: ArrayLike | None = None,
    smooth: ArrayLike = 1.0,
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    apply_softmax: bool = True,
    reduction: Reduction = "mean",
    ignore_background: bool = False,
    axis: int | Sequence[int] | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The soft Dice (Tversky) loss per example and class, optax's ``dice_loss``.

    :math:`1 - (I + s)/(I + \alpha(P - I) + \beta(T - I) + s)` per (example, class),
    with the sums over the spatial axes (see the module docstring, and the empty-mask
    convention there). Milletari et al. 2016 (V-Net) with optax's smoothing.

    ``reduction="none"`` returns exactly optax's ``reduction="none"``, ``[batch, C]``
    (``C - 1`` classes with ``ignore_background``), class weights multiplied in.
    ``"mean"`` and ``"sum"`` reduce over the batch *and* the classes to a scalar
    (optax reduces over the classes only, returning ``[batch]``), following jaxloss's
    rule: ``class_weights`` join ``weights``, so the weighted ``"mean"`` divides by the
    weights' sum (optax's mean over the classes divides by ``C``). With
    ``apply_softmax=False`` optax checks that the probabilities sum to 1 (a value
    check that cannot run under ``jit``, and refuses binary ``[..., 1]``
    probabilities); none is made here.

    Args:
      predictions: logits ``[batch, *spatial, C]`` (``C = 1``, or no class axis, for
        binary segmentation, through a sigmoid), or probabilities when
        ``apply_softmax=False``.
      targets: one-hot (or soft) targets of the same shape.
      class_weights: optional non-negative ``[C]`` weights of the classes.
      smooth: :math:`s \ge 0`.
      alpha, beta: :math:`\alpha, \beta \ge 0`, the weights of the false positives
        and false negatives; 1/2 each is Dice.
      apply_softmax: pass the logits through a softmax (a sigmoid when ``C = 1``).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
      ignore_background: leave class 0 out (when ``C > 1``).
      axis: the axes summed over; default all but the first and the last.
      weights, where: as in :func:`jaxloss.mse`, broadcast to ``[batch, C]``.

    Returns:
      A scalar, or ``[batch, C]`` per (example, class) losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[[2.0, -1.0], [0.0, 1.0]]])
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
      >>> jaxloss.dice_loss(logits, targets, reduction="none")
      Array([[0.07494..., 0.08372...]], dtype=float32)
    """
    return _tversky_loss(
        predictions,
        targets,
        class_weights=class_weights,
        smooth=smooth,
        alpha=alpha,
        beta=beta,
        apply_link=apply_softmax,
        reduction=reduction,
        ignore_background=ignore_background,
        axis=axis,
        weights=weights,
        where=where,
    )


def tversky_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    alpha: ArrayLike = 0.5,
    beta: ArrayLike = 0.5,
    smooth: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    apply_softmax: bool = True,
    reduction: Reduction = "mean",
    ignore_background: bool = False,
    axis: int | Sequence[int] | None = None,
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The Tversky loss (Salehi et al. 2017) per example and class.

    .. math:: \ell_c = 1 - \frac{I + s}{I + \alpha\,FP + \beta\,FN + s}

    with :math:`FP = P - I` and :math:`FN = T - I`: ``alpha`` weighs the false
    positives, ``beta`` the false negatives, and :math:`\alpha = \beta = 1/2` is
    :func:`jaxloss.dice_loss` (this is optax's ``dice_loss`` with its ``alpha`` and
    ``beta``). Keras's ``tversky`` has no smoothing (an epsilon of ``1e-7`` instead),
    reduces over every axis, and multiplies its ``alpha`` by
    :math:`\sum t(1 - p)`, the false negatives, although it documents it as the
    false positives' weight: Keras's ``tversky(alpha=a, beta=b)`` is this loss with
    ``alpha=b, beta=a, smooth=0`` on a single class.

    The other arguments (``predictions``, ``targets``, ``class_weights``, ``smooth``,
    ``apply_softmax``, ``reduction``, ``ignore_background``, ``axis``, ``weights``,
    ``where``) are those of :func:`jaxloss.dice_loss`.

    Args:
      alpha, beta: :math:`\alpha, \beta \ge 0`.

    Returns:
      A scalar, or ``[batch, C]`` per (example, class) losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> probabilities = jnp.array([[[0.9, 0.1], [0.4, 0.6]]])
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])
      >>> jaxloss.tversky_loss(probabilities, targets, alpha=0.3, beta=0.7,
      ...                      apply_softmax=False, reduction="none")
      Array([[0.09090..., 0.16230...]], dtype=float32)
    """
    return _tversky_loss(
        predictions,
        targets,
        class_weights=class_weights,
        smooth=smooth,
        alpha=alpha,
        beta=beta,
        apply_link=apply_softmax,
        reduction=reduction,
        ignore_background=ignore_background,
        axis=axis,
        weights=weights,
        where=where,
    )


def binary_dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    apply_sigmoid: bool = True,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The binary soft Dice loss per example, optax's ``binary_dice_loss``.

    :func:`jaxloss.dice_loss` of one class through a sigmoid. An input whose last
    axis is not 1 gets a class axis (optax's rule). ``reduction="none"`` returns
    exactly optax's output, one value per example.

    Args:
      predictions: logits ``[batch, *spatial]`` or ``[batch, *spatial, 1]``
        (probabilities when ``apply_sigmoid=False``).
      targets: binary (or soft) targets of the same shape.
      smooth: :math:`s \ge 0`.
      apply_sigmoid: pass the logits through a sigmoid.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``, over the examples.
      weights, where: as in :func:`jaxloss.mse`, broadcast to ``[batch]``.

    Returns:
      A scalar, or one loss per example when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.binary_dice_loss(jnp.array([[3.0, -3.0, 3.0]]), jnp.array([[1.0, 0.0, 0.0]]))
      Array(0.21149..., dtype=float32)
    """
    predictions_array = _checks.as_array("predictions", predictions)
    targets_array = _checks.as_array("targets", targets)
    if predictions_array.ndim == targets_array.ndim and predictions_array.shape[-1:] != (1,):
        predictions_array = predictions_array[..., None]
        targets_array = targets_array[..., None]
    per_class = _tversky_loss(
        predictions_array,
        targets_array,
        class_weights=None,
        smooth=smooth,
        alpha=0.5,
        beta=0.5,
        apply_link=apply_sigmoid,
        reduction="none",
        ignore_background=False,
        axis=None,
        weights=None,
        where=None,
    )
    check_weights(weights)
    return reduce_checked(
        per_class[..., 0],
        reduction=reduction,
        weights=weights,
        where=where,
        none_dtype=per_class.dtype,
    )


def multiclass_generalized_dice_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    smooth: ArrayLike = 1.0,
    apply_softmax: bool = True,
    ignore_background: bool = False,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Generalized Dice with class weights from the targets, optax's definition.

    Each class's Dice loss is weighted by :math:`w_c = C\,u_c / \sum_k u_k`,
    :math:`u_c = 1/(T_c^2 + 10^{-7})`, :math:`T_c` the class's target mass over the
    whole batch (Sudre et al. 2017's inverse squared volumes, so rare classes
    count). ``"mean"`` (the default) is optax's scalar, the mean of
    :math:`w_c \ell_{bc}` over examples and classes. Sudre et al.'s own loss is a
    ratio of weighted sums, :math:`1 - 2\sum_c w_c I_c / \sum_c w_c (P_c + T_c)`;
    optax's (and this) is a weighted mean of per-class Dice losses. The weights are
    part of the loss (``reduction="none"`` gives :math:`w_c \ell_{bc}`); the Dice
    part's derivative is in closed form, the weights' (a rational function of
    :math:`T`, which matters only for soft targets) is JAX's.

    Args:
      predictions, targets, smooth, apply_softmax, ignore_background: as in
        :func:`jaxloss.dice_loss`.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
      weights, where: as in :func:`jaxloss.mse`, broadcast to ``[batch, C]``.

    Returns:
      A scalar, or ``[batch, C]`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.array([[[2.0, -1.0], [0.0, 1.0], [1.0, 0.0]]])
      >>> targets = jnp.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
      >>> jaxloss.multiclass_generalized_dice_loss(logits, targets)
      Array(0.13535..., dtype=float32)
    """
    predictions_array = _checks.as_array("predictions", predictions)
    targets_array = _checks.as_array("targets", targets)
    _checks.check_same_shape("predictions", predictions_array, "targets", targets_array)
    return _tversky_loss(
        predictions_array,
        targets_array,
        class_weights=None,
        smooth=smooth,
        alpha=0.5,
        beta=0.5,
        apply_link=apply_softmax,
        reduction=reduction,
        ignore_background=ignore_background,
        axis=None,
        weights=weights,
        where=where,
        generalized=True,
    )


def _tversky_loss(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    class_weights: ArrayLike | None,
    smooth: ArrayLike,
    alpha: ArrayLike,
    beta: ArrayLike,
    apply_link: bool,
    reduction: Reduction,
    ignore_background: bool,
    axis: int | Sequence[int] | None,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    generalized: bool = False,
) -> jax.Array:
    predictions_array, targets_array = _segmentation_inputs(predictions, targets)
    for parameter, value in ((_SMOOTH, smooth), (_ALPHA, alpha), (_BETA, beta)):
        parameter.check_concrete(value)
        if jnp.ndim(value) != 0:
            raise ValueError(f"{parameter.name} must be a scalar, got shape {jnp.shape(value)}")
    num_classes = predictions_array.shape[-1]
    link: Link = "identity"
    if apply_link:
        link = "sigmoid" if num_classes == 1 else "softmax"
    per_class = _per_class(
        predictions_array,
        targets_array,
        smooth,
        alpha,
        beta,
        link=link,
        axes=_spatial_axes(predictions_array.ndim, axis),
        generalized=generalized,
        ignore_background=bool(ignore_background),
    )
    check_weights(weights)
    combined = weights
    if class_weights is not None:
        check_weights(class_weights)
        class_array = _checks.as_array("class_weights", class_weights)
        _checks.check_shape("class_weights", class_array, (num_classes,), "one weight per class")
        if ignore_background and num_classes > 1:
            class_array = class_array[1:]
        class_array = jnp.broadcast_to(class_array.astype(per_class.dtype), per_class.shape)
        if weights is None:
            combined = class_array
        else:
            weights_array = _checks.as_array("weights", weights)
            _checks.check_broadcastable("weights", weights_array, per_class.shape)
            combined = class_array * jnp.broadcast_to(
                weights_array.astype(per_class.dtype), per_class.shape
            )
    return reduce_checked(
        per_class,
        reduction=reduction,
        weights=combined,
        where=where,
        none_dtype=predictions_array.dtype,
    )
