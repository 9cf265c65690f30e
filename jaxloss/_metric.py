r"""Metric learning: triplet, contrastive (NT-Xent), circle and cosine-embedding losses.

``triplet_margin_loss`` and ``cosine_embedding`` are loss definitions of three inputs
(one value per example, the feature axis reduced). ``ntxent`` and ``circle_loss``
couple the examples of a batch (each anchor's loss reads every other embedding) and
``triplet_margin_with_distance_loss`` takes a distance function: those three are
plain functions. Their derivatives are still written by hand where the loss lives:
the log-sum-exp over a row of pair similarities has a ``jax.custom_jvp`` rule in
closed form (first and second order, as it is written in jnp operations), and only
the similarity matrix itself (a matrix product, or the user's distance) is
differentiated by JAX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction
from jaxloss._definition import Input, LossDefinition, Parameter
from jaxloss._reduction import compute_dtype, reduce, safe_divide

__all__ = [
    "circle_loss",
    "cosine_embedding",
    "ntxent",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]

# ATen's EPSILON in cosine_embedding_loss, added to each squared norm.
_COSINE_EMBEDDING_EPSILON = 1e-12
# Feature values at which value and gradient must stay finite (no infinities: an
# infinite embedding has no direction and no finite distance).
_EMBEDDING_EXTREMES = (0.0, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4)


# --------------------------------------------------------------------------------------
# The reduction rule for the plain (batch-coupled) losses of this family and the next.


def reduce_checked(
    loss: jax.Array,
    *,
    reduction: Reduction,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    none_dtype: Any,
    selected: jax.Array | None = None,
) -> jax.Array:
    """jaxloss's ``reduction``/``weights``/``where`` rule on an unreduced ``loss``.

    ``weights`` and ``where`` are validated as every loss validates them (finite,
    non-negative weights; a boolean mask; both broadcast to ``loss`` without
    enlarging it; concrete weights are range-checked by :func:`check_weights` before
    the caller's ``jit``). ``selected`` is the loss's own mask of entries that exist (positive
    pairs, lists with a valid item); it joins ``where``.
    """
    _checks.check_reduction(reduction)
    mask = selected
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss.shape)
        where_array = jnp.broadcast_to(where_array, loss.shape)
        mask = where_array if mask is None else mask & where_array
    weights_array = None
    if weights is not None:
        weights_array = _checks.as_array("weights", weights)
        _checks.check_numeric("weights", weights_array)
        _checks.check_broadcastable("weights", weights_array, loss.shape)
        weights_array = jnp.broadcast_to(weights_array.astype(loss.dtype), loss.shape)
    return reduce(
        loss, reduction=reduction, weights=weights_array, where=mask, none_dtype=none_dtype
    )


def check_weights(weights: ArrayLike | None) -> None:
    """Concrete ``weights`` must be finite and non-negative (traced ones are not seen)."""
    if weights is not None:
        _checks.check_array_range(
            "weights",
            weights,
            lambda values: np.isfinite(values) & (values >= 0),
            "must be finite and non-negative",
        )


def _floating(name: str, value: ArrayLike) -> jax.Array:
    array = _checks.as_array(name, value)
    _checks.check_floating(name, array)
    return array


def _divide_by_large(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """``numerator / denominator`` for a positive denominator up to the dtype's maximum.

    XLA divides by multiplying with the reciprocal, which for a denominator above
    ``2^126`` (float32) is subnormal and flushed to 0 on CPU: ``x / x`` would be 0.
    Dividing by ``denominator / 256`` and then by 256 keeps both reciprocals normal.
    """
    step = 1 / 256
    return numerator / (denominator * step) * step


# --------------------------------------------------------------------------------------
# triplet_margin_loss (optax's arguments and distance)


def _lp_distance(difference: jax.Array, norm_degree: jax.Array, eps: jax.Array):
    """optax's distance ``(sum |x|^p + eps)^(1/p)`` over the last axis, and its pieces.

    Returns ``(|x|, S, D, dD/dx)`` with ``S = sum |x|^p + eps`` and ``D = S^(1/p)``.
    ``D`` is computed from ``|x| / max|x|``, so that ``|x|^p`` cannot overflow (a
    ``1e30`` embedding has a ``1e30`` distance, not ``inf``); ``S`` may overflow, and
    is used only where it does not.
    """
    magnitude = jnp.abs(difference)
    largest = jnp.max(magnitude, axis=-1, keepdims=True)
    scale = jnp.where(largest > 0, largest, 1)
    scaled = _divide_by_large(magnitude, scale)
    scaled_total = jnp.sum(scaled**norm_degree, axis=-1) + eps / scale[..., 0] ** norm_degree
    distance = scale[..., 0] * scaled_total ** (1 / norm_degree)
    total = jnp.sum(magnitude**norm_degree, axis=-1) + eps
    # dD/dx_i = D^(1-p) |x_i|^(p-1) sign(x_i) = (|x_i| / D)^(p-1) sign(x_i), at most 1
    # in size (0 where D = 0: eps = 0 and x = 0, the norm's subgradient 0).
    positive = distance[..., None] > 0
    ratio = jnp.where(
        positive, _divide_by_large(magnitude, jnp.where(positive, distance[..., None], 1)), 0
    )
    gradient = ratio ** (norm_degree - 1) * jnp.sign(difference)
    return magnitude, total, distance, gradient


def _lp_distance_degree_partial(magnitude, distance, norm_degree, eps):
    # D = M exp(log S' / p) with S' = sum (|x|/M)^p + eps/M^p, M = max|x| held fixed:
    # dD/dp = D (-log S' / p^2 + dS'/dp / (p S')), where
    # dS'/dp = sum (|x|/M)^p log(|x|/M) - (eps/M^p) log M, and r^p log r -> 0 at r = 0.
    largest = jnp.max(magnitude, axis=-1)
    scale = jnp.where(largest > 0, largest, 1)
    ratio = _divide_by_large(magnitude, scale[..., None])
    positive = ratio > 0
    log_ratio = jnp.log(jnp.where(positive, ratio, 1))
    scaled_eps = eps / scale**norm_degree
    scaled_total = jnp.sum(ratio**norm_degree, axis=-1) + scaled_eps
    d_total = jnp.sum(jnp.where(positive, ratio**norm_degree * log_ratio, 0), axis=-1) - (
        scaled_eps * jnp.log(scale)
    )
    log_total = jnp.log(jnp.where(scaled_total > 0, scaled_total, 1))
    return distance * (
        safe_divide(d_total, norm_degree * scaled_total) - log_total / norm_degree**2
    )


def _lp_distance_hvp(difference, magnitude, total, distance, norm_degree, vector):
    """The Hessian of ``D(x)`` times ``vector``, per example.

    With ``r = |x| / D`` and ``u = r^(p-1) sign(x)``:
    ``H v = (p - 1) (r^(p-2) v - u (u . v)) / D``. At ``x_i = 0`` with ``p < 2`` the
    curvature is infinite (the norm has a kink there); 0 is used.
    """
    positive = distance[..., None] > 0
    ratio = jnp.where(
        positive, _divide_by_large(magnitude, jnp.where(positive, distance[..., None], 1)), 0
    )
    direction = ratio ** (norm_degree - 1) * jnp.sign(difference)
    diagonal = ratio ** (norm_degree - 2)
    diagonal = jnp.where(jnp.isfinite(diagonal), diagonal, 0)
    along = jnp.sum(direction * vector, axis=-1, keepdims=True)
    return (norm_degree - 1) * safe_divide(
        diagonal * vector - direction * along, distance[..., None]
    )


def _triplet(anchors, positives, negatives, norm_degree, margin, eps):
    mag_p, total_p, distance_p, grad_p = _lp_distance(anchors - positives, norm_degree, eps)
    mag_n, total_n, distance_n, grad_n = _lp_distance(anchors - negatives, norm_degree, eps)
    hinge = distance_p - distance_n + margin
    value = jnp.maximum(hinge, 0)
    active = (hinge > 0).astype(value.dtype)
    d_degree = _lp_distance_degree_partial(
        mag_p, distance_p, norm_degree, eps
    ) - _lp_distance_degree_partial(mag_n, distance_n, norm_degree, eps)
    # dD/dS = D / (p S).
    d_eps = safe_divide(distance_p, norm_degree * total_p) - safe_divide(
        distance_n, norm_degree * total_n
    )
    return value, (
        active[..., None] * (grad_p - grad_n),
        -active[..., None] * grad_p,
        active[..., None] * grad_n,
        active * d_degree,
        active,
        active * d_eps,
    )


def _triplet_curvature(anchors, positives, negatives, norm_degree, margin, eps, vector):
    difference_p = anchors - positives
    difference_n = anchors - negatives
    mag_p, total_p, distance_p, _ = _lp_distance(difference_p, norm_degree, eps)
    mag_n, total_n, distance_n, _ = _lp_distance(difference_n, norm_degree, eps)
    active = (distance_p - distance_n + margin > 0).astype(anchors.dtype)
    return active[..., None] * (
        _lp_distance_hvp(difference_p, mag_p, total_p, distance_p, norm_degree, vector)
        - _lp_distance_hvp(difference_n, mag_n, total_n, distance_n, norm_degree, vector)
    )


TRIPLET_MARGIN_LOSS = LossDefinition(
    name="triplet_margin_loss",
    value_and_partials=_triplet,
    curvature=_triplet_curvature,
    domain="real",
    target_kind="real",
    more_inputs=(Input(shape="first", kind="real"),),
    link="identity",
    per_example=True,
    class_axis=True,
    parameters=(
        Parameter("norm_degree", low=1.0),
        Parameter("margin"),
        Parameter("eps", low=0.0),
    ),
    options={"norm_degree": 3.0, "margin": 0.5, "eps": 1e-3},
    extremes=_EMBEDDING_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.triplet_margin_loss` with respect to the anchors.

    With :math:`D(x) = (\sum_k |x_k|^p + \epsilon)^{1/p}`,
    :math:`\nabla D(x) = D^{1-p}\,|x|^{p-1}\operatorname{sign}(x)`, and the loss's
    derivative is :math:`\nabla D(a - p) - \nabla D(a - n)` where the hinge is active,
    0 elsewhere. (The positives get :math:`-\nabla D(a - p)`, the negatives
    :math:`\nabla D(a - n)`, through ``jax.grad``.)

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.triplet_margin_loss(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 0.0]]),
      ...     eps=0.0)
      Array([[ 1., -1.]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.triplet_margin_loss` w.r.t. the anchors.

    :math:`H_D(a - p) - H_D(a - n)` where the hinge is active, with
    :math:`H_D(x)\,v = (p-1)\big(S^{1/p-1}|x|^{p-2} v - S^{1/p-2} u\,(u\cdot v)\big)`,
    :math:`u = |x|^{p-1}\operatorname{sign}(x)`, :math:`S = \sum_k |x_k|^p + \epsilon`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.triplet_margin_loss(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[2.0, 0.0]]),
      ...     margin=2.0, eps=0.0)
      Array([[[ 1. ,  0. ],
              [ 0. , -0.5]]], dtype=float32)
    """,
)


@TRIPLET_MARGIN_LOSS.public
def triplet_margin_loss(
    anchors: ArrayLike,
    positives: ArrayLike,
    negatives: ArrayLike,
    *,
    axis: int = -1,
    norm_degree: ArrayLike = 2.0,
    margin: ArrayLike = 1.0,
    eps: ArrayLike = 1e-6,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The triplet margin loss, optax's ``triplet_margin_loss``.

    .. math::
        \ell_n = \max\big(D(a_n - p_n) - D(a_n - n_n) + m,\ 0\big),
        \qquad D(x) = \Big(\sum_k |x_k|^p + \epsilon\Big)^{1/p}

    One value per triplet. ``eps`` is added inside the root, as optax does; torch's
    ``nn.TripletMarginLoss`` adds it to the difference instead,
    :math:`\lVert a - p + \epsilon\rVert_p`: use
    ``jaxloss.torch_compat.triplet_margin_loss`` for torch's numbers (and ``swap``).
    optax raises ``|x|`` to ``p`` without the absolute value, which is the same for
    even ``p``; here odd ``p`` is a norm too. optax takes the options positionally as
    well; here they are keyword-only.

    Args:
      anchors, positives, negatives: embeddings ``[..., D]`` of the same shape.
      axis: the feature axis the distances reduce.
      norm_degree: ``p >= 1``.
      margin: the margin :math:`m` (optax allows any real number).
      eps: :math:`\epsilon \ge 0`, added to the sum of powers.
      reduction, weights, where: as in :func:`jaxloss.mse`, over the triplets.

    Returns:
      A scalar, or one loss per triplet (``[...]``) when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> anchors = jnp.array([[0.0, 0.0], [1.0, 1.0]])
      >>> positives = jnp.array([[0.1, 0.1], [1.1, 1.1]])
      >>> negatives = jnp.array([[1.0, 0.0], [0.0, 1.0]])
      >>> jaxloss.triplet_margin_loss(anchors, positives, negatives, reduction="none")
      Array([0.14142..., 0.14142...], dtype=float32)
    """
    return TRIPLET_MARGIN_LOSS(
        anchors,
        positives,
        negatives,
        axis=axis,
        norm_degree=norm_degree,
        margin=margin,
        eps=eps,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# cosine_embedding (torch's CosineEmbeddingLoss)


def _unit_scale(vectors: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``vectors / max|vectors|`` and the scale; an infinite entry counts as +-1 there.

    The cosine does not change when a vector is scaled, so the sums of squares cannot
    overflow; an infinite embedding points along its infinite entries.
    """
    largest = jnp.max(jnp.abs(vectors), axis=-1, keepdims=True)
    scale = jnp.where(largest > 0, largest, 1)
    finite_scale = jnp.where(jnp.isfinite(scale), scale, 1)
    scaled = jnp.where(
        jnp.isinf(vectors),
        jnp.sign(vectors),
        jnp.where(jnp.isfinite(scale), _divide_by_large(vectors, finite_scale), 0),
    )
    return scaled, scale


def _cosine_pieces(first: jax.Array, second: jax.Array):
    """ATen's cosine and, for the derivatives, the scaled vectors and norms.

    ATen adds its epsilon to each squared norm, ``m = |x|^2 + 1e-12``; on ``x = M u``
    that is ``M^2 (|u|^2 + 1e-12 / M^2)``: the same cosine, without overflow.
    Returns ``(cos, u1, u2, m1 / M1^2, m2 / M2^2, sqrt of their product, M1, M2)``.
    """
    unit_first, scale_first = _unit_scale(first)
    unit_second, scale_second = _unit_scale(second)
    product = jnp.sum(unit_first * unit_second, axis=-1)
    square_first = (
        jnp.sum(unit_first**2, axis=-1) + _COSINE_EMBEDDING_EPSILON / scale_first[..., 0] ** 2
    )
    square_second = (
        jnp.sum(unit_second**2, axis=-1) + _COSINE_EMBEDDING_EPSILON / scale_second[..., 0] ** 2
    )
    denominator = jnp.sqrt(square_first * square_second)
    return (
        product / denominator,
        unit_first,
        unit_second,
        square_first,
        square_second,
        denominator,
        scale_first,
        scale_second,
    )


def _cosine_slope(cosine, targets, margin):
    """d loss / d cos: -(1 + y)/2, plus (1 - y)/2 where the negative term is active."""
    return -(1 + targets) / 2 + jnp.where(cosine > margin, (1 - targets) / 2, 0)


def _cosine_embedding(first, second, targets, margin):
    (
        cosine,
        unit_first,
        unit_second,
        square_first,
        square_second,
        denominator,
        scale_first,
        scale_second,
    ) = _cosine_pieces(first, second)
    # torch's two cases, (1 - cos) at y = 1 and max(0, cos - m) at y = -1, joined
    # linearly in y: the same at +-1, and differentiable in the target.
    pushed = jnp.maximum(cosine - margin, 0)
    value = (1 + targets) / 2 * (1 - cosine) + (1 - targets) / 2 * pushed
    slope = _cosine_slope(cosine, targets, margin)
    # d cos / d x1 = x2 / sqrt(m1 m2) - cos x1 / m1 = (u2 / sqrt(m1' m2') - cos u1 / m1') / M1
    # on the scaled vectors (x = M u, m = M^2 m'), and symmetrically for x2.
    d_first = (
        unit_second / denominator[..., None] - (cosine / square_first)[..., None] * unit_first
    ) / scale_first
    d_second = (
        unit_first / denominator[..., None] - (cosine / square_second)[..., None] * unit_second
    ) / scale_second
    return value, (
        slope[..., None] * d_first,
        slope[..., None] * d_second,
        ((1 - cosine) - pushed) / 2,
        -jnp.where(cosine > margin, (1 - targets) / 2, 0),
    )


def _cosine_embedding_curvature(first, second, targets, margin, vector):
    cosine, unit_first, unit_second, square_first, _, denominator, scale_first, _ = _cosine_pieces(
        first, second
    )
    slope = _cosine_slope(cosine, targets, margin)
    along_first = jnp.sum(unit_first * vector, axis=-1, keepdims=True)
    along_second = jnp.sum(unit_second * vector, axis=-1, keepdims=True)
    cosine, square_first, denominator = (
        cosine[..., None],
        square_first[..., None],
        denominator[..., None],
    )
    # d/dx1 of x2 / sqrt(m1 m2) - cos x1 / m1, applied to v, on the scaled vectors: each
    # term is its scaled form over M1^2.
    cosine_hvp = (
        -(unit_second * along_first + unit_first * along_second) / (square_first * denominator)
        + 3 * cosine * unit_first * along_first / square_first**2
        - cosine * vector / square_first
    ) / scale_first**2
    return slope[..., None] * cosine_hvp


COSINE_EMBEDDING = LossDefinition(
    name="cosine_embedding",
    value_and_partials=_cosine_embedding,
    curvature=_cosine_embedding_curvature,
    domain="real",
    target_kind="real",
    more_inputs=(Input(shape="loss", kind="sign"),),
    link="identity",
    per_example=True,
    parameters=(Parameter("margin", low=-1.0, high=1.0),),
    options={"margin": -0.3},
    extremes=_EMBEDDING_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.cosine_embedding` with respect to ``input1``.

    With :math:`c = x_1\cdot x_2/\sqrt{m_1 m_2}`, :math:`m_i = \lVert x_i\rVert^2 +
    10^{-12}`: :math:`\partial c/\partial x_1 = x_2/\sqrt{m_1 m_2} - c\,x_1/m_1`; the
    loss's derivative is :math:`(-\frac{1+y}{2} + \frac{1-y}{2}[c > m])\,\partial
    c/\partial x_1`: :math:`-\partial c/\partial x_1` for :math:`y = 1`, and
    :math:`\partial c/\partial x_1` for :math:`y = -1` while :math:`c > m`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.cosine_embedding(
      ...     jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]), jnp.array([1.0]))
      Array([[-0.        , -0.70710677]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.cosine_embedding` w.r.t. ``input1``.

    :math:`(-\frac{1+y}{2} + \frac{1-y}{2}[c > m])\,H_c` with
    :math:`H_c v = -\frac{x_2 (x_1\cdot v) + x_1 (x_2\cdot v)}{m_1 \sqrt{m_1 m_2}}
    + \frac{3 c\,x_1 (x_1\cdot v)}{m_1^2} - \frac{c\,v}{m_1}`.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.cosine_embedding(
      ...     jnp.array([[1.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([1.0]))
      Array([[[-0.,  1.],
              [ 1., -0.]]], dtype=float32)
    """,
)


@COSINE_EMBEDDING.public
def cosine_embedding(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    *,
    margin: ArrayLike = 0.0,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The cosine embedding loss, torch's ``nn.CosineEmbeddingLoss``.

    .. math::
        \ell_n = \begin{cases} 1 - \cos(x_{1n}, x_{2n}) & y_n = 1 \\
        \max(0, \cos(x_{1n}, x_{2n}) - m) & y_n = -1 \\ 0 & \text{otherwise}\end{cases}

    with torch's cosine, :math:`x_1\cdot x_2 / \sqrt{(\lVert x_1\rVert^2 + 10^{-12})
    (\lVert x_2\rVert^2 + 10^{-12})}`, so a zero vector has cosine 0. The two cases
    are joined linearly in the target,
    :math:`\frac{1+y}{2}(1 - \cos) + \frac{1-y}{2}\max(0, \cos - m)`, which is
    torch's loss at :math:`y = \pm 1` and makes it differentiable in ``target`` (a
    soft target in ``[-1, 1]`` interpolates); torch gives 0 for a target other than
    +-1, and so does ``jaxloss.torch_compat.cosine_embedding_loss``.

    Args:
      input1, input2: embeddings ``[..., D]`` of the same shape.
      target: +-1 per pair, ``[...]`` (floating or integer).
      margin: :math:`m` in ``[-1, 1]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, over the pairs.

    Returns:
      A scalar, or one loss per pair when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> x1 = jnp.array([[1.0, 0.0], [1.0, 0.0]])
      >>> x2 = jnp.array([[1.0, 1.0], [1.0, 1.0]])
      >>> jaxloss.cosine_embedding(x1, x2, jnp.array([1.0, -1.0]), reduction="none")
      Array([0.29289..., 0.70710...], dtype=float32)
    """
    return COSINE_EMBEDDING(
        input1,
        input2,
        target,
        margin=margin,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# The log-sum-exp over each anchor's row of pair scores, with its closed-form jvp.


def _masked_logsumexp(scores: jax.Array, mask: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``log sum_{mask} exp(scores)`` per row (``-inf`` for an empty row) and the softmax."""
    maximum = jnp.max(jnp.where(mask, scores, -jnp.inf), axis=-1, keepdims=True)
    maximum = jax.lax.stop_gradient(jnp.where(jnp.isfinite(maximum), maximum, 0))
    exponentials = jnp.where(mask, jnp.exp(jnp.where(mask, scores, 0) - maximum), 0)
    total = jnp.sum(exponentials, axis=-1, keepdims=True)
    log_total = jnp.where(total > 0, jnp.log(jnp.where(total > 0, total, 1)), -jnp.inf)
    return (log_total + maximum)[..., 0], safe_divide(exponentials, total)


# --------------------------------------------------------------------------------------
# ntxent (optax's arguments)


@jax.custom_jvp
def _ntxent_pairs(scores: jax.Array, positive: jax.Array, negative: jax.Array) -> jax.Array:
    """``-log(e^{s_ij} / (e^{s_ij} + sum_{k in N_i} e^{s_ik}))`` for each pair (i, j)."""
    log_negatives, _ = _masked_logsumexp(scores, negative)
    # = softplus(L_i - s_ij), finite (0) for an anchor without negatives.
    return jnp.where(positive, jnp.logaddexp(0, log_negatives[..., None] - scores), 0)


@_ntxent_pairs.defjvp
def _ntxent_pairs_jvp(primals, tangents):
    scores, positive, negative = primals
    d_scores = tangents[0]
    log_negatives, softmax = _masked_logsumexp(scores, negative)
    value = jnp.where(positive, jnp.logaddexp(0, log_negatives[..., None] - scores), 0)
    # d softplus(L_i - s_ij) = sigmoid(L_i - s_ij) (sum_k softmax_ik ds_ik - ds_ij).
    d_log_negatives = jnp.sum(softmax * d_scores, axis=-1, keepdims=True)
    slope = jnp.where(positive, jax.nn.sigmoid(log_negatives[..., None] - scores), 0)
    return value, slope * (d_log_negatives - d_scores)


def ntxent(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    temperature: ArrayLike = 0.07,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The normalized temperature-scaled cross-entropy (NT-Xent), optax's ``ntxent``.

    With :math:`s_{ij} = \cos(e_i, e_j)/T`, each positive pair (same label,
    :math:`i \ne j`) has the loss

    .. math::
        \ell_{ij} = -\log\frac{e^{s_{ij}}}{e^{s_{ij}} + \sum_{k:\,y_k \ne y_i} e^{s_{ik}}}

    and ``"mean"`` (the default, optax's only output) averages it over the positive
    pairs. The diagonal is masked: an embedding is never its own positive. The
    cosine is optax's, :math:`e/\sqrt{\max(\lVert e\rVert^2, \epsilon)}` with
    :math:`\epsilon` the machine epsilon of the embeddings' dtype.

    Not a loss definition: each pair's loss reads the whole batch. Its derivative with
    respect to the similarities is written in closed form (a ``jax.custom_jvp``,
    :math:`\partial\ell_{ij} = \sigma(L_i - s_{ij})(\sum_k \pi_{ik}\,\partial s_{ik} -
    \partial s_{ij})`, :math:`L_i` the log-sum-exp over the negatives, :math:`\pi` their
    softmax); JAX differentiates the cosine matrix.

    Args:
      embeddings: ``[N, D]``.
      labels: ``[N]`` integer group labels; equal labels are positive pairs.
      temperature: :math:`T > 0` (keyword-only here; optax also takes it third).
      reduction: ``"mean"`` over the positive pairs, ``"sum"``, or ``"none"``: the
        ``[N, N]`` matrix of pair losses, 0 where ``(i, j)`` is not a positive pair.
      weights: optional non-negative weights broadcast to the ``[N, N]`` pair matrix
        (``[N, 1]`` weights each anchor's pairs).
      where: optional boolean mask ``[N]`` of the embeddings that take part; a masked
        one (padding) is neither anchor, positive nor negative.

    Returns:
      A scalar, or the ``[N, N]`` pair losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> embeddings = jnp.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
      >>> jaxloss.ntxent(embeddings, jnp.array([0, 0, 1, 1]), temperature=0.5)
      Array(0.43019..., dtype=float32)
    """
    embeddings_array = _floating("embeddings", embeddings)
    labels_array = _checks.as_array("labels", labels)
    if embeddings_array.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {embeddings_array.shape}")
    _checks.check_shape("labels", labels_array, embeddings_array.shape[:1], "one per embedding")
    _checks.check_numeric("labels", labels_array)
    Parameter("temperature", low=0.0, low_open=True).check_concrete(temperature)
    valid = None
    if where is not None:
        valid = _checks.as_array("where", where)
        _checks.check_mask("where", valid)
        _checks.check_shape("where", valid, embeddings_array.shape[:1], "one per embedding")
    check_weights(weights)
    return _ntxent(
        embeddings_array,
        labels_array,
        temperature,
        valid,
        weights,
        reduction=reduction,
    )


@functools.partial(jax.jit, static_argnames=("reduction",))
def _ntxent(embeddings, labels, temperature, valid, weights, *, reduction):
    dtype = compute_dtype(embeddings.dtype)
    # optax's epsilon: the machine epsilon of the caller's dtype, on the squared norm.
    epsilon = jnp.finfo(embeddings.dtype).eps
    vectors = embeddings.astype(dtype)
    norms = jnp.sqrt(jnp.maximum(jnp.sum(vectors * vectors, axis=-1, keepdims=True), epsilon))
    units = vectors / norms
    scores = (units @ units.T) / jnp.asarray(temperature).astype(dtype)
    count = embeddings.shape[0]
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~jnp.eye(count, dtype=bool)
    both = jnp.ones((count, count), bool) if valid is None else valid[:, None] & valid[None, :]
    positive = same & off_diagonal & both
    negative = ~same & both
    pairs = _ntxent_pairs(scores, positive, negative)
    return reduce_checked(
        pairs,
        reduction=reduction,
        weights=weights,
        where=None,
        none_dtype=embeddings.dtype,
        selected=positive,
    )


# --------------------------------------------------------------------------------------
# circle_loss (Keras 3's keras.losses.Circle)


def _circle_logits(distances, positive, negative, gamma, margin):
    """Keras's weighted pair logits and their derivatives with respect to ``d``."""
    # Sun et al.'s alpha_p = [O_p - s_p]_+ and alpha_n = [s_n - O_n]_+ with s = 1 - d,
    # O_p = 1 + m, O_n = -m; Delta_p = 1 - m, Delta_n = m.
    alpha_positive = jnp.maximum(margin + distances, 0)
    alpha_negative = jnp.maximum(1 + margin - distances, 0)
    positive_logits = -gamma * alpha_positive * (margin - distances)
    negative_logits = gamma * alpha_negative * (1 - margin - distances)
    # Keras does not hold the alphas constant (the paper's code detaches them), so
    # their derivatives count: d/dd of -g a_p (m - d) and of g a_n (1 - m - d).
    d_positive = -gamma * (
        jnp.where(margin + distances > 0, margin - distances, 0) - alpha_positive
    )
    d_negative = -gamma * (
        jnp.where(1 + margin - distances > 0, 1 - margin - distances, 0) + alpha_negative
    )
    return (
        jnp.where(positive, positive_logits, 0),
        jnp.where(negative, negative_logits, 0),
        jnp.where(positive, d_positive, 0),
        jnp.where(negative, d_negative, 0),
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _circle_rows(similarities, positive, negative, gamma: float, margin: float):
    distances = jnp.maximum(1 - similarities, 0)
    positive_logits, negative_logits, _, _ = _circle_logits(
        distances, positive, negative, gamma, margin
    )
    log_positive, _ = _masked_logsumexp(positive_logits, positive)
    log_negative, _ = _masked_logsumexp(negative_logits, negative)
    return jax.nn.softplus(log_positive + log_negative)


@_circle_rows.defjvp
def _circle_rows_jvp(gamma, margin, primals, tangents):
    similarities, positive, negative = primals
    d_similarities = tangents[0]
    # d = max(1 - s, 0): dd = -ds where 1 - s > 0.
    distances = jnp.maximum(1 - similarities, 0)
    d_distances = jnp.where(1 - similarities > 0, -d_similarities, 0)
    positive_logits, negative_logits, d_positive, d_negative = _circle_logits(
        distances, positive, negative, gamma, margin
    )
    log_positive, softmax_positive = _masked_logsumexp(positive_logits, positive)
    log_negative, softmax_negative = _masked_logsumexp(negative_logits, negative)
    total = log_positive + log_negative
    value = jax.nn.softplus(total)
    # d softplus(P_i + N_i) = sigmoid(P_i + N_i) (sum_j pi_ij dP_ij + sum_j nu_ij dN_ij).
    d_total = jnp.sum(softmax_positive * d_positive * d_distances, axis=-1) + jnp.sum(
        softmax_negative * d_negative * d_distances, axis=-1
    )
    return value, jax.nn.sigmoid(total) * d_total


def circle_loss(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    ref_embeddings: ArrayLike | None = None,
    ref_labels: ArrayLike | None = None,
    gamma: float = 80.0,
    margin: float = 0.4,
    remove_diagonal: bool = True,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The circle loss (Sun et al. 2020), as Keras 3's ``keras.losses.Circle`` defines it.

    With :math:`s_{ij} = e_i\cdot r_j` (the embeddings are expected L2-normalized, as
    in Keras; they are not normalized here), :math:`d_{ij} = \max(1 - s_{ij}, 0)`,
    :math:`\alpha^p_{ij} = [m + d_{ij}]_+` and :math:`\alpha^n_{ij} = [1 + m - d_{ij}]_+`,
    each anchor's loss is

    .. math::
        \ell_i = \operatorname{softplus}\Big(
            \log\sum_{j \in P_i} e^{-\gamma\alpha^p_{ij}(m - d_{ij})}
          + \log\sum_{j \in N_i} e^{\gamma\alpha^n_{ij}(1 - m - d_{ij})}\Big)

    over its positives :math:`P_i` (same label; not itself when ``remove_diagonal``)
    and negatives :math:`N_i`. This is the paper's
    :math:`\log(1 + \sum_n e^{\gamma\alpha_n(s_n - \Delta_n)}\sum_p e^{-\gamma\alpha_p(s_p
    - \Delta_p)})` with :math:`O_p = 1 + m`, :math:`O_n = -m`, :math:`\Delta_p = 1 - m`,
    :math:`\Delta_n = m`. As in Keras (and unlike the paper's reference code, which
    detaches them), the weights :math:`\alpha` are differentiated.

    An anchor without a positive or without a negative has loss 0 and is left out of
    ``"mean"``, as Keras's mask (``loss > 0``) leaves it out of its mean.

    Not a loss definition: each anchor's loss reads the whole batch. The derivative
    with respect to the similarities is written in closed form (a ``jax.custom_jvp``);
    JAX differentiates the similarity matrix product.

    Args:
      embeddings: ``[N, D]`` L2-normalized embeddings.
      labels: ``[N]`` integer labels.
      ref_embeddings, ref_labels: optional reference set ``[M, D]``, ``[M]`` to compare
        against (default: the batch itself).
      gamma: the scale :math:`\gamma` (Keras's default 80).
      margin: the relaxation :math:`m` (Keras's default 0.4).
      remove_diagonal: leave each anchor out of its own positives (pair ``(i, i)``).
      reduction, weights, where: as in :func:`jaxloss.mse`, over the ``N`` anchors.

    Returns:
      A scalar, or one loss per anchor when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> embeddings = jnp.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])
      >>> jaxloss.circle_loss(embeddings, jnp.array([0, 0, 1, 1]), gamma=2.0)
      Array(0.93371..., dtype=float32)
    """
    embeddings_array = _floating("embeddings", embeddings)
    if embeddings_array.ndim != 2:
        raise ValueError(f"embeddings must be [N, D], got shape {embeddings_array.shape}")
    labels_array = _checks.as_array("labels", labels)
    _checks.check_integer("labels", labels_array)
    _checks.check_shape("labels", labels_array, embeddings_array.shape[:1], "one per embedding")
    if (ref_embeddings is None) != (ref_labels is None):
        raise ValueError("ref_embeddings and ref_labels must be given together")
    reference = embeddings_array
    reference_labels = labels_array
    if ref_embeddings is not None and ref_labels is not None:
        reference = _floating("ref_embeddings", ref_embeddings)
        reference_labels = _checks.as_array("ref_labels", ref_labels)
        _checks.check_integer("ref_labels", reference_labels)
        if reference.ndim != 2 or reference.shape[1] != embeddings_array.shape[1]:
            raise ValueError(
                f"ref_embeddings must be [M, {embeddings_array.shape[1]}], "
                f"got shape {reference.shape}"
            )
        _checks.check_shape(
            "ref_labels", reference_labels, reference.shape[:1], "one per reference embedding"
        )
    Parameter("gamma", low=0.0, low_open=True).check_concrete(gamma)
    Parameter("margin").check_concrete(margin)
    check_weights(weights)
    return _circle(
        embeddings_array,
        labels_array,
        reference,
        reference_labels,
        weights,
        where,
        gamma=float(gamma),
        margin=float(margin),
        remove_diagonal=bool(remove_diagonal),
        reduction=reduction,
    )


@functools.partial(jax.jit, static_argnames=("gamma", "margin", "remove_diagonal", "reduction"))
def _circle(
    embeddings,
    labels,
    reference,
    reference_labels,
    weights,
    where,
    *,
    gamma,
    margin,
    remove_diagonal,
    reduction,
):
    dtype = compute_dtype(embeddings.dtype)
    similarities = embeddings.astype(dtype) @ reference.astype(dtype).T
    positive = labels[:, None] == reference_labels[None, :]
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~jnp.eye(*positive.shape, dtype=bool)
    rows = _circle_rows(similarities, positive, negative, gamma, margin)
    defined = jnp.any(positive, axis=-1) & jnp.any(negative, axis=-1)
    return reduce_checked(
        rows,
        reduction=reduction,
        weights=weights,
        where=where,
        none_dtype=embeddings.dtype,
        selected=defined,
    )


# --------------------------------------------------------------------------------------
# triplet_margin_with_distance_loss (torch's TripletMarginWithDistanceLoss)


def _torch_pairwise_distance_pieces(difference: jax.Array, norm_degree: float):
    magnitude = jnp.abs(difference)
    total = jnp.sum(magnitude**norm_degree, axis=-1)
    distance = total ** (1 / norm_degree)
    return magnitude, total, distance


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def pairwise_distance(x1: jax.Array, x2: jax.Array, norm_degree: float, eps: float) -> jax.Array:
    r"""torch's ``pairwise_distance``, :math:`\lVert x_1 - x_2 + \epsilon\rVert_p` (last axis).

    Its derivative is written in closed form (a ``jax.custom_jvp``):
    :math:`\nabla_{x_1} = |x|^{p-1}\operatorname{sign}(x) / D^{p-1}`, 0 where the
    distance is 0 (torch's subgradient there).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss._metric import pairwise_distance
      >>> pairwise_distance(jnp.array([3.0, 0.0]), jnp.array([0.0, 4.0]), 2.0, 0.0)
      Array(5., dtype=float32)
    """
    difference = x1 - x2 + eps
    return _torch_pairwise_distance_pieces(difference, norm_degree)[2]


@pairwise_distance.defjvp
def _pairwise_distance_jvp(norm_degree, eps, primals, tangents):
    x1, x2 = primals
    d_x1, d_x2 = tangents
    difference = x1 - x2 + eps
    magnitude, total, distance = _torch_pairwise_distance_pieces(difference, norm_degree)
    gradient = (
        safe_divide(distance, total)[..., None]
        * magnitude ** (norm_degree - 1)
        * jnp.sign(difference)
    )
    return distance, jnp.sum(gradient * (d_x1 - d_x2), axis=-1)


def triplet_margin_with_distance_loss(
    anchors: ArrayLike,
    positives: ArrayLike,
    negatives: ArrayLike,
    *,
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""The triplet margin loss for any distance, torch's ``nn.TripletMarginWithDistanceLoss``.

    .. math::
        \ell_n = \max\big(d(a_n, p_n) - d'(a_n, n_n) + m,\ 0\big)

    with :math:`d'(a, n) = \min(d(a, n), d(p, n))` when ``swap`` (Balntas et al. 2016),
    else :math:`d(a, n)`. The default distance is torch's ``pairwise_distance``,
    :math:`\lVert x_1 - x_2 + 10^{-6}\rVert_2`, whose derivative is written in closed
    form; a distance function of the caller's is differentiated by JAX.

    Not a loss definition: it takes a function. ``distance_function(x1, x2)`` maps two
    ``[..., D]`` batches to ``[...]`` distances (it may be any jax function).

    Args:
      anchors, positives, negatives: embeddings of the same shape.
      distance_function: a non-negative distance, or None for ``pairwise_distance``.
      margin: :math:`m > 0` (torch refuses other margins).
      swap: use the distance swap.
      reduction, weights, where: as in :func:`jaxloss.mse`, over the triplets.

    Returns:
      A scalar, or one loss per triplet when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> def l1(x1, x2):
      ...     return jnp.sum(jnp.abs(x1 - x2), axis=-1)
      >>> jaxloss.triplet_margin_with_distance_loss(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[0.5, 0.5]]), jnp.array([[1.0, 0.5]]),
      ...     distance_function=l1)
      Array(0.5, dtype=float32)
    """
    arrays = [
        _floating(name, value)
        for name, value in (
            ("anchors", anchors),
            ("positives", positives),
            ("negatives", negatives),
        )
    ]
    if not (arrays[0].ndim == arrays[1].ndim == arrays[2].ndim):
        raise ValueError(
            "anchors, positives and negatives must have the same number of dimensions, got "
            f"shapes {arrays[0].shape}, {arrays[1].shape} and {arrays[2].shape}"
        )
    Parameter("margin", low=0.0, low_open=True).check_concrete(margin)
    check_weights(weights)
    if distance_function is None:
        distance_function = functools.partial(pairwise_distance, norm_degree=2.0, eps=1e-6)
    anchor, positive, negative = (array.astype(compute_dtype(array.dtype)) for array in arrays)
    positive_distance = distance_function(anchor, positive)
    negative_distance = distance_function(anchor, negative)
    if swap:
        negative_distance = jnp.minimum(negative_distance, distance_function(positive, negative))
    loss = jnp.maximum(margin + positive_distance - negative_distance, 0)
    return reduce_checked(
        loss, reduction=reduction, weights=weights, where=where, none_dtype=arrays[0].dtype
    )
