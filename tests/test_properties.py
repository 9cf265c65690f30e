"""Laws every loss obeys, checked with hypothesis over shapes, values and masks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jaxloss.registry import LOSSES, LossSpec
from tests import reference

SPECS = list(LOSSES.values())
# A handful of shapes keeps the number of compilations (the real cost) small.
SHAPES = st.sampled_from([(6,), (2, 3), (4, 3), (2, 2, 5)])
SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)


def by_name(function):
    return pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])(function)


def sample(spec: LossSpec, shape, seed):
    first, second = spec.sample(np.random.default_rng(seed), shape)
    return jnp.asarray(first), jnp.asarray(second)


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1))
def test_non_negative(spec, shape, seed):
    first, second = sample(spec, shape, seed)
    assert jnp.all(spec.loss(first, second, reduction="none", **spec.options) >= 0)


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1))
def test_sum_is_mean_times_count(spec, shape, seed):
    first, second = sample(spec, shape, seed)
    count = int(np.prod(shape[:-1] if spec.per_example else shape))
    mean = spec.loss(first, second, **spec.options)
    total = spec.loss(first, second, reduction="sum", **spec.options)
    np.testing.assert_allclose(total, mean * count, rtol=2e-6, atol=1e-6)


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), data=st.data())
def test_masked_equals_filtered(spec, shape, seed, data):
    # Rows are filtered along the first axis; a class loss needs one besides its classes.
    assume(not (spec.has_classes and len(shape) == 1))
    first, second = sample(spec, shape, seed)
    rows = shape[0]
    kept = data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows), label="kept rows")
    kept_rows = np.asarray(kept)
    where = jnp.asarray(kept_rows).reshape(
        (rows,) + (1,) * (len(shape) - 2 if spec.per_example else len(shape) - 1)
    )
    where = jnp.broadcast_to(where, shape[:-1] if spec.per_example else shape)
    masked = spec.loss(first, second, where=where, **spec.options)
    if kept_rows.any():
        filtered = spec.loss(first[kept_rows], second[kept_rows], **spec.options)
    else:
        filtered = jnp.float32(0.0)
    np.testing.assert_allclose(masked, filtered, rtol=2e-6, atol=1e-7)


ZERO_AT_EQUALITY = [spec for spec in SPECS if spec.target_kind in ("real",)] + [
    LOSSES["one_hot_mse"]
]


@pytest.mark.parametrize("spec", ZERO_AT_EQUALITY, ids=[spec.name for spec in ZERO_AT_EQUALITY])
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1))
def test_zero_at_equality(spec, shape, seed):
    first, second = sample(spec, shape, seed)
    if spec.target_kind == "labels":
        first = jnp.asarray(np.eye(shape[-1], dtype=np.float32)[np.asarray(second)])
    else:
        second = first
    assert spec.loss(first, second, **spec.options) == 0


SYMMETRIC = [LOSSES[name] for name in ("mse", "mae", "huber", "smooth_l1")]
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@pytest.mark.parametrize("spec", SYMMETRIC, ids=[spec.name for spec in SYMMETRIC])
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), reduction=REDUCTIONS)
def test_symmetric_in_predictions_and_targets(spec, shape, seed, reduction):
    first, second = sample(spec, shape, seed)
    np.testing.assert_array_equal(
        spec.loss(first, second, reduction=reduction, **spec.options),
        spec.loss(second, first, reduction=reduction, **spec.options),
    )


@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), scale=st.floats(-8, 8))
def test_scaling_laws_of_mse_and_mae(shape, seed, scale):
    first, second = sample(LOSSES["mse"], shape, seed)
    scaled = (jnp.float32(scale) * first, jnp.float32(scale) * second)
    np.testing.assert_allclose(
        LOSSES["mse"].loss(*scaled),
        scale**2 * LOSSES["mse"].loss(first, second),
        rtol=1e-4,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        LOSSES["mae"].loss(*scaled),
        abs(scale) * LOSSES["mae"].loss(first, second),
        rtol=1e-4,
        atol=1e-6,
    )


def weights_and_mask(spec: LossSpec, shape, data):
    loss_shape = shape[:-1] if spec.per_example else shape
    size = int(np.prod(loss_shape))
    weights = data.draw(
        st.lists(st.floats(0.0, 3.0, width=32), min_size=size, max_size=size), label="weights"
    )
    where = data.draw(st.lists(st.booleans(), min_size=size, max_size=size), label="where")
    return (
        jnp.asarray(weights, jnp.float32).reshape(loss_shape),
        jnp.asarray(where).reshape(loss_shape),
    )


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), reduction=REDUCTIONS, data=st.data())
def test_closed_form_gradient_equals_jax_grad(spec, shape, seed, reduction, data):
    first, second = sample(spec, shape, seed)
    weights, where = weights_and_mask(spec, shape, data)
    kwargs = {"reduction": reduction, "weights": weights, "where": where, **spec.options}
    autodiff = jax.grad(lambda x: jnp.sum(spec.loss(x, second, **kwargs)))(first)
    np.testing.assert_allclose(
        spec.gradient(first, second, **kwargs), autodiff, rtol=1e-5, atol=1e-7
    )


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), reduction=REDUCTIONS)
def test_weights_of_one_change_nothing(spec, shape, seed, reduction):
    first, second = sample(spec, shape, seed)
    ones = jnp.ones(shape[:-1] if spec.per_example else shape, jnp.float32)
    # Equal up to float32 rounding: the weighted sum may be accumulated in another order.
    np.testing.assert_allclose(
        spec.loss(first, second, weights=ones, reduction=reduction, **spec.options),
        spec.loss(first, second, reduction=reduction, **spec.options),
        rtol=1e-6,
    )


HALF = st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32])


@by_name
@SETTINGS
@given(shape=SHAPES, seed=st.integers(0, 2**31 - 1), dtype=HALF)
def test_laws_hold_in_every_float_dtype(spec, shape, seed, dtype):
    first, second = sample(spec, shape, seed)
    first = first.astype(dtype)
    if spec.target_kind != "labels":
        second = second.astype(dtype)
    unreduced = spec.loss(first, second, reduction="none", **spec.options)
    assert unreduced.dtype == dtype and jnp.all(unreduced >= 0)
    count = int(np.prod(shape[:-1] if spec.per_example else shape))
    mean = spec.loss(first, second, **spec.options)
    total = spec.loss(first, second, reduction="sum", **spec.options)
    np.testing.assert_allclose(total, mean * count, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Fuzzing: random shapes, dtypes and options give a correct result or a documented error.

FUZZ_DTYPES = st.sampled_from(["float32", "float16", "int32", "bool"])
FUZZ_REDUCTIONS = st.sampled_from(["mean", "sum", "none", "average", "elementwise_mean", ""])
FUZZ_SHAPES = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)


@by_name
@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    first_shape=FUZZ_SHAPES,
    second_shape=FUZZ_SHAPES,
    first_dtype=FUZZ_DTYPES,
    second_dtype=FUZZ_DTYPES,
    reduction=FUZZ_REDUCTIONS,
    option=st.floats(-2.0, 3.0, allow_nan=False),
)
def test_fuzzed_calls_give_a_correct_result_or_a_documented_error(
    spec, first_shape, second_shape, first_dtype, second_dtype, reduction, option
):
    rng = np.random.default_rng(0)
    first = jnp.asarray(rng.uniform(0.1, 0.9, size=first_shape)).astype(first_dtype)
    second = jnp.asarray(rng.integers(0, 2, size=second_shape)).astype(second_dtype)
    options = {name: option for name in spec.options}
    try:
        value = spec.loss(first, second, reduction=reduction, **options)
    except (TypeError, ValueError):
        return  # the documented exception types for bad shapes, dtypes and options
    # Accepted: the call was valid, so the result must match the textbook formula.
    expected = reference.loss(
        spec.name,
        first.astype(jnp.float32),
        second if spec.target_kind == "labels" else second.astype(jnp.float32),
        reduction=reduction,
        **options,
    )
    np.testing.assert_allclose(value, expected, rtol=2e-3, atol=1e-5)
