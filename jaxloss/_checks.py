"""Trace-time validation of shapes, dtypes and options, in one place.

Every check here reads only static information (shapes, dtypes, Python option
values), so it runs once when a loss is traced and costs nothing under ``jit``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal, get_args

import jax
import jax.numpy as jnp
import numpy as np

Reduction = Literal["mean", "sum", "none"]
# What a loss call computes: the loss, or a closed-form derivative of it.
Output = Literal["loss", "gradient", "hessian", "hessian_vector_product"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)

# What a loss's inputs are. The first argument's kinds are its domain; the others'
# (the second argument and any after it) are target kinds. Each kind has one rule of
# admissible values (``jaxloss.checked`` applies it) and one way to draw test inputs
# (``LossDefinition.sample``).
Domain = Literal["real", "logit", "probability", "positive", "log_probability"]
TargetKind = Literal[
    "real",
    "probability",
    "class_probabilities",
    "labels",
    "sign",
    "positive",
    "count",
    "log_probability",
]
# Where an input after the second one lies: over the first argument ("first": the
# same shape, class axis included) or over the unreduced loss ("loss": one value per
# entry of the loss, e.g. one +-1 target per pair of embeddings).
InputShape = Literal["first", "loss"]


@dataclasses.dataclass(frozen=True)
class Input:
    """A positional input after the second, for losses of three or more inputs.

    Its name is the public signature's; ``kind`` says what its values are, ``shape``
    which array it is shaped like. A floating input has a closed-form partial like
    any other argument, and is masked and cast to the compute dtype as the second is.
    """

    shape: InputShape = "first"
    kind: TargetKind = "real"


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


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A hyper-parameter and the interval its values must lie in.

    ``low_open`` excludes ``low``; an infinite end is always excluded, so values must
    be finite. ``optional`` parameters may be ``None`` (absent), which the loss's
    ``value_and_partials`` receives as ``None``.
    """

    name: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    optional: bool = False

    @property
    def interval(self) -> str:
        opening = "(" if self.low_open or self.low == -math.inf else "["
        closing = ")" if self.high == math.inf else "]"
        return f"{opening}{self.low}, {self.high}{closing}"

    def admits(self, values: Any) -> Any:
        """Elementwise: which of ``values`` lie in the interval (jnp or NumPy arrays)."""
        above = values > self.low if self.low_open else values >= self.low
        # A comparison with NaN is False, so NaN is never admitted; nor is an infinity.
        below = values < self.high if self.high == math.inf else values <= self.high
        return above & below

    def check_concrete(self, value: object) -> None:
        """Raises ``ValueError`` naming the parameter when a concrete value is out of range.

        Traced values (under a caller's ``jit`` or ``vmap``) cannot be inspected; use
        ``jaxloss.checked`` for those.
        """
        if value is None:
            if not self.optional:
                raise ValueError(f"{self.name} must be a number, got None")
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            # The common case, a Python number, without NumPy's per-call overhead.
            if not self.admits(value):
                raise ValueError(f"{self.name} must lie in {self.interval}, got {value!r}")
            return
        check_array_range(self.name, value, self.admits, f"must lie in {self.interval}")


def check_array_range(
    name: str, value: object, admits: Callable[[np.ndarray], np.ndarray], requirement: str
) -> None:
    """Checks every entry of a concrete array argument; a traced one is skipped."""
    try:
        array = np.asarray(value)
    except jax.errors.TracerArrayConversionError:
        return
    if array.dtype.kind not in "fiub":
        raise TypeError(f"{name} must be real-valued, got {value!r}")
    ok = admits(array)
    if not np.all(ok):
        offending = tuple(int(i) for i in np.argwhere(~ok)[0])
        where = f"{name}[{', '.join(map(str, offending))}]" if offending else name
        raise ValueError(f"{name} {requirement}; got {where} = {array[offending].item()!r}")
