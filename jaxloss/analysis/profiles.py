"""Gradient profiles: a loss's value, gradient and curvature along a grid of logits.

For an elementwise loss the grid holds the first argument (a logit for the sigmoid
losses) against one target. For a per-example class loss the grid moves one class's
logit (``class_index``) while the others stay at 0, against one integer label.
Values come from the closed forms in ``jaxloss.gradients`` and ``jaxloss.hessians``;
``jax.grad`` runs alongside as a cross-check.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import registry


@dataclasses.dataclass(frozen=True)
class Profile:
    """One loss along a grid; every array is shaped like ``logits``."""

    loss: str
    target: float
    logits: np.ndarray
    value: np.ndarray
    gradient: np.ndarray
    second_derivative: np.ndarray
    autodiff_gradient: np.ndarray
    class_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "target": self.target,
            "class_index": self.class_index,
            "logits": self.logits.tolist(),
            "value": self.value.tolist(),
            "gradient": self.gradient.tolist(),
            "second_derivative": self.second_derivative.tolist(),
        }


def resolve(loss: str | Callable[..., Any]):
    """A registry row from a loss name or a jaxloss loss function."""
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", repr(loss))
    return registry.get(name)


def has_classes(spec: Any) -> bool:
    """Whether a registry row's targets are classes (labels or class probabilities)."""
    return spec.target_kind in ("class_probabilities", "labels")


def profileable(spec: Any) -> bool:
    """Whether one logit (or one class's logit) moving along a grid is a profile of the loss.

    Not so for per-example losses over a feature axis (a cosine or a triplet of
    embeddings) or losses of more than two inputs.
    """
    return not spec.more_inputs and (has_classes(spec) or not spec.per_example)


def check_grid(logits: ArrayLike) -> np.ndarray:
    grid = np.asarray(logits, np.float64)
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D grid, got shape {grid.shape}")
    return grid


def gradient_profile(
    loss: str | Callable[..., Any],
    logits: ArrayLike,
    target: float | int,
    *,
    class_index: int = 0,
    num_classes: int = 3,
) -> Profile:
    """Value, gradient and second derivative of ``loss`` at each logit of the grid.

    Args:
      loss: a loss name from ``jaxloss.registry`` or the loss function itself.
      logits: a non-empty 1-D grid of first-argument values.
      target: the target (elementwise losses) or the integer label (class losses).
      class_index: for class losses, the class whose logit moves along the grid.
      num_classes: for class losses, the number of classes.

    Returns:
      A :class:`Profile`, computed in float64.

    Example:
      >>> profile = gradient_profile("sigmoid_binary_cross_entropy", [-10.0, 0.0, 10.0], 0)
      >>> profile.gradient.round(4).tolist()
      [0.0, 0.5, 1.0]
    """
    spec = resolve(loss)
    if not profileable(spec):
        raise ValueError(
            f"loss {spec.name!r} has no profile along one logit: it compares whole "
            "vectors or takes more than two inputs"
        )
    grid = check_grid(logits)
    with jax.enable_x64(True):
        first, second = _inputs(spec, jnp.asarray(grid), target, class_index, num_classes)
        # Profiles show each loss with its default hyper-parameters.
        options = {"reduction": "none"}
        value = spec.loss(first, second, **options)
        gradient = spec.gradient(first, second, **options)
        curvature = spec.hessian(first, second, **options)
        autodiff = jax.grad(lambda x: jnp.sum(spec.loss(x, second, **options)))(first)
        if spec.per_example:
            gradient, autodiff = gradient[:, class_index], autodiff[:, class_index]
            curvature = curvature[:, class_index, class_index]
        elif has_classes(spec):
            # An elementwise class loss (one_hot_mse): the example's loss is its row sum.
            value = jnp.sum(value, axis=-1)
            gradient, autodiff = gradient[:, class_index], autodiff[:, class_index]
            curvature = curvature[:, class_index]
        return Profile(
            loss=spec.name,
            target=float(target),
            logits=grid,
            value=np.asarray(value),
            gradient=np.asarray(gradient),
            second_derivative=np.asarray(curvature),
            autodiff_gradient=np.asarray(autodiff),
            class_index=class_index if has_classes(spec) else None,
        )


def _inputs(spec: Any, grid: jax.Array, target, class_index, num_classes):
    if not has_classes(spec):
        return grid, jnp.full_like(grid, target)
    if not 0 <= class_index < num_classes:
        raise ValueError(f"class_index must lie in [0, {num_classes}), got {class_index}")
    rows = jnp.zeros((grid.size, num_classes), grid.dtype).at[:, class_index].set(grid)
    if spec.target_kind == "labels":
        if int(target) != target or not 0 <= target < num_classes:
            raise ValueError(f"target must be a class index in [0, {num_classes}), got {target}")
        return rows, jnp.full((grid.size,), int(target), jnp.int32)
    one_hot = jnp.zeros((grid.size, num_classes), grid.dtype).at[:, int(target)].set(1.0)
    return rows, one_hot


def gradient_ratio(
    loss_a: str | Callable[..., Any],
    loss_b: str | Callable[..., Any],
    logits: ArrayLike,
    target: float | int,
    **kwargs: Any,
) -> np.ndarray:
    """``|d loss_a / dz| / |d loss_b / dz|`` along the grid (``inf`` where only b is 0).

    Example:
      >>> ratio = gradient_ratio("sigmoid_mse", "sigmoid_binary_cross_entropy", [0.0, 10.0], 0)
      >>> ratio.round(5).tolist()
      [0.5, 9e-05]
    """
    first = gradient_profile(loss_a, logits, target, **kwargs).gradient
    second = gradient_profile(loss_b, logits, target, **kwargs).gradient
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(first) / np.abs(second)
