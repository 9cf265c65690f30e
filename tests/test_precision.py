"""Half-precision accuracy of the reduced losses over a million elements.

jaxloss computes and accumulates float16 and bfloat16 inputs in float32 (see
``jaxloss._reduction``). Here every registry loss runs on 10**6 half-precision
elements (10**5 examples of 10 classes for class losses), and its ``"mean"`` and
``"sum"`` must be within 1e-3 relative error of a float64 NumPy reference computed
from the same rounded inputs. The references are written here, independently of
jaxloss and of ``tests/reference.py``.

Two input sets per loss: the registry's ``sample`` ("typical"), and one whose first
argument is pushed 300 away from zero ("shifted by ±300"; for the regression losses
the difference to the target is then about 300, whose square, 90 000, exceeds
float16's largest value, 65 504).

Run ``python -m tests.test_precision`` to print the table in the README's Precision section.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import pytest

from jaxloss.registry import LOSSES, LossSpec

SPECS = list(LOSSES.values())
ELEMENTWISE_SHAPE = (10**6,)
CLASS_SHAPE = (10**5, 10)
DTYPES = {"float16": jnp.float16, "bfloat16": jnp.bfloat16}
VARIANTS = ("typical", "shifted by ±300")
REDUCTIONS = ("mean", "sum")
RELATIVE_TOLERANCE = 1e-3
WIDE_OFFSET = 300.0


# --------------------------------------------------------------------------------------
# float64 references, from the formulas in the docstrings of jaxloss.


def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def _log_softmax(z):
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _one_hot(labels, num_classes):
    return (labels[:, None] == np.arange(num_classes)).astype(np.float64)


def reference_unreduced(name: str, first: np.ndarray, second: np.ndarray, **options):
    """The unreduced loss in float64: per element, or per example for per-example losses."""
    if name in ("mse", "mae", "huber", "smooth_l1"):
        difference = first - second
        magnitude = np.abs(difference)
        if name == "mse":
            return difference**2
        if name == "mae":
            return magnitude
        if name == "huber":
            delta = options["delta"]
            return np.where(magnitude < delta, 0.5 * difference**2, delta * (magnitude - delta / 2))
        beta = options["beta"]
        return np.where(magnitude < beta, 0.5 * difference**2 / beta, magnitude - beta / 2)
    if name == "sigmoid_mse":
        return (np.exp(_log_sigmoid(first)) - second) ** 2
    if name == "binary_cross_entropy":
        # torch's clamp of each log at -100.
        log_p = np.maximum(np.log(first), -100.0)
        log_not_p = np.maximum(np.log1p(-first), -100.0)
        return -(second * log_p + (1 - second) * log_not_p)
    if name == "sigmoid_binary_cross_entropy":
        pos_weight = options["pos_weight"]
        return -(pos_weight * second * _log_sigmoid(first) + (1 - second) * _log_sigmoid(-first))
    num_classes = first.shape[-1]
    if name in ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"):
        targets = second if name == "softmax_cross_entropy" else _one_hot(second, num_classes)
        smoothing = options["label_smoothing"]
        targets = (1 - smoothing) * targets + smoothing / num_classes
        return -(targets * _log_softmax(first)).sum(axis=-1)
    if name == "one_hot_mse":
        return (first - _one_hot(second, num_classes)) ** 2
    if name == "rescaled_square_loss":
        one_hot = _one_hot(second, num_classes)
        factor = 1 + (options["k"] - 1) * one_hot
        return (factor * (first - options["m"] * one_hot) ** 2).mean(axis=-1)
    raise KeyError(name)


def reference_reduced(name: str, first, second, reduction: str, **options) -> float:
    unreduced = reference_unreduced(name, first, second, **options)
    total = float(np.sum(unreduced))
    return total / unreduced.size if reduction == "mean" else total


# --------------------------------------------------------------------------------------
# Inputs and measurement.


@functools.cache
def half_precision_inputs(name: str, dtype_name: str, variant: str):
    """Seeded inputs rounded to ``dtype``, and the same values in float64."""
    spec = LOSSES[name]
    dtype = DTYPES[dtype_name]
    shape = CLASS_SHAPE if spec.has_classes else ELEMENTWISE_SHAPE
    first, second = spec.sample(np.random.default_rng(0), shape, np.float64)
    if variant != "typical" and spec.domain != "probability":
        first = first + WIDE_OFFSET * np.where(first < 0, -1.0, 1.0)
    first = jnp.asarray(first, dtype)
    second = jnp.asarray(second) if spec.target_kind == "labels" else jnp.asarray(second, dtype)
    return first, second, np.asarray(first, np.float64), np.asarray(second, np.float64)


def relative_error(spec: LossSpec, dtype_name: str, variant: str, reduction: str) -> float:
    first, second, first64, second64 = half_precision_inputs(spec.name, dtype_name, variant)
    if spec.target_kind == "labels":
        second64 = second64.astype(np.int64)
    value = float(spec.loss(first, second, reduction=reduction, **spec.options))
    expected = reference_reduced(spec.name, first64, second64, reduction, **spec.options)
    return abs(value - expected) / abs(expected)


def applies(spec: LossSpec, variant: str) -> bool:
    # Probabilities cannot move 300 away from zero.
    return variant == "typical" or spec.domain != "probability"


CASES = [
    pytest.param(spec, dtype_name, variant, id=f"{spec.name}-{dtype_name}-{variant}")
    for spec in SPECS
    for dtype_name in DTYPES
    for variant in VARIANTS
    if applies(spec, variant)
]


@pytest.mark.parametrize(("spec", "dtype_name", "variant"), CASES)
def test_reduced_half_precision_loss_matches_float64_on_the_same_inputs(spec, dtype_name, variant):
    for reduction in REDUCTIONS:
        error = relative_error(spec, dtype_name, variant, reduction)
        assert error < RELATIVE_TOLERANCE, (spec.name, dtype_name, variant, reduction, error)


def test_wide_inputs_really_overflow_float16_when_squared():
    first, second, first64, second64 = half_precision_inputs("mse", "float16", VARIANTS[1])
    differences = np.abs(first64 - second64)
    assert differences.min() > 250
    # Squared in float16 the differences would overflow: the float32 computation must not.
    assert np.max(differences) ** 2 > float(jnp.finfo(jnp.float16).max)
    with np.errstate(over="ignore"):
        assert np.isinf(np.square(np.asarray(first - second, np.float16))).any()


def test_the_tolerance_rejects_half_precision_accumulation():
    # The check can fail: summing the same float64 losses in bfloat16 misses by far more.
    *_, first64, second64 = half_precision_inputs("mse", "bfloat16", "typical")
    unreduced = reference_unreduced("mse", first64, second64)
    accumulated = float(np.sum(unreduced.astype(jnp.bfloat16), dtype=jnp.bfloat16))
    expected = float(np.sum(unreduced))
    assert abs(accumulated - expected) / expected > RELATIVE_TOLERANCE


def precision_table() -> str:
    """A markdown table of the measured relative error per loss, input set and dtype."""
    columns = [f"{d} {r}" for d in DTYPES for r in REDUCTIONS]
    lines = [
        "| loss | inputs | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for spec in SPECS:
        for variant in VARIANTS:
            if not applies(spec, variant):
                continue
            errors = [
                relative_error(spec, dtype_name, variant, reduction)
                for dtype_name in DTYPES
                for reduction in REDUCTIONS
            ]
            cells = " | ".join(f"{error:.1e}" for error in errors)
            lines.append(f"| `{spec.name}` | {variant} | {cells} |")
    return "\n".join(lines)


def main() -> None:
    print(precision_table())


if __name__ == "__main__":
    main()
