r"""Closed-form second derivatives of every loss with respect to its first argument.

``jaxloss.hessians.<name>`` has the signature of ``jaxloss.<name>``. For an
elementwise loss the Hessian is diagonal and is returned as that diagonal, shaped
like the first argument. For a per-example loss (the softmax cross-entropies and the
rescaled square loss) it is block-diagonal, one ``C x C`` matrix per example,
returned as ``[..., C, C]`` with the two class axes last. Each is scaled by the
reduction exactly as the gradient is (see ``jaxloss.gradients``), so
``hessians.f(x, y, reduction=r)`` holds the non-zero blocks of
``jax.hessian(lambda x: jnp.sum(f(x, y, reduction=r)))(x)``; the tests check it in
float64 for every loss.

Two facts the closed forms make visible: ``sigmoid_mse`` is not convex in the logit
(its second derivative is negative where the sigmoid saturates on the wrong side),
while ``sigmoid_binary_cross_entropy`` is (its second derivative is
:math:`\sigma(z)(1-\sigma(z)) \ge 0`).
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
    r"""Second derivative of :func:`jaxloss.mse`: 2 (``2/N`` for ``"mean"``).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mse(jnp.array([1.0, 2.0]), jnp.zeros(2))
      Array([1., 1.], dtype=float32)
    """
    second = _regression.mse_second_derivative
    return run_elementwise(
        second, "predictions", predictions, targets, (), reduction, weights, where, hessian=True
    )


def sigmoid_mse(
    logits: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Second derivative of :func:`jaxloss.sigmoid_mse`.

    With :math:`s = \sigma(z)`: :math:`2 s(1-s)\,[s(1-s) + (s-y)(1-2s)]`. For
    target 0 it is negative for :math:`s > 2/3` (wrong-side saturation): the loss is
    not convex in the logit.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sigmoid_mse(jnp.array([-2.0, 2.0]), jnp.zeros(2), reduction="sum")
      Array([ 0.0411..., -0.1188...], dtype=float32)
    """
    second = _regression.sigmoid_mse_second_derivative
    return run_elementwise(
        second, "logits", logits, targets, (), reduction, weights, where, hessian=True
    )


def mae(
    predictions: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Second derivative of :func:`jaxloss.mae`: 0 (away from the kink at a tie).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.mae(jnp.array([1.0, -2.0]), jnp.zeros(2))
      Array([0., 0.], dtype=float32)
    """
    second = _regression.mae_second_derivative
    return run_elementwise(
        second, "predictions", predictions, targets, (), reduction, weights, where, hessian=True
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
    r"""Second derivative of :func:`jaxloss.huber`: 1 inside :math:`|d| < \delta`, else 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.huber(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([1., 0.], dtype=float32)
    """
    _checks.check_concrete_range("delta", delta, 0.0, float("inf"), low_open=True)
    second = _regression.huber_second_derivative
    return run_elementwise(
        second,
        "predictions",
        predictions,
        targets,
        (delta,),
        reduction,
        weights,
        where,
        hessian=True,
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
    r"""Second derivative of :func:`jaxloss.smooth_l1`: :math:`1/\beta` inside, else 0.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.smooth_l1(jnp.array([0.5, 3.0]), jnp.zeros(2), reduction="sum")
      Array([1., 0.], dtype=float32)
    """
    _checks.check_concrete_range("beta", beta, 0.0, float("inf"))
    second = _regression.smooth_l1_second_derivative
    return run_elementwise(
        second,
        "predictions",
        predictions,
        targets,
        (beta,),
        reduction,
        weights,
        where,
        hessian=True,
    )


def binary_cross_entropy(
    probabilities: ArrayLike,
    targets: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Second derivative of :func:`jaxloss.binary_cross_entropy`.

    :math:`y/p^2 + (1-y)/(1-p)^2`, and :math:`10^{12}` where torch's clamp of
    :math:`p(1-p)` at :math:`10^{-12}` applies.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.binary_cross_entropy(jnp.array([0.5]), jnp.array([1.0]))
      Array([4.], dtype=float32)
    """
    second = _classification.binary_cross_entropy_second_derivative
    return run_elementwise(
        second, "probabilities", probabilities, targets, (), reduction, weights, where, hessian=True
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
    r"""Second derivative of :func:`jaxloss.sigmoid_binary_cross_entropy`.

    :math:`\sigma(z)(1-\sigma(z))\,((1-y) + w_+ y)`, which is :math:`\sigma(1-\sigma) \ge 0`
    without ``pos_weight``: the loss is convex in the logit.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sigmoid_binary_cross_entropy(
      ...     jnp.array([0.0, 2.0]), jnp.zeros(2), reduction="sum")
      Array([0.25 , 0.104...], dtype=float32)
    """
    params: tuple[ArrayLike, ...] = ()
    if pos_weight is not None:
        params = (as_checked_array("pos_weight", pos_weight),)
    second = _classification.sigmoid_binary_cross_entropy_second_derivative
    return run_elementwise(
        second, "logits", logits, targets, params, reduction, weights, where, hessian=True
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
    r"""Per-example Hessian of :func:`jaxloss.softmax_cross_entropy`, ``[..., C, C]``.

    :math:`(\sum_c y_c)\,(\operatorname{diag}(p) - p p^\top)` with
    :math:`p = \operatorname{softmax}(z)` (``diag(p) - p p^T`` for targets summing
    to 1): positive semi-definite.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return run(
        _classification.smoothed_softmax_second_derivative,
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
        hessian=True,
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
    r"""Per-example Hessian of :func:`jaxloss.softmax_cross_entropy_with_integer_labels`.

    :math:`\operatorname{diag}(p) - p p^\top` per example, ``[..., C, C]``, scaled by
    the example's weight (``class_weights[y]`` included) and the reduction. It does
    not depend on the label.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.softmax_cross_entropy_with_integer_labels(
      ...     jnp.zeros((1, 2)), jnp.array([1]))
      Array([[[ 0.25, -0.25],
              [-0.25,  0.25]]], dtype=float32)
    """
    _checks.check_concrete_range("label_smoothing", label_smoothing, 0.0, 1.0)
    return run(
        _classification.softmax_integer_second_derivative,
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
        hessian=True,
    )


def one_hot_mse(
    predictions: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Second derivative of :func:`jaxloss.one_hot_mse`: 2 per element (``2/(NC)`` for mean).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.one_hot_mse(jnp.array([[0.5, 0.5]]), jnp.array([0]))
      Array([[1., 1.]], dtype=float32)
    """
    return run(
        _classification.one_hot_mse_second_derivative,
        "predictions",
        predictions,
        "labels",
        labels,
        (),
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind="labels",
        hessian=True,
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
    r"""Per-example Hessian of :func:`jaxloss.rescaled_square_loss`, ``[..., C, C]``.

    Diagonal: :math:`2k/C` at the label's class and :math:`2/C` elsewhere.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.rescaled_square_loss(
      ...     jnp.zeros((1, 2)), jnp.array([0]), k=3.0, reduction="sum")
      Array([[[3., 0.],
              [0., 1.]]], dtype=float32)
    """
    return run(
        _classification.rescaled_square_second_derivative,
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
        hessian=True,
    )
