"""The torch adapters of the first losses, and the argument translations every adapter shares."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss import binary_cross_entropy as _native_binary_cross_entropy
from jaxloss import huber as _native_huber
from jaxloss import mae as _native_mae
from jaxloss import mse as _native_mse
from jaxloss import sigmoid_binary_cross_entropy as _native_sigmoid_binary_cross_entropy
from jaxloss import smooth_l1 as _native_smooth_l1
from jaxloss import softmax_cross_entropy as _native_softmax_cross_entropy
from jaxloss import (
    softmax_cross_entropy_with_integer_labels as _native_integer_cross_entropy,
)
from jaxloss._checks import Reduction
from jaxloss._definition import LossDefinition, Parameter
from jaxloss._reduction import safe_divide

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
    "SmoothL1Loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "huber_loss",
    "l1_loss",
    "mse_loss",
    "nll_loss",
    "smooth_l1_loss",
]

# --------------------------------------------------------------------------------------
# Argument handling shared by every adapter.

_REDUCTIONS: dict[str, Reduction] = {"mean": "mean", "sum": "sum", "none": "none"}
# torch.nn._reduction's messages, word for word.
_LEGACY_WARNING = (
    "size_average and reduce args will be deprecated, please use reduction='{}' instead."
)
_ELEMENTWISE_MEAN_WARNING = (
    "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead."
)


def _legacy_or(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """torch's precedence: legacy arguments, when either is given, replace ``reduction``.

    The mapping is ``torch.nn._reduction.legacy_get_string``'s, truthiness included:
    a missing one counts as True, both true is ``"mean"``, only ``reduce`` true is
    ``"sum"``, ``reduce`` false is ``"none"``; torch's ``UserWarning`` comes with it.
    """
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        legacy = "mean"
    elif reduce:
        legacy = "sum"
    else:
        legacy = "none"
    warnings.warn(_LEGACY_WARNING.format(legacy), UserWarning, stacklevel=4)
    return legacy


def _torch_reduction(
    size_average: bool | None,
    reduce: bool | None,
    reduction: str,
    *,
    python_weighted_path: bool = False,
) -> Reduction:
    """The native reduction for torch's ``size_average``, ``reduce`` and ``reduction``.

    ``"elementwise_mean"`` warns and becomes ``"mean"`` (``torch.nn._reduction.get_enum``),
    except on torch's Python-side weighted path (``mse_loss``, ``l1_loss`` and
    ``huber_loss`` with ``weight``), which never calls ``get_enum`` and rejects it.
    """
    reduction = _legacy_or(size_average, reduce, reduction)
    if reduction == "elementwise_mean" and not python_weighted_path:
        warnings.warn(_ELEMENTWISE_MEAN_WARNING, UserWarning, stacklevel=3)
        return "mean"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


# Hyper-parameters under torch's names, checked here so that a message names torch's
# argument whatever the native loss calls it. Concrete values only: a traced one
# cannot be inspected (jaxloss.checked checks values under jit).
_DELTA = Parameter("delta", low=0.0, low_open=True)
_BETA = Parameter("beta", low=0.0)
_LABEL_SMOOTHING = Parameter("label_smoothing", low=0.0, high=1.0)
# torch accepts negative weights; the native losses refuse them, and so does the adapter.
_POS_WEIGHT = Parameter("pos_weight", low=0.0, optional=True)
_WEIGHT = Parameter("weight", low=0.0, optional=True)


def _as_array(name: str, value: ArrayLike) -> jax.Array:
    """``value`` as an array for the checks; a jax array as it is (``jnp.asarray``
    of one costs a dispatch, which the eager call would pay on every call)."""
    return value if isinstance(value, jax.Array) else _checks.as_array(name, value)


def _checked_input(input: ArrayLike) -> jax.Array:
    """torch's ``input`` as an array: every loss here differentiates it, so floating."""
    input_array = _as_array("input", input)
    _checks.check_floating("input", input_array)
    return input_array


def _checked_weight(parameter: Parameter, value: ArrayLike) -> jax.Array:
    """A real-valued ``weight`` or ``pos_weight``, in its range when concrete."""
    array = _as_array(parameter.name, value)
    _checks.check_numeric(parameter.name, array)
    parameter.check_concrete(value)
    return array


def _check_elementwise(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    *,
    weight_broadcasts: bool = False,
    pos_weight: ArrayLike | None = None,
) -> None:
    """An elementwise loss's arguments, under torch's names and as the caller shaped them.

    ``target`` has ``input``'s shape. ``weight`` has it too (``mse_loss``, ``l1_loss``,
    ``huber_loss``), or, with ``weight_broadcasts``, broadcasts to it without
    enlarging it, as ``pos_weight`` does (the binary cross-entropies).
    """
    input_array = _checked_input(input)
    target_array = _as_array("target", target)
    _checks.check_numeric("target", target_array)
    _checks.check_same_shape("input", input_array, "target", target_array)
    for parameter, value in ((_WEIGHT, weight), (_POS_WEIGHT, pos_weight)):
        if value is None:
            continue
        array = _checked_weight(parameter, value)
        if parameter is _POS_WEIGHT or weight_broadcasts:
            _checks.check_broadcastable(parameter.name, array, input_array.shape, "input")
        elif array.shape != input_array.shape:
            raise ValueError(
                "weight and input must have the same shape, "
                f"got weight.shape={array.shape} and input.shape={input_array.shape}"
            )


def _mean_over_elements(
    loss: Callable[..., jax.Array],
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Reduction,
    weight: ArrayLike | None,
    **options: Any,
) -> jax.Array:
    """A native elementwise loss with torch's weighted mean, ``sum(w * l) / N``.

    The native weighted ``"mean"`` is ``sum(w * l) / sum(w)``; torch's BCE losses and
    ``huber_loss`` divide by the element count ``N`` instead. A mean over no
    elements is 0, the native rule (torch gives NaN).
    """
    if weight is None or reduction != "mean":
        return loss(input, target, reduction=reduction, weights=weight, **options)
    total = loss(input, target, reduction="sum", weights=weight, **options)
    return total / max(math.prod(jnp.shape(input)), 1)


def _class_axis(input: ArrayLike) -> int:
    """torch's class dimension: 1, or 0 for an unbatched ``(C,)`` input."""
    return 0 if jnp.ndim(input) == 1 else 1


def _check_classes(
    input: ArrayLike, target: ArrayLike, weight: ArrayLike | None, *, probabilities: bool
) -> bool:
    """``cross_entropy``'s and ``nll_loss``'s arguments, in torch's layout and names.

    The checks run here, on the shapes the caller passed, before the native loss moves
    the class axis last: a message shows ``input``'s class axis where torch has it.
    With ``probabilities`` (``cross_entropy``) a ``target`` of ``input``'s shape holds
    class probabilities, which must be floating point, as in torch. Returns whether
    ``target`` holds class probabilities.
    """
    input_array = _checked_input(input)
    shape = input_array.shape
    if not shape:
        raise ValueError(
            "input must have a class axis, shape (C,), (N, C) or (N, C, d1, ...), got ()"
        )
    axis = _class_axis(input_array)
    if shape[axis] == 0:
        raise ValueError(
            f"input must have at least one class (axis {axis}), got input.shape={shape}"
        )
    target_array = _as_array("target", target)
    _checks.check_numeric("target", target_array)
    holds_probabilities = probabilities and target_array.shape == shape
    if holds_probabilities:
        if not jnp.issubdtype(target_array.dtype, jnp.floating):
            # torch's message, word for word but for the dtype's name.
            raise TypeError(
                "Expected floating point type for target with class probabilities, "
                f"got {target_array.dtype}"
            )
    else:
        label_shape = shape[:axis] + shape[axis + 1 :]
        if target_array.shape != label_shape:
            or_probabilities = f" or {shape} (class probabilities)" if probabilities else ""
            raise ValueError(
                f"target must have shape {label_shape} (class indices: input.shape={shape} "
                f"without its class axis {axis}){or_probabilities}, got {target_array.shape}"
            )
        _checks.check_integer("target", target_array)
    if weight is not None:
        _checks.check_shape(
            "weight",
            _checked_weight(_WEIGHT, weight),
            (shape[axis],),
            f"one weight per class of input.shape={shape}, class axis {axis}",
        )
    return holds_probabilities


def _class_weight_rows(weight: ArrayLike, input: ArrayLike, axis: int) -> jax.Array:
    """``weight[c]`` laid along the class axis and broadcast to ``input``'s shape."""
    shape = jnp.shape(input)
    along_axis = [1] * len(shape)
    along_axis[axis] = shape[axis]
    return jnp.broadcast_to(jnp.asarray(weight).reshape(along_axis), shape)


def _known_zero(value: ArrayLike) -> bool:
    """Whether ``value`` is 0 at trace time; a traced value (under jit, vmap) is not known."""
    if isinstance(value, int | float):
        return value == 0
    try:
        return bool(np.all(np.asarray(value) == 0))
    except jax.errors.TracerArrayConversionError:
        return False


# --------------------------------------------------------------------------------------
# Regression.


def mse_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""``torch.nn.functional.mse_loss`` over :func:`jaxloss.mse`.

    With ``weight`` (one per element, as in torch) ``"mean"`` is
    ``sum(w * l) / sum(w)``, torch's and the native rule alike. A ``target`` whose
    shape differs from ``input`` raises ``ValueError``; torch warns and broadcasts.
    A negative ``weight`` raises ``ValueError`` when concrete (torch accepts it).

    Args:
      input: predictions, any shape.
      target: same shape as ``input``.
      size_average, reduce: torch's deprecated arguments; either one, when given,
        replaces ``reduction`` (with torch's ``UserWarning``).
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
      weight: optional weights, same shape as ``input``.

    Returns:
      A scalar, or an array shaped like ``input`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.mse_loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))
      Array(2.5, dtype=float32)
    """
    native = _torch_reduction(
        size_average, reduce, reduction, python_weighted_path=weight is not None
    )
    _check_elementwise(input, target, weight)
    return _native_mse(input, target, reduction=native, weights=weight)


def l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""``torch.nn.functional.l1_loss`` over :func:`jaxloss.mae`.

    Arguments, weighted mean and shape rule as in :func:`mse_loss`. The gradient at
    a tie is 0, as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.l1_loss(jnp.array([1.0, -2.0]), jnp.array([0.0, 0.0]), reduction="sum")
      Array(3., dtype=float32)
    """
    native = _torch_reduction(
        size_average, reduce, reduction, python_weighted_path=weight is not None
    )
    _check_elementwise(input, target, weight)
    return _native_mae(input, target, reduction=native, weights=weight)


def huber_loss(
    input: ArrayLike,
    target: ArrayLike,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: ArrayLike | None = None,
) -> jax.Array:
    r"""``torch.nn.functional.huber_loss`` over :func:`jaxloss.huber`.

    torch's ``huber_loss`` has no legacy arguments. With ``weight`` (one per element)
    its ``"mean"`` is ``sum(w * l) / N`` over the ``N`` elements, unlike
    ``mse_loss``'s, and so is this one's. A non-positive ``delta`` raises
    ``ValueError`` naming ``delta`` (torch: ``RuntimeError``) when it is concrete; a
    traced one (under ``jit`` or ``vmap``) is not checked:
    ``jaxloss.checked(jaxloss.huber)`` checks it at run time. Shapes and ``weight``
    as in :func:`mse_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.huber_loss(
      ...     jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]), delta=2.0, weight=jnp.array([1.0, 0.0]))
      Array(0.0625, dtype=float32)
    """
    native = _torch_reduction(None, None, reduction, python_weighted_path=weight is not None)
    _check_elementwise(input, target, weight)
    _DELTA.check_concrete(delta)
    return _mean_over_elements(
        _native_huber, input, target, reduction=native, weight=weight, delta=delta
    )


def smooth_l1_loss(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> jax.Array:
    r"""``torch.nn.functional.smooth_l1_loss`` over :func:`jaxloss.smooth_l1`.

    ``beta = 0`` is the L1 loss, as in torch. A negative ``beta`` raises
    ``ValueError`` naming ``beta`` (torch: ``RuntimeError``) when it is concrete; a
    traced one is not checked: ``jaxloss.checked(jaxloss.smooth_l1)`` checks it at
    run time. Shapes as in :func:`mse_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.smooth_l1_loss(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]))
      Array(1.3125, dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_elementwise(input, target)
    _BETA.check_concrete(beta)
    return _native_smooth_l1(input, target, beta=beta, reduction=native)


# --------------------------------------------------------------------------------------
# Binary classification.


def binary_cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.binary_cross_entropy`` over :func:`jaxloss.binary_cross_entropy`.

    Logs are clamped at -100 and the gradient divides by ``max(p (1 - p), 1e-12)``,
    as in torch. ``weight`` rescales each element (it broadcasts to ``input``) and
    ``"mean"`` divides by the element count, torch's rule: the native ``"sum"``
    over ``N``. Probabilities outside ``[0, 1]`` give NaN where torch raises. A
    negative ``weight`` raises ``ValueError`` when concrete (torch accepts it).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.binary_cross_entropy(
      ...     jnp.array([0.9, 0.2]), jnp.array([1.0, 0.0]), weight=jnp.array([2.0, 0.0]))
      Array(0.105..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_elementwise(input, target, weight, weight_broadcasts=True)
    return _mean_over_elements(
        _native_binary_cross_entropy, input, target, reduction=native, weight=weight
    )


def binary_cross_entropy_with_logits(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: ArrayLike | None = None,
) -> jax.Array:
    r"""``torch.nn.functional.binary_cross_entropy_with_logits`` over the native sigmoid BCE.

    :func:`jaxloss.sigmoid_binary_cross_entropy` with ``pos_weight`` passed through
    and ``weight`` as in :func:`binary_cross_entropy` (``"mean"`` divides by the
    element count). ``weight`` and ``pos_weight`` must broadcast to ``input``'s shape
    without enlarging it: ``ValueError`` where torch raises ``RuntimeError``. A
    negative ``weight`` or ``pos_weight`` raises ``ValueError`` naming it when it is
    concrete (torch accepts both); a traced one is not checked:
    ``jaxloss.checked(jaxloss.sigmoid_binary_cross_entropy)`` checks ``weights`` and
    ``pos_weight`` at run time.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.binary_cross_entropy_with_logits(
      ...     jnp.array([0.0, 2.0]), jnp.array([0.0, 1.0]), pos_weight=jnp.array([1.0, 3.0]))
      Array(0.536..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_elementwise(input, target, weight, weight_broadcasts=True, pos_weight=pos_weight)
    return _mean_over_elements(
        _native_sigmoid_binary_cross_entropy,
        input,
        target,
        reduction=native,
        weight=weight,
        pos_weight=pos_weight,
    )


# --------------------------------------------------------------------------------------
# Multi-class classification (class axis 1, or 0 when unbatched).


def cross_entropy(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> jax.Array:
    r"""``torch.nn.functional.cross_entropy`` over the native softmax cross-entropies.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``. As in torch, a
    ``target`` of ``input``'s shape holds class probabilities, anything else
    integer class indices.

    *Class indices* go to :func:`jaxloss.softmax_cross_entropy_with_integer_labels`
    with ``class_weights=weight`` and ``where=(target != ignore_index)``: ignored
    targets add nothing and ``"mean"`` is ``sum(w[y] l) / sum(w[y])`` over the rest.
    With both ``weight`` and ``label_smoothing = a`` torch weights each smoothing term
    by its own class, which the native ``class_weights`` (one weight per example)
    cannot say; the adapter composes torch's formula from two native calls,

    .. math:: (1 - a)\,\mathrm{CE}_w(z, y) + \frac{a}{C}\,
              \frac{\sum_n \sum_c w_c\,(-\log p_{nc})}{\sum_n w_{y_n}},

    the first term the native integer-label loss with ``class_weights``, the second
    :func:`jaxloss.softmax_cross_entropy` against the (unnormalised) targets
    ``w_c``, summed, over the same ``sum(w[y])`` (plain sums for ``"sum"``, per
    example for ``"none"``).

    *Class probabilities* go to :func:`jaxloss.softmax_cross_entropy`; ``weight``
    multiplies each class's (smoothed) target and ``"mean"`` divides by the number
    of examples, torch's rule. ``ignore_index >= 0`` raises ``ValueError`` there, as
    torch raises. An integer or boolean ``target`` of ``input``'s shape is refused
    as in torch, with torch's message, as a ``TypeError`` (the house rule for a bad
    dtype; torch raises ``RuntimeError``).

    ``label_smoothing`` may be traced (swept under ``vmap``, an argument under
    ``jit``), with the values of the concrete path. A concrete one outside
    ``[0, 1]`` raises ``ValueError`` naming ``label_smoothing`` (torch raises only
    above 1), and a concrete negative ``weight`` raises ``ValueError`` naming
    ``weight`` (torch accepts it); traced values are not checked:
    ``jaxloss.checked(jaxloss.softmax_cross_entropy_with_integer_labels)`` checks
    them at run time. Shape and dtype errors name ``input``, ``target`` and
    ``weight`` and show the shapes as passed, class axis 1.

    Differences from torch: a ``"mean"`` over no kept targets is 0 (torch: NaN), and
    so is a ``"mean"`` whose kept targets' weights ``weight[y]`` sum to 0, with
    gradient 0 (torch: ``0 / 0 = NaN``); a class index outside ``[0, C)`` that is not
    ``ignore_index`` gives a NaN loss (torch raises ``IndexError``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
      >>> torch_compat.cross_entropy(logits, jnp.array([0, -100]))
      Array(0.169..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    holds_probabilities = _check_classes(input, target, weight, probabilities=True)
    _LABEL_SMOOTHING.check_concrete(label_smoothing)
    if jnp.ndim(label_smoothing) != 0:
        raise ValueError(
            f"label_smoothing must be a scalar, got shape {jnp.shape(label_smoothing)}"
        )
    axis = _class_axis(input)
    num_classes = jnp.shape(input)[axis]
    if holds_probabilities:
        if ignore_index >= 0:
            raise ValueError("ignore_index is not supported for class-probability targets")
        if weight is None:
            return _native_softmax_cross_entropy(
                input, target, axis=axis, label_smoothing=label_smoothing, reduction=native
            )
        # Smoothing first, then the class weight: torch's order.
        target_array = jnp.asarray(target)
        smoothing = _same_dtype(label_smoothing, target_array.dtype)
        smoothed = (1 - smoothing) * target_array + smoothing / num_classes
        weighted = _class_weight_rows(weight, input, axis) * smoothed
        return _native_softmax_cross_entropy(input, weighted, axis=axis, reduction=native)

    keep = jnp.asarray(target) != ignore_index
    # Only a smoothing known to be 0 takes the one-call path: a traced one (a sweep
    # under vmap, an argument under jit) cannot be compared in Python, so it takes the
    # composed formula, which at 0 is the same value, 1 * CE_w + 0 * (the smoothing
    # sum), as long as that sum is finite (a -inf logit makes it inf, and 0 * inf NaN).
    if weight is None or _known_zero(label_smoothing):
        return _native_integer_cross_entropy(
            input,
            target,
            axis=axis,
            label_smoothing=label_smoothing,
            class_weights=weight,
            reduction=native,
            where=keep,
        )
    nll_term = _native_integer_cross_entropy(
        input, target, axis=axis, class_weights=weight, reduction=native, where=keep
    )
    smoothing_term = _native_softmax_cross_entropy(
        input,
        _class_weight_rows(weight, input, axis),
        axis=axis,
        reduction="sum" if native == "mean" else native,
        where=keep,
    )
    if native == "mean":
        # torch normalises the smoothing term by the kept labels' weights, nll_loss's rule.
        label_weights = jnp.take(jnp.asarray(weight), jnp.asarray(target), mode="clip")
        total = jnp.sum(jnp.where(keep, label_weights, 0)).astype(smoothing_term.dtype)
        smoothing_term = safe_divide(smoothing_term, total)
    smoothing = _same_dtype(label_smoothing, nll_term.dtype)
    return (1 - smoothing) * nll_term + (smoothing / num_classes) * smoothing_term


def _same_dtype(value: ArrayLike, dtype: Any) -> float | jax.Array:
    """A Python number as it is (weakly typed); an array cast to ``dtype``."""
    if isinstance(value, int | float):
        return value
    return jnp.asarray(value).astype(dtype)


def _negative_log_likelihood(log_probabilities: jax.Array, labels: jax.Array):
    # A gather, not log_softmax: nll_loss does not renormalise its input, and its
    # gradient is -onehot(y), where the softmax cross-entropy's is softmax(z) - onehot(y).
    num_classes = log_probabilities.shape[-1]
    picked = jnp.take_along_axis(log_probabilities, labels[..., None], axis=-1, mode="clip")
    valid = (labels >= 0) & (labels < num_classes)
    value = jnp.where(valid, -picked[..., 0], jnp.nan)
    classes = jax.lax.broadcasted_iota(labels.dtype, log_probabilities.shape, labels.ndim)
    one_hot_rows = (labels[..., None] == classes).astype(log_probabilities.dtype)
    return value, (-one_hot_rows, None)


# torch's nll_loss through the native front end (checks, class weights, the reduction
# rule); not a native loss, so it is not in jaxloss.registry.
_NEGATIVE_LOG_LIKELIHOOD = LossDefinition(
    name="nll_loss",
    value_and_partials=_negative_log_likelihood,
    curvature=lambda log_probabilities, labels, vector: jnp.zeros_like(vector),
    domain="real",
    target_kind="labels",
    link="softmax",
    per_example=True,
    class_axis=True,
    class_weights=True,
    gradient_doc="",
    hessian_doc="",
)


@_NEGATIVE_LOG_LIKELIHOOD.public
def nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    weight: ArrayLike | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.nll_loss``: ``-input[n, y_n]`` under the native reduction rule.

    ``input`` holds log-probabilities, ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``.
    This is *not* the native integer-label cross-entropy: that one applies
    ``log_softmax`` first, which changes the gradient (``softmax(x) - onehot(y)``
    instead of ``-onehot(y)``) and the value of an unnormalised input. So the
    unreduced loss here is a gather, ``-input[n, y_n]``, run through the same front
    end as every native loss (shape and dtype checks, ``class_weights=weight``,
    ``where=(target != ignore_index)``, float32 accumulation), hence torch's
    ``"mean"``: ``sum(w[y] l) / sum(w[y])`` over the kept targets.

    Differences from torch as in :func:`cross_entropy`: a ``"mean"`` over no kept
    targets, or over kept targets whose weights ``weight[y]`` sum to 0, is 0 with
    gradient 0 (torch: NaN); an out-of-range index gives NaN; a concrete negative
    ``weight`` raises ``ValueError`` (torch accepts it; a traced one is not checked).
    Errors name ``input``, ``target`` and ``weight`` and show the shapes as passed.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> log_probabilities = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
      >>> torch_compat.nll_loss(log_probabilities, jnp.array([0, 1]), reduction="none")
      Array([0.693..., 0.223...], dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction)
    _check_classes(input, target, weight, probabilities=False)
    return _NEGATIVE_LOG_LIKELIHOOD.run(
        "loss",
        input,
        target,
        reduction=native,
        where=jnp.asarray(target) != ignore_index,
        axis=_class_axis(input),
        class_weights=weight,
    )


# --------------------------------------------------------------------------------------
# torch.nn-style classes: store the constructor's arguments, call the functional form.


class _Loss:
    """Like ``torch.nn.modules.loss._Loss``: legacy arguments are resolved, with
    torch's warning, when the loss is built; ``reduction`` is checked when it is called."""

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        self.reduction = _legacy_or(size_average, reduce, reduction)

    def __repr__(self) -> str:
        options = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({options})"


class MSELoss(_Loss):
    """``torch.nn.MSELoss``; calls :func:`mse_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.MSELoss(reduction="sum")
      >>> loss(jnp.array([1.0, 2.0]), jnp.array([0.0, 0.0]))
      Array(5., dtype=float32)
    """

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """``torch.nn.L1Loss``; calls :func:`l1_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.L1Loss()(jnp.array([1.0, -2.0]), jnp.array([0.0, 0.0]))
      Array(1.5, dtype=float32)
    """

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """``torch.nn.HuberLoss(reduction, delta)``; calls :func:`huber_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.HuberLoss(delta=2.0)(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0]))
      Array(2.0625, dtype=float32)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """``torch.nn.SmoothL1Loss``; calls :func:`smooth_l1_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.SmoothL1Loss(beta=0.5)(jnp.array([0.25, 3.0]), jnp.array([0.0, 0.0]))
      Array(1.40625, dtype=float32)
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class BCELoss(_Loss):
    """``torch.nn.BCELoss``; calls :func:`binary_cross_entropy`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.BCELoss()(jnp.array([0.9, 0.2]), jnp.array([1.0, 0.0]))
      Array(0.164..., dtype=float32)
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
        return binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``torch.nn.BCEWithLogitsLoss``; calls :func:`binary_cross_entropy_with_logits`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.BCEWithLogitsLoss(pos_weight=jnp.array([1.0, 3.0]))
      >>> loss(jnp.array([0.0, 2.0]), jnp.array([0.0, 1.0]))
      Array(0.536..., dtype=float32)
    """

    def __init__(
        self,
        weight: ArrayLike | None = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: ArrayLike | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class CrossEntropyLoss(_Loss):
    """``torch.nn.CrossEntropyLoss``; calls :func:`cross_entropy`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.CrossEntropyLoss(weight=jnp.array([1.0, 2.0, 1.0]),
      ...                                      label_smoothing=0.1)
      >>> loss(jnp.array([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]]), jnp.array([0, 1]))
      Array(0.513..., dtype=float32)
    """

    def __init__(
        self,
        weight: ArrayLike | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_Loss):
    """``torch.nn.NLLLoss``; calls :func:`nll_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> log_probabilities = jnp.log(jnp.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1]]))
      >>> torch_compat.NLLLoss(ignore_index=1)(log_probabilities, jnp.array([0, 1]))
      Array(0.693..., dtype=float32)
    """

    def __init__(
        self,
        weight: ArrayLike | None = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.ignore_index = ignore_index

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return nll_loss(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
        )
