"""Half-precision accuracy of the reduced losses over a million elements.

jaxloss computes and accumulates float16 and bfloat16 inputs in float32 (see
``jaxloss._reduction``). Here every registry loss runs on 10**6 half-precision
elements (10**5 examples of 10 classes for class losses), and its ``"mean"`` and
``"sum"`` must be within 1e-3 relative error of a float64 reference computed from
the same rounded inputs: the textbook formulas of ``tests/reference.py`` (written
independently of jaxloss), evaluated in NumPy.

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
from tests import reference

SPECS = list(LOSSES.values())
ELEMENTWISE_SHAPE = (10**6,)
CLASS_SHAPE = (10**5, 10)
DTYPES = {"float16": jnp.float16, "bfloat16": jnp.bfloat16}
VARIANTS = ("typical", "shifted by ±300")
REDUCTIONS = ("mean", "sum")
RELATIVE_TOLERANCE = 1e-3
WIDE_OFFSET = 300.0


# --------------------------------------------------------------------------------------
# float64 references: the textbook table of tests/reference.py, evaluated in NumPy.


def reference_reduced(name: str, first, second, *more, reduction: str, **options) -> float:
    return float(reference.loss(name, first, second, *more, reduction=reduction, xp=np, **options))


# --------------------------------------------------------------------------------------
# Inputs and measurement.


@functools.cache
def half_precision_inputs(name: str, dtype_name: str, variant: str):
    """Seeded inputs rounded to ``dtype`` (all inputs), and the same values in float64."""
    spec = LOSSES[name]
    dtype = DTYPES[dtype_name]
    shape = CLASS_SHAPE if spec.has_classes or spec.per_example else ELEMENTWISE_SHAPE
    first, second, *more = spec.sample(np.random.default_rng(0), shape, np.float64)
    if variant != "typical":
        first = first + WIDE_OFFSET * np.where(first < 0, -1.0, 1.0)
    first = jnp.asarray(first, dtype)
    second = jnp.asarray(second) if spec.target_kind == "labels" else jnp.asarray(second, dtype)
    more = [jnp.asarray(array, dtype) for array in more]
    exact = [np.asarray(array, np.float64) for array in (first, second, *more)]
    return first, second, more, exact


def relative_error(spec: LossSpec, dtype_name: str, variant: str, reduction: str) -> float:
    first, second, more, exact = half_precision_inputs(spec.name, dtype_name, variant)
    if spec.target_kind == "labels":
        exact[1] = exact[1].astype(np.int64)
    value = float(spec.loss(first, second, *more, reduction=reduction, **spec.options))
    expected = reference_reduced(spec.name, *exact, reduction=reduction, **spec.options)
    return abs(value - expected) / abs(expected)


# A log-rate 300 away from zero is a rate of e^300, beyond float32 (which half-precision
# inputs are computed in) as it is beyond float64's e^709 only a little later.
NOT_SHIFTED = ("poisson_nll",)


def applies(spec: LossSpec, variant: str) -> bool:
    # Only real predictions and logits can move 300 away from zero and stay valid.
    if variant == "typical":
        return True
    return spec.domain in ("real", "logit") and spec.name not in NOT_SHIFTED


CASES = [
    pytest.param(spec, dtype_name, variant, id=f"{spec.name}-{dtype_name}-{variant}")
    for spec in SPECS
    for dtype_name in DTYPES
    for variant in VARIANTS
    if applies(spec, variant)
]


@pytest.mark.slow  # 10^6-element inputs per loss; the accumulation rule itself is shared
@pytest.mark.parametrize(("spec", "dtype_name", "variant"), CASES)
def test_reduced_half_precision_loss_matches_float64_on_the_same_inputs(spec, dtype_name, variant):
    for reduction in REDUCTIONS:
        error = relative_error(spec, dtype_name, variant, reduction)
        assert error < RELATIVE_TOLERANCE, (spec.name, dtype_name, variant, reduction, error)


def test_wide_inputs_really_overflow_float16_when_squared():
    first, second, _, (first64, second64) = half_precision_inputs("mse", "float16", VARIANTS[1])
    differences = np.abs(first64 - second64)
    assert differences.min() > 250
    # Squared in float16 the differences would overflow: the float32 computation must not.
    assert np.max(differences) ** 2 > float(jnp.finfo(jnp.float16).max)
    with np.errstate(over="ignore"):
        assert np.isinf(np.square(np.asarray(first - second, np.float16))).any()


def test_the_tolerance_rejects_half_precision_accumulation():
    # The check can fail: summing the same float64 losses in bfloat16 misses by far more.
    *_, (first64, second64) = half_precision_inputs("mse", "bfloat16", "typical")
    unreduced = reference.unreduced("mse", first64, second64, xp=np)
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
