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
derivative of the reduced value with respect to each unreduced entry. The call front
end that validates arguments and runs a loss under ``jit`` is ``jaxloss._frontend``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss._checks import Reduction


def compute_dtype(dtype: Any) -> jnp.dtype:
    """Half precision is widened to float32; float32 and float64 are kept."""
    dtype = jnp.dtype(dtype)
    if dtype in (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16)):
        return jnp.dtype(jnp.float32)
    return dtype


def safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
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
    reduction: Reduction,
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
    return safe_divide(total, jnp.sum(effective))


def reduction_scale(
    shape: tuple[int, ...],
    dtype: Any,
    *,
    reduction: Reduction,
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
    return safe_divide(effective, jnp.sum(effective))
