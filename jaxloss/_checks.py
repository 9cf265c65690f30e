"""Trace-time validation of shapes, dtypes and options, in one place.

Every check here reads only static information (shapes, dtypes, Python option
values), so it runs once when a loss is traced and costs nothing under ``jit``.
"""

from __future__ import annotations

from typing import Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)


def as_array(name: str, value: object) -> jax.Array:
    """Converts ``value`` to an array, naming the argument if that fails."""
    try:
        return jnp.asarray(value)
    except TypeError as error:
        raise TypeError(f"{name} must be an array, got {type(value).__name__}") from error


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")


def check_floating(name: str, array: jax.Array) -> None:
    """Predictions and logits must be floating point: integers have no gradient."""
    if not jnp.issubdtype(array.dtype, jnp.floating):
        raise TypeError(f"{name} must have a floating dtype, got {array.dtype}")


def check_numeric(name: str, array: jax.Array) -> None:
    """Targets may be floating, integer or boolean (they are cast), never complex."""
    if not (
        jnp.issubdtype(array.dtype, jnp.floating)
        or jnp.issubdtype(array.dtype, jnp.integer)
        or array.dtype == jnp.bool_
    ):
        raise TypeError(f"{name} must be real-valued, got {array.dtype}")


def check_integer(name: str, array: jax.Array) -> None:
    if not jnp.issubdtype(array.dtype, jnp.integer):
        raise TypeError(f"{name} must have an integer dtype (class indices), got {array.dtype}")


def check_same_shape(
    first_name: str, first: jax.Array, second_name: str, second: jax.Array
) -> None:
    # No broadcasting: (N, 1) against (N,) would silently become an (N, N) outer product.
    if first.shape != second.shape:
        raise ValueError(
            f"{first_name} and {second_name} must have the same shape, "
            f"got {first_name}.shape={first.shape} and {second_name}.shape={second.shape}"
        )


def check_shape(name: str, array: jax.Array, expected: tuple[int, ...], why: str) -> None:
    if array.shape != expected:
        raise ValueError(f"{name} must have shape {expected} ({why}), got {array.shape}")


def check_broadcastable(
    name: str, array: jax.Array, shape: tuple[int, ...], target: str = "the unreduced loss"
) -> None:
    """``array`` must broadcast to ``shape`` by NumPy's rules without changing ``shape``."""
    try:
        broadcast = np.broadcast_shapes(array.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != tuple(shape):
        raise ValueError(
            f"{name} of shape {array.shape} does not broadcast to {target} of shape {tuple(shape)}"
        )


def check_mask(name: str, array: jax.Array) -> None:
    if array.dtype != jnp.bool_:
        raise TypeError(f"{name} must be a boolean mask, got {array.dtype}")


def check_axis(axis: int, ndim: int) -> int:
    """Returns ``axis`` as a non-negative index into an array of rank ``ndim``."""
    if not isinstance(axis, int | np.integer):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for logits of rank {ndim}")
    return int(axis) % ndim
