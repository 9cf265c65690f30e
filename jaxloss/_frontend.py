"""The call front end every loss, gradient and Hessian goes through.

``run`` checks concrete hyper-parameter values eagerly, then makes one ``jax.jit``
call with the options static: shapes and dtypes are validated when a new signature
is traced, inputs are cast to the compute dtype and masked, the definition's closed
form runs, and ``jaxloss._reduction`` reduces (or scales) the result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Input, Output, Parameter, Reduction, check_array_range
from jaxloss._reduction import compute_dtype, reduce, reduction_scale

# Masked inputs are replaced by this value before the core runs, so that an inf or
# NaN hidden under the mask cannot leak into the gradient as 0 * inf = NaN.
_MASKED_FILL = 0.5

SecondKind = Literal["same_shape", "labels"]


class LossDefinition(Protocol):
    """What the front end reads of a loss definition (``jaxloss._definition``).

    A protocol, so that the definitions depend on the front end and not back.
    """

    @property
    def name(self) -> str: ...

    @property
    def parameters(self) -> tuple[Parameter, ...]: ...

    @property
    def per_example(self) -> bool: ...

    @property
    def class_axis(self) -> bool: ...

    @property
    def class_weights(self) -> bool: ...

    @property
    def target_kind(self) -> str: ...

    @property
    def core(self) -> Callable[..., jax.Array]: ...

    @property
    def value_and_partials(
        self,
    ) -> Callable[..., tuple[jax.Array, Sequence[jax.Array | None]]]: ...

    @property
    def curvature(self) -> Callable[..., jax.Array]: ...

    @property
    def argument_names(self) -> tuple[str, ...]: ...

    @property
    def more_inputs(self) -> tuple[Input, ...]: ...

    @property
    def has_classes(self) -> bool: ...


def _non_negative(values: np.ndarray) -> np.ndarray:
    return np.isfinite(values) & (values >= 0)


def run(
    definition: LossDefinition,
    output: Output,
    first: ArrayLike,
    second: ArrayLike,
    *more_inputs: ArrayLike,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    axis: int = -1,
    class_weights: ArrayLike | None = None,
    vector: ArrayLike | None = None,
    **parameters: Any,
) -> jax.Array:
    """Runs ``definition``'s loss (or its gradient, Hessian or Hessian-vector product).

    ``more_inputs`` are the inputs after the second, one per ``definition.more_inputs``.

    ``parameters`` are the definition's hyper-parameters by name. Python numbers among
    them are static: passed to ``jit`` as arrays they would be transferred to the
    device on every call, costing more than a small loss. Arrays stay dynamic, so a
    value can be swept under ``vmap`` or differentiated.
    """
    _checks.check_reduction(reduction)
    expected = {parameter.name for parameter in definition.parameters}
    if set(parameters) != expected:
        raise TypeError(
            f"{definition.name} takes the hyper-parameters {sorted(expected)}, "
            f"got {sorted(parameters)}"
        )
    values = tuple(parameters[parameter.name] for parameter in definition.parameters)
    for parameter, value in zip(definition.parameters, values, strict=True):
        parameter.check_concrete(value)
    if weights is not None:
        check_array_range("weights", weights, _non_negative, "must be finite and non-negative")
    if class_weights is not None:
        if not definition.class_weights:
            raise TypeError(f"{definition.name} takes no class_weights")
        check_array_range(
            "class_weights", class_weights, _non_negative, "must be finite and non-negative"
        )
    return _run_compiled(
        definition,
        first,
        second,
        more_inputs,
        parameters=tuple(None if _is_number(value) else value for value in values),
        weights=weights,
        where=where,
        class_weights=class_weights,
        vector=vector,
        reduction=reduction,
        axis=axis if definition.class_axis else None,
        output=output,
        numbers=tuple(value if _is_number(value) else None for value in values),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@functools.partial(
    jax.jit, static_argnames=("definition", "reduction", "axis", "output", "numbers")
)
def _run_compiled(
    definition: LossDefinition,
    first: ArrayLike,
    second: ArrayLike,
    more_inputs: tuple[ArrayLike, ...],
    *,
    parameters: tuple[ArrayLike | None, ...],
    weights: ArrayLike | None,
    where: ArrayLike | None,
    class_weights: ArrayLike | None,
    vector: ArrayLike | None,
    reduction: Reduction,
    axis: int | None,
    output: Output,
    numbers: tuple[float | None, ...],
) -> jax.Array:
    parameters = tuple(
        number if number is not None else parameter
        for number, parameter in zip(numbers, parameters, strict=True)
    )
    call = _validate(
        definition,
        first,
        second,
        more_inputs,
        parameters=parameters,
        weights=weights,
        where=where,
        vector=vector,
        axis=axis,
    )
    if class_weights is not None:
        call.weights = _with_class_weights(
            call.weights, class_weights, labels=call.second, num_classes=call.first.shape[-1]
        )
    input_dtype = call.first.dtype
    _prepare(call, per_example=definition.per_example)
    if output == "loss":
        loss = definition.core(call.first, call.second, *call.more, *call.parameters)
        return reduce(
            loss,
            reduction=reduction,
            weights=call.weights,
            where=call.where,
            none_dtype=input_dtype,
        )
    local = _local_derivative(definition, output, call)
    loss_shape = call.first.shape[:-1] if definition.per_example else call.first.shape
    scale = reduction_scale(
        loss_shape, call.first.dtype, reduction=reduction, weights=call.weights, where=call.where
    )
    # The reduction is linear in the unreduced loss, so every derivative of it is the
    # per-entry derivative times the same factor.
    scale = scale.reshape(scale.shape + (1,) * (local.ndim - scale.ndim))
    result = (scale * local).astype(input_dtype)
    if output != "hessian" and axis is not None and call.first.ndim > 0:
        # Gradients are laid out like the caller's logits, class axis where it was.
        result = jnp.moveaxis(result, -1, _checks.check_axis(axis, call.first.ndim))
    return result


def _local_derivative(definition: LossDefinition, output: Output, call: _Call) -> jax.Array:
    """The derivative of each unreduced entry, before the reduction's factor."""
    arguments = (call.first, call.second, *call.more, *call.parameters)
    if output == "gradient":
        partial = definition.value_and_partials(*arguments)[1][0]
        assert partial is not None
        return partial
    if not definition.per_example:
        diagonal = definition.curvature(*arguments)
        return diagonal if call.vector is None else diagonal * call.vector
    if output == "hessian_vector_product":
        return definition.curvature(*arguments, call.vector)
    # Each example's C x C block, column by column: H e_j from the closed-form product.
    num_classes = call.first.shape[-1]
    basis = jnp.eye(num_classes, dtype=call.first.dtype)
    columns = jax.vmap(
        lambda unit: definition.curvature(*arguments, jnp.broadcast_to(unit, call.first.shape)),
        out_axes=-1,
    )(basis)
    return columns


class _Call:
    """A call's validated arguments, arrays with the class axis last."""

    def __init__(
        self,
        *,
        first: jax.Array,
        second: jax.Array,
        more: tuple[jax.Array, ...],
        parameters: tuple[Any, ...],
        weights: jax.Array | None,
        where: jax.Array | None,
        vector: jax.Array | None,
    ) -> None:
        self.first = first
        self.second = second
        self.more = more
        self.parameters = parameters
        self.weights = weights
        self.where = where
        self.vector = vector


def _validate(
    definition: LossDefinition,
    first: ArrayLike,
    second: ArrayLike,
    more_inputs: tuple[ArrayLike, ...],
    *,
    parameters: tuple[Any, ...],
    weights: ArrayLike | None,
    where: ArrayLike | None,
    vector: ArrayLike | None,
    axis: int | None,
) -> _Call:
    """Checks a call's shapes and dtypes at trace time; raises before anything runs."""
    first_name, second_name, *more_names = definition.argument_names
    more_arrays = [
        _checks.as_array(name, value) for name, value in zip(more_names, more_inputs, strict=True)
    ]
    second_kind: SecondKind = "labels" if definition.target_kind == "labels" else "same_shape"
    first_array = _checks.as_array(first_name, first)
    second_array = _checks.as_array(second_name, second)
    _checks.check_floating(first_name, first_array)
    vector_array = None if vector is None else _checks.as_array("vector", vector)
    if axis is not None and first_array.ndim > 0:
        class_axis = _checks.check_axis(axis, first_array.ndim)
        if class_axis != first_array.ndim - 1:
            first_array = jnp.moveaxis(first_array, class_axis, -1)
            if second_kind == "same_shape" and second_array.ndim == first_array.ndim:
                second_array = jnp.moveaxis(second_array, class_axis, -1)
            if vector_array is not None and vector_array.ndim == first_array.ndim:
                vector_array = jnp.moveaxis(vector_array, class_axis, -1)
            more_arrays = [
                jnp.moveaxis(array, class_axis, -1)
                if input.shape == "first" and array.ndim == first_array.ndim
                else array
                for input, array in zip(definition.more_inputs, more_arrays, strict=True)
            ]
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
    if definition.per_example and first_array.ndim == 0:
        raise ValueError(f"{first_name} must have a class axis, got a scalar")
    if definition.has_classes and first_array.shape[-1] == 0:
        raise ValueError(
            f"{first_name} must have at least one class, got {first_name}.shape={first_array.shape}"
        )
    if vector_array is not None:
        _checks.check_floating("vector", vector_array)
        _checks.check_same_shape(first_name, first_array, "vector", vector_array)
    loss_shape = first_array.shape[:-1] if definition.per_example else first_array.shape
    for index, (name, input) in enumerate(zip(more_names, definition.more_inputs, strict=True)):
        array = more_arrays[index]
        _checks.check_numeric(name, array)
        if input.shape == "first":
            _checks.check_same_shape(first_name, first_array, name, array)
        else:
            _checks.check_shape(name, array, loss_shape, "one value per entry of the loss")
        # Integer or boolean inputs (+-1 targets, counts) are values here.
        more_arrays[index] = array.astype(first_array.dtype)

    checked_parameters = []
    for parameter, value in zip(definition.parameters, parameters, strict=True):
        if value is None or _is_number(value):
            checked_parameters.append(value)
            continue
        array = as_checked_array(parameter.name, value)
        if definition.per_example:
            if array.ndim != 0:
                raise ValueError(
                    f"{parameter.name} must be a scalar (one value for every example), "
                    f"got shape {array.shape}"
                )
        else:
            _checks.check_broadcastable(parameter.name, array, first_array.shape, first_name)
        checked_parameters.append(array)

    weights_array = None
    if weights is not None:
        weights_array = as_checked_array("weights", weights)
        _checks.check_broadcastable("weights", weights_array, loss_shape)
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss_shape)
    return _Call(
        first=first_array,
        second=second_array,
        more=tuple(more_arrays),
        parameters=tuple(checked_parameters),
        weights=weights_array,
        where=where_array,
        vector=vector_array,
    )


def _prepare(call: _Call, *, per_example: bool) -> None:
    """Casts to the compute dtype and replaces masked inputs by a harmless value."""
    dtype = compute_dtype(call.first.dtype)
    first = call.first.astype(dtype)
    second = call.second
    second_is_float = jnp.issubdtype(second.dtype, jnp.floating)
    if second_is_float:
        second = second.astype(dtype)
    loss_shape = first.shape[:-1] if per_example else first.shape
    # An elementwise loss's hyper-parameters are spelled out to the first argument's
    # shape (free under jit): no rank promotion in the cores, and their partials have
    # the value's shape.
    call.parameters = tuple(
        None
        if value is None
        else jnp.asarray(value).astype(dtype)
        if per_example
        else jnp.broadcast_to(jnp.asarray(value).astype(dtype), first.shape)
        for value in call.parameters
    )
    weights, where, vector = call.weights, call.where, call.vector
    more = tuple(array.astype(dtype) for array in call.more)
    if weights is not None:
        weights = jnp.broadcast_to(weights.astype(dtype), loss_shape)
    if vector is not None:
        vector = vector.astype(dtype)
    if where is not None:
        where = jnp.broadcast_to(where, loss_shape)
        input_mask = where[..., None] if per_example else where
        first = jnp.where(input_mask, first, _MASKED_FILL)
        if vector is not None:
            vector = jnp.where(input_mask, vector, 0)
        more = tuple(
            jnp.where(input_mask if array.shape == first.shape else where, array, _MASKED_FILL)
            for array in more
        )
        if second_is_float and second.shape == first.shape:
            second = jnp.where(input_mask, second, _MASKED_FILL)
        elif not second_is_float and second.shape == loss_shape:
            second = jnp.where(where, second, 0)
        elif not second_is_float and second.shape == loss_shape[:-1]:
            # Labels of an elementwise class loss: a fully masked row (padding, often
            # labelled -1) gets a valid label, so it cannot leak NaN into the gradient.
            second = jnp.where(jnp.any(where, axis=-1), second, 0)
    call.first, call.second, call.more = first, second, more
    call.weights, call.where, call.vector = weights, where, vector


def _with_class_weights(
    weights: jax.Array | None, class_weights: ArrayLike, *, labels: jax.Array, num_classes: int
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
