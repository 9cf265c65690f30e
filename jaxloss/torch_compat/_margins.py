r"""torch adapters of the margin losses.

* ``soft_margin_loss``, ``SoftMarginLoss``: :func:`jaxloss.soft_margin`
* ``hinge_embedding_loss``, ``HingeEmbeddingLoss``: :func:`jaxloss.hinge_embedding`
* ``margin_ranking_loss``, ``MarginRankingLoss``: :func:`jaxloss.margin_ranking`
* ``multi_margin_loss``, ``MultiMarginLoss``: :func:`jaxloss.multi_margin`
* ``multilabel_margin_loss``, ``MultiLabelMarginLoss``: :func:`jaxloss.multilabel_margin`
  on the multi-hot rows of torch's padded index lists
* ``multilabel_soft_margin_loss``, ``MultiLabelSoftMarginLoss``:
  :func:`jaxloss.multilabel_soft_margin`, or with ``weight``
  :func:`jaxloss.sigmoid_binary_cross_entropy` averaged over the classes

The translations of ``jaxloss.torch_compat`` apply (legacy ``size_average`` and
``reduce``, errors naming torch's arguments, a ``"mean"`` over nothing is 0 where torch's
elementwise losses give NaN). Where these differ from torch on purpose:
``soft_margin_loss`` is exact where torch's ``log1p(exp(-y x))`` overflows to ``inf``
(and its gradient to NaN); ``hinge_embedding_loss`` reads a target by its sign (torch
adds both terms for a target that is neither 1 nor -1); ``multilabel_margin_loss``
counts a class listed twice once (torch counts it twice) and gives NaN for an index
``>= C`` (torch raises).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss import hinge_embedding as _native_hinge_embedding
from jaxloss import margin_ranking as _native_margin_ranking
from jaxloss import multi_margin as _native_multi_margin
from jaxloss import multilabel_margin as _native_multilabel_margin
from jaxloss import multilabel_soft_margin as _native_multilabel_soft_margin
from jaxloss import sigmoid_binary_cross_entropy as _native_sigmoid_binary_cross_entropy
from jaxloss import soft_margin as _native_soft_margin
from jaxloss._classification import _one_hot
from jaxloss.torch_compat._basic import (
    _WEIGHT,
    _as_array,
    _check_elementwise,
    _checked_input,
    _checked_weight,
    _Loss,
    _torch_reduction,
)

__all__ = [
    "HingeEmbeddingLoss",
    "MarginRankingLoss",
    "MultiLabelMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "SoftMarginLoss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "soft_margin_loss",
]


def _check_vector_or_matrix(input: ArrayLike) -> jax.Array:
    """torch's multi-class margin losses take ``(C,)`` or ``(N, C)``."""
    input_array = _checked_input(input)
    if input_array.ndim not in (1, 2):
        raise ValueError(
            f"input must have shape (C,) or (N, C), got input.shape={input_array.shape}"
        )
    return input_array


def _check_p(p: object) -> None:
    if p not in (1, 2):
        # torch's message, word for word.
        raise ValueError("only p == 1 and p == 2 supported")


def _check_one_dimensional_weight(weight: ArrayLike | None) -> None:
    if weight is not None and jnp.ndim(weight) != 1:
        raise ValueError(f"weight must be one-dimensional, got shape {jnp.shape(weight)}")


# --------------------------------------------------------------------------------------
# Functional forms.


def soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.soft_margin_loss`` over :func:`jaxloss.soft_margin`.

    :math:`\log(1 + e^{-y x})` per element. Exact at any margin, where torch's
    ``log1p(exp(-y x))`` overflows to ``inf`` once :math:`-yx > 88` in float32 (and
    its gradient to NaN). A ``target`` of another shape raises ``ValueError``; a
    ``"mean"`` over no elements is 0 (torch: NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.soft_margin_loss(jnp.array([0.0, 100.0]), jnp.array([1.0, -1.0]))
      Array(50.34..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_elementwise(input, target)
    return _native_soft_margin(input, target, reduction=native)


def hinge_embedding_loss(
    input: ArrayLike,
    target: ArrayLike,
    margin: float = 1.0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.hinge_embedding_loss`` over :func:`jaxloss.hinge_embedding`.

    :math:`x` where :math:`y = 1`, :math:`\max(0, \Delta - x)` where :math:`y = -1`,
    with the slope -1 at the kink :math:`x = \Delta` as in torch. A target is read by
    its sign; torch adds both terms for one that is neither 1 nor -1. A ``target`` of
    another shape raises ``ValueError``; a ``"mean"`` over no elements is 0 (torch:
    NaN); a non-finite ``margin`` raises ``ValueError``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.hinge_embedding_loss(
      ...     jnp.array([0.5, 0.5, 2.0]), jnp.array([1.0, -1.0, -1.0]), reduction="none")
      Array([0.5, 0.5, 0. ], dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_elementwise(input, target)
    return _native_hinge_embedding(input, target, margin=margin, reduction=native)


def margin_ranking_loss(
    input1: ArrayLike,
    input2: ArrayLike,
    target: ArrayLike,
    margin: float = 0,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.margin_ranking_loss`` over :func:`jaxloss.margin_ranking`.

    :math:`\max(0, -y (x_1 - x_2) + \Delta)` per element, differentiable in
    ``input1``, ``input2`` and ``target``, with the full slope at the kink as in torch.
    The three inputs must have the same shape (``ValueError``; torch broadcasts inputs
    of the same number of dimensions); a ``"mean"`` over no elements is 0 (torch: NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.margin_ranking_loss(
      ...     jnp.array([1.0, 3.0]), jnp.array([2.0, 1.0]), jnp.array([1.0, -1.0]), margin=0.5)
      Array(2., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    first = _checked_input(input1)
    arrays = {"input1": first, "input2": _as_array("input2", input2)}
    arrays["target"] = _as_array("target", target)
    _checks.check_floating("input2", arrays["input2"])
    _checks.check_numeric("target", arrays["target"])
    if not arrays["input2"].shape == arrays["target"].shape == first.shape:
        shapes = ", ".join(f"{name}.shape={array.shape}" for name, array in arrays.items())
        raise ValueError(f"input1, input2 and target must have the same shape, got {shapes}")
    return _native_margin_ranking(input1, input2, target, margin=margin, reduction=native)


def multi_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    p: int = 1,
    margin: float = 1.0,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.multi_margin_loss`` over :func:`jaxloss.multi_margin`.

    :math:`\frac1C\sum_{c \ne y} w_y \max(0, \Delta - x_y + x_c)^p` per example, for
    ``input`` ``(C,)`` with a 0-d ``target`` or ``(N, C)`` with ``(N,)``. As in torch,
    ``weight[y]`` multiplies an example's loss and ``"mean"`` divides by the number of
    examples, not by the summed weights; only ``p`` 1 and 2 are accepted
    (``ValueError``, torch's message). A label outside ``[0, C)`` gives NaN (torch
    raises); bad shapes and dtypes raise ``ValueError`` and ``TypeError``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.multi_margin_loss(
      ...     jnp.array([[1.0, 2.0, 0.0], [3.0, 0.0, 2.5]]), jnp.array([0, 0]), p=2,
      ...     weight=jnp.array([2.0, 1.0, 1.0]))
      Array(1.416..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_p(p)
    _check_one_dimensional_weight(weight)
    input_array = _check_vector_or_matrix(input)
    target_array = _as_array("target", target)
    _checks.check_integer("target", target_array)
    _checks.check_shape(
        "target",
        target_array,
        input_array.shape[:-1],
        f"input.shape={input_array.shape} without its class axis",
    )
    if weight is not None:
        _checks.check_shape(
            "weight",
            _checked_weight(_WEIGHT, weight),
            input_array.shape[-1:],
            f"one weight per class of input.shape={input_array.shape}",
        )
    options = {"p": p, "margin": margin, "class_weights": weight}
    if weight is None or native != "mean":
        return _native_multi_margin(input, target, reduction=native, **options)
    # torch's weighted mean divides by the number of examples, the native one by sum(w).
    total = _native_multi_margin(input, target, reduction="sum", **options)
    return total / max(math.prod(input_array.shape[:-1]), 1)


def _multi_hot(target: jax.Array, num_classes: int, dtype) -> jax.Array:
    """torch's padded index lists as multi-hot rows; NaN rows where an index is ``>= C``.

    Only the indices before the first negative one count, as in torch's kernel.
    """
    listed = jnp.cumsum(target < 0, axis=-1) == 0
    indices = jnp.where(listed, target, -1)
    multi_hot = jnp.max(_one_hot(indices, num_classes, dtype), axis=-2, initial=0)
    out_of_range = jnp.any(listed & (target >= num_classes), axis=-1, keepdims=True)
    return jnp.where(out_of_range, jnp.nan, multi_hot).astype(dtype)


def multilabel_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.multilabel_margin_loss`` over :func:`jaxloss.multilabel_margin`.

    ``target`` holds, per example, the indices of the target classes, padded with -1:
    only those before the first negative entry count. They become a multi-hot row for
    the native loss, :math:`\frac1C\sum_{j \in T}\sum_{i \notin T}\max(0, 1 - x_j + x_i)`.
    A class listed twice counts once (torch counts it twice); an index ``>= C`` makes
    the example's loss NaN (torch raises). ``input`` is ``(C,)`` or ``(N, C)``,
    ``target`` integer and of the same shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.multilabel_margin_loss(
      ...     jnp.array([[0.1, 0.2, 0.4, 0.8]]), jnp.array([[3, 0, -1, 1]]))
      Array(0.85, dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    input_array = _check_vector_or_matrix(input)
    target_array = _as_array("target", target)
    _checks.check_integer("target", target_array)
    _checks.check_same_shape("input", input_array, "target", target_array)
    multi_hot = _multi_hot(jnp.asarray(target_array), input_array.shape[-1], input_array.dtype)
    return _native_multilabel_margin(input, multi_hot, reduction=native)


def multilabel_soft_margin_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.multilabel_soft_margin_loss`` over the native losses.

    The sigmoid cross-entropy averaged over the last (class) axis, one value per
    example: :func:`jaxloss.multilabel_soft_margin`, or with ``weight`` (broadcast to
    ``input`` without enlarging it, usually one per class)
    :func:`jaxloss.sigmoid_binary_cross_entropy` with ``weights=weight``, summed over
    the classes and divided by :math:`C`, as torch does. Exact at logits of any size.
    ``reduction="elementwise_mean"`` raises ``ValueError``, as torch's Python
    implementation does. A ``"mean"`` over no examples is 0 (torch: NaN).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.multilabel_soft_margin_loss(
      ...     jnp.array([[0.0, 2.0]]), jnp.array([[1.0, 0.0]]), weight=jnp.array([1.0, 0.0]))
      Array(0.346..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction, python_weighted_path=True)
    _check_elementwise(input, target, weight, weight_broadcasts=True)
    if jnp.ndim(input) == 0:
        raise ValueError("input must have a class axis, got a scalar")
    if weight is None:
        return _native_multilabel_soft_margin(input, target, reduction=native)
    shape = jnp.shape(input)
    num_classes = max(shape[-1], 1)
    if native == "none":
        per_class = _native_sigmoid_binary_cross_entropy(
            input, target, weights=weight, reduction="none"
        )
        return jnp.sum(per_class, axis=-1) / num_classes
    total = _native_sigmoid_binary_cross_entropy(input, target, weights=weight, reduction="sum")
    if native == "sum":
        return total / num_classes
    return total / (num_classes * max(math.prod(shape[:-1]), 1))


# --------------------------------------------------------------------------------------
# torch.nn-style classes: store the constructor's arguments, call the functional form.


class SoftMarginLoss(_Loss):
    """``torch.nn.SoftMarginLoss``; calls :func:`soft_margin_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.SoftMarginLoss(reduction="sum")(jnp.array([0.0]), jnp.array([1.0]))
      Array(0.693..., dtype=float32)
    """

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """``torch.nn.HingeEmbeddingLoss``; calls :func:`hinge_embedding_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.HingeEmbeddingLoss(margin=2.0)
      >>> loss(jnp.array([0.5, 0.5]), jnp.array([1.0, -1.0]))
      Array(1., dtype=float32)
    """

    def __init__(
        self,
        margin: float = 1.0,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``torch.nn.MarginRankingLoss``; calls :func:`margin_ranking_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.MarginRankingLoss(margin=1.0, reduction="none")
      >>> loss(jnp.array([1.0, 3.0]), jnp.array([2.0, 1.0]), jnp.array([1.0, 1.0]))
      Array([2., 0.], dtype=float32)
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
        return margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )


class MultiMarginLoss(_Loss):
    """``torch.nn.MultiMarginLoss``; calls :func:`multi_margin_loss`.

    ``p`` other than 1 or 2, or a ``weight`` that is not one-dimensional, raises
    ``ValueError`` when the loss is built, as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.MultiMarginLoss(margin=0.5)
      >>> loss(jnp.array([[1.0, 2.0, 0.0]]), jnp.array([0]))
      Array(0.5, dtype=float32)
    """

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: ArrayLike | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        _check_p(p)
        _check_one_dimensional_weight(weight)
        self.p = p
        self.margin = margin
        self.weight = weight

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=self.weight,
            reduction=self.reduction,
        )


class MultiLabelMarginLoss(_Loss):
    """``torch.nn.MultiLabelMarginLoss``; calls :func:`multilabel_margin_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.MultiLabelMarginLoss()
      >>> loss(jnp.array([0.1, 0.2, 0.4, 0.8]), jnp.array([3, 0, -1, 1]))
      Array(0.85, dtype=float32)
    """

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multilabel_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_Loss):
    """``torch.nn.MultiLabelSoftMarginLoss``; calls :func:`multilabel_soft_margin_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.MultiLabelSoftMarginLoss()
      >>> loss(jnp.array([[0.0, 2.0]]), jnp.array([[1.0, 0.0]]))
      Array(1.41..., dtype=float32)
    """

    def __init__(
        self,
        weight: ArrayLike | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return multilabel_soft_margin_loss(
            input, target, weight=self.weight, reduction=self.reduction
        )
