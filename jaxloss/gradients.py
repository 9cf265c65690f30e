r"""Closed-form first derivatives of every loss, written from the formula.

``jaxloss.gradients.<name>`` has the signature of ``jaxloss.<name>`` and returns the
derivative of the loss with respect to its first argument, shaped like it. No
autodiff runs inside: each is ``scale * derivative`` where ``derivative`` is the
hand-derived derivative of one unreduced entry and ``scale`` the derivative of the
reduction (see ``jaxloss._reduction``):

* ``"mean"``: :math:`s_i = w_i m_i / \sum_j w_j m_j` (``1/N`` without weights or mask);
* ``"sum"``: :math:`s_i = w_i m_i`;
* ``"none"``: :math:`s_i = w_i m_i`, the derivative of each entry by its own input.

So ``gradients.f(x, y, reduction=r) == jax.grad(lambda x: jnp.sum(f(x, y, reduction=r)))(x)``,
which the tests check in float64 for every loss.
"""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from jaxloss import _checks, _classification, _regression
from jaxloss._checks import Reduction
from jaxloss._reduction import as_checked_array, run, run_elementwise


def mse(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Derivative of :func:`jaxloss.mse`: :math:`\partial\ell_i/\partial p_i = 2(p_i - t_i)`.

    For ``"mean"`` over ``N`` elements this is :math:`2(p - t)/N`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mse(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))
      Array([1., 2.], dtype=float32)
    """
    return run_elementwise(
        _regression.mse_derivative,
        "predictions",
        predictions,
        targets,
        (),
        reduction,
        weights,
        where,
        gradient=True,
    )


def sigmoid_mse(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Derivative of :func:`jaxloss.sigmoid_mse`.

    With :math:`s = \sigma(z)` and :math:`\sigma'(z) = s(1-s)`, the chain rule on
    :math:`(s - y)^2` gives :math:`2(s - y)\,s(1 - s)`; for ``"mean"``,
    :math:`\frac2N (s - y) s (1 - s)`. The factor :math:`s(1-s)` goes to 0 as
    :math:`|z|` grows, on the wrong side too: this is why MSE after a sigmoid learns
    slowly from a saturated start.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.sigmoid_mse(jnp.array([0.0, 10.0]), jnp.array([1.0, 0.0]))
      Array([-1.25...e-01,  4.53...e-05], dtype=float32)
    """
    return run_elementwise(
        _regression.sigmoid_mse_derivative,
        "logits",
        logits,
        targets,
        (),
        reduction,
        weights,
        where,
        gradient=True,
    )


def mae(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Derivative of :func:`jaxloss.mae`: :math:`\operatorname{sign}(p - t)`, 0 at a tie.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.mae(jnp.array([1.0, -2.0]), jnp.array([0.0, 0.0]), reduction="sum")
      Array([ 1., -1.], dtype=float32)
    """
    return run_elementwise(
        _regression.mae_derivative,
        "predictions",
        predictions,
        targets,
        (),
        reduction,
        weights,
        where,
        gradient=True,
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
    r"""Derivative of :func:`jaxloss.huber`: :math:`\operatorname{clip}(d, -\delta, \delta)`.

    That is :math:`d` inside :math:`|d| < \delta` and :math:`\delta\operatorname{sign}(d)`
    outside, with :math:`d = p - t`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([0.5, 1. ], dtype=float32)
    """
    _checks.check_concrete_range("delta", delta, 0.0, float("inf"), low_open=True)
    return run_elementwise(
        _regression.huber_derivative,
        "predictions",
        predictions,
        targets,
        (delta,),
        reduction,
        weights,
        where,
        gradient=True,
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
    r"""Derivative of :func:`jaxloss.smooth_l1`: :math:`d/\beta` inside :math:`|d| < \beta`,
    :math:`\operatorname{sign}(d)` outside.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.smooth_l1(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([0.5, 1. ], dtype=float32)
    """
    _checks.check_concrete_range("beta", beta, 0.0, float("inf"))
    return run_elementwise(
        _regression.smooth_l1_derivative,
        "predictions",
        predictions,
        targets,
        (beta,),
        reduction,
        weights,
        where,
        gradient=True,
    )


def binary_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Derivative of :func:`jaxloss.binary_cross_entropy`.

    :math:`-y/p + (1-y)/(1-p) = (p - y) / (p(1-p))`, with the denominator clamped at
    :math:`10^{-12}` as torch does.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))
      Array([-2.], dtype=float32)
    """
    return run_elementwise(
        _classification.binary_cross_entropy_derivative,
        "probabilities",
        probabilities,
        targets,
        (),
        reduction,
        weights,
        where,
        gradient=True,
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
    r"""Derivative of :func:`jaxloss.sigmoid_binary_cross_entropy`.

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
    """
    params: tuple[ArrayLike, ...] = ()
    if pos_weight is not None:
        params = (as_checked_array("pos_weight", pos_weight),)
    return run_elementwise(
        _classification.sigmoid_binary_cross_entropy_derivative,
        "logits",
        logits,
        targets,
        params,
        reduction,
        weights,
        where,
        gradient=True,
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
    r"""Derivative of :func:`jaxloss.softmax_cross_entropy`.

    With :math:`p = \operatorname{softmax}(z)` and
    :math:`\partial \log p_k / \partial z_c = [k = c] - p_c`:
    :math:`\partial\ell/\partial z_c = p_c \sum_k y_k - y_c`, i.e. ``p - y`` for targets
    summing to 1, the targets being smoothed first when ``label_smoothing > 0``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[-0.5,  0.5]], dtype=float32)
    """
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return run(
        _classification.smoothed_softmax_derivative,
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
        gradient=True,
    )


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
    r"""Derivative of :func:`jaxloss.softmax_cross_entropy_with_integer_labels`.

    ``softmax(z) - target`` with ``target = (1 - alpha) onehot(y) + alpha / C``, each
    example scaled by its weight (``class_weights[y]`` included) and the reduction.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.softmax_cross_entropy_with_integer_labels(
      ...     jnp.zeros((1, 2)), jnp.array([1]))
      Array([[ 0.5, -0.5]], dtype=float32)
    """
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return run(
        _classification.softmax_integer_derivative,
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
        gradient=True,
    )


def one_hot_mse(
    predictions: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Derivative of :func:`jaxloss.one_hot_mse`: ``2 (p - onehot(y))``; ``/ (N C)`` for
    ``"mean"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.one_hot_mse(jnp.array([[0.5, 0.5]]), jnp.array([0]))
      Array([[-0.5,  0.5]], dtype=float32)
    """
    return run(
        _classification.one_hot_mse_derivative,
        "predictions",
        predictions,
        "labels",
        labels,
        (),
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind="labels",
        gradient=True,
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
    r"""Derivative of :func:`jaxloss.rescaled_square_loss`.

    :math:`\frac{2k}{C}(z_y - m)` for the label's logit and :math:`\frac2C z_i` for the
    others.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.rescaled_square_loss(
      ...     jnp.array([[0.5, 0.5]]), jnp.array([0]), reduction="sum")
      Array([[-0.5,  0.5]], dtype=float32)
    """
    return run(
        _classification.rescaled_square_derivative,
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
        gradient=True,
    )
