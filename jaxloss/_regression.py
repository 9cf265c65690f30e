r"""Regression losses.

Elementwise: mse, sigmoid_mse, mae, huber, smooth_l1, log_cosh,
mean_absolute_percentage_error, mean_squared_logarithmic_error. Per example (over the
last axis): cosine_similarity, cosine_distance. Likelihoods: poisson_nll,
poisson_nll_with_rates, gaussian_nll.

Each loss is one :class:`~jaxloss._definition.LossDefinition` (its value with its
closed-form partials, its second derivative, its hyper-parameters and test inputs)
followed by its public ``def``. ``jaxloss.gradients``, ``jaxloss.hessians`` and the
registry are derived from the definitions.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss._checks import Reduction
from jaxloss._definition import Input, LossDefinition, Parameter

__all__ = [
    "cosine_distance",
    "cosine_similarity",
    "gaussian_nll",
    "huber",
    "log_cosh",
    "mae",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "mse",
    "poisson_nll",
    "poisson_nll_with_rates",
    "sigmoid_mse",
    "smooth_l1",
]

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


# --------------------------------------------------------------------------------------
# log_cosh

_LOG_2 = math.log(2.0)


def _log_cosh(predictions: jax.Array, targets: jax.Array):
    difference = predictions - targets
    magnitude = jnp.abs(difference)
    # log cosh d = |d| + log(1 + exp(-2|d|)) - log 2 exponentiates nothing positive, so
    # it is finite for every finite d (cosh itself overflows past |d| = 89 in float32).
    value = magnitude + jax.nn.softplus(-2 * magnitude) - _LOG_2
    slope = jnp.tanh(difference)
    return value, (slope, -slope)


def _log_cosh_curvature(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    # sech^2 d = 4 e / (1 + e)^2 with e = exp(-2|d|): keeps its relative precision where
    # 1 - tanh^2 d rounds to 0.
    decay = jnp.exp(-2 * jnp.abs(predictions - targets))
    return 4 * decay / jnp.square(1 + decay)


LOG_COSH = LossDefinition(
    name="log_cosh",
    value_and_partials=_log_cosh,
    curvature=_log_cosh_curvature,
    domain="real",
    target_kind="real",
    link="identity",
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.log_cosh`: :math:`\tanh(p - t)`.

    Bounded by 1 in magnitude, like Huber's clipped gradient, but smooth.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.log_cosh(jnp.array([0.5, 30.0]), jnp.zeros(2), reduction="sum")
      Array([0.462..., 1.   ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.log_cosh`: :math:`\operatorname{sech}^2(p - t)`.

    Computed as :math:`4e/(1+e)^2` with :math:`e = \exp(-2|p - t|)`, which keeps its
    relative precision where :math:`1 - \tanh^2` would round to 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.log_cosh(jnp.array([0.0, 2.0]), jnp.zeros(2), reduction="sum")
      Array([1.        , 0.0706...], dtype=float32)
    """,
)


@LOG_COSH.public
def log_cosh(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Log-cosh loss, optax's ``log_cosh`` and Keras's ``log_cosh``.

    .. math:: \ell_i = \log\cosh(p_i - t_i)

    About :math:`d^2/2` for a small error :math:`d = p - t` and :math:`|d| - \log 2`
    for a large one: a twice-differentiable Huber. Computed as
    :math:`|d| + \log(1 + e^{-2|d|}) - \log 2`, finite for every finite error up to
    the dtype's largest number. The gradient is :math:`\tanh(d)`.

    ``targets`` is required: optax's ``log_cosh(predictions)`` (targets ``None``, taken
    as zeros) is ``log_cosh(predictions, jnp.zeros_like(predictions))`` here, and
    targets are not broadcast (optax broadcasts them). ``reduction="none"`` returns
    what optax returns. Keras averages over the last axis first; ``"mean"`` gives
    Keras's number.

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.log_cosh(jnp.array([0.5, 1e30]), jnp.zeros(2), reduction="none")
      Array([1.201...e-01, 1.000...e+30], dtype=float32)
    """
    return LOG_COSH(predictions, targets, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# mean_absolute_percentage_error

# keras.backend.epsilon(), the floor of Keras's denominators and logarithms.
KERAS_EPSILON = 1e-7


def _mean_absolute_percentage_error(predictions: jax.Array, targets: jax.Array, epsilon: jax.Array):
    difference = predictions - targets
    magnitude = jnp.abs(targets)
    from_targets = magnitude >= epsilon
    scale = jnp.where(from_targets, magnitude, epsilon)
    value = 100 * jnp.abs(difference) / scale
    d_predictions = 100 * jnp.sign(difference) / scale
    # The target is in the numerator |p - t| and, unless floored, the denominator |t|.
    d_targets = -d_predictions - jnp.where(from_targets, value * jnp.sign(targets) / scale, 0)
    d_epsilon = jnp.where(from_targets, 0, -value / scale)
    return value, (d_predictions, d_targets, d_epsilon)


MEAN_ABSOLUTE_PERCENTAGE_ERROR = LossDefinition(
    name="mean_absolute_percentage_error",
    value_and_partials=_mean_absolute_percentage_error,
    curvature=lambda predictions, targets, epsilon: jnp.zeros_like(predictions),
    domain="real",
    target_kind="positive",
    link="identity",
    parameters=(Parameter("epsilon", low=0.0, low_open=True),),
    options={"epsilon": 0.5},
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.mean_absolute_percentage_error`.

    :math:`100\,\operatorname{sign}(p - t) / \max(|t|, \epsilon)`, 0 at a tie.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mean_absolute_percentage_error(
      ...     jnp.array([3.0, 1.0]), jnp.array([2.0, 4.0]), reduction="sum")
      Array([ 50., -25.], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.mean_absolute_percentage_error`: 0 (away from
    the kink at a tie).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mean_absolute_percentage_error(
      ...     jnp.array([3.0, 1.0]), jnp.array([2.0, 4.0]))
      Array([0., 0.], dtype=float32)
    """,
)


@MEAN_ABSOLUTE_PERCENTAGE_ERROR.public
def mean_absolute_percentage_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = KERAS_EPSILON,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean absolute percentage error, Keras's ``mean_absolute_percentage_error``.

    .. math:: \ell_i = 100\,\frac{|p_i - t_i|}{\max(|t_i|, \epsilon)}

    The floor :math:`\epsilon` (Keras's ``backend.epsilon()``, ``1e-7``, by default)
    keeps a zero target finite, at the price of a huge loss there. Keras averages
    over the last axis first, so its ``reduction=None`` is one value per sample where
    ``reduction="none"`` here is one per element; ``"mean"`` gives Keras's number.

    Args:
      predictions: floating array, any shape.
      targets: same shape as ``predictions``.
      epsilon: positive, finite floor of the denominator.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.mean_absolute_percentage_error(jnp.array([3.0, 1.0]), jnp.array([2.0, 4.0]))
      Array(62.5, dtype=float32)
    """
    return MEAN_ABSOLUTE_PERCENTAGE_ERROR(
        predictions, targets, epsilon=epsilon, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# mean_squared_logarithmic_error


def _mean_squared_logarithmic_error(predictions: jax.Array, targets: jax.Array, epsilon: jax.Array):
    # Keras's log(max(x, eps) + 1), as log1p: exact for small x, where 1 + x rounds.
    prediction_floored = predictions < epsilon
    target_floored = targets < epsilon
    shifted_predictions = 1 + jnp.maximum(predictions, epsilon)
    shifted_targets = 1 + jnp.maximum(targets, epsilon)
    residual = jnp.log1p(jnp.maximum(predictions, epsilon)) - jnp.log1p(
        jnp.maximum(targets, epsilon)
    )
    twice = 2 * residual
    d_predictions = jnp.where(prediction_floored, 0, twice / shifted_predictions)
    d_targets = jnp.where(target_floored, 0, -twice / shifted_targets)
    d_epsilon = jnp.where(prediction_floored, twice / shifted_predictions, 0) - jnp.where(
        target_floored, twice / shifted_targets, 0
    )
    return jnp.square(residual), (d_predictions, d_targets, d_epsilon)


def _mean_squared_logarithmic_error_curvature(
    predictions: jax.Array, targets: jax.Array, epsilon: jax.Array
) -> jax.Array:
    # d/dp of 2 r / (1 + p), with dr/dp = 1 / (1 + p): 2 (1 - r) / (1 + p)^2, negative
    # where the prediction overshoots the target by more than a factor e in 1 + p.
    shifted = 1 + jnp.maximum(predictions, epsilon)
    residual = jnp.log1p(jnp.maximum(predictions, epsilon)) - jnp.log1p(
        jnp.maximum(targets, epsilon)
    )
    return jnp.where(predictions < epsilon, 0, 2 * (1 - residual) / jnp.square(shifted))


MEAN_SQUARED_LOGARITHMIC_ERROR = LossDefinition(
    name="mean_squared_logarithmic_error",
    value_and_partials=_mean_squared_logarithmic_error,
    curvature=_mean_squared_logarithmic_error_curvature,
    domain="positive",
    target_kind="positive",
    link="identity",
    parameters=(Parameter("epsilon", low=0.0),),
    options={"epsilon": 0.3},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.mean_squared_logarithmic_error`.

    :math:`2\,r / (1 + p)` with :math:`r = \log(1 + p) - \log(1 + t)` (both floored at
    :math:`\epsilon`), and 0 where the prediction is below the floor.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mean_squared_logarithmic_error(
      ...     jnp.array([3.0, -1.0]), jnp.array([1.0, 1.0]), reduction="sum")
      Array([0.346..., 0.   ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.mean_squared_logarithmic_error`.

    :math:`2(1 - r)/(1 + p)^2`, negative where :math:`1 + p > e\,(1 + t)`: the loss is
    not convex in the prediction. 0 below the floor.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mean_squared_logarithmic_error(
      ...     jnp.array([3.0, -1.0]), jnp.array([1.0, 0.0]), reduction="sum")
      Array([0.038..., 0.   ], dtype=float32)
    """,
)


@MEAN_SQUARED_LOGARITHMIC_ERROR.public
def mean_squared_logarithmic_error(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = KERAS_EPSILON,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Mean squared logarithmic error, Keras's ``mean_squared_logarithmic_error``.

    .. math:: \ell_i = \big(\log(1 + \max(p_i, \epsilon)) - \log(1 + \max(t_i, \epsilon))\big)^2

    Keras's definition: predictions and targets below :math:`\epsilon` (Keras's
    ``backend.epsilon()``, ``1e-7``, by default) are floored there, so a negative
    prediction has gradient 0. Keras averages over the last axis first, so its
    ``reduction=None`` is one value per sample where ``reduction="none"`` here is one
    per element; ``"mean"`` gives Keras's number.

    Args:
      predictions: floating array, any shape; values below ``epsilon`` are floored.
      targets: same shape as ``predictions``.
      epsilon: non-negative, finite floor.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.mean_squared_logarithmic_error(jnp.array([3.0, -1.0]), jnp.array([1.0, 0.0]))
      Array(0.240..., dtype=float32)
    """
    return MEAN_SQUARED_LOGARITHMIC_ERROR(
        predictions, targets, epsilon=epsilon, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# cosine_similarity, cosine_distance (per example, over the last axis)


def _direction(vectors: jax.Array, epsilon: jax.Array):
    """Each row's unit vector, its norm (squared norm floored at ``epsilon``, as in
    optax) and whether the floor is inactive, computed without overflow.

    The row is divided by its largest magnitude first: the cosine does not depend on
    that scale, so it is held constant under differentiation, and no square
    overflows (float32 squares overflow past 1.8e19). A row with infinite entries
    points along their signs, its limit direction. A zero row with ``epsilon = 0``
    has no direction: its unit vector and norm are 0 (optax: NaN).
    """
    magnitude = jax.lax.stop_gradient(jnp.max(jnp.abs(vectors), axis=-1, keepdims=True))
    infinite = jnp.isinf(magnitude)
    scale = jnp.where((magnitude > 0) & ~infinite, magnitude, 1)
    # Divided by sqrt(scale) twice: XLA on the CPU divides by multiplying with the
    # reciprocal, and 1 / scale is subnormal (flushed to 0) past 8.5e37 in float32.
    root = jnp.sqrt(scale)
    scaled = jnp.where(
        infinite, jnp.where(jnp.isinf(vectors), jnp.sign(vectors), 0), vectors / root / root
    )
    scaled_norm = jnp.sqrt(jnp.sum(jnp.square(scaled), axis=-1, keepdims=True))
    # The floor in the row's own units: scale * norm would overflow for the largest rows.
    scaled_floor = jnp.sqrt(epsilon) / root / root
    free = (scaled_norm > scaled_floor) | infinite
    scaled_norm = jnp.where(free, scaled_norm, scaled_floor)
    norm = jnp.where(infinite, jnp.inf, scale * scaled_norm)
    return scaled / jnp.where(scaled_norm == 0, 1, scaled_norm), norm, free


def _over(numerator: jax.Array | float, norm: jax.Array) -> jax.Array:
    """``numerator / norm``, and 0 for a zero row's norm 0 (its derivative, by convention)."""
    is_zero = norm == 0
    return jnp.where(is_zero, 0, numerator / jnp.where(is_zero, 1, norm))


def _cosine(first: jax.Array, second: jax.Array, epsilon: jax.Array):
    """The cosine per example, its partials and what its Hessian-vector product needs."""
    first_unit, first_norm, first_free = _direction(first, epsilon)
    second_unit, second_norm, second_free = _direction(second, epsilon)
    cosine = jnp.sum(first_unit * second_unit, axis=-1, keepdims=True)
    # d cos / da = (v - cos u) / |a|, with u, v the unit vectors; where the norm sits on
    # its floor sqrt(eps) it is a constant, and the derivative is v / sqrt(eps).
    d_first = _over(second_unit - jnp.where(first_free, cosine, 0) * first_unit, first_norm)
    d_second = _over(first_unit - jnp.where(second_free, cosine, 0) * second_unit, second_norm)
    # A floored norm sqrt(eps) has d/d eps = 1 / (2 sqrt(eps)), and d cos / d norm = -cos / norm.
    floored = jnp.where(first_free, 0, _over(_over(1, first_norm), first_norm)) + jnp.where(
        second_free, 0, _over(_over(1, second_norm), second_norm)
    )
    d_epsilon = (-0.5 * cosine * floored)[..., 0]
    return cosine[..., 0], d_first, d_second, d_epsilon


def _cosine_hessian_product(first, second, epsilon, vector) -> jax.Array:
    # The Hessian of cos(a, b) in a is (-u v^T - v u^T + 3 cos u u^T - cos I) / |a|^2
    # (differentiate (v - cos u) / |a| once more); 0 where the norm is floored.
    first_unit, first_norm, first_free = _direction(first, epsilon)
    second_unit, _, _ = _direction(second, epsilon)
    cosine = jnp.sum(first_unit * second_unit, axis=-1, keepdims=True)
    along_first = jnp.sum(first_unit * vector, axis=-1, keepdims=True)
    along_second = jnp.sum(second_unit * vector, axis=-1, keepdims=True)
    product = (
        -second_unit * along_first
        - first_unit * along_second
        + 3 * cosine * first_unit * along_first
        - cosine * vector
    )
    # Two divisions, not one by |a|^2, which overflows for |a| past 1.8e19 in float32.
    return jnp.where(first_free, product / first_norm / first_norm, 0)


def _cosine_similarity(predictions: jax.Array, targets: jax.Array, epsilon: jax.Array):
    cosine, d_predictions, d_targets, d_epsilon = _cosine(predictions, targets, epsilon)
    return cosine, (d_predictions, d_targets, d_epsilon)


def _cosine_distance(predictions: jax.Array, targets: jax.Array, epsilon: jax.Array):
    cosine, d_predictions, d_targets, d_epsilon = _cosine(predictions, targets, epsilon)
    return 1 - cosine, (-d_predictions, -d_targets, -d_epsilon)


# optax clips the squared norm at epsilon; 0 (its default) leaves a zero vector NaN.
_COSINE_EPSILON = Parameter("epsilon", low=0.0)
_COSINE_EXTREMES = (*REAL_EXTREMES, 1e30, -1e30, float("inf"), float("-inf"))

COSINE_SIMILARITY = LossDefinition(
    name="cosine_similarity",
    value_and_partials=_cosine_similarity,
    curvature=_cosine_hessian_product,
    domain="real",
    target_kind="real",
    link="identity",
    per_example=True,
    parameters=(_COSINE_EPSILON,),
    class_axis=True,
    options={"epsilon": 1e-6},
    extremes=_COSINE_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.cosine_similarity` with respect to the predictions.

    With unit vectors :math:`u = p/\|p\|`, :math:`v = t/\|t\|` and
    :math:`s = u \cdot v`: :math:`(v - s\,u)/\|p\|`, orthogonal to :math:`p` (the
    cosine does not change along :math:`p`). Where :math:`\|p\|^2 \le \epsilon` the norm
    is the constant :math:`\sqrt\epsilon` and the derivative is :math:`v/\sqrt\epsilon`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.cosine_similarity(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]))
      Array([[0.       , 0.707...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.cosine_similarity`, ``[..., D, D]``.

    :math:`\big(-u v^\top - v u^\top + 3 s\,u u^\top - s I\big)/\|p\|^2` with the unit
    vectors :math:`u, v` and :math:`s = u \cdot v`; 0 where the norm is floored. The
    definition's closed form is the Hessian-vector product.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.cosine_similarity(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 0.0]]))
      Array([[[ 0.,  0.],
              [ 0., -1.]]], dtype=float32)
    """,
)


@COSINE_SIMILARITY.public
def cosine_similarity(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 0.0,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Cosine similarity over the last axis, optax's ``cosine_similarity``.

    .. math:: s_n = \frac{p_n \cdot t_n}{\sqrt{\max(\|p_n\|^2, \epsilon)}\,
              \sqrt{\max(\|t_n\|^2, \epsilon)}}

    A similarity, not a loss to minimise: it is 1 for aligned vectors. Use
    :func:`jaxloss.cosine_distance` (``1 - s``) to train, or note that Keras's
    ``cosine_similarity`` *loss* is :math:`-s`. As in optax, ``epsilon`` floors the
    squared norms (default 0). A zero vector, which has no direction, gives 0 with
    gradient 0 when ``epsilon`` is 0, as Keras's similarity is 0 there (optax: NaN);
    with ``epsilon > 0`` its gradient points along the other vector. Each row is divided by its
    largest magnitude first, so the value is finite for entries up to the dtype's
    largest number, and a row with infinite entries points along their signs.

    ``reduction="none"`` returns what optax returns, one value per example. optax's
    ``where`` masks elements along ``axis``; here ``where`` (and ``weights``) apply to
    examples (to leave elements out as optax does, set them to 0 in both vectors), and
    ``axis`` is a single axis.

    Args:
      predictions: floating array with the vector axis ``axis``.
      targets: same shape as ``predictions``.
      epsilon: non-negative, finite floor of the squared norms.
      axis: the vector axis.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example values (``predictions`` without ``axis``).

    Returns:
      A scalar, or the per-example similarities when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.cosine_similarity(
      ...     jnp.array([[1.0, 0.0], [1.0, 1.0]]), jnp.array([[1.0, 1.0], [-2.0, -2.0]]),
      ...     reduction="none")
      Array([ 0.707..., -0.999...], dtype=float32)
    """
    return COSINE_SIMILARITY(
        predictions,
        targets,
        epsilon=epsilon,
        axis=axis,
        reduction=reduction,
        weights=weights,
        where=where,
    )


COSINE_DISTANCE = LossDefinition(
    name="cosine_distance",
    value_and_partials=_cosine_distance,
    curvature=lambda predictions, targets, epsilon, vector: (
        -_cosine_hessian_product(predictions, targets, epsilon, vector)
    ),
    domain="real",
    target_kind="real",
    link="identity",
    per_example=True,
    parameters=(_COSINE_EPSILON,),
    class_axis=True,
    options={"epsilon": 1e-6},
    extremes=_COSINE_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.cosine_distance`: minus that of
    :func:`jaxloss.cosine_similarity`, :math:`-(v - s\,u)/\|p\|`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.cosine_distance(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]))
      Array([[-0.       , -0.707...]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.cosine_distance`: minus that of
    :func:`jaxloss.cosine_similarity`. Not positive semi-definite: the loss is not
    convex.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.cosine_distance(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 0.0]]))
      Array([[[-0., -0.],
              [-0.,  1.]]], dtype=float32)
    """,
)


@COSINE_DISTANCE.public
def cosine_distance(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    epsilon: ArrayLike = 0.0,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Cosine distance over the last axis, optax's ``cosine_distance``: ``1 - s``.

    :math:`s` is :func:`jaxloss.cosine_similarity`, with its ``epsilon``, overflow
    handling and ``where`` rule (examples, not elements as in optax). 0 for aligned
    vectors, 2 for opposite ones. Keras's ``cosine_similarity`` loss is :math:`-s`,
    which differs from this by the constant 1.

    Args:
      predictions: floating array with the vector axis ``axis``.
      targets: same shape as ``predictions``.
      epsilon: non-negative, finite floor of the squared norms.
      axis: the vector axis.
      reduction, weights, where: as in :func:`jaxloss.cosine_similarity`.

    Returns:
      A scalar, or the per-example distances when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.cosine_distance(jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 3.0]]))
      Array(1., dtype=float32)
    """
    return COSINE_DISTANCE(
        predictions,
        targets,
        epsilon=epsilon,
        axis=axis,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# poisson_nll, poisson_nll_with_rates
#
# torch's PoissonNLLLoss has two switches. `log_input` changes what the first argument
# is (a log-rate or a rate), and with it the derivatives and the `eps` option: one
# definition each. `full` adds Stirling's approximation of log(t!) for t > 1, a
# function of the targets alone, which changes neither the derivatives in the first
# argument nor the minimiser: the native losses leave it out, as optax and Keras do,
# and jaxloss.torch_compat.poisson_nll_loss(full=True) adds it.


def _poisson_nll(log_rates: jax.Array, targets: jax.Array):
    rates = jnp.exp(log_rates)
    # A zero count contributes t * log-rate = 0 even at a -inf log-rate (rate 0).
    count_term = jnp.where(targets == 0, 0, targets * log_rates)
    # Where e^x overflows (x > 88.7 in float32), e^x - t x may be inf - inf; e^x
    # dominates, and the value is +inf.
    value = jnp.where(rates == jnp.inf, jnp.inf, rates - count_term)
    return value, (rates - targets, -log_rates)


POISSON_NLL = LossDefinition(
    name="poisson_nll",
    value_and_partials=_poisson_nll,
    curvature=lambda log_rates, targets: jnp.exp(log_rates),
    domain="real",
    target_kind="count",
    link="identity",
    # Not +1e4 or +inf: the rate e^x, and so the gradient, overflows there.
    extremes=(0.0, 1.0, -1.0, 20.0, -20.0, -1e4, float("-inf")),
    gradient_doc=r"""
    Derivative of :func:`jaxloss.poisson_nll`: :math:`e^{x} - t`, the predicted rate
    less the count.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.poisson_nll(jnp.log(jnp.array([2.0, 0.5])), jnp.array([3.0, 0.0]),
      ...                               reduction="sum")
      Array([-1. ,  0.5], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.poisson_nll`: :math:`e^{x}`, the rate; the loss
    is convex in the log-rate.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.poisson_nll(jnp.log(jnp.array([2.0, 0.5])), jnp.array([3.0, 0.0]),
      ...                              reduction="sum")
      Array([2. , 0.5], dtype=float32)
    """,
)


@POISSON_NLL.public
def poisson_nll(
    log_rates: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Poisson negative log-likelihood of counts given log-rates, torch's ``PoissonNLLLoss()``.

    .. math:: \ell_i = e^{x_i} - t_i x_i

    torch's default, ``log_input=True``: the model predicts the log of the rate
    :math:`\lambda = e^x`. This is :math:`-\log p(t \mid \lambda)` up to
    :math:`\log t!`, which depends on the targets only; torch's ``full=True`` adds
    Stirling's approximation of it for :math:`t > 1`
    (``jaxloss.torch_compat.poisson_nll_loss`` does). A zero count contributes
    :math:`e^x` alone, also at :math:`x = -\infty` (torch: ``0 * inf = NaN``). The
    gradient is :math:`e^x - t`. For rates rather than log-rates see
    :func:`jaxloss.poisson_nll_with_rates`.

    Args:
      log_rates: log of the predicted rates, any shape.
      targets: counts (non-negative), same shape as ``log_rates``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``log_rates`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.poisson_nll(jnp.log(jnp.array([2.0, 0.5])), jnp.array([3.0, 0.0]),
      ...                     reduction="none")
      Array([-0.079...,  0.5 ], dtype=float32)
    """
    return POISSON_NLL(log_rates, targets, reduction=reduction, weights=weights, where=where)


def _poisson_nll_with_rates(rates: jax.Array, targets: jax.Array, eps: jax.Array):
    shifted = rates + eps
    log_shifted = jnp.log(shifted)
    count_term = jnp.where(targets == 0, 0, targets * log_shifted)
    value = jnp.where(rates == jnp.inf, jnp.inf, rates - count_term)
    ratio = jnp.where(targets == 0, 0, targets / shifted)
    return value, (1 - ratio, -log_shifted, -ratio)


def _poisson_nll_with_rates_curvature(rates: jax.Array, targets: jax.Array, eps: jax.Array):
    # d/dr of 1 - t / (r + eps): t / (r + eps)^2 >= 0, convex in the rate.
    return jnp.where(targets == 0, 0, targets / jnp.square(rates + eps))


POISSON_NLL_WITH_RATES = LossDefinition(
    name="poisson_nll_with_rates",
    value_and_partials=_poisson_nll_with_rates,
    curvature=_poisson_nll_with_rates_curvature,
    domain="positive",
    target_kind="count",
    link="identity",
    parameters=(Parameter("eps", low=0.0),),
    options={"eps": 0.25},
    extremes=(0.0, 1.0, 20.0, 1e4, float("inf")),
    gradient_doc=r"""
    Derivative of :func:`jaxloss.poisson_nll_with_rates`: :math:`1 - t/(r + \epsilon)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.poisson_nll_with_rates(
      ...     jnp.array([2.0, 0.5]), jnp.array([3.0, 0.0]), eps=0.0, reduction="sum")
      Array([-0.5,  1. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.poisson_nll_with_rates`:
    :math:`t/(r + \epsilon)^2`, convex in the rate.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.poisson_nll_with_rates(
      ...     jnp.array([2.0, 0.5]), jnp.array([3.0, 0.0]), eps=0.0, reduction="sum")
      Array([0.75, 0.  ], dtype=float32)
    """,
)


@POISSON_NLL_WITH_RATES.public
def poisson_nll_with_rates(
    rates: ArrayLike,
    targets: ArrayLike,
    *,
    eps: ArrayLike = 1e-8,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Poisson negative log-likelihood given rates, torch's ``PoissonNLLLoss(log_input=False)``.

    .. math:: \ell_i = r_i - t_i \log(r_i + \epsilon)

    The model predicts the rate :math:`r \ge 0` itself; :math:`\epsilon` (torch's
    ``eps``, default ``1e-8``) keeps a zero rate finite. Keras's ``poisson(y_true,
    y_pred)`` is this with ``eps=1e-7`` (``backend.epsilon()``), averaged over the last
    axis first: its ``"mean"`` is the same number. A zero count contributes :math:`r`
    alone. torch's ``full`` as in :func:`jaxloss.poisson_nll`. The gradient is
    :math:`1 - t/(r + \epsilon)`.

    Args:
      rates: predicted rates (non-negative), any shape.
      targets: counts (non-negative), same shape as ``rates``.
      eps: non-negative, finite offset inside the log.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``rates`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.poisson_nll_with_rates(jnp.array([2.0, 0.5]), jnp.array([3.0, 0.0]),
      ...                                reduction="none")
      Array([-0.079...,  0.5 ], dtype=float32)
    """
    return POISSON_NLL_WITH_RATES(
        rates, targets, eps=eps, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# gaussian_nll (three inputs: mean, targets, variance)


def _gaussian_nll(mean: jax.Array, targets: jax.Array, variance: jax.Array, eps: jax.Array):
    # torch clamps the variance at eps under no_grad: the clamp is invisible to the
    # derivative, which is taken at the clamped value as if the variance were it. The
    # stop_gradient says so at every order, and gives eps no gradient, as in torch.
    clamped = variance + jax.lax.stop_gradient(jnp.maximum(variance, eps) - variance)
    difference = mean - targets
    scaled = difference / clamped
    value = 0.5 * (jnp.log(clamped) + difference * scaled)
    d_variance = 0.5 * (1 / clamped - jnp.square(scaled))
    return value, (scaled, -scaled, d_variance, jnp.zeros_like(value))


def _gaussian_nll_curvature(mean, targets, variance, eps) -> jax.Array:
    return 1 / jnp.maximum(variance, eps)


GAUSSIAN_NLL = LossDefinition(
    name="gaussian_nll",
    value_and_partials=_gaussian_nll,
    curvature=_gaussian_nll_curvature,
    domain="real",
    target_kind="real",
    more_inputs=(Input(shape="first", kind="positive"),),
    link="identity",
    parameters=(Parameter("eps", low=0.0),),
    # Below the sampled variances (0.1 to 2): the finite-difference tests differentiate
    # the variance, which the clamp's straight-through gradient would not match.
    options={"eps": 0.05},
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.gaussian_nll` with respect to the mean:
    :math:`(\mu - t)/\max(\sigma^2, \epsilon)`.

    With respect to the variance (``jax.grad(..., argnums=2)``) it is
    :math:`\frac12\big(1/v - (\mu - t)^2/v^2\big)` at :math:`v = \max(\sigma^2, \epsilon)`,
    also where the clamp is active, as torch computes it; ``eps`` has no gradient.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.gaussian_nll(
      ...     jnp.array([1.0, 0.0]), jnp.zeros(2), jnp.array([2.0, 1.0]), reduction="sum")
      Array([0.5, 0. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.gaussian_nll` in the mean:
    :math:`1/\max(\sigma^2, \epsilon)`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.gaussian_nll(
      ...     jnp.array([1.0, 0.0]), jnp.zeros(2), jnp.array([2.0, 1e-9]), reduction="sum")
      Array([5.e-01, 1.e+06], dtype=float32)
    """,
)


@GAUSSIAN_NLL.public
def gaussian_nll(
    mean: ArrayLike,
    targets: ArrayLike,
    variance: ArrayLike,
    *,
    eps: ArrayLike = 1e-6,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Gaussian negative log-likelihood, torch's ``GaussianNLLLoss`` without the constant.

    .. math:: \ell_i = \tfrac12\Big(\log v_i + \frac{(\mu_i - t_i)^2}{v_i}\Big),
              \quad v_i = \max(\sigma^2_i, \epsilon)

    A heteroscedastic regression loss: the model predicts a mean and a variance per
    element. As in torch, the variance is clamped at ``eps`` for stability, and the
    gradient passes the clamp as if it were not there: in the variance it is
    :math:`\frac12(1/v - (\mu - t)^2/v^2)` at the clamped :math:`v`, and ``eps`` has
    none. The gradient in the mean is :math:`(\mu - t)/v`.

    torch's ``full=True`` adds :math:`\frac12\log 2\pi` to every element, a constant
    that changes no derivative: the native loss leaves it out (a switch is not a
    hyper-parameter here) and ``jaxloss.torch_compat.gaussian_nll_loss`` adds it.
    ``variance`` has the shape of ``mean``; the adapter applies torch's broadcasting
    rules (one dimension fewer, or a dimension of 1). A negative variance raises
    ``ValueError`` when it is concrete; a traced one (under ``jit``) is clamped at
    ``eps`` like any variance below it.

    Args:
      mean: predicted means, any shape.
      targets: observations, same shape as ``mean``.
      variance: predicted variances (non-negative), same shape as ``mean``.
      eps: non-negative, finite floor of the variance.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``mean`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gaussian_nll(jnp.array([1.0, 0.0]), jnp.zeros(2), jnp.array([2.0, 1.0]),
      ...                      reduction="none")
      Array([0.596...,  0.      ], dtype=float32)
    """
    check_not_negative("variance", variance, "variance must be non-negative")
    return GAUSSIAN_NLL(
        mean, targets, variance, eps=eps, reduction=reduction, weights=weights, where=where
    )


def check_not_negative(name: str, value: object, message: str) -> None:
    """Raises ``ValueError(message)``, naming the first negative entry, for a concrete
    ``value`` with one; a traced value (under ``jit``) cannot be inspected.

    NaN passes, as in torch (whose check is ``any(var < 0)``): it makes a NaN loss.
    """
    try:
        # float64 for every real dtype, bfloat16 included (NumPy has no kind for it).
        array = np.asarray(value, dtype=np.float64)
    except jax.errors.TracerArrayConversionError:
        return
    except (TypeError, ValueError):
        return  # not real-valued: the front end's dtype check names it
    negative = array < 0
    if np.any(negative):
        index = tuple(int(i) for i in np.argwhere(negative)[0])
        entry = f"{name}[{', '.join(map(str, index))}]" if index else name
        raise ValueError(f"{message}; got {entry} = {array[index]!r}")
