"""Laws every loss obeys, checked with hypothesis over shapes, values and masks."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jaxloss.registry import LOSSES, LossSpec

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
