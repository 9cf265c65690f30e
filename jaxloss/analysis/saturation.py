"""Saturation regions: where a loss's gradient in the logit has all but vanished.

A loss "stops teaching" where ``|dl/dz|`` is below ``tol`` times its supremum over
the real line. For ``sigmoid_mse`` with target 0 that happens on both sides: for very
negative logits (the prediction is right, nothing left to learn) and for very
positive ones (the prediction is wrong and the gradient still vanishes: the slow
start of MSE after a sigmoid). ``sigmoid_binary_cross_entropy`` only saturates on
the right side. For a target strictly between 0 and 1 the optimum is the finite
logit ``log(y / (1 - y))``, where every loss's gradient vanishes; the interval that
holds it is neither side.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss.analysis.profiles import has_classes, resolve

# The search grid: every loss here is either flat to float64 precision past +-60 or
# has an unbounded gradient, which the far probe below detects.
_GRID = np.linspace(-60.0, 60.0, 24001)
_FAR = 1e3
_BISECTIONS = 80  # halves a 0.005 bracket to well below 1e-9

Side = Literal["right", "wrong", "optimum"]


@dataclasses.dataclass(frozen=True)
class Interval:
    """Logits ``start < z < end`` (``+-inf`` when unbounded) where the loss saturates.

    ``side`` says where the interval lies: ``"optimum"`` when it holds the target's
    optimum ``log(y / (1 - y))`` (a target strictly between 0 and 1), otherwise
    ``"right"`` or ``"wrong"`` by whether its prediction ``z > 0`` matches the
    target's class ``y > 0.5`` (every side is wrong for a target of exactly 0.5).
    """

    start: float
    end: float
    side: Side

    def to_json(self) -> dict[str, Any]:
        def number(value: float) -> float | str:
            return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")

        return {"start": number(self.start), "end": number(self.end), "side": self.side}


def optimum(target: float) -> float:
    """The logit where a sigmoid output equals ``target`` (``+-inf`` at 0 and 1).

    Example:
      >>> optimum(0.5), optimum(0.0)
      (0.0, -inf)
    """
    if target <= 0:
        return -math.inf
    if target >= 1:
        return math.inf
    return math.log(target) - math.log1p(-target)


def _gradient_magnitude(spec, target: float) -> Callable[[np.ndarray], np.ndarray]:
    def magnitude(logits: np.ndarray) -> np.ndarray:
        with jax.enable_x64(True):
            z = jnp.asarray(logits, jnp.float64)
            gradient = spec.gradient(z, jnp.full_like(z, target), reduction="none")
            return np.abs(np.asarray(gradient))

    return magnitude


def _supremum(magnitude: Callable[[np.ndarray], np.ndarray]) -> float:
    """The supremum of ``|g|`` over the real line, refined around the grid's maximum."""
    values = magnitude(_GRID)
    far = magnitude(np.asarray([-_FAR, _FAR]))
    if far.max() > values.max() * (1 + 1e-9):
        raise ValueError("the loss's gradient is unbounded in the logit; it has no saturation")
    best = int(np.argmax(values))
    if best in (0, _GRID.size - 1):
        return float(max(values.max(), far.max()))
    # Golden-section search for the interior maximum between the neighbouring points.
    low, high = _GRID[best - 1], _GRID[best + 1]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(100):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        left_value, right_value = magnitude(np.asarray([left, right]))
        if left_value < right_value:
            low = left
        else:
            high = right
    return float(max(magnitude(np.asarray([(low + high) / 2]))[0], values.max()))


def saturation_region(loss: str | Callable[..., Any], target: float, tol: float) -> list[Interval]:
    """Logit intervals where ``|dl/dz| < tol * sup_z |dl/dz|``, ends solved to 1e-9.

    Args:
      loss: an elementwise loss name or function whose gradient is bounded in its
        first argument (``sigmoid_mse``, ``sigmoid_binary_cross_entropy``, ...).
      target: the target value in ``[0, 1]``.
      tol: the fraction of the supremum, in ``(0, 1)``.

    Returns:
      The saturated intervals in increasing order.

    Example:
      >>> [interval.side for interval in saturation_region("sigmoid_mse", 0.0, 0.05)]
      ['right', 'wrong']
      >>> saturation_region("sigmoid_binary_cross_entropy", 0.0, 0.05)[0].end
      -2.944438979...
      >>> [interval.side for interval in saturation_region("sigmoid_mse", 0.5, 0.05)]
      ['wrong', 'optimum', 'wrong']
    """
    spec = resolve(loss)
    if not 0 < tol < 1:
        raise ValueError(f"tol must lie in (0, 1), got {tol!r}")
    if has_classes(spec) or spec.domain != "logit":
        raise ValueError(
            f"loss must be an elementwise loss on logits (sigmoid_mse, "
            f"sigmoid_binary_cross_entropy), got {spec.name!r}"
        )
    if not 0 <= target <= 1:
        raise ValueError(f"target must lie in [0, 1], got {target!r}")
    magnitude = _gradient_magnitude(spec, target)
    level = saturation_level(spec.name, target, tol)

    below = magnitude(_GRID) < level
    changes = np.nonzero(below[1:] != below[:-1])[0]
    ends = [_bisect(magnitude, level, _GRID[index], _GRID[index + 1]) for index in changes]
    edges = [-math.inf, *ends, math.inf]
    intervals = []
    # The pieces between consecutive sign changes alternate; keep the saturated ones.
    for piece, (start, end) in enumerate(itertools.pairwise(edges)):
        if below[0] != (piece % 2 == 0):
            continue
        intervals.append(Interval(float(start), float(end), _side(start, end, target)))
    return intervals


def saturation_level(loss: str | Callable[..., Any], target: float, tol: float) -> float:
    """``tol`` times the supremum of ``|dl/dz|``: the level below which a logit saturates.

    Example:
      >>> round(saturation_level("sigmoid_binary_cross_entropy", 0.0, 0.05), 6)
      0.05
    """
    spec = resolve(loss)
    return tol * _supremum(_gradient_magnitude(spec, target))


def _bisect(magnitude, level: float, low: float, high: float) -> float:
    low_below = magnitude(np.asarray([low]))[0] < level
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if (magnitude(np.asarray([middle]))[0] < level) == low_below:
            low = middle
        else:
            high = middle
    return float((low + high) / 2)


def _side(start: float, end: float, target: float) -> Side:
    if 0 < target < 1 and start <= optimum(target) <= end:
        return "optimum"
    if math.isinf(start) and math.isinf(end):
        representative = 0.0
    elif math.isinf(start):
        representative = end - 1.0
    elif math.isinf(end):
        representative = start + 1.0
    else:
        representative = (start + end) / 2
    right = (representative > 0 and target > 0.5) or (representative < 0 and target < 0.5)
    return "right" if right else "wrong"
