"""The one reduction, weighting, masking and precision rule that every loss follows.

A loss is computed in two steps: a *core* gives the unreduced loss (one value per
element, or per example for the cross-entropies), then :func:`reduce` applies

* ``where``: masked entries contribute exactly 0 to the value and to the gradient;
* ``weights``: broadcast to the unreduced loss and multiplied in;
* ``reduction``: ``"none"`` returns ``w * l``, ``"sum"`` returns ``sum(w * l)`` and
  ``"mean"`` returns ``sum(w * l) / sum(w)``, the sums running over unmasked entries
  (``sum(w)`` is the unmasked count when there are no weights). A mean over nothing
  (everything masked, or an empty input) is 0 with gradient 0, never NaN.

Precision: float16 and bfloat16 inputs are computed and accumulated in float32;
reduced results come back in float32, ``"none"`` results in the input dtype.

The closed-form gradients apply the same rule through :func:`reduction_scale`, the
derivative of the reduced value with respect to each unreduced entry.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxloss import _checks

# Masked inputs are replaced by this value before the core runs, so that an inf or
# NaN hidden under the mask cannot leak into the gradient as 0 * inf = NaN.
_MASKED_FILL = 0.5


def compute_dtype(dtype: Any) -> jnp.dtype:
    """Half precision is widened to float32; float32 and float64 are kept."""
    dtype = jnp.dtype(dtype)
    if dtype in (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16)):
        return jnp.dtype(jnp.float32)
    return dtype


def _safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    # The inner where keeps the untaken branch finite, so its gradient is 0, not NaN.
    is_zero = denominator == 0
    return jnp.where(is_zero, 0, numerator / jnp.where(is_zero, 1, denominator))


def _effective_weights(
    shape: tuple[int, ...], dtype: Any, weights: jax.Array | None, where: jax.Array | None
) -> jax.Array | None:
    """``weights * where`` broadcast to ``shape``, or None when both are absent."""
    if weights is None and where is None:
        return None
    effective = jnp.ones(shape, dtype) if weights is None else jnp.broadcast_to(weights, shape)
    if where is not None:
        effective = jnp.where(jnp.broadcast_to(where, shape), effective, 0)
    return effective


def reduce(
    loss: jax.Array,
    *,
    reduction: str,
    weights: jax.Array | None,
    where: jax.Array | None,
    none_dtype: Any,
) -> jax.Array:
    """Reduces an unreduced loss by the module's rule (see the module docstring)."""
    if where is not None:
        loss = jnp.where(jnp.broadcast_to(where, loss.shape), loss, 0)
    effective = _effective_weights(loss.shape, loss.dtype, weights, where)
    weighted = loss if effective is None else loss * effective
    if reduction == "none":
        return weighted.astype(none_dtype)
    total = jnp.sum(weighted)
    if reduction == "sum":
        return total
    if effective is None:
        return total / max(loss.size, 1)
    return _safe_divide(total, jnp.sum(effective))


def reduction_scale(
    shape: tuple[int, ...],
    dtype: Any,
    *,
    reduction: str,
    weights: jax.Array | None,
    where: jax.Array | None,
) -> jax.Array:
    """The derivative of :func:`reduce`'s result with respect to each unreduced entry.

    For ``"none"`` it is the derivative of each entry with respect to itself.
    """
    effective = _effective_weights(shape, dtype, weights, where)
    if reduction != "mean":
        return jnp.ones(shape, dtype) if effective is None else effective
    if effective is None:
        return jnp.full(shape, 1 / max(int(np.prod(shape)), 1), dtype)
    return _safe_divide(effective, jnp.sum(effective))


def elementwise_custom_jvp(
    value_and_partials: Callable[..., tuple[jax.Array, Sequence[jax.Array | None]]],
) -> Callable[..., jax.Array]:
    """Makes an elementwise core whose derivative is the closed form it returns.

    ``value_and_partials(*args)`` returns the loss and its partial derivative with
    respect to each argument (None for an integer argument). The rule is written in
    jnp operations, so forward mode and higher derivatives keep working.
    """

    @jax.custom_jvp
    def core(*args: jax.Array) -> jax.Array:
        return value_and_partials(*args)[0]

    def rule(primals: tuple[jax.Array, ...], tangents: tuple[Any, ...]):
        value, partials = value_and_partials(*primals)
        tangent_out = jnp.zeros_like(value)
        for partial, tangent in zip(partials, tangents, strict=True):
            # Skipping symbolic zeros keeps an infinite partial (say d/dtarget at an
            # infinite logit) from turning into 0 * inf = NaN when it is not asked for.
            if partial is None or isinstance(tangent, SymbolicZero):
                continue
            tangent_out = tangent_out + partial * tangent
        return value, tangent_out

    core.defjvp(rule, symbolic_zeros=True)
    return core


# --------------------------------------------------------------------------------------
# The front end every loss goes through: validate at trace time, then one jitted call.


class Validated:
    """Validated, array-converted arguments of a loss call."""

    def __init__(
        self,
        first: jax.Array,
        second: jax.Array,
        loss_shape: tuple[int, ...],
        weights: jax.Array | None,
        where: jax.Array | None,
    ) -> None:
        self.first = first
        self.second = second
        self.loss_shape = loss_shape
        self.weights = weights
        self.where = where


def validate(
    first_name: str,
    first: ArrayLike,
    second_name: str,
    second: ArrayLike,
    *,
    reduction: str,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    second_kind: str = "same_shape",
    per_example: bool = False,
    axis: int | None = None,
) -> Validated:
    """Checks a loss call's arguments; raises before anything is computed.

    ``second_kind`` is ``"same_shape"`` (targets shaped like ``first``) or
    ``"labels"`` (integer class indices shaped like ``first`` without its last axis).
    ``per_example`` says the unreduced loss drops ``first``'s last (class) axis.
    ``axis``, when given, is the class axis: it is moved last in ``first`` (and in
    same-shape targets) before anything else is checked.
    """
    _checks.check_reduction(reduction)
    first_array = _checks.as_array(first_name, first)
    second_array = _checks.as_array(second_name, second)
    _checks.check_floating(first_name, first_array)
    if axis is not None and first_array.ndim > 0:
        class_axis = _checks.check_axis(axis, first_array.ndim)
        if class_axis != first_array.ndim - 1:
            first_array = jnp.moveaxis(first_array, class_axis, -1)
            if second_kind == "same_shape" and second_array.ndim == first_array.ndim:
                second_array = jnp.moveaxis(second_array, class_axis, -1)
    if second_kind == "labels":
        _checks.check_integer(second_name, second_array)
        if first_array.ndim == 0:
            raise ValueError(f"{first_name} must have a class axis, got a scalar")
        _checks.check_shape(
            second_name,
            second_array,
            first_array.shape[:-1],
            f"{first_name}.shape={first_array.shape} without its class axis",
        )
    else:
        _checks.check_numeric(second_name, second_array)
        _checks.check_same_shape(first_name, first_array, second_name, second_array)
        if not jnp.issubdtype(second_array.dtype, jnp.floating):
            # Integer or boolean targets (0/1 labels) are values here, not class indices.
            second_array = second_array.astype(first_array.dtype)
    if per_example and first_array.ndim == 0:
        raise ValueError(f"{first_name} must have a class axis, got a scalar")
    loss_shape = first_array.shape[:-1] if per_example else first_array.shape

    weights_array = None
    if weights is not None:
        weights_array = as_checked_array("weights", weights)
        _checks.check_broadcastable("weights", weights_array, loss_shape)
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss_shape)
    return Validated(first_array, second_array, loss_shape, weights_array, where_array)


def _prepare(
    first: jax.Array,
    second: jax.Array,
    params: tuple[Any, ...],
    weights: jax.Array | None,
    where: jax.Array | None,
    per_example: bool,
) -> tuple[jax.Array, jax.Array, tuple[jax.Array, ...], jax.Array | None, jax.Array | None]:
    """Casts to the compute dtype and replaces masked inputs by a harmless value."""
    dtype = compute_dtype(first.dtype)
    first = first.astype(dtype)
    second_is_float = jnp.issubdtype(second.dtype, jnp.floating)
    if second_is_float:
        second = second.astype(dtype)
    cast_params = tuple(jnp.asarray(param).astype(dtype) for param in params)
    loss_shape = first.shape[:-1] if per_example else first.shape
    if weights is not None:
        weights = jnp.broadcast_to(weights.astype(dtype), loss_shape)
    if where is not None:
        where = jnp.broadcast_to(where, loss_shape)
        input_mask = where[..., None] if per_example else where
        first = jnp.where(input_mask, first, _MASKED_FILL)
        if second_is_float and second.shape == first.shape:
            second = jnp.where(input_mask, second, _MASKED_FILL)
        elif not second_is_float and second.shape == loss_shape:
            second = jnp.where(where, second, 0)
        elif not second_is_float and second.shape == loss_shape[:-1]:
            # Labels of an elementwise class loss: a fully masked row (padding, often
            # labelled -1) gets a valid label, so it cannot leak NaN into the gradient.
            second = jnp.where(jnp.any(where, axis=-1), second, 0)
    return first, second, cast_params, weights, where


def apply_loss(
    core: Callable[..., jax.Array],
    first: jax.Array,
    second: jax.Array,
    params: tuple[Any, ...],
    weights: jax.Array | None,
    where: jax.Array | None,
    *,
    reduction: str,
    per_example: bool,
) -> jax.Array:
    """Runs ``core(first, second, *params)`` and reduces it."""
    input_dtype = first.dtype
    first, second, params, weights, where = _prepare(
        first, second, params, weights, where, per_example
    )
    loss = core(first, second, *params)
    return reduce(loss, reduction=reduction, weights=weights, where=where, none_dtype=input_dtype)


def apply_derivative(
    derivative: Callable[..., jax.Array],
    first: jax.Array,
    second: jax.Array,
    params: tuple[Any, ...],
    weights: jax.Array | None,
    where: jax.Array | None,
    *,
    reduction: str,
    per_example: bool,
) -> jax.Array:
    """A closed-form derivative: ``reduction_scale * derivative(first, second, *params)``.

    ``derivative`` returns the first or second derivative of each unreduced entry
    with respect to ``first``: elementwise, or per example a row over the class axis
    (gradient) or a ``C x C`` matrix (Hessian). The reduction is linear in the
    unreduced loss, so both are scaled by the same factor.
    """
    input_dtype = first.dtype
    first, second, params, weights, where = _prepare(
        first, second, params, weights, where, per_example
    )
    loss_shape = first.shape[:-1] if per_example else first.shape
    scale = reduction_scale(
        loss_shape, first.dtype, reduction=reduction, weights=weights, where=where
    )
    local = derivative(first, second, *params)
    scale = scale.reshape(scale.shape + (1,) * (local.ndim - scale.ndim))
    return (scale * local).astype(input_dtype)


def run(
    function: Callable[..., jax.Array],
    first_name: str,
    first: ArrayLike,
    second_name: str,
    second: ArrayLike,
    params: tuple[ArrayLike, ...],
    *,
    reduction: str,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    second_kind: str = "same_shape",
    per_example: bool = False,
    axis: int | None = None,
    class_weights: ArrayLike | None = None,
    gradient: bool = False,
    hessian: bool = False,
) -> jax.Array:
    """Validates a call and runs a loss core, or with ``gradient=True`` (``hessian=True``)
    its closed-form first (second) derivative.

    Every public loss and every function in ``jaxloss.gradients`` and
    ``jaxloss.hessians`` is this call with its own core or derivative, so all follow
    the same checks and the same rule. Per-example Hessians keep their two class axes
    last, shaped ``[..., C, C]``.

    The work is one ``jax.jit`` with the options static: the checks run when a new
    signature is traced, and a repeated call is a single compiled dispatch.
    """
    _checks.check_reduction(reduction)
    output = "hessian" if hessian else "gradient" if gradient else "loss"
    return _run_compiled(
        function,
        first,
        second,
        tuple(None if _is_number(param) else param for param in params),
        weights,
        where,
        class_weights,
        first_name=first_name,
        second_name=second_name,
        reduction=reduction,
        second_kind=second_kind,
        per_example=per_example,
        axis=axis,
        output=output,
        # A Python-number hyper-parameter is static: passed to jit it would be
        # transferred to the device on every call, costing more than a small loss.
        # Arrays (a value swept under vmap, or differentiated) stay dynamic.
        numbers=tuple(param if _is_number(param) else None for param in params),
    )


def run_elementwise(
    function: Callable[..., jax.Array],
    first_name: str,
    first: ArrayLike,
    targets: ArrayLike,
    params: tuple[ArrayLike, ...],
    reduction: str,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    *,
    gradient: bool = False,
    hessian: bool = False,
) -> jax.Array:
    """:func:`run` for a loss whose second argument is ``targets`` shaped like the first."""
    return run(
        function,
        first_name,
        first,
        "targets",
        targets,
        params,
        reduction=reduction,
        weights=weights,
        where=where,
        gradient=gradient,
        hessian=hessian,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.partial(
    jax.jit,
    static_argnames=(
        "function",
        "first_name",
        "second_name",
        "reduction",
        "second_kind",
        "per_example",
        "axis",
        "output",
        "numbers",
    ),
)
def _run_compiled(
    function: Callable[..., jax.Array],
    first: ArrayLike,
    second: ArrayLike,
    params: tuple[ArrayLike, ...],
    weights: ArrayLike | None,
    where: ArrayLike | None,
    class_weights: ArrayLike | None,
    *,
    first_name: str,
    second_name: str,
    reduction: str,
    second_kind: str,
    per_example: bool,
    axis: int | None,
    output: str,
    numbers: tuple[float | None, ...] = (),
) -> jax.Array:
    params = tuple(
        number if number is not None else param
        for number, param in zip(numbers, params, strict=True)
    )
    checked = validate(
        first_name,
        first,
        second_name,
        second,
        reduction=reduction,
        weights=weights,
        where=where,
        second_kind=second_kind,
        per_example=per_example,
        axis=axis,
    )
    weights_array = checked.weights
    if class_weights is not None:
        weights_array = _with_class_weights(
            weights_array, class_weights, checked.second, checked.first.shape[-1]
        )
    apply = apply_loss if output == "loss" else apply_derivative
    result = apply(
        function,
        checked.first,
        checked.second,
        params,
        weights_array,
        checked.where,
        reduction=reduction,
        per_example=per_example,
    )
    if output == "gradient" and axis is not None and checked.first.ndim > 0:
        # The gradient is laid out like the caller's logits, class axis where it was.
        result = jnp.moveaxis(result, -1, _checks.check_axis(axis, checked.first.ndim))
    return result


def _with_class_weights(
    weights: jax.Array | None, class_weights: ArrayLike, labels: jax.Array, num_classes: int
) -> jax.Array:
    class_weights_array = as_checked_array("class_weights", class_weights)
    _checks.check_shape(
        "class_weights", class_weights_array, (num_classes,), "one weight per class"
    )
    # An out-of-range label already gives a NaN loss; clipping only keeps the gather defined.
    per_example = jnp.take(class_weights_array, labels, mode="clip")
    return per_example if weights is None else per_example * weights.astype(per_example.dtype)


def as_checked_array(name: str, value: ArrayLike) -> jax.Array:
    """A real-valued array argument such as ``class_weights`` or ``pos_weight``."""
    array = _checks.as_array(name, value)
    _checks.check_numeric(name, array)
    return array
