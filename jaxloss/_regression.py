r"""Elementwise regression losses: mse, sigmoid_mse, mae, huber, smooth_l1.

Each loss is a *core* (unreduced value, and where autodiff is not good enough its
closed-form partial derivatives) plus the shared front end in ``_reduction``. The
``*_derivative`` functions are the closed-form derivatives with respect to the first
argument; ``jaxloss.gradients`` applies the reduction rule to them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks, _reduction
from jaxloss._checks import Reduction

# --------------------------------------------------------------------------------------
# Cores: unreduced value and derivative with respect to the first argument.


def mse_core(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.square(predictions - targets)


def mse_derivative(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return 2 * (predictions - targets)


def _sigmoid_mse_value_and_partials(logits: jax.Array, targets: jax.Array):
    probabilities = jax.nn.sigmoid(logits)
    residual = probabilities - targets
    # sigmoid(z) * sigmoid(-z) is sigma'(z) without the cancellation of s * (1 - s).
    slope = probabilities * jax.nn.sigmoid(-logits)
    return jnp.square(residual), (2 * residual * slope, -2 * residual)


sigmoid_mse_core = _reduction.elementwise_custom_jvp(_sigmoid_mse_value_and_partials)


def sigmoid_mse_derivative(logits: jax.Array, targets: jax.Array) -> jax.Array:
    return _sigmoid_mse_value_and_partials(logits, targets)[1][0]


def _magnitude(difference: jax.Array) -> jax.Array:
    # |d| written as d * sign(d) differentiates to sign(d): 0 at a tie, as in torch,
    # where jnp.abs's derivative at 0 would be 1.
    return difference * jnp.sign(difference)


def _mae_value_and_partials(predictions: jax.Array, targets: jax.Array):
    difference = predictions - targets
    # sign(0) = 0 at a tie, as torch's l1_loss; jnp.abs's own derivative there is 1.
    direction = jnp.sign(difference)
    return jnp.abs(difference), (direction, -direction)


mae_core = _reduction.elementwise_custom_jvp(_mae_value_and_partials)


def mae_derivative(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    # sign(0) = 0, the subgradient torch's l1_loss also uses at a tie.
    return jnp.sign(predictions - targets)


def huber_core(predictions: jax.Array, targets: jax.Array, delta: jax.Array) -> jax.Array:
    difference = predictions - targets
    magnitude = _magnitude(difference)
    return jnp.where(
        magnitude < delta, 0.5 * jnp.square(difference), delta * (magnitude - 0.5 * delta)
    )


def huber_derivative(predictions: jax.Array, targets: jax.Array, delta: jax.Array) -> jax.Array:
    difference = predictions - targets
    return jnp.clip(difference, -delta, delta)


def smooth_l1_core(predictions: jax.Array, targets: jax.Array, beta: jax.Array) -> jax.Array:
    difference = predictions - targets
    magnitude = _magnitude(difference)
    # beta = 0 is exactly L1; dividing by a safe beta keeps the untaken branch finite.
    safe_beta = jnp.where(beta > 0, beta, 1)
    return jnp.where(
        magnitude < beta, 0.5 * jnp.square(difference) / safe_beta, magnitude - 0.5 * beta
    )


def smooth_l1_derivative(predictions: jax.Array, targets: jax.Array, beta: jax.Array) -> jax.Array:
    difference = predictions - targets
    safe_beta = jnp.where(beta > 0, beta, 1)
    return jnp.where(jnp.abs(difference) < beta, difference / safe_beta, jnp.sign(difference))


# Second derivatives with respect to the first argument (``jaxloss.hessians``).


def mse_second_derivative(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.full_like(predictions, 2)


def sigmoid_mse_second_derivative(logits: jax.Array, targets: jax.Array) -> jax.Array:
    # d/dz of 2 (s - y) s (1 - s), with (s (1 - s))' = s (1 - s)(1 - 2 s):
    # 2 s (1 - s) [s (1 - s) + (s - y)(1 - 2 s)]; negative where the sigmoid saturates
    # on the wrong side, so the loss is not convex in the logit.
    probabilities = jax.nn.sigmoid(logits)
    slope = probabilities * jax.nn.sigmoid(-logits)
    return 2 * slope * (slope + (probabilities - targets) * (1 - 2 * probabilities))


def mae_second_derivative(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return jnp.zeros_like(predictions)


def huber_second_derivative(predictions: jax.Array, targets: jax.Array, delta: jax.Array):
    inside = _magnitude(predictions - targets) < delta
    return inside.astype(predictions.dtype)


def smooth_l1_second_derivative(predictions: jax.Array, targets: jax.Array, beta: jax.Array):
    inside = _magnitude(predictions - targets) < beta
    return jnp.where(inside, 1 / jnp.where(beta > 0, beta, 1), 0).astype(predictions.dtype)


# --------------------------------------------------------------------------------------
# Public losses.


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
      weights: optional weights broadcast to the unreduced loss; ``"mean"`` then
        returns ``sum(w * l) / sum(w)``.
      where: optional boolean mask broadcast to the unreduced loss; masked entries
        add 0 to the value and the gradient, and ``"mean"`` divides by the unmasked
        count.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.mse(jnp.array([1.0, 2.0, 3.0]), jnp.array([1.0, 0.0, 0.0]))
      Array(4.333333, dtype=float32)
    """
    return _reduction.run_elementwise(
        mse_core, "predictions", predictions, targets, (), reduction, weights, where
    )


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
    return _reduction.run_elementwise(
        sigmoid_mse_core, "logits", logits, targets, (), reduction, weights, where
    )


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
    return _reduction.run_elementwise(
        mae_core, "predictions", predictions, targets, (), reduction, weights, where
    )


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
      delta: positive threshold between the quadratic and linear pieces.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), reduction="none")
      Array([0.125, 2.5  ], dtype=float32)
    """
    _checks.check_concrete_range("delta", delta, 0.0, float("inf"), low_open=True)
    return _reduction.run_elementwise(
        huber_core, "predictions", predictions, targets, (delta,), reduction, weights, where
    )


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
      beta: non-negative threshold between the quadratic and linear pieces.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``predictions`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.smooth_l1(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), reduction="none")
      Array([0.125, 2.5  ], dtype=float32)
    """
    _checks.check_concrete_range("beta", beta, 0.0, float("inf"))
    return _reduction.run_elementwise(
        smooth_l1_core, "predictions", predictions, targets, (beta,), reduction, weights, where
    )
