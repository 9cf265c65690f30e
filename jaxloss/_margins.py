r"""Margin losses: the hinges, the perceptrons and torch's margin losses.

Each loss is one :class:`~jaxloss._definition.LossDefinition` followed by its public
``def``. Most of them are piecewise linear (or piecewise quadratic), with kinks where a
margin is met exactly; there the derivative is a subgradient, chosen to be the one the
library that defines the loss computes, so that a training step matches it:

* optax's losses and Keras's (``hinge_loss``, ``perceptron_loss``,
  ``multiclass_hinge_loss``, ``multiclass_perceptron_loss``, ``squared_hinge``,
  ``categorical_hinge``) take JAX's derivative of their definition: ``maximum(0, m)``
  has slope 1/2 at ``m = 0`` and a maximum over tied entries splits its slope equally
  among them (what ``jax.grad`` of optax's code, or of Keras's on the JAX backend,
  returns);
* torch's losses take torch's: ``hinge_embedding`` and ``margin_ranking`` keep the
  full slope at the kink (torch's ``clamp_min`` passes the gradient where its input
  equals the bound), ``multi_margin`` and ``multilabel_margin`` none of it (torch's
  kernels test ``z > 0``).

Their second derivative is 0 away from the kinks (``2`` times the active indicator for
the squared ones); it is undefined at them, where the closed form gives the value on the
flat side.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss._checks import Reduction
from jaxloss._classification import _gather, _one_hot, nan_outside_classes, times
from jaxloss._definition import Input, LossDefinition, Parameter
from jaxloss._regression import LOGIT_EXTREMES, REAL_EXTREMES

__all__ = [
    "categorical_hinge",
    "hinge_embedding",
    "hinge_loss",
    "margin_ranking",
    "multi_margin",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multilabel_margin",
    "multilabel_soft_margin",
    "perceptron_loss",
    "soft_margin",
    "squared_hinge",
]

_MARGIN = Parameter("margin")


def _jax_relu_slope(margin: jax.Array) -> jax.Array:
    """JAX's derivative of ``maximum(0, m)``: 1 above 0, 1/2 at 0, 0 below."""
    return jnp.where(margin > 0, 1, jnp.where(margin == 0, 0.5, 0)).astype(margin.dtype)


def _tied_maximum(values: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The maximum over the last axis and JAX's derivative of it.

    ``jax.grad`` of ``jnp.max`` splits the slope equally among tied entries, so the
    derivative is the indicator of the maximal entries over their count.
    """
    maximum = jnp.max(values, axis=-1, keepdims=True)
    ties = (values == maximum).astype(values.dtype)
    return maximum[..., 0], ties / jnp.sum(ties, axis=-1, keepdims=True)


# --------------------------------------------------------------------------------------
# hinge_loss (optax)


def _hinge(outputs: jax.Array, targets: jax.Array):
    margin = 1 - outputs * targets
    slope = _jax_relu_slope(margin)
    return jnp.maximum(margin, 0), (-targets * slope, -outputs * slope)


HINGE_LOSS = LossDefinition(
    name="hinge_loss",
    value_and_partials=_hinge,
    curvature=lambda outputs, targets: jnp.zeros_like(outputs),
    domain="real",
    target_kind="sign",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.hinge_loss`: :math:`-y` where :math:`y s < 1`, 0 where
    :math:`y s > 1`, and :math:`-y/2` at the kink :math:`y s = 1`, as ``jax.grad`` of
    optax's ``hinge_loss`` gives.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.hinge_loss(
      ...     jnp.array([0.5, 2.0, 1.0]), jnp.array([1.0, 1.0, 1.0]), reduction="sum")
      Array([-1. ,  0. , -0.5], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.hinge_loss`: 0 (the loss is piecewise linear).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.hinge_loss(jnp.array([0.5, 2.0]), jnp.array([1.0, -1.0]))
      Array([0., 0.], dtype=float32)
    """,
)


@HINGE_LOSS.public
def hinge_loss(
    predictor_outputs: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary hinge loss on scores and :math:`\pm 1` targets, optax's ``hinge_loss``.

    .. math:: \ell_i = \max(0, 1 - y_i s_i)

    ``reduction="none"`` returns what optax's ``hinge_loss`` returns. Keras's ``hinge``
    differs: it averages over the last axis and first maps targets that are all 0 or 1
    to :math:`\pm 1`; here pass ``2 * y - 1``. At the kink :math:`y s = 1` the
    gradient is :math:`-y/2`, JAX's derivative of optax's ``maximum``.

    Args:
      predictor_outputs: scores (decision function values), any shape.
      targets: :math:`\pm 1`, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictor_outputs`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hinge_loss(jnp.array([0.5, 2.0, -1.0]), jnp.array([1.0, 1.0, 1.0]),
      ...                    reduction="none")
      Array([0.5, 0. , 2. ], dtype=float32)
    """
    return HINGE_LOSS(predictor_outputs, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# squared_hinge (Keras)


def _squared_hinge(outputs: jax.Array, targets: jax.Array):
    active = jnp.maximum(1 - outputs * targets, 0)
    # d/dm of max(0, m)^2 is 2 max(0, m): no choice to make at the kink.
    slope = 2 * active
    return jnp.square(active), (-targets * slope, -outputs * slope)


def _squared_hinge_curvature(outputs: jax.Array, targets: jax.Array) -> jax.Array:
    active = (1 - outputs * targets > 0).astype(outputs.dtype)
    return 2 * jnp.square(targets) * active


SQUARED_HINGE = LossDefinition(
    name="squared_hinge",
    value_and_partials=_squared_hinge,
    curvature=_squared_hinge_curvature,
    domain="real",
    target_kind="sign",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.squared_hinge`: :math:`-2y\max(0, 1 - y s)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.squared_hinge(
      ...     jnp.array([0.5, 2.0]), jnp.array([1.0, -1.0]), reduction="sum")
      Array([-1.,  6.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.squared_hinge`: :math:`2y^2` where
    :math:`y s < 1`, else 0 (0 at the kink, the flat side).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.squared_hinge(
      ...     jnp.array([0.5, 2.0]), jnp.array([1.0, 1.0]), reduction="sum")
      Array([2., 0.], dtype=float32)
    """,
)


@SQUARED_HINGE.public
def squared_hinge(
    predictor_outputs: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Squared hinge loss on scores and :math:`\pm 1` targets, Keras's ``squared_hinge``.

    .. math:: \ell_i = \max(0, 1 - y_i s_i)^2

    Differentiable everywhere, with gradient :math:`-2y\max(0, 1 - ys)`. Keras's
    ``squared_hinge`` averages over the last axis (``reduction="none"`` here keeps
    every element) and first maps targets that are all 0 or 1 to :math:`\pm 1`; here
    pass ``2 * y - 1``.

    Args:
      predictor_outputs: scores, any shape.
      targets: :math:`\pm 1`, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictor_outputs`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.squared_hinge(jnp.array([0.5, 2.0, -1.0]), jnp.array([1.0, 1.0, 1.0]))
      Array(1.4166666, dtype=float32)
    """
    return SQUARED_HINGE(
        predictor_outputs, targets, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# perceptron_loss (optax)


def _perceptron(outputs: jax.Array, targets: jax.Array):
    margin = -outputs * targets
    slope = _jax_relu_slope(margin)
    return jnp.maximum(margin, 0), (-targets * slope, -outputs * slope)


PERCEPTRON_LOSS = LossDefinition(
    name="perceptron_loss",
    value_and_partials=_perceptron,
    curvature=lambda outputs, targets: jnp.zeros_like(outputs),
    domain="real",
    target_kind="sign",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.perceptron_loss`: :math:`-y` where :math:`y s < 0`, 0
    where :math:`y s > 0`, and :math:`-y/2` at :math:`s = 0`, as ``jax.grad`` of optax's
    ``perceptron_loss`` gives.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.perceptron_loss(
      ...     jnp.array([-0.5, 2.0, 0.0]), jnp.array([1.0, 1.0, 1.0]), reduction="sum")
      Array([-1. ,  0. , -0.5], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.perceptron_loss`: 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.perceptron_loss(jnp.array([-0.5, 2.0]), jnp.array([1.0, 1.0]))
      Array([0., 0.], dtype=float32)
    """,
)


@PERCEPTRON_LOSS.public
def perceptron_loss(
    predictor_outputs: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary perceptron loss on scores and :math:`\pm 1` targets, optax's ``perceptron_loss``.

    .. math:: \ell_i = \max(0, -y_i s_i)

    The hinge without its margin: a correct sign costs nothing however small the score.
    ``reduction="none"`` returns what optax returns. Keras has no perceptron loss.

    Args:
      predictor_outputs: scores, any shape.
      targets: :math:`\pm 1`, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictor_outputs`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.perceptron_loss(jnp.array([-0.5, 2.0]), jnp.array([1.0, 1.0]),
      ...                         reduction="none")
      Array([0.5, 0. ], dtype=float32)
    """
    return PERCEPTRON_LOSS(
        predictor_outputs, targets, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# multiclass_hinge_loss (optax)


def _multiclass_hinge(scores: jax.Array, labels: jax.Array):
    num_classes = scores.shape[-1]
    one_hot = _one_hot(labels, num_classes, scores.dtype)
    # optax's definition, max_c (s_c + 1 - [c = y]) - s_y, with s_y subtracted inside the
    # maximum and the label's own entry exactly 0: a +inf label score then gives the
    # limit 0, not inf - inf = NaN. The tied entries, and so the slopes, are optax's.
    shifted = jnp.where(one_hot > 0, 0, scores + 1 - _gather(scores, labels)[..., None])
    maximum, slope = _tied_maximum(shifted)
    value = nan_outside_classes(maximum, labels, num_classes)
    # sum_c slope_c d(shifted_c)/ds = slope - e_y, as for optax's form: the slopes sum to 1.
    return value, (slope - one_hot, None)


MULTICLASS_HINGE_LOSS = LossDefinition(
    name="multiclass_hinge_loss",
    value_and_partials=_multiclass_hinge,
    curvature=lambda scores, labels, vector: jnp.zeros_like(vector),
    domain="real",
    target_kind="labels",
    link="identity",
    per_example=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multiclass_hinge_loss`: :math:`e_{c^*} - e_y` with
    :math:`c^* = \arg\max_c (s_c + 1 - [c = y])`; where several classes tie for the
    maximum, :math:`e_{c^*}` is their indicator over their count, as ``jax.grad`` of
    optax's ``jnp.max`` splits it. The gradient is 0 once the label wins by the margin.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multiclass_hinge_loss(
      ...     jnp.array([[1.0, 2.0, 0.0]]), jnp.array([0]), reduction="sum")
      Array([[-1.,  1.,  0.]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multiclass_hinge_loss`: 0 (piecewise linear).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multiclass_hinge_loss(jnp.array([[1.0, 2.0]]), jnp.array([0]))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@MULTICLASS_HINGE_LOSS.public
def multiclass_hinge_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multiclass (Crammer-Singer) hinge loss, optax's ``multiclass_hinge_loss``.

    .. math:: \ell_n = \max_c \big(s_{nc} + 1 - [c = y_n]\big) - s_{n y_n}

    That is :math:`\max(0, 1 + \max_{c \ne y} s_c - s_y)`: the label's score must beat
    every other by 1. ``reduction="none"`` returns what optax returns (one value per
    example), except that a label outside ``[0, C)`` gives NaN (optax returns a
    number). Keras's ``categorical_hinge`` is a different loss (see
    :func:`jaxloss.categorical_hinge`); torch's ``multi_margin_loss`` sums the
    per-class hinges instead of taking their maximum (:func:`jaxloss.multi_margin`).

    Args:
      scores: scores ``[..., C]``.
      labels: integer class indices ``[...]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.multiclass_hinge_loss(jnp.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.5]]),
      ...                               jnp.array([0, 0]), reduction="none")
      Array([2., 0.], dtype=float32)
    """
    return MULTICLASS_HINGE_LOSS(scores, labels, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# multiclass_perceptron_loss (optax)


def _multiclass_perceptron(scores: jax.Array, labels: jax.Array):
    num_classes = scores.shape[-1]
    one_hot = _one_hot(labels, num_classes, scores.dtype)
    # max_c s_c - s_y as max_c (s_c - s_y) with the label's entry exactly 0: a +inf
    # label score gives the limit 0, not inf - inf = NaN.
    shifted = jnp.where(one_hot > 0, 0, scores - _gather(scores, labels)[..., None])
    maximum, slope = _tied_maximum(shifted)
    value = nan_outside_classes(maximum, labels, num_classes)
    return value, (slope - one_hot, None)


MULTICLASS_PERCEPTRON_LOSS = LossDefinition(
    name="multiclass_perceptron_loss",
    value_and_partials=_multiclass_perceptron,
    curvature=lambda scores, labels, vector: jnp.zeros_like(vector),
    domain="real",
    target_kind="labels",
    link="identity",
    per_example=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multiclass_perceptron_loss`: :math:`e_{c^*} - e_y` with
    :math:`c^* = \arg\max_c s_c`, tied maxima sharing the slope equally as in
    ``jax.grad`` of optax's ``jnp.max``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multiclass_perceptron_loss(
      ...     jnp.array([[1.0, 2.0, 2.0]]), jnp.array([0]), reduction="sum")
      Array([[-1. ,  0.5,  0.5]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multiclass_perceptron_loss`: 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multiclass_perceptron_loss(jnp.array([[1.0, 2.0]]), jnp.array([0]))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@MULTICLASS_PERCEPTRON_LOSS.public
def multiclass_perceptron_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multiclass perceptron loss, optax's ``multiclass_perceptron_loss``.

    .. math:: \ell_n = \max_c s_{nc} - s_{n y_n}

    0 when the label has the highest score (ties included). ``reduction="none"``
    returns what optax returns, except NaN for a label outside ``[0, C)``.

    Args:
      scores: scores ``[..., C]``.
      labels: integer class indices ``[...]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.multiclass_perceptron_loss(jnp.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.5]]),
      ...                                    jnp.array([0, 0]), reduction="none")
      Array([1., 0.], dtype=float32)
    """
    return MULTICLASS_PERCEPTRON_LOSS(
        scores, labels, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# categorical_hinge (Keras)


def _categorical_hinge(scores: jax.Array, targets: jax.Array):
    # Keras's definition, its quirk included: the label's own entry of (1 - t) s is 0,
    # so `negative` is never below 0 for one-hot targets. `times` keeps 0 * inf at 0, so
    # an infinite score where the target is 0 (or 1) costs what its limit does.
    positive = jnp.sum(times(targets, scores), axis=-1)
    negative, tie_slope = _tied_maximum(times(1 - targets, scores))
    margin = negative - positive + 1
    slope = _jax_relu_slope(margin)[..., None]
    d_scores = slope * (tie_slope * (1 - targets) - targets)
    d_targets = -slope * scores * (tie_slope + 1)
    return jnp.maximum(margin, 0), (d_scores, d_targets)


CATEGORICAL_HINGE = LossDefinition(
    name="categorical_hinge",
    value_and_partials=_categorical_hinge,
    curvature=lambda scores, targets, vector: jnp.zeros_like(vector),
    domain="real",
    target_kind="class_probabilities",
    link="identity",
    per_example=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.categorical_hinge`.

    Where the hinge is active, :math:`(1 - t_{c^*}) e_{c^*} - t` with :math:`c^*` the
    argmax of :math:`(1 - t) \odot s`; 0 where it is not. At the kinks the slopes are
    JAX's (Keras on the JAX backend): 1/2 for the outer ``maximum``, an equal split
    among tied maxima.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.categorical_hinge(
      ...     jnp.array([[1.0, 2.0, 0.0]]), jnp.array([[1.0, 0.0, 0.0]]), reduction="sum")
      Array([[-1.,  1.,  0.]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.categorical_hinge`: 0 (piecewise linear).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.categorical_hinge(jnp.array([[1.0, 2.0]]), jnp.array([[1.0, 0.0]]))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@CATEGORICAL_HINGE.public
def categorical_hinge(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Categorical hinge loss, Keras's ``categorical_hinge``, arguments in jaxloss's order.

    .. math::
       \ell_n = \max\big(0,\ \max_c (1 - t_{nc}) s_{nc} - \textstyle\sum_c t_{nc} s_{nc} + 1\big)

    Keras's definition exactly (Keras takes ``(y_true, y_pred)``; this takes scores
    first). For one-hot targets the label's entry of :math:`(1 - t) s` is 0, so the
    inner maximum is :math:`\max(0, \max_{c \ne y} s_c)`: unlike
    :func:`jaxloss.multiclass_hinge_loss`, wrong classes with negative scores count as
    0, and the loss is 0 only once :math:`s_y \ge 1 + \max(0, \max_{c \ne y} s_c)`.

    Args:
      scores: scores ``[..., C]``.
      targets: one-hot (or soft) targets, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.categorical_hinge(jnp.array([[1.0, 2.0, 0.0], [0.5, -1.0, -2.0]]),
      ...                           jnp.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]),
      ...                           reduction="none")
      Array([2. , 0.5], dtype=float32)
    """
    return CATEGORICAL_HINGE(scores, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# soft_margin (torch's SoftMarginLoss)


def _soft_margin(scores: jax.Array, targets: jax.Array):
    margin = targets * scores
    # log(1 + exp(-m)) as relu(-m) + log1p(exp(-|m|)): exact for every m, where torch's
    # log1p(exp(-m)) overflows to inf once -m passes 88 in float32.
    value = jax.nn.relu(-margin) + jnp.log1p(jnp.exp(-jnp.abs(margin)))
    wrong = jax.nn.sigmoid(-margin)
    return value, (-targets * wrong, -scores * wrong)


def _soft_margin_curvature(scores: jax.Array, targets: jax.Array) -> jax.Array:
    margin = targets * scores
    return jnp.square(targets) * jax.nn.sigmoid(margin) * jax.nn.sigmoid(-margin)


SOFT_MARGIN = LossDefinition(
    name="soft_margin",
    value_and_partials=_soft_margin,
    curvature=_soft_margin_curvature,
    domain="real",
    target_kind="sign",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.soft_margin`: :math:`-y\,\sigma(-y s)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.soft_margin(jnp.array([0.0, 100.0]), jnp.array([1.0, -1.0]),
      ...                               reduction="sum")
      Array([-0.5,  1. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.soft_margin`: :math:`y^2\sigma(ys)\sigma(-ys)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.soft_margin(jnp.array([0.0]), jnp.array([1.0]))
      Array([0.25], dtype=float32)
    """,
)


@SOFT_MARGIN.public
def soft_margin(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Soft margin (logistic) loss on :math:`\pm 1` targets, torch's ``nn.SoftMarginLoss``.

    .. math:: \ell_i = \log\big(1 + e^{-y_i s_i}\big)

    The sigmoid cross-entropy with targets :math:`(y + 1)/2`. Computed stably: exact
    where torch's ``log1p(exp(-ys))`` overflows to ``inf`` (``-ys > 88`` in float32)
    and its gradient to NaN.

    Args:
      scores: scores, any shape.
      targets: :math:`\pm 1` (any real value is accepted, as in torch), same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``scores`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.soft_margin(jnp.array([0.0, 100.0]), jnp.array([1.0, -1.0]),
      ...                     reduction="none")
      Array([  0.693...,  100.  ], dtype=float32)
    """
    return SOFT_MARGIN(scores, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# hinge_embedding (torch's HingeEmbeddingLoss)


def _hinge_embedding(distances: jax.Array, targets: jax.Array, margin: jax.Array):
    similar = targets > 0
    gap = margin - distances
    value = jnp.where(similar, distances, jnp.maximum(gap, 0))
    # torch's clamp_min passes the gradient where its input equals the bound: the full
    # slope at the kink distance = margin.
    pushed = (~similar & (gap >= 0)).astype(distances.dtype)
    d_distances = jnp.where(similar, 1, -pushed).astype(distances.dtype)
    return value, (d_distances, jnp.zeros_like(targets), pushed)


HINGE_EMBEDDING = LossDefinition(
    name="hinge_embedding",
    value_and_partials=_hinge_embedding,
    curvature=lambda distances, targets, margin: jnp.zeros_like(distances),
    domain="positive",
    target_kind="sign",
    link="identity",
    parameters=(_MARGIN,),
    options={"margin": 0.7},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.hinge_embedding`: 1 for :math:`y = 1`; for
    :math:`y = -1`, :math:`-1` where :math:`x \le \Delta` (the kink included, as
    torch) and 0 beyond.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.hinge_embedding(
      ...     jnp.array([0.5, 0.5, 1.0, 2.0]), jnp.array([1.0, -1.0, -1.0, -1.0]),
      ...     reduction="sum")
      Array([ 1., -1., -1.,  0.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.hinge_embedding`: 0 (piecewise linear).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.hinge_embedding(jnp.array([0.5, 0.5]), jnp.array([1.0, -1.0]))
      Array([0., 0.], dtype=float32)
    """,
)


@HINGE_EMBEDDING.public
def hinge_embedding(
    distances: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Hinge embedding loss, torch's ``nn.HingeEmbeddingLoss``.

    .. math::
       \ell_i = \begin{cases} x_i & y_i = 1 \\ \max(0, \Delta - x_i) & y_i = -1 \end{cases}

    For distances :math:`x` between pairs: similar pairs (:math:`y = 1`) are pulled
    together, dissimilar ones (:math:`y = -1`) pushed beyond the margin :math:`\Delta`.
    A target is read by its sign (``y > 0`` is similar); torch adds both terms for a
    target that is neither 1 nor -1.

    Args:
      distances: non-negative distances (any real value is accepted), any shape.
      targets: :math:`\pm 1`, same shape.
      margin: :math:`\Delta`, a finite number or an array broadcast to ``distances``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``distances`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hinge_embedding(jnp.array([0.5, 0.5, 2.0]), jnp.array([1.0, -1.0, -1.0]),
      ...                         reduction="none")
      Array([0.5, 0.5, 0. ], dtype=float32)
    """
    return HINGE_EMBEDDING(
        distances, targets, margin=margin, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# margin_ranking (torch's MarginRankingLoss)


def _margin_ranking(first: jax.Array, second: jax.Array, targets: jax.Array, margin: jax.Array):
    difference = first - second
    gap = margin - targets * difference
    # torch's clamp_min passes the gradient where its input equals the bound: the full
    # slope at the kink.
    active = (gap >= 0).astype(first.dtype)
    slope = targets * active
    return jnp.where(gap >= 0, gap, 0), (-slope, slope, -difference * active, active)


MARGIN_RANKING = LossDefinition(
    name="margin_ranking",
    value_and_partials=_margin_ranking,
    curvature=lambda first, second, targets, margin: jnp.zeros_like(first),
    domain="real",
    target_kind="real",
    more_inputs=(Input(shape="first", kind="sign"),),
    link="identity",
    parameters=(_MARGIN,),
    options={"margin": 0.3},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.margin_ranking` with respect to ``input1``:
    :math:`-y` where :math:`\Delta - y(x_1 - x_2) \ge 0` (the kink included, as torch),
    else 0. With respect to ``input2`` it is the opposite, :math:`y`; ``jax.grad``
    with ``argnums`` gives every input's closed form.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.margin_ranking(
      ...     jnp.array([1.0, 3.0]), jnp.array([2.0, 1.0]), jnp.array([1.0, 1.0]),
      ...     reduction="sum")
      Array([-1., -0.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.margin_ranking` with respect to ``input1``: 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.margin_ranking(
      ...     jnp.array([1.0]), jnp.array([2.0]), jnp.array([1.0]))
      Array([0.], dtype=float32)
    """,
)


@MARGIN_RANKING.public
def margin_ranking(
    input1: ArrayLike,
    input2: ArrayLike,
    targets: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Margin ranking loss, torch's ``nn.MarginRankingLoss``.

    .. math:: \ell_i = \max\big(0, \Delta - y_i (x_{1i} - x_{2i})\big)

    :math:`y = 1` asks for :math:`x_1` to rank above :math:`x_2` by the margin
    :math:`\Delta`, :math:`y = -1` for the opposite. Its gradient is :math:`-y` for
    ``input1`` and :math:`y` for ``input2`` where the hinge is active, the kink
    included, as in torch.

    Args:
      input1: scores, any shape.
      input2: scores, same shape.
      targets: :math:`\pm 1`, same shape.
      margin: :math:`\Delta`, a finite number or an array broadcast to ``input1``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``input1`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.margin_ranking(jnp.array([1.0, 3.0]), jnp.array([2.0, 1.0]),
      ...                        jnp.array([1.0, -1.0]), margin=0.5, reduction="none")
      Array([1.5, 2.5], dtype=float32)
    """
    return MARGIN_RANKING(
        input1,
        input2,
        targets,
        margin=margin,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# multi_margin (torch's MultiMarginLoss)


def _power_and_slopes(gap: jax.Array, active: jax.Array, p: jax.Array):
    """``gap**p``, its first and second derivatives and ``gap**p log gap`` where active.

    torch's exponents 1 and 2 are computed exactly; any other ``p`` through ``pow``.
    """
    safe = jnp.where(active, gap, 1)
    power = jnp.where(p == 1, safe, jnp.where(p == 2, safe * safe, safe**p))
    first = jnp.where(p == 1, 1, jnp.where(p == 2, 2 * safe, p * safe ** (p - 1)))
    second = jnp.where(p == 1, 0, jnp.where(p == 2, 2, p * (p - 1) * safe ** (p - 2)))
    log_power = power * jnp.log(safe)
    zero = jnp.zeros_like(gap)
    return tuple(jnp.where(active, term, zero) for term in (power, first, second, log_power))


def _multi_margin_terms(scores, labels, p, margin):
    num_classes = scores.shape[-1]
    one_hot = _one_hot(labels, num_classes, scores.dtype)
    gap = margin + scores - _gather(scores, labels)[..., None]
    # torch's kernel counts a class only where its gap is strictly positive.
    active = (gap > 0) & (one_hot == 0)
    return one_hot, _power_and_slopes(gap, active, p)


def _multi_margin(scores: jax.Array, labels: jax.Array, p: jax.Array, margin: jax.Array):
    num_classes = scores.shape[-1]
    one_hot, (power, slope, _, log_power) = _multi_margin_terms(scores, labels, p, margin)
    value = nan_outside_classes(jnp.sum(power, axis=-1) / num_classes, labels, num_classes)
    slope = slope / num_classes
    total_slope = jnp.sum(slope, axis=-1)
    d_scores = slope - one_hot * total_slope[..., None]
    d_p = jnp.sum(log_power, axis=-1) / num_classes
    return value, (d_scores, None, d_p, total_slope)


def _multi_margin_curvature(scores, labels, p, margin, vector) -> jax.Array:
    # H = sum_c f''(g_c) (e_c - e_y)(e_c - e_y)^T / C over the active classes c.
    one_hot, (_, _, curvature, _) = _multi_margin_terms(scores, labels, p, margin)
    label_entry = jnp.sum(vector * one_hot, axis=-1, keepdims=True)
    along = curvature * (vector - label_entry) / scores.shape[-1]
    return along - one_hot * jnp.sum(along, axis=-1, keepdims=True)


MULTI_MARGIN = LossDefinition(
    name="multi_margin",
    value_and_partials=_multi_margin,
    curvature=_multi_margin_curvature,
    domain="real",
    target_kind="labels",
    link="identity",
    per_example=True,
    parameters=(Parameter("p", low=1.0), _MARGIN),
    class_weights=True,
    options={"p": 2.0, "margin": 0.7},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multi_margin`.

    With :math:`g_c = \Delta - s_y + s_c`: :math:`p\,g_c^{p-1}/C` for each class
    :math:`c \ne y` with :math:`g_c > 0`, and minus their sum for the label; 0 at a
    kink :math:`g_c = 0`, as torch's kernel.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multi_margin(
      ...     jnp.array([[1.0, 2.0, 0.0]]), jnp.array([0]), reduction="sum")
      Array([[-0.333...,  0.333...,  0.  ]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multi_margin`, ``[..., C, C]``.

    :math:`\frac1C\sum_{c} p(p-1)\,g_c^{p-2}\,(e_c - e_y)(e_c - e_y)^\top` over the
    active classes: 0 for ``p = 1``, :math:`\frac2C\sum_c (e_c - e_y)(e_c - e_y)^\top`
    for ``p = 2``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multi_margin(
      ...     jnp.array([[0.0, 0.5]]), jnp.array([0]), p=2, reduction="sum")
      Array([[[ 1., -1.],
              [-1.,  1.]]], dtype=float32)
    """,
)


@MULTI_MARGIN.public
def multi_margin(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    p: ArrayLike = 1,
    margin: ArrayLike = 1.0,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multi-class margin loss, torch's ``nn.MultiMarginLoss``.

    .. math:: \ell_n = \frac1C \sum_{c \ne y_n} \max(0, \Delta - s_{n y_n} + s_{nc})^p

    Every class that comes within the margin :math:`\Delta` of the label's score adds
    its hinge (:func:`jaxloss.multiclass_hinge_loss` keeps only the largest); the sum
    is divided by the number of classes :math:`C`, the label's included, as in torch.

    ``class_weights[y_n]`` multiplies example ``n``'s weight and ``"mean"`` divides by
    the summed weights (torch's ``multi_margin_loss`` with ``weight`` divides by the
    number of examples; ``jaxloss.torch_compat.multi_margin_loss`` does). A label
    outside ``[0, C)`` gives NaN.

    Args:
      scores: scores ``[..., C]``.
      labels: integer class indices ``[...]``.
      p: the exponent, at least 1; torch allows 1 and 2 (computed exactly), any
        other value is computed with ``pow``.
      margin: :math:`\Delta`, any finite number.
      class_weights: optional non-negative weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.multi_margin(jnp.array([[1.0, 2.0, 0.0], [3.0, 0.0, 2.5]]),
      ...                      jnp.array([0, 0]), reduction="none")
      Array([0.666..., 0.166...], dtype=float32)
    """
    return MULTI_MARGIN(
        scores,
        labels,
        p=p,
        margin=margin,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# multilabel_margin (torch's MultiLabelMarginLoss, on multi-hot targets)


def _pair_terms(scores: jax.Array, targets: jax.Array):
    """``pairs[j, i] = t_j (1 - t_i)`` off the diagonal, the hinges and their activity."""
    num_classes = scores.shape[-1]
    # gap[j, i] = 1 - s_j + s_i: target j against non-target i.
    gap = 1 - scores[..., :, None] + scores[..., None, :]
    off_diagonal = jnp.broadcast_to(1 - jnp.eye(num_classes, dtype=scores.dtype), gap.shape)
    pairs = targets[..., :, None] * (1 - targets[..., None, :]) * off_diagonal
    # torch's kernel counts a pair only where its gap is strictly positive.
    active = gap > 0
    return gap, pairs, active, off_diagonal


def _multilabel_margin(scores: jax.Array, targets: jax.Array):
    divisor = max(scores.shape[-1], 1)
    gap, pairs, active, off_diagonal = _pair_terms(scores, targets)
    hinge = jnp.where(active, gap, 0)
    value = jnp.sum(pairs * hinge, axis=(-2, -1)) / divisor
    slopes = pairs * active.astype(scores.dtype)
    # s_i enters gap[j, i] with +1 (column sums), s_j with -1 (row sums).
    d_scores = (jnp.sum(slopes, axis=-2) - jnp.sum(slopes, axis=-1)) / divisor
    masked_hinge = hinge * off_diagonal
    as_target = jnp.sum(masked_hinge * (1 - targets[..., None, :]), axis=-1)
    as_other = jnp.sum(masked_hinge * targets[..., :, None], axis=-2)
    return value, (d_scores, (as_target - as_other) / divisor)


MULTILABEL_MARGIN = LossDefinition(
    name="multilabel_margin",
    value_and_partials=_multilabel_margin,
    curvature=lambda scores, targets, vector: jnp.zeros_like(vector),
    domain="real",
    target_kind="probability",
    link="identity",
    per_example=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multilabel_margin`.

    With :math:`a_{ji} = t_j(1 - t_i)[1 - s_j + s_i > 0]` for :math:`i \ne j`:
    :math:`\partial\ell/\partial s_k = \frac1C\big(\sum_j a_{jk} - \sum_i a_{ki}\big)`;
    a pair exactly at its kink adds nothing, as in torch's kernel.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multilabel_margin(
      ...     jnp.array([[1.0, 0.5, 0.25]]), jnp.array([[1.0, 0.0, 0.0]]), reduction="sum")
      Array([[-0.666...,  0.333...,  0.333...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multilabel_margin`: 0 (piecewise linear).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multilabel_margin(jnp.array([[1.0, 0.5]]), jnp.array([[1.0, 0.0]]))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@MULTILABEL_MARGIN.public
def multilabel_margin(
    scores: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multi-label margin loss on multi-hot targets, torch's ``nn.MultiLabelMarginLoss``.

    .. math:: \ell_n = \frac1C \sum_{j \ne i} t_{nj}(1 - t_{ni}) \max(0, 1 - s_{nj} + s_{ni})

    Every target class :math:`j` must beat every non-target class :math:`i` by 1. For
    0/1 targets this is torch's loss; torch takes the target classes as a list of
    indices padded with -1 (``jaxloss.torch_compat.multilabel_margin_loss`` converts
    it). With targets in ``[0, 1]`` it is the expected loss when each class is a
    target independently with probability :math:`t`. A class listed twice in torch's
    index list counts twice there; a multi-hot row counts it once.

    Args:
      scores: scores ``[..., C]``.
      targets: multi-hot targets in ``[0, 1]``, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.multilabel_margin(jnp.array([[0.1, 0.2, 0.4, 0.8]]),
      ...                           jnp.array([[1.0, 0.0, 0.0, 1.0]]), reduction="none")
      Array([0.85], dtype=float32)
    """
    return MULTILABEL_MARGIN(scores, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# multilabel_soft_margin (torch's MultiLabelSoftMarginLoss)


def _multilabel_soft_margin(logits: jax.Array, targets: jax.Array):
    num_classes = max(logits.shape[-1], 1)
    # The sigmoid cross-entropy per class, -t log s(z) - (1 - t) log s(-z), as
    # (1 - t) relu(z) + t relu(-z) + log1p(exp(-|z|)); `times` keeps 0 * inf at 0.
    per_class = (
        times(1 - targets, jax.nn.relu(logits))
        + times(targets, jax.nn.relu(-logits))
        + jnp.log1p(jnp.exp(-jnp.abs(logits)))
    )
    value = jnp.sum(per_class, axis=-1) / num_classes
    d_logits = (jax.nn.sigmoid(logits) - targets) / num_classes
    return value, (d_logits, -logits / num_classes)


def _multilabel_soft_margin_curvature(logits, targets, vector) -> jax.Array:
    slope = jax.nn.sigmoid(logits) * jax.nn.sigmoid(-logits)
    return slope * vector / max(logits.shape[-1], 1)


MULTILABEL_SOFT_MARGIN = LossDefinition(
    name="multilabel_soft_margin",
    value_and_partials=_multilabel_soft_margin,
    curvature=_multilabel_soft_margin_curvature,
    domain="logit",
    target_kind="probability",
    link="identity",
    per_example=True,
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multilabel_soft_margin`: :math:`(\sigma(z) - t)/C`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multilabel_soft_margin(
      ...     jnp.array([[0.0, 2.0]]), jnp.array([[1.0, 0.0]]), reduction="sum")
      Array([[-0.25 ,  0.440...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multilabel_soft_margin`: diagonal,
    :math:`\sigma(z)\sigma(-z)/C`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multilabel_soft_margin(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[1.0, 0.0]]), reduction="sum")
      Array([[[0.125, 0.   ],
              [0.   , 0.125]]], dtype=float32)
    """,
)


@MULTILABEL_SOFT_MARGIN.public
def multilabel_soft_margin(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multi-label soft margin loss, torch's ``nn.MultiLabelSoftMarginLoss``.

    .. math::
       \ell_n = -\frac1C \sum_c \big(t_{nc}\log\sigma(z_{nc}) + (1 - t_{nc})\log\sigma(-z_{nc})\big)

    The sigmoid cross-entropy averaged over the classes: one value per example. Exact
    at logits of any size, infinite ones included. torch's per-class ``weight`` is
    ``jaxloss.torch_compat.multilabel_soft_margin_loss``'s; natively, weigh each class
    with :func:`jaxloss.sigmoid_binary_cross_entropy`'s ``weights``.

    Args:
      logits: scores ``[..., C]``.
      targets: values in ``[0, 1]``, same shape.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.multilabel_soft_margin(jnp.array([[0.0, 2.0]]), jnp.array([[1.0, 0.0]]),
      ...                                reduction="none")
      Array([1.41...], dtype=float32)
    """
    return MULTILABEL_SOFT_MARGIN(
        logits, targets, reduction=reduction, weights=weights, where=where
    )
