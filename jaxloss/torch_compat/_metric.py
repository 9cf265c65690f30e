"""torch adapters of the metric-learning losses.

CosineEmbeddingLoss, TripletMarginLoss, TripletMarginWithDistanceLoss, and
``pairwise_distance`` (torch's default distance of the last).

* ``cosine_embedding_loss``, ``CosineEmbeddingLoss``: :func:`jaxloss.cosine_embedding`.
* ``triplet_margin_loss``, ``TripletMarginLoss``: torch's distance
  :math:`\\lVert a - p + \\epsilon\\rVert_p` (``eps`` added to the difference, where
  :func:`jaxloss.triplet_margin_loss` follows optax and adds it under the root), through
  :func:`jaxloss.triplet_margin_with_distance_loss` with :func:`pairwise_distance`,
  whose derivative is written in closed form.
* ``triplet_margin_with_distance_loss``, ``TripletMarginWithDistanceLoss``:
  :func:`jaxloss.triplet_margin_with_distance_loss`.

As elsewhere in ``torch_compat``: a mean over an empty batch is 0 (torch gives NaN),
bad shapes raise ``ValueError`` and bad dtypes ``TypeError`` (torch raises
``RuntimeError``), and the legacy ``size_average``/``reduce`` replace ``reduction``
with torch's warning. ``p = inf`` and ``p <= 0`` in the distances are not supported
(``ValueError``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss import cosine_embedding as _native_cosine_embedding
from jaxloss import triplet_margin_with_distance_loss as _native_triplet_with_distance
from jaxloss._metric import pairwise_distance as _native_pairwise_distance
from jaxloss._reduction import compute_dtype
from jaxloss.torch_compat._basic import _as_array, _checked_input, _Loss, _torch_reduction

__all__ = [
    "CosineEmbeddingLoss",
    "TripletMarginLoss",
    "TripletMarginWithDistanceLoss",
    "cosine_embedding_loss",
    "pairwise_distance",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]


def _check_norm_degree(p: float) -> float:
    if not isinstance(p, int | float) or isinstance(p, bool) or not 0 < p < math.inf:
        raise ValueError(f"p must be a finite number > 0, got {p!r}")
    return float(p)


def pairwise_distance(
    x1: ArrayLike, x2: ArrayLike, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> jax.Array:
    r"""``torch.nn.functional.pairwise_distance``: :math:`\lVert x_1 - x_2 + \epsilon\rVert_p`.

    Over the last axis (torch's, for inputs of the same shape), with its derivative
    written in closed form. Usable as ``distance_function``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.pairwise_distance(jnp.array([[3.0, 0.0]]), jnp.array([[0.0, 4.0]]), eps=0.0)
      Array([5.], dtype=float32)
    """
    first = _checked_input(x1)
    second = _as_array("x2", x2)
    _checks.check_floating("x2", second)
    _checks.check_same_shape("x1", first, "x2", second)
    if first.ndim == 0:
        raise ValueError("x1 must have a feature axis, got a scalar")
    distance = _native_pairwise_distance(first, second, _check_norm_degree(p), float(eps))
    return distance[..., None] if keepdim else distance


def _check_triplet(anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike) -> None:
    names = ("anchor", "positive", "negative")
    values = (anchor, positive, negative)
    arrays = [_as_array(name, value) for name, value in zip(names, values, strict=True)]
    for name, array in zip(names, arrays, strict=True):
        _checks.check_floating(name, array)
    if not arrays[0].ndim == arrays[1].ndim == arrays[2].ndim:
        # torch's message (a RuntimeError there).
        raise ValueError(
            "The anchor, positive, and negative tensors are expected to have the same number "
            f"of dimensions, but got: anchor {arrays[0].ndim}D, positive {arrays[1].ndim}D, "
            f"and negative {arrays[2].ndim}D inputs"
        )
    if arrays[0].ndim not in (1, 2):
        raise ValueError(f"anchor must be (D,) or (N, D), got shape {arrays[0].shape}")


def triplet_margin_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.triplet_margin_loss``.

    :math:`\max(d(a, p) - d(a, n) + m, 0)` with torch's
    :math:`d(x, y) = \lVert x - y + \epsilon\rVert_p`, and with ``swap``
    :math:`d(a, n) \to \min(d(a, n), d(p, n))`. ``margin <= 0`` raises ``ValueError``,
    as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.triplet_margin_loss(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]), eps=0.0)
      Array(0.58578..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_triplet(anchor, positive, negative)
    distance = functools.partial(
        _native_pairwise_distance, norm_degree=_check_norm_degree(p), eps=float(eps)
    )
    return _native_triplet_with_distance(
        anchor,
        positive,
        negative,
        distance_function=distance,
        margin=margin,
        swap=swap,
        reduction=native,
    )


def triplet_margin_with_distance_loss(
    anchor: ArrayLike,
    positive: ArrayLike,
    negative: ArrayLike,
    *,
    distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.triplet_margin_with_distance_loss``.

    ``distance_function`` maps two ``[..., D]`` batches to distances (any jax
    function; default :func:`pairwise_distance`). Like torch, no legacy arguments,
    and ``margin <= 0`` raises ``ValueError``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.triplet_margin_with_distance_loss(
      ...     jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]),
      ...     distance_function=lambda x, y: jnp.sum(jnp.abs(x - y), axis=-1))
      Array(0., dtype=float32)
    """
    native = _torch_reduction(None, None, reduction)
    _check_triplet(anchor, positive, negative)
    return _native_triplet_with_distance(
        anchor,
        positive,
        negative,
        distance_function=distance_function,
        margin=margin,
        swap=swap,
        reduction=native,
    )


def cosine_embedding_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.cosine_embedding_loss`` over :func:`jaxloss.cosine_embedding`.

    ``input1``, ``input2`` are ``(N, D)`` with ``target`` ``(N,)``, or ``(D,)`` with a
    scalar ``target``, as in torch. A target other than +-1 gives 0, as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.cosine_embedding_loss(
      ...     jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]), jnp.array([1.0]))
      Array(0.29289..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    first = _checked_input(input1)
    second = _as_array("input2", input2)
    target_array = _as_array("target", target)
    _checks.check_floating("input2", second)
    _checks.check_numeric("target", target_array)
    if target_array.ndim not in (0, 1) or first.ndim != target_array.ndim + 1:
        # torch's rule: a 0D target goes with 1D inputs, a 1D target with 2D inputs.
        raise ValueError(
            f"{target_array.ndim}D target tensor expects {target_array.ndim + 1}D input "
            f"tensors, but found inputs with sizes {first.shape} and {second.shape}"
            if target_array.ndim in (0, 1)
            else f"0D or 1D target tensor expected, multi-target not supported, "
            f"got target.shape={target_array.shape}"
        )
    _checks.check_same_shape("input1", first, "input2", second)
    if first.shape[:-1] != target_array.shape:
        raise ValueError(
            f"target must have shape {first.shape[:-1]} (one per pair of input1.shape="
            f"{first.shape}), got {target_array.shape}"
        )
    # The native loss joins torch's two cases linearly in the target; torch gives 0 for
    # a target other than +-1 and still counts it in the mean.
    losses = _native_cosine_embedding(first, second, target_array, margin=margin, reduction="none")
    losses = jnp.where(jnp.abs(target_array) == 1, losses, 0)
    if native == "none":
        return losses
    total = jnp.sum(losses, dtype=compute_dtype(losses.dtype))
    return total if native == "sum" else total / max(losses.size, 1)


class CosineEmbeddingLoss(_Loss):
    """``torch.nn.CosineEmbeddingLoss``; calls :func:`cosine_embedding_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.CosineEmbeddingLoss(margin=0.5, reduction="sum")
      >>> loss(jnp.array([[1.0, 0.0]]), jnp.array([[1.0, 1.0]]), jnp.array([-1.0]))
      Array(0.20710..., dtype=float32)
    """

    def __init__(
        self,
        margin: float = 0.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def __call__(self, input1: ArrayLike, input2: ArrayLike, target: ArrayLike) -> jax.Array:
        return cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class TripletMarginLoss(_Loss):
    """``torch.nn.TripletMarginLoss``; calls :func:`triplet_margin_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.TripletMarginLoss(margin=2.0, p=1.0, eps=0.0)
      >>> loss(jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
      Array(1., dtype=float32)
    """

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def __call__(self, anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike) -> jax.Array:
        return triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )


class TripletMarginWithDistanceLoss(_Loss):
    """``torch.nn.TripletMarginWithDistanceLoss``; calls :func:`triplet_margin_with_distance_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.TripletMarginWithDistanceLoss(swap=True)
      >>> loss(jnp.array([[0.0, 0.0]]), jnp.array([[0.0, 1.0]]), jnp.array([[1.0, 1.0]]))
      Array(1.00000..., dtype=float32)
    """

    def __init__(
        self,
        *,
        distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
        margin: float = 1.0,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction=reduction)
        self.distance_function = distance_function
        self.margin = margin
        self.swap = swap

    def __call__(self, anchor: ArrayLike, positive: ArrayLike, negative: ArrayLike) -> jax.Array:
        return triplet_margin_with_distance_loss(
            anchor,
            positive,
            negative,
            distance_function=self.distance_function,
            margin=self.margin,
            swap=self.swap,
            reduction=self.reduction,
        )
