r"""Elementwise regression losses: mse, sigmoid_mse, mae, huber, smooth_l1.

Each loss is one :class:`~jaxloss._definition.LossDefinition` (its value with its
closed-form partials, its second derivative, its hyper-parameters and test inputs)
followed by its public ``def``. ``jaxloss.gradients``, ``jaxloss.hessians`` and the
registry are derived from the definitions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss._checks import Reduction
from jaxloss._definition import LossDefinition, Parameter

__all__ = ["huber", "mae", "mse", "sigmoid_mse", "smooth_l1"]

REAL_EXTREMES = (0.0, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4)
LOGIT_EXTREMES = (*REAL_EXTREMES, float("inf"), float("-inf"))


# --------------------------------------------------------------------------------------
# mse


def _mse(predictions: jax.Array, targets: jax.Array):
    difference = predictions - targets
    return jnp.square(difference), (2 * difference, -2 * difference)


MSE = LossDefinition(
    name="mse",
    value_and_partials=_mse,
    curvature=lambda predictions, targets: jnp.full_like(predictions, 2),
    domain="real",
    target_kind="real",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.mse`: :math:`\partial\ell_i/\partial p_i = 2(p_i - t_i)`.

    For ``"mean"`` over ``N`` elements this is :math:`2(p - t)/N`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mse(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))
      Array([1., 2.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.mse`: 2 (``2/N`` for ``"mean"``).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mse(jnp.array([1.0, 2.0]), jnp.zeros(2))
      Array([1., 1.], dtype=float32)
    """,
)


@MSE.public
def mse(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean squared error, torch's ``nn.MSELoss()`` by default.

    .. math:: \ell_i = (p_i - t_i)^2

    With ``reduction="mean"`` this is :math:`\frac1N\sum_i (p_i - t_i)^2` over all
    ``N`` elements; its gradient is :math:`2(p - t)/N` (``jaxloss.gradients.mse``).

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions`` (integer or boolean targets are cast).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
      weights: optional non-negative weights broadcast to the unreduced loss;
        ``"mean"`` then returns ``sum(w * l) / sum(w)``.
      where: optional boolean mask broadcast to the unreduced loss; masked entries
        add 0 to the value and the gradient, and ``"mean"`` divides by the unmasked
        count.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Concrete hyper-parameters and weights are range-checked when the loss is called;
    values traced under a caller's ``jit`` or ``vmap`` cannot be, and
    :func:`jaxloss.checked` checks those.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.mse(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(4.333333, dtype=float32)
    """
    return MSE(predictions, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# sigmoid_mse


def _sigmoid_mse(logits: jax.Array, targets: jax.Array):
    probabilities = jax.nn.sigmoid(logits)
    residual = probabilities - targets
    # sigma'(z) = s (1 - s), which vanishes as the sigmoid saturates. Written as JAX's
    # own derivative of the sigmoid writes it, so the closed-form rule costs no more
    # than autodiff of the formula (sigmoid(-z) in place of 1 - s would be more precise
    # for z > 17 in float32, where 1 - s rounds to 0, at the price of a second exp).
    slope = probabilities * (1 - probabilities)
    # The 2 last, so that XLA folds it into the reduction's 1/N as it does for autodiff.
    return jnp.square(residual), (residual * slope * 2, -2 * residual)


def _sigmoid_mse_curvature(logits: jax.Array, targets: jax.Array) -> jax.Array:
    # d/dz of 2 (s - y) s (1 - s), with (s (1 - s))' = s (1 - s)(1 - 2 s):
    # 2 s (1 - s) [s (1 - s) + (s - y)(1 - 2 s)]; negative where the sigmoid saturates
    # on the wrong side, so the loss is not convex in the logit.
    # sigmoid(z) * sigmoid(-z) is sigma'(z) without the cancellation of s * (1 - s).
    probabilities = jax.nn.sigmoid(logits)
    complement = jax.nn.sigmoid(-logits)
    slope = probabilities * complement
    return 2 * slope * (slope + (probabilities - targets) * (complement - probabilities))


SIGMOID_MSE = LossDefinition(
    name="sigmoid_mse",
    value_and_partials=_sigmoid_mse,
    curvature=_sigmoid_mse_curvature,
    domain="logit",
    target_kind="probability",
    link="identity",
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.sigmoid_mse`.

    With :math:`s = \sigma(z)` and :math:`\sigma'(z) = s(1-s)`, the chain rule on
    :math:`(s - y)^2` gives :math:`2(s - y)\,s(1 - s)`; for ``"mean"``,
    :math:`\frac2N (s - y) s (1 - s)`. The factor :math:`s(1-s)` goes to 0 as
    :math:`|z|` grows, on the wrong side too: this is why MSE after a sigmoid learns
    slowly from a saturated start.

    :math:`s(1-s)` is computed as JAX differentiates ``jax.nn.sigmoid``, so the
    closed form compiles to the same program as autodiff of the formula; in float32
    its relative error grows as ``1 - s`` loses digits (about 5e-4 at z = 10, and 0
    past z = 17, where the exact value is below 4e-8). The Hessian uses
    :math:`\sigma(z)\sigma(-z)`, which keeps them.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.sigmoid_mse(jnp.array([0.0, 10.0]), jnp.array([1.0, 0.0]))
      Array([-1.25...e-01,  4.54...e-05], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.sigmoid_mse`.

    With :math:`s = \sigma(z)`: :math:`2 s(1-s)\,[s(1-s) + (s-y)(1-2s)]`. For
    target 0 it is negative for :math:`s > 2/3` (wrong-side saturation): the loss is
    not convex in the logit.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sigmoid_mse(jnp.array([-2.0, 2.0]), jnp.zeros(2), reduction="sum")
      Array([ 0.0411..., -0.1188...], dtype=float32)
    """,
)


@SIGMOID_MSE.public
def sigmoid_mse(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean squared error between ``sigmoid(logits)`` and ``targets``.

    .. math:: \ell_i = (\sigma(z_i) - y_i)^2

    Its gradient, :math:`2(\sigma(z)-y)\,\sigma(z)(1-\sigma(z))`, vanishes when the
    sigmoid saturates, on the wrong side too; see ``jaxloss.gradients.sigmoid_mse``.
    The loss uses that closed form as its own derivative rule (``jax.custom_jvp``).

    Args:
      logits: pre-sigmoid scores, any shape.
      targets: values in ``[0, 1]``, same shape as ``logits``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``logits`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.sigmoid_mse(jnp.array([0.0, 2.0]), jnp.array([0.0, 1.0]))
      Array(0.132..., dtype=float32)
    """
    return SIGMOID_MSE(logits, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# mae


def _mae(predictions: jax.Array, targets: jax.Array):
    difference = predictions - targets
    # sign(0) = 0 at a tie, the subgradient torch's l1_loss uses; jnp.abs's own
    # derivative there is 1.
    direction = jnp.sign(difference)
    return jnp.abs(difference), (direction, -direction)


MAE = LossDefinition(
    name="mae",
    value_and_partials=_mae,
    curvature=lambda predictions, targets: jnp.zeros_like(predictions),
    domain="real",
    target_kind="real",
    link="identity",
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.mae`: :math:`\operatorname{sign}(p - t)`, 0 at a tie.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mae(jnp.array([1.0, -2.0]), jnp.array([0.0, 0.0]), reduction="sum")
      Array([ 1., -1.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.mae`: 0 (away from the kink at a tie).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mae(jnp.array([1.0, -2.0]), jnp.zeros(2))
      Array([0., 0.], dtype=float32)
    """,
)


@MAE.public
def mae(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean absolute error, torch's ``nn.L1Loss()`` by default.

    .. math:: \ell_i = |p_i - t_i|

    The gradient is :math:`\operatorname{sign}(p - t)` scaled by the reduction, with
    ``sign(0) = 0`` at a tie as in torch.

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.mae(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(1.6666666, dtype=float32)
    """
    return MAE(predictions, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# huber


def _huber(predictions: jax.Array, targets: jax.Array, delta: jax.Array):
    difference = predictions - targets
    magnitude = jnp.abs(difference)
    inside = magnitude < delta
    value = jnp.where(inside, 0.5 * jnp.square(difference), delta * (magnitude - 0.5 * delta))
    # clip(d, -delta, delta), written as a select so that its own derivative (the
    # second derivative) is 0 at |d| = delta, as the closed-form curvature says.
    slope = jnp.where(inside, difference, delta * jnp.sign(difference))
    return value, (slope, -slope, jnp.where(inside, 0, magnitude - delta))


def _huber_curvature(predictions: jax.Array, targets: jax.Array, delta: jax.Array):
    inside = jnp.abs(predictions - targets) < delta
    return inside.astype(predictions.dtype)


HUBER = LossDefinition(
    name="huber",
    value_and_partials=_huber,
    curvature=_huber_curvature,
    domain="real",
    target_kind="real",
    link="identity",
    parameters=(Parameter("delta", low=0.0, low_open=True),),
    options={"delta": 0.7},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.huber`: :math:`\operatorname{clip}(d, -\delta, \delta)`.

    That is :math:`d` inside :math:`|d| < \delta` and :math:`\delta\operatorname{sign}(d)`
    outside, with :math:`d = p - t`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([0.5, 1. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.huber`: 1 inside :math:`|d| < \delta`, else 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([1., 0.], dtype=float32)
    """,
)


@HUBER.public
def huber(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    delta: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Huber loss with torch's ``nn.HuberLoss`` definition.

    .. math::
       \ell_i = \begin{cases} \tfrac12 d_i^2 & |d_i| < \delta \\
                \delta (|d_i| - \tfrac12\delta) & \text{otherwise} \end{cases},
       \quad d = p - t

    Its gradient is :math:`\operatorname{clip}(d, -\delta, \delta)`.

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions``.
      delta: positive, finite threshold between the quadratic and linear pieces; a
        number, or an array broadcast to ``predictions``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), reduction="none")
      Array([0.125, 2.5  ], dtype=float32)
    """
    return HUBER(
        predictions, targets, delta=delta, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# smooth_l1


def _smooth_l1(predictions: jax.Array, targets: jax.Array, beta: jax.Array):
    difference = predictions - targets
    magnitude = jnp.abs(difference)
    inside = magnitude < beta
    # beta = 0 is exactly L1 (nothing is inside); a safe beta keeps the untaken branch finite.
    safe_beta = jnp.where(beta > 0, beta, 1)
    value = jnp.where(inside, 0.5 * jnp.square(difference) / safe_beta, magnitude - 0.5 * beta)
    slope = jnp.where(inside, difference / safe_beta, jnp.sign(difference))
    d_beta = jnp.where(inside, -0.5 * jnp.square(difference / safe_beta), -0.5)
    return value, (slope, -slope, d_beta)


def _smooth_l1_curvature(predictions: jax.Array, targets: jax.Array, beta: jax.Array):
    inside = jnp.abs(predictions - targets) < beta
    return jnp.where(inside, 1 / jnp.where(beta > 0, beta, 1), 0).astype(predictions.dtype)


SMOOTH_L1 = LossDefinition(
    name="smooth_l1",
    value_and_partials=_smooth_l1,
    curvature=_smooth_l1_curvature,
    domain="real",
    target_kind="real",
    link="identity",
    parameters=(Parameter("beta", low=0.0),),
    options={"beta": 0.6},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.smooth_l1`: :math:`d/\beta` inside :math:`|d| < \beta`,
    :math:`\operatorname{sign}(d)` outside.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.smooth_l1(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([0.5, 1. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.smooth_l1`: :math:`1/\beta` inside, else 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.smooth_l1(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([1., 0.], dtype=float32)
    """,
)


@SMOOTH_L1.public
def smooth_l1(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    beta: ArrayLike = 1.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Smooth L1 loss with torch's ``nn.SmoothL1Loss`` definition.

    .. math::
       \ell_i = \begin{cases} \tfrac12 d_i^2 / \beta & |d_i| < \beta \\
                |d_i| - \tfrac12\beta & \text{otherwise} \end{cases},
       \quad d = p - t

    ``beta = 0`` is exactly the L1 loss. ``huber(delta=b) == b * smooth_l1(beta=b)``.

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions``.
      beta: non-negative, finite threshold between the quadratic and linear pieces.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.smooth_l1(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), reduction="none")
      Array([0.125, 2.5  ], dtype=float32)
    """
    return SMOOTH_L1(
        predictions, targets, beta=beta, reduction=reduction, weights=weights, where=where
    )
