r"""Divergences between distributions: the Kullback-Leibler divergences.

``kl_divergence``, ``kl_divergence_with_log_targets`` and
``generalized_kl_divergence`` (with optax's deprecated alias
``convex_kl_divergence``), with optax's names, arguments and per-example values:
each sums over the class axis (the last one, or ``axis``), and ``reduction="none"``
returns what optax returns. The predictions come as log-probabilities, as in optax
and torch.

Two things differ from optax, on purpose. A zero target contributes exactly 0 to the
value and to the gradient whatever the prediction, a ``-inf`` log-probability included
(optax: ``0 * inf = NaN``), the convention :math:`0 \log 0 = 0`. And ``where`` masks
examples, as in every jaxloss loss, where optax's ``where`` masks classes; to leave
classes out of a KL divergence, give them target 0.

torch's ``nn.KLDivLoss`` is elementwise (no sum over classes); its adapter,
``jaxloss.torch_compat.kl_div``, calls these per-example definitions with a class
axis of length 1, so that each element is its own "example".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss._checks import Reduction
from jaxloss._definition import LossDefinition

__all__ = [
    "convex_kl_divergence",
    "generalized_kl_divergence",
    "kl_divergence",
    "kl_divergence_with_log_targets",
]

# Log-probabilities: 0 (a certain class) down to -inf (an impossible one).
_LOG_PROBABILITY_EXTREMES = (0.0, -1.0, -20.0, -1e4, float("-inf"))


def _zero_hessian_product(log_predictions, targets, vector) -> jax.Array:
    # Both divergences are linear in the log-predictions.
    return jnp.zeros_like(vector)


def _target_terms(log_predictions: jax.Array, targets: jax.Array):
    """``t (log t - q)`` per class, 0 where ``t = 0``, and its partial in ``t``."""
    zero = targets == 0
    # log(1) = 0 stands in at t = 0; a negative target keeps its NaN.
    log_targets = jnp.log(jnp.where(zero, 1, targets))
    terms = jnp.where(zero, 0, targets * (log_targets - log_predictions))
    # d/dt = log t + 1 - q; at t = 0 optax's autodiff (its where keeps log 0 out) gives
    # -q, which is kept, so that both libraries agree on the target's gradient.
    d_targets = jnp.where(zero, -log_predictions, log_targets + 1 - log_predictions)
    return terms, d_targets


# --------------------------------------------------------------------------------------
# kl_divergence


def _kl_divergence(log_predictions: jax.Array, targets: jax.Array):
    terms, d_targets = _target_terms(log_predictions, targets)
    return jnp.sum(terms, axis=-1), (-targets, d_targets)


KL_DIVERGENCE = LossDefinition(
    name="kl_divergence",
    value_and_partials=_kl_divergence,
    curvature=_zero_hessian_product,
    domain="log_probability",
    target_kind="class_probabilities",
    link="log_softmax",
    per_example=True,
    class_axis=True,
    extremes=_LOG_PROBABILITY_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.kl_divergence` with respect to the log-predictions.

    The divergence :math:`\sum_c t_c(\log t_c - q_c)` is linear in the
    log-predictions :math:`q`: its gradient is :math:`-t`, exactly 0 at a zero target.
    Through a ``log_softmax`` of logits :math:`z` the chain rule makes it
    :math:`\operatorname{softmax}(z)\sum_c t_c - t`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 0.5]])), jnp.array([[0.25, 0.75]]))
      Array([[-0.25, -0.75]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.kl_divergence` in the log-predictions: 0 (the
    divergence is linear in them; the curvature comes from the ``log_softmax``).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 0.5]])), jnp.array([[0.25, 0.75]]))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@KL_DIVERGENCE.public
def kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Kullback-Leibler divergence of the predictions from the targets, optax's ``kl_divergence``.

    .. math:: \ell_n = \sum_c t_{nc}\,(\log t_{nc} - q_{nc})

    with log-predictions :math:`q` (a ``log_softmax``) and target probabilities
    :math:`t`. One value per example, summed over the class axis; with
    ``reduction="none"`` it is what optax returns. A zero target adds exactly 0, to
    the value and the gradient, even against a ``-inf`` log-prediction (optax and
    torch give NaN there). The gradient is :math:`-t`.

    Differences: optax's ``where`` masks classes, this one examples (give a class
    target 0 to leave it out); ``axis`` is one axis, not a tuple. Keras's
    ``kl_divergence(y_true, y_pred)`` takes probabilities, not their logs, and clips
    both to ``[1e-7, 1]``. torch's ``nn.KLDivLoss`` is elementwise, without the sum
    over classes: see ``jaxloss.torch_compat.kl_div``.

    Args:
      log_predictions: log-probabilities with a class axis.
      targets: probabilities, same shape as ``log_predictions``.
      axis: the class axis.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss (``log_predictions`` without ``axis``).

    Returns:
      A scalar, or the per-example divergences when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> log_predictions = jnp.log(jnp.array([[0.5, 0.5], [0.9, 0.1]]))
      >>> jaxloss.kl_divergence(log_predictions, jnp.array([[0.25, 0.75], [1.0, 0.0]]),
      ...                       reduction="none")
      Array([0.130..., 0.105...], dtype=float32)
    """
    return KL_DIVERGENCE(
        log_predictions, targets, axis=axis, reduction=reduction, weights=weights, where=where
    )


# --------------------------------------------------------------------------------------
# kl_divergence_with_log_targets


def _kl_divergence_with_log_targets(log_predictions: jax.Array, log_targets: jax.Array):
    targets = jnp.exp(log_targets)
    zero = targets == 0
    difference = log_targets - log_predictions
    terms = jnp.where(zero, 0, targets * difference)
    # d/d(log t) of e^{log t} (log t - q) is t (log t - q + 1), 0 where t underflows.
    d_log_targets = jnp.where(zero, 0, targets * (difference + 1))
    return jnp.sum(terms, axis=-1), (-targets, d_log_targets)


KL_DIVERGENCE_WITH_LOG_TARGETS = LossDefinition(
    name="kl_divergence_with_log_targets",
    value_and_partials=_kl_divergence_with_log_targets,
    curvature=_zero_hessian_product,
    domain="log_probability",
    target_kind="log_probability",
    link="log_softmax",
    per_example=True,
    class_axis=True,
    extremes=_LOG_PROBABILITY_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.kl_divergence_with_log_targets` in the log-predictions:
    :math:`-e^{r}`, with log-targets :math:`r`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.kl_divergence_with_log_targets(
      ...     jnp.log(jnp.array([[0.5, 0.5]])), jnp.log(jnp.array([[0.25, 0.75]])))
      Array([[-0.25, -0.75]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.kl_divergence_with_log_targets` in the
    log-predictions: 0 (linear in them).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.kl_divergence_with_log_targets(
      ...     jnp.log(jnp.array([[0.5, 0.5]])), jnp.log(jnp.array([[0.25, 0.75]])))
      Array([[[0., 0.],
              [0., 0.]]], dtype=float32)
    """,
)


@KL_DIVERGENCE_WITH_LOG_TARGETS.public
def kl_divergence_with_log_targets(
    log_predictions: ArrayLike,
    log_targets: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""KL divergence with targets given as log-probabilities, optax's namesake.

    .. math:: \ell_n = \sum_c e^{r_{nc}}\,(r_{nc} - q_{nc})

    with log-predictions :math:`q` and log-targets :math:`r`; torch's
    ``kl_div(..., log_target=True)`` summed over classes. A ``-inf`` log-target (a
    zero target) adds exactly 0, where optax gives NaN. ``where``, ``axis`` and
    Keras as in :func:`jaxloss.kl_divergence`.

    Args:
      log_predictions: log-probabilities with a class axis.
      log_targets: log-probabilities, same shape as ``log_predictions``.
      axis: the class axis.
      reduction, weights, where: as in :func:`jaxloss.kl_divergence`.

    Returns:
      A scalar, or the per-example divergences when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.kl_divergence_with_log_targets(
      ...     jnp.log(jnp.array([[0.5, 0.5]])), jnp.array([[-jnp.inf, 0.0]]))
      Array(0.693..., dtype=float32)
    """
    return KL_DIVERGENCE_WITH_LOG_TARGETS(
        log_predictions,
        log_targets,
        axis=axis,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# generalized_kl_divergence


def _generalized_kl_divergence(log_predictions: jax.Array, targets: jax.Array):
    terms, d_targets = _target_terms(log_predictions, targets)
    predictions = jnp.exp(log_predictions)
    # At q = +inf both e^q and -t q are infinite; their sum's limit is +inf, not NaN.
    terms = jnp.where(log_predictions == jnp.inf, jnp.inf, terms + predictions - targets)
    return jnp.sum(terms, axis=-1), (predictions - targets, d_targets - 1)


GENERALIZED_KL_DIVERGENCE = LossDefinition(
    name="generalized_kl_divergence",
    value_and_partials=_generalized_kl_divergence,
    curvature=lambda log_predictions, targets, vector: jnp.exp(log_predictions) * vector,
    domain="log_probability",
    target_kind="positive",
    link="log_softmax",
    per_example=True,
    class_axis=True,
    extremes=_LOG_PROBABILITY_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.generalized_kl_divergence` in the log-predictions:
    :math:`e^{q} - t`, which vanishes at :math:`e^q = t` whether or not either sums to 1.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.generalized_kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 2.0]])), jnp.array([[0.25, 2.0]]))
      Array([[0.25, 0.  ]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.generalized_kl_divergence`:
    :math:`\operatorname{diag}(e^{q})`, positive definite.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.generalized_kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 2.0]])), jnp.array([[0.25, 2.0]]))
      Array([[[0.5, 0. ],
              [0. , 2. ]]], dtype=float32)
    """,
)


@GENERALIZED_KL_DIVERGENCE.public
def generalized_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Generalized KL divergence between unnormalised measures, optax's namesake.

    .. math:: \ell_n = \sum_c t_{nc}(\log t_{nc} - q_{nc}) + e^{q_{nc}} - t_{nc}

    The Bregman divergence of :math:`x \log x - x`: non-negative and 0 exactly at
    :math:`e^q = t`, for targets and predictions that need not sum to 1. It equals
    :func:`jaxloss.kl_divergence` when both do. Zero targets, ``where``, ``axis``
    as in :func:`jaxloss.kl_divergence`. The gradient is :math:`e^q - t`.

    Args:
      log_predictions: logs of the predicted (unnormalised) measure, with a class axis.
      targets: non-negative values, same shape as ``log_predictions``.
      axis: the class axis.
      reduction, weights, where: as in :func:`jaxloss.kl_divergence`.

    Returns:
      A scalar, or the per-example divergences when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.generalized_kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 2.0]])), jnp.array([[0.25, 2.0]]))
      Array(0.0767..., dtype=float32)
    """
    return GENERALIZED_KL_DIVERGENCE(
        log_predictions, targets, axis=axis, reduction=reduction, weights=weights, where=where
    )


def convex_kl_divergence(
    log_predictions: ArrayLike,
    targets: ArrayLike,
    *,
    axis: int = -1,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""optax's earlier name of :func:`jaxloss.generalized_kl_divergence`: the same loss.

    optax 0.2.4 renamed it and deprecates ``convex_kl_divergence``; it is here so that
    code written against it runs unchanged, without a warning. It has no registry row
    of its own: its gradient and Hessian are
    ``jaxloss.gradients.generalized_kl_divergence`` and
    ``jaxloss.hessians.generalized_kl_divergence``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.convex_kl_divergence(
      ...     jnp.log(jnp.array([[0.5, 2.0]])), jnp.array([[0.25, 2.0]]))
      Array(0.0767..., dtype=float32)
    """
    return GENERALIZED_KL_DIVERGENCE(
        log_predictions, targets, axis=axis, reduction=reduction, weights=weights, where=where
    )
