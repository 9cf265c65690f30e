"""Loss landscapes over two weight scales, after Glorot & Bengio (2010), figure 5.

A one-hidden-layer tanh network with a sigmoid output, on random inputs and random
binary targets, has its two weight matrices scaled by ``a`` (hidden) and ``b``
(output). Over a grid of ``(a, b)`` the quadratic cost (``sigmoid_mse``) has wider
plateaus of near-zero gradient than cross-entropy: with the defaults and a 41 x 41
grid of scales from 0.1 to 20, 14% of the grid against 2%. The whole grid is one
``vmap``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss.analysis.profiles import has_classes, resolve


@dataclasses.dataclass(frozen=True)
class Landscape:
    """``loss`` and ``gradient_norm`` are ``[len(hidden_scales), len(output_scales)]``."""

    loss_name: str
    hidden_scales: np.ndarray
    output_scales: np.ndarray
    loss: np.ndarray
    gradient_norm: np.ndarray
    flat_share: float
    flat_tol: float

    def to_json(self) -> dict[str, Any]:
        return {
            "loss": self.loss_name,
            "flat_share": self.flat_share,
            "flat_tol": self.flat_tol,
            "hidden_scales": self.hidden_scales.tolist(),
            "output_scales": self.output_scales.tolist(),
        }


def landscape(
    loss: str,
    hidden_scales: ArrayLike,
    output_scales: ArrayLike,
    *,
    key: jax.Array | None = None,
    num_examples: int = 64,
    num_inputs: int = 10,
    num_hidden: int = 10,
    flat_tol: float = 0.05,
) -> Landscape:
    """Loss and gradient norm of a tanh network over a grid of two weight scales.

    Args:
      loss: ``sigmoid_mse`` or ``sigmoid_binary_cross_entropy`` (any binary logit loss).
      hidden_scales, output_scales: non-empty 1-D grids of the two scales.
      key: the random inputs, targets and base weights (default ``jax.random.key(0)``).
      num_examples, num_inputs, num_hidden: the problem's size.
      flat_tol: a grid point is flat when its gradient norm is below ``flat_tol``.
        The threshold is absolute, so that two losses compare on one scale: both
        are means over examples whose per-example gradients in the logit are at
        most 1 in size (``|s - y|`` and ``2 |s - y| s (1 - s)``). A relative threshold
        would favour the loss whose largest gradient is smaller.

    Returns:
      A :class:`Landscape` whose ``flat_share`` is the share of flat grid points.

    Example:
      >>> grid = np.geomspace(0.1, 20.0, 41)
      >>> quadratic = landscape("sigmoid_mse", grid, grid).flat_share
      >>> cross_entropy = landscape("sigmoid_binary_cross_entropy", grid, grid).flat_share
      >>> quadratic > 5 * cross_entropy
      True
    """
    spec = resolve(loss)
    if has_classes(spec) or spec.domain != "logit":
        raise ValueError(f"loss must be a binary loss on logits, got {spec.name!r}")
    hidden = np.asarray(hidden_scales, np.float32)
    output = np.asarray(output_scales, np.float32)
    for name, grid in (("hidden_scales", hidden), ("output_scales", output)):
        if grid.ndim != 1 or grid.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D grid, got shape {grid.shape}")
    if not flat_tol > 0:
        raise ValueError(f"flat_tol must be positive, got {flat_tol!r}")
    key = jax.random.key(0) if key is None else key
    inputs_key, targets_key, hidden_key, output_key = jax.random.split(key, 4)
    inputs = jax.random.normal(inputs_key, (num_examples, num_inputs))
    targets = jax.random.bernoulli(targets_key, 0.5, (num_examples,)).astype(jnp.float32)
    base_hidden = jax.random.normal(hidden_key, (num_inputs, num_hidden)) / np.sqrt(num_inputs)
    base_output = jax.random.normal(output_key, (num_hidden,)) / np.sqrt(num_hidden)

    def objective(weights):
        hidden_weights, output_weights = weights
        logits = jnp.tanh(inputs @ hidden_weights) @ output_weights
        return spec.loss(logits, targets)

    def at(a, b):
        value, grads = jax.value_and_grad(objective)((a * base_hidden, b * base_output))
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in grads))
        return value, norm

    grid_values, grid_norms = jax.jit(jax.vmap(jax.vmap(at, in_axes=(None, 0)), in_axes=(0, None)))(
        jnp.asarray(hidden), jnp.asarray(output)
    )
    norms = np.asarray(grid_norms)
    flat_share = float(np.mean(norms < flat_tol))
    return Landscape(
        spec.name, hidden, output, np.asarray(grid_values), norms, flat_share, flat_tol
    )
