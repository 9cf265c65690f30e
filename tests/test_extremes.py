"""Values and gradients of every registry loss at extreme inputs.

For each loss the first argument is set to one extreme value (for class losses, in
one class of each example: the label's class, or class 0), the targets are kept
valid, and the test asserts

* the loss is never NaN where its mathematical value exists (it may be +inf, the
  mathematical value, or overflow to inf where the true value exceeds the dtype);
* wherever the loss is finite, ``jax.grad`` and ``jaxloss.gradients.<name>`` are
  finite too.

Known failures are marked ``xfail(strict=True, raises=AssertionError)`` with their
cause, so a fix shows up as an unexpected pass, and a test that breaks another way (an
exception from a changed API, say) fails instead of passing as the known failure.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss
from jaxloss.registry import LOSSES, LossSpec

SPECS = list(LOSSES.values())
SHAPE = (3, 4)  # (examples, classes) for class losses
# Targets for elementwise losses: both ends of [0, 1] and inside, where extremes hurt most.
ELEMENTWISE_TARGETS = np.asarray([0.0, 1.0, 0.3, 1.0])
REAL_AND_LOGIT_VALUES = (0.0, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4, 1e30, -1e30, np.inf, -np.inf)
POSITIVE_VALUES = (0.0, float(np.finfo(np.float32).tiny), 1.0, 1e4, 1e30, np.inf)
LOG_PROBABILITY_VALUES = (0.0, -1.0, -20.0, -1e4, -1e30, -np.inf)
HALF_DTYPES = (jnp.float16, jnp.bfloat16)

BCE_FLOAT16_GRADIENT = (
    "the closed-form gradient (p - y) / max(p (1 - p), 1e-12) is 1e12 / N at p = 0 or 1 "
    "(torch's clamp), computed in float32 and cast back to float16, whose max is 65504: "
    "it overflows to inf"
)

TRIPLET_INFINITE_ANCHOR = (
    "an anchor with an infinite entry is infinitely far from both the positive and the "
    "negative, and d(a, p) - d(a, n) is inf - inf = NaN (as in torch and optax); the "
    "limit exists along a ray but depends on its direction, which one array cannot say"
)

CATEGORICAL_HINGE_SOFT_TARGETS = (
    "Keras's categorical hinge max((1 - t) s) - sum(t s) at an infinite score with soft "
    "targets (the extremes use softmax rows) is inf - inf; its limit (1 - 2 t) inf is "
    "+inf for t < 1/2, 0 for t > 1/2 and undefined at 1/2 (Keras gives NaN too); one-hot "
    "targets are exact"
)

POISSON_RATE_ZERO_FLOAT16_GRADIENT = (
    "at a rate of 0 the gradient -t / (rate + eps) is -t / 1e-8 (torch's eps), -5e8 / N "
    "here, beyond float16's largest number 65504: inf is the correctly rounded result"
)


def known_failure(reason: str) -> pytest.MarkDecorator:
    """A strict xfail that only an assertion (a NaN or inf asserted away) satisfies."""
    return pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason)


def probability_values(dtype) -> tuple[float, ...]:
    """0, the smallest normal number, the largest number below 1, and 1, in ``dtype``."""
    info = jnp.finfo(dtype)
    return (0.0, float(info.tiny), float(1 - info.epsneg), 1.0)


def extreme_inputs(spec: LossSpec, value: float, dtype) -> tuple[jax.Array, ...]:
    """A first argument holding ``value``, in the label's class (or class 0) for class losses.

    Per-example losses over a feature axis hold it in feature 0; the other inputs are
    valid samples (elementwise real or probability targets: both ends and inside).
    """
    first, second, *more = spec.sample(np.random.default_rng(0), SHAPE)
    if spec.target_kind == "labels":
        in_label = np.arange(SHAPE[-1]) == second[:, None]
        first = np.where(in_label, value, 0.0)
    elif spec.has_classes or spec.per_example:
        first = np.array(first) if spec.domain == "log_probability" else np.zeros(SHAPE)
        first[:, 0] = value
    else:
        first = np.full(SHAPE, value)
        if spec.target_kind in ("real", "probability"):
            second = np.broadcast_to(ELEMENTWISE_TARGETS, SHAPE)
    first = jnp.asarray(first, dtype)
    second = jnp.asarray(second) if spec.target_kind == "labels" else jnp.asarray(second, dtype)
    return first, second, *(jnp.asarray(array, dtype) for array in more)


def value_and_gradients(spec: LossSpec, first, *others, **options):
    """The loss, ``jax.grad`` of it and its closed-form gradient."""
    loss = spec.loss(first, *others, **options)
    autodiff = jax.grad(lambda x: spec.loss(x, *others, **options))(first)
    return loss, autodiff, spec.gradient(first, *others, **options)


def assert_sound(spec: LossSpec, first, loss, autodiff, closed_form):
    assert not np.isnan(loss), (spec.name, first, loss)
    if np.isfinite(loss):
        assert np.all(np.isfinite(autodiff)), (spec.name, first, autodiff)
        assert np.all(np.isfinite(closed_form)), (spec.name, first, closed_form)


def assert_value_and_gradients_sound(spec: LossSpec, first, *others, **options):
    assert_sound(spec, first, *value_and_gradients(spec, first, *others, **options))


def float32_values(spec: LossSpec) -> tuple[float, ...]:
    return {
        "probability": probability_values(jnp.float32),
        "positive": POSITIVE_VALUES,
        "log_probability": LOG_PROBABILITY_VALUES,
    }.get(spec.domain, REAL_AND_LOGIT_VALUES)


@functools.cache
def float32_extremes(spec: LossSpec) -> list:
    """Per value, the inputs and (loss, jax.grad, closed form) without and with options.

    Every value of one loss in one compiled program (``jax.vmap`` over the values):
    called one by one, each value would trace and compile the loss again.
    """
    per_value = [extreme_inputs(spec, value, jnp.float32) for value in float32_values(spec)]
    stacked = tuple(jnp.stack(column) for column in zip(*per_value, strict=True))

    def both(*inputs):
        return (
            value_and_gradients(spec, *inputs),
            value_and_gradients(spec, *inputs, **spec.options),
        )

    results = jax.tree.map(np.asarray, jax.jit(jax.vmap(both))(*stacked))
    return [
        (np.asarray(inputs[0]), jax.tree.map(lambda array, i=index: array[i], results))
        for index, inputs in enumerate(per_value)
    ]


def _float32_cases():
    for spec in SPECS:
        for index, value in enumerate(float32_values(spec)):
            marks = [pytest.mark.xdist_group(f"extremes-{spec.name}")]
            if spec.name == "triplet_margin_loss" and np.isinf(value):
                marks.append(known_failure(TRIPLET_INFINITE_ANCHOR))
            if spec.name == "categorical_hinge" and value == np.inf:
                marks.append(known_failure(CATEGORICAL_HINGE_SOFT_TARGETS))
            yield pytest.param(spec, index, id=f"{spec.name}-{value:g}", marks=marks)


# Compiled with XLA's defaults, as users' programs are (tests/test_default_xla.py): the
# settings can differ in where an overflow turns into NaN (rescaled_square_loss's did,
# at |z_y| = 1e30).
@pytest.mark.default_xla
@pytest.mark.parametrize(("spec", "index"), list(_float32_cases()))
def test_float32_extremes(spec, index):
    first, (plain, with_options) = float32_extremes(spec)[index]
    assert_sound(spec, first, *plain)
    assert_sound(spec, first, *with_options)


def _half_precision_cases():
    for spec in SPECS:
        for dtype in HALF_DTYPES:
            if spec.domain == "probability":
                values = probability_values(dtype)
            else:
                largest = float(jnp.finfo(dtype).max)
                values = {"positive": (0.0, largest), "log_probability": (0.0, -largest)}.get(
                    spec.domain, (largest, -largest)
                )
            for value in values:
                marks = []
                if spec.domain == "probability" and dtype == jnp.float16 and value in (0, 1):
                    marks.append(known_failure(BCE_FLOAT16_GRADIENT))
                if spec.name == "poisson_nll_with_rates" and dtype == jnp.float16 and value == 0:
                    marks.append(known_failure(POISSON_RATE_ZERO_FLOAT16_GRADIENT))
                name = jnp.dtype(dtype).name
                yield pytest.param(
                    spec, dtype, value, id=f"{spec.name}-{name}-{value:g}", marks=marks
                )


@pytest.mark.slow  # two more dtypes per loss; the float32 extremes run by default
@pytest.mark.parametrize(("spec", "dtype", "value"), list(_half_precision_cases()))
def test_half_precision_extremes(spec, dtype, value):
    first, *others = extreme_inputs(spec, value, dtype)
    assert first.dtype == dtype
    # The largest value is exactly representable, so the input holds it, not inf.
    assert jnp.all(jnp.isfinite(first))
    assert_value_and_gradients_sound(spec, first, *others)
    assert_value_and_gradients_sound(spec, first, *others, **spec.options)


def test_float16_squared_overflow_is_computed_in_float32():
    # 65504 ** 2 = 4.29e9 overflows float16 but not the float32 the loss computes in.
    largest = jnp.finfo(jnp.float16).max
    predictions = jnp.full((4,), largest, jnp.float16)
    value = jaxloss.mse(predictions, jnp.zeros(4, jnp.float16))
    np.testing.assert_allclose(value, 65504.0**2, rtol=1e-6)


# --------------------------------------------------------------------------------------
# Softmax cross-entropy with classes masked by -inf logits.

MASKED_LOGITS = np.asarray(
    [[2.0, -np.inf, 0.5, -1.0], [-np.inf, 1.0, -np.inf, 0.0], [0.3, 0.1, -np.inf, -np.inf]],
    np.float32,
)
MASKED_LABELS = np.asarray([0, 3, 1], np.int32)


def masked_targets(name: str) -> np.ndarray:
    if name.endswith("integer_labels"):
        return MASKED_LABELS
    # Class probabilities with zero mass on the masked classes.
    targets = np.asarray(
        [[0.6, 0.0, 0.3, 0.1], [0.0, 0.25, 0.0, 0.75], [0.5, 0.5, 0.0, 0.0]], np.float32
    )
    return targets


def reference_over_unmasked_classes(targets: np.ndarray) -> np.ndarray:
    """-sum_c y_c log softmax(z)_c in float64 over the finite logits of each row."""
    losses = []
    for logits, row_targets in zip(MASKED_LOGITS.astype(np.float64), targets, strict=True):
        kept = np.isfinite(logits)
        log_softmax = logits[kept] - np.log(np.sum(np.exp(logits[kept])))
        losses.append(-np.sum(row_targets[kept] * log_softmax))
    return np.asarray(losses)


SOFTMAX_NAMES = ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels")


@pytest.mark.parametrize("name", SOFTMAX_NAMES)
def test_softmax_minus_inf_masked_classes_give_the_finite_value_and_gradient(name):
    loss, gradient = getattr(jaxloss, name), getattr(jaxloss.gradients, name)
    logits = jnp.asarray(MASKED_LOGITS)
    targets = masked_targets(name)
    dense_targets = (
        np.eye(4, dtype=np.float32)[targets] if name.endswith("integer_labels") else targets
    )
    expected = reference_over_unmasked_classes(dense_targets)

    np.testing.assert_allclose(loss(logits, targets, reduction="none"), expected, rtol=1e-6)
    np.testing.assert_allclose(loss(logits, targets), expected.mean(), rtol=1e-6)
    masked = ~np.isfinite(MASKED_LOGITS)
    for candidate in (jax.grad(loss)(logits, targets), gradient(logits, targets)):
        assert jnp.all(jnp.isfinite(candidate))
        # softmax is exactly 0 at a masked class and so is the target: no gradient there.
        assert jnp.all(candidate[masked] == 0)
    # With label smoothing every class has target mass, so a masked class costs +inf.
    smoothed = loss(logits, targets, label_smoothing=0.1, reduction="none")
    assert jnp.all(jnp.isposinf(smoothed))


@pytest.mark.parametrize("name", SOFTMAX_NAMES)
def test_softmax_plus_inf_logit_gives_the_limit(name):
    # As z_c -> +inf with the other logits fixed, softmax(z) -> onehot(c): the loss
    # -log softmax(z)_y tends to 0 for y = c and to +inf otherwise, and its gradient
    # softmax(z) - onehot(y) to onehot(c) - onehot(y), finite either way.
    logits = jnp.asarray([[np.inf, 0.0, -1.0], [0.0, np.inf, 2.0]], jnp.float32)
    labels = np.asarray([0, 0], np.int32)
    targets = labels if name.endswith("integer_labels") else np.eye(3, dtype=np.float32)[labels]
    loss, gradient = getattr(jaxloss, name), getattr(jaxloss.gradients, name)
    np.testing.assert_array_equal(loss(logits, targets, reduction="none"), [0.0, np.inf])
    expected_gradient = np.asarray([[0.0, 0.0, 0.0], [-1.0, 1.0, 0.0]]) / 2
    for candidate in (jax.grad(loss)(logits, targets), gradient(logits, targets)):
        np.testing.assert_array_equal(candidate, expected_gradient)
    # With label smoothing every class has target mass: the limit is +inf.
    assert loss(logits[:1], targets[:1], label_smoothing=0.1) == np.inf
