"""Laws every loss obeys and agreement with the textbook reference, checked with hypothesis.

Hypothesis draws the values, not only a seed: targets, predictions or logits,
hyper-parameters from their documented ranges, weights and masks, with the edges
included: differences of exactly 0 and exactly ``delta`` (huber) or ``beta``
(smooth_l1), large values, infinite logits where the loss is documented to be finite
there, probabilities and targets of exactly 0 and 1, zero weights, empty masks.

Compilation is the real cost (each distinct shape, dtype and reduction compiles once
per loss), so the arrays come in a few fixed shapes and the hyper-parameters are passed
as arrays, which jaxloss traces instead of compiling once per value.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxloss.registry import LOSSES, LossSpec
from tests import reference

# The laws are drawn for the first eleven losses, whose inputs and options the strategies
# below know how to draw with their edges. The later families are covered by the
# generic tests of tests/test_registry.py, test_extremes.py, test_checked.py and
# test_precision.py, and by their own family tests against optax and torch; drawing
# their inputs here too would cost more of the suite's 10-minute budget than it adds.
PROPERTY_LOSSES = (
    "mse",
    "sigmoid_mse",
    "mae",
    "huber",
    "smooth_l1",
    "binary_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "one_hot_mse",
    "rescaled_square_loss",
)
SPECS = [LOSSES[name] for name in PROPERTY_LOSSES]
# Rows by columns; a class loss reads 4 examples of 3 classes.
SHAPE = (4, 3)
# Examples per test: the profile's (tests/conftest.py: 4, or 12 with
# --hypothesis-profile=thorough), derandomized.
SETTINGS = settings()


def by_name(function):
    return pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])(function)


def loss_shape(spec: LossSpec, shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] if spec.per_example else shape


# ---------------------------------------------------------------------------------------
# Strategies: values with their edges.


def f32(value: float) -> float:
    """``value`` rounded to float32, so that hypothesis can place it in a float32 array."""
    return float(np.float32(value))


def floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(f32(low), f32(high), width=32, allow_subnormal=False)


def grid(low: float, high: float, step: float) -> st.SearchStrategy[float]:
    """Multiples of a power-of-two ``step``: sums and differences of them are exact."""
    return st.integers(round(low / step), round(high / step)).map(lambda k: k * step)


def signed(magnitudes: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.tuples(magnitudes, st.sampled_from([1.0, -1.0])).map(lambda pair: pair[0] * pair[1])


def arrays(shape, elements) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float32, shape, elements=elements)


# The thresholds of huber and smooth_l1 lie on a grid of 1/512 and the regression
# targets on a grid of 1/64, so ``t + delta - t == delta`` holds exactly in float32 as
# in float64: the edge |d| = delta is exact, not one rounding away.
THRESHOLDS = grid(1 / 512, 64, 1 / 512)
OPTION_VALUES: dict[str, st.SearchStrategy[float]] = {
    "delta": THRESHOLDS,  # (0, inf)
    "beta": st.one_of(st.just(0.0), THRESHOLDS),  # [0, inf); 0 is exactly L1
    "label_smoothing": st.one_of(st.sampled_from([0.0, 1.0]), floats(0, 1)),  # [0, 1]
    # None (the default) takes the unweighted core, a number the weighted one.
    "pos_weight": st.one_of(st.none(), st.sampled_from([0.0, 1.0]), floats(0, 10)),  # [0, inf)
    # Hui & Belkin's k (> 0 keeps the loss non-negative) and m (any target logit).
    "k": st.one_of(st.just(1.0), floats(0.25, 16)),
    "m": st.one_of(st.just(1.0), floats(-8, 16)),
}
LARGE = signed(st.one_of(st.sampled_from([1e4, f32(1e15)]), floats(1e4, 1e15)))
REAL_TARGETS = st.one_of(grid(-100, 100, 1 / 64), st.sampled_from([1e4, -1e4]))
PROBABILITIES = st.one_of(st.sampled_from([0.0, 1.0]), floats(0, 1))
# 1e-6 keeps p (1 - p) above the 1e-12 at which torch clamps the gradient; 0 and 1 are
# the clamped edges, and 1 - 2**-24 is float32's largest probability below 1.
PREDICTED_PROBABILITIES = st.one_of(
    st.sampled_from([0.0, 1.0, f32(1e-6), 1 - 2**-24, 0.5]), floats(1e-6, 1)
)
# Logits of sigmoid losses stay where the textbook formula is accurate in float64
# (|z| <= 20); their infinite edges are placed separately.
SIGMOID_LOGITS = st.one_of(st.sampled_from([0.0, 20.0, -20.0]), floats(-20, 20))
# Scores of the other class losses; softmax is shifted by its row maximum below, so
# the reference does not overflow at 1e4 either.
SCORES = st.one_of(st.sampled_from([0.0, 1.0, 1e4, -1e4]), floats(-100, 100))
# An infinite logit, where the loss stays finite: for any target (sigmoid_mse, whose
# residual stays bounded) or only for the target it predicts (``+inf`` for 1, ``-inf``
# for 0: sigmoid_binary_cross_entropy is documented as 0 there).
INFINITE_LOGITS = {"sigmoid_mse": "any", "sigmoid_binary_cross_entropy": "matching"}
SOFTMAX = ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels")
# Thresholded regression losses and the option that holds their threshold.
KINKS = {"huber": "delta", "smooth_l1": "beta"}


def option_values(spec: LossSpec) -> st.SearchStrategy[dict[str, float | None]]:
    # A KeyError here means a new hyper-parameter needs its documented range above.
    return st.fixed_dictionaries({name: OPTION_VALUES[name] for name in spec.options})


@st.composite
def loss_inputs(draw, spec: LossSpec, options: dict[str, Any], shape=SHAPE, large=True):
    """Valid ``(first, second)`` float32 NumPy arrays for ``spec``, edges included."""
    if spec.target_kind == "labels":
        labels = st.integers(0, shape[-1] - 1)
        second = draw(hnp.arrays(np.int32, shape[:-1], elements=labels), label="labels")
    elif spec.target_kind == "class_probabilities":
        mass = draw(arrays(shape, st.one_of(st.just(0.0), floats(0, 1))), label="target mass")
        mass[..., 0] = np.where(mass.sum(axis=-1) == 0, 1, mass[..., 0])
        second = (mass / mass.sum(axis=-1, keepdims=True)).astype(np.float32)
    elif spec.target_kind == "probability":
        second = draw(arrays(shape, PROBABILITIES), label="targets")
    else:
        second = draw(arrays(shape, REAL_TARGETS if large else grid(-8, 8, 1 / 64)))

    if spec.target_kind == "real":
        # Predictions are targets plus drawn differences: 0, the threshold, or anything.
        threshold = options.get(KINKS.get(spec.name, ""), 1.0)
        edges = st.sampled_from([0.0, threshold, -threshold])
        moderate = grid(-100, 100, 1 / 64) if large else grid(-8, 8, 1 / 64)
        difference = st.one_of(edges, moderate, LARGE) if large else st.one_of(edges, moderate)
        offsets = draw(arrays(shape, difference), label="differences")
        first = (second.astype(np.float64) + offsets).astype(np.float32)
    elif spec.domain == "probability":
        first = draw(arrays(shape, PREDICTED_PROBABILITIES), label="probabilities")
    elif spec.domain == "logit" and not spec.has_classes:
        first = draw(arrays(shape, SIGMOID_LOGITS), label="logits")
        if spec.name in INFINITE_LOGITS:
            sides = hnp.arrays(np.int8, shape, elements=st.sampled_from([0, 1, -1]))
            side = draw(sides, label="infinite logits")
            infinite = np.where(side > 0, np.float32(np.inf), np.float32(-np.inf))
            first = np.where(side != 0, infinite, first).astype(np.float32)
            if INFINITE_LOGITS[spec.name] == "matching":
                second = np.where(side != 0, (side > 0).astype(np.float32), second)
    else:
        scores = SCORES if large else floats(-8, 8)
        first = draw(arrays(shape, scores), label="scores")
        if spec.name in SOFTMAX and options.get("label_smoothing", 0.0) == 0:
            # A class masked with a -inf logit costs nothing where its target is 0.
            target_is_zero = (
                np.arange(shape[-1]) != second[..., None]
                if spec.target_kind == "labels"
                else second == 0
            )
            masked = draw(hnp.arrays(np.bool_, shape), label="-inf logits") & target_is_zero
            first = np.where(masked, np.float32(-np.inf), first).astype(np.float32)
    return first, second


def weights_and_mask(spec: LossSpec, shape=SHAPE):
    """Weights with zeros and ones, and a mask; both shrink towards weighing everything."""
    unreduced = loss_shape(spec, shape)
    # Weights from 0.01 keep the scaled gradients clear of float32's subnormal range.
    weights = arrays(unreduced, st.one_of(st.sampled_from([1.0, 0.0]), floats(0.01, 3)))
    # Drawn one by one, not as a NumPy array (which favours one fill value): most
    # masks are partial.
    size = int(np.prod(unreduced))
    dropped = st.lists(st.booleans(), min_size=size, max_size=size)
    where = dropped.map(lambda flags: ~np.asarray(flags, bool).reshape(unreduced))
    return st.tuples(weights, where)


def as_arrays(options: dict[str, float | None]) -> dict[str, jax.Array]:
    # Arrays, not Python numbers: jaxloss compiles once per Python value of an option.
    return {name: jnp.float32(value) for name, value in options.items() if value is not None}


@st.composite
def calls(draw, spec: LossSpec, shape=SHAPE, large=True, weighted=True):
    """``(first, second, kwargs)`` for one call: drawn options, weights and mask.

    The options are arrays, the weights and mask always present (when ``weighted``),
    so every test's calls share one compiled signature per reduction.
    """
    options = draw(option_values(spec), label="options")
    first, second = draw(loss_inputs(spec, options, shape, large), label="inputs")
    kwargs: dict[str, Any] = as_arrays(options)
    if weighted:
        weights, where = draw(weights_and_mask(spec, shape), label="weights, where")
        kwargs |= {"weights": jnp.asarray(weights), "where": jnp.asarray(where)}
    return jnp.asarray(first), jnp.asarray(second), kwargs


# ---------------------------------------------------------------------------------------
# The expected result: the textbook reference in float64, with documented limits.


def reference_first(spec: LossSpec, first: np.ndarray) -> np.ndarray:
    """``first`` in float64, where the textbook formula gives the limit jaxloss documents.

    An infinite sigmoid logit becomes +-35 (float64's sigmoid is within 1e-15 of 0 or 1
    there); softmax logits are shifted by their row maximum (softmax does not change)
    and a -inf logit becomes -1000, whose exp is exactly 0 in float64; a probability of
    0 or 1 becomes 0.5 and is replaced by torch's clamped value in :func:`limits`.
    """
    first = np.asarray(first, np.float64)
    if spec.domain == "logit" and not spec.has_classes:
        return np.clip(first, -35, 35)
    if spec.name in SOFTMAX:
        finite = np.where(np.isfinite(first), first, -np.inf)
        top = np.max(finite, axis=-1, keepdims=True) if first.size else 0
        return np.where(np.isneginf(first), -1000.0, first - top)
    if spec.domain == "probability":
        return np.where((first == 0) | (first == 1), 0.5, first)
    return first


def limits(spec: LossSpec, first: np.ndarray, second: np.ndarray, options: dict[str, Any]):
    """Where the textbook formula has no value, the documented one.

    Returns ``(where, value, derivative, second_derivative)`` of the unreduced loss, or
    None. Elementwise losses only.
    """
    if spec.name == "binary_cross_entropy":
        # torch's BCELoss clamps each log at -100 and divides the gradient by
        # max(p (1 - p), 1e-12): at p = 0 or 1 the loss is 100 |p - t|.
        edge = (first == 0) | (first == 1)
        return (
            edge,
            100 * np.abs(first - second),
            (first - second) * 1e12,
            np.full_like(first, 1e12),
        )
    if spec.name not in ("mae", "smooth_l1"):
        return None
    difference = first - second
    l1 = (np.abs(difference), np.sign(difference), np.zeros_like(first))
    if spec.name == "mae":
        # sign(0) = 0 at a tie, as torch's l1_loss; jnp.abs's derivative there is 1.
        return (difference == 0, *l1)
    if float(options.get("beta", 1.0)) == 0:
        # beta = 0 is exactly L1; the textbook 0.5 d**2 / beta divides by 0.
        return (np.ones(first.shape, bool), *l1)
    return None


def hessian_blocks(spec: LossSpec, full: np.ndarray, shape) -> np.ndarray:
    """The non-zero part of a full Hessian, laid out as ``jaxloss.hessians`` returns it."""
    size = int(np.prod(shape))
    if not spec.per_example:
        return np.diagonal(full.reshape(size, size)).reshape(shape)
    rows, classes = size // shape[-1], shape[-1]
    blocks = full.reshape(rows, classes, rows, classes)
    return np.stack([blocks[row, :, row, :] for row in range(rows)]).reshape(
        (*shape[:-1], classes, classes)
    )


@functools.partial(jax.jit, static_argnames=("name", "reduction", "hessian"))
def _reference_parts(name, x, y, weights, where, options, *, reduction, hessian):
    """The unreduced reference, its reduced gradient (and Hessian), and the reduction scale.

    Jitted once per loss, reduction and shape: the eager formulas cost more per example.
    """
    kwargs = {"reduction": reduction, "weights": weights, "where": where, **options}
    unreduced = reference.unreduced(name, x, y, **options)
    gradient = reference.gradient(name, x, y, **kwargs)
    full_hessian = None
    if hessian:
        full_hessian = jax.hessian(lambda z: jnp.sum(reference.loss(name, z, y, **kwargs)))(x)
    # Each entry's factor in the reduced value: 1, its weight, or weight / total weight.
    scale = jax.grad(lambda u: jnp.sum(reference.reduce(u, reduction, weights, where)))(
        jnp.zeros_like(unreduced)
    )
    return unreduced, gradient, full_hessian, scale


_reduce = jax.jit(reference.reduce, static_argnames="reduction")


def float64(array) -> np.ndarray:
    return np.asarray(jnp.asarray(array, jnp.float32), np.float64)


def expected(spec, first, second, *, reduction, weights=None, where=None, hessian=False, **options):
    """Reference value, gradient, (Hessian) and each entry's reduction scale, in float64."""
    first = float64(first)
    second = np.asarray(second) if spec.target_kind == "labels" else float64(second)
    weights = None if weights is None else float64(weights)
    where = None if where is None else np.asarray(where)
    options = {name: float64(value) for name, value in options.items()}
    with jax.enable_x64(True):
        unreduced, gradient, full_hessian, scale = map(
            lambda part: None if part is None else np.asarray(part),
            _reference_parts(
                spec.name,
                reference_first(spec, first),
                second,
                weights,
                where,
                options,
                reduction=reduction,
                hessian=hessian,
            ),
        )
        edges = limits(spec, first, second, options)
        if edges is not None:
            edge, value, derivative, second_derivative = edges
            unreduced = np.where(edge, value, unreduced)
        value = np.asarray(_reduce(unreduced, reduction, weights, where))
    over_nothing = reduction == "mean" and not np.any(np.isfinite(scale) & (scale != 0))
    if over_nothing:
        # A mean over nothing (all masked, zero weights, or empty) is 0 with gradient 0.
        scale = np.zeros_like(scale)
        gradient = np.zeros_like(gradient)
    if edges is not None:
        gradient = np.where(edge, scale * derivative, gradient)
    result = {
        "value": value,
        "gradient": gradient,
        "scale": scale[..., None] if spec.per_example else scale,
    }
    if hessian:
        blocks = hessian_blocks(spec, full_hessian, first.shape)
        if over_nothing:
            blocks = np.zeros_like(blocks)
        if edges is not None:
            blocks = np.where(edge, scale * second_derivative, blocks)
        result["hessian"] = blocks
    return result


def value_tolerance(spec, first, *, reduction, weights=None, where=None, **_) -> np.ndarray:
    """Absolute tolerance of the float32 value, reduced like the loss.

    Per example, float32 loses ~1e-7 of the logits' size (log-softmax sums and means
    them), or of their squares for the rescaled square loss (it computes
    ``sum z**2 - z_y**2 + k (z_y - m)**2``); elementwise losses are exact to rtol.
    """
    first = float64(first)
    magnitude = np.abs(np.where(np.isfinite(first), first, 0))
    if spec.per_example:
        if spec.name == "rescaled_square_loss":
            magnitude = np.sum(magnitude**2, axis=-1)
        else:
            magnitude = np.max(magnitude, axis=-1, initial=0)
        atol = 1e-6 * (1 + magnitude)
    else:
        atol = np.full(magnitude.shape, 1e-6)
    weights = None if weights is None else float64(weights)
    where = None if where is None else np.asarray(where)
    with jax.enable_x64(True):
        return np.asarray(_reduce(atol, reduction, weights, where))


def assert_close(actual, desired, *, rtol, atol, what):
    actual = np.asarray(jnp.asarray(actual, jnp.float32), np.float64)
    desired = np.asarray(desired, np.float64)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    close = np.isclose(actual, desired, rtol=rtol, atol=atol, equal_nan=False)
    close |= (actual == desired) & np.isinf(desired)
    assert np.all(close), f"{what}: got {actual[~close]}, expected {desired[~close]}"


# ---------------------------------------------------------------------------------------
# Values, gradients and Hessians against the reference.

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@by_name
@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS)
def test_value_and_derivatives_match_the_reference_at_drawn_values(spec, data, reduction):
    first, second, kwargs = data.draw(calls(spec), label="call")
    kwargs["reduction"] = reduction
    want = expected(spec, first, second, hessian=True, **kwargs)
    scale = np.abs(want["scale"])

    def summed(x):
        return jnp.sum(spec.loss(x, second, **kwargs))

    value = spec.loss(first, second, **kwargs)
    atol = value_tolerance(spec, np.asarray(first), **kwargs)
    assert_close(value, want["value"], rtol=2e-5, atol=atol, what="value")
    for what, gradient in (
        ("closed-form gradient", spec.gradient(first, second, **kwargs)),
        ("jax.grad", jax.grad(summed)(first)),
    ):
        assert_close(gradient, want["gradient"], rtol=2e-5, atol=1e-5 * scale, what=what)
    block_scale = scale[..., None] if spec.per_example else scale
    hessian = spec.hessian(first, second, **kwargs)
    assert_close(hessian, want["hessian"], rtol=1e-4, atol=1e-5 * block_scale, what="Hessian")
    if reduction == "sum":
        # Autodiff's second derivative along a fixed direction, through jaxloss's own
        # derivative rules (one reduction: a Hessian-vector product compiles slowly).
        direction = np.random.default_rng(0).standard_normal(first.shape).astype(np.float32)
        along = jax.jvp(jax.grad(summed), (first,), (jnp.asarray(direction),))[1]
        if spec.per_example:
            want_along = np.einsum("...ij,...j->...i", want["hessian"], direction)
        else:
            want_along = want["hessian"] * direction
        rtol = 1e-4
        if spec.domain == "probability":
            # Autodiff of binary_cross_entropy's derivative rule (p - t) / (p (1 - p))
            # cancels to a few eps / p of its size near p = 0 (and 1): 14% at p = 1e-6.
            # The closed-form Hessian above is exact there.
            p = np.asarray(first, np.float64)
            rtol = rtol + 2**-21 / np.maximum(np.minimum(p, 1 - p), 2**-24)
        assert_close(along, want_along, rtol=rtol, atol=1e-4 * scale, what="Hessian along")


# ---------------------------------------------------------------------------------------
# Laws, on drawn values with their edges.


@by_name
@SETTINGS
@given(data=st.data())
def test_non_negative(spec, data):
    first, second, kwargs = data.draw(calls(spec), label="call")
    unreduced = spec.loss(first, second, reduction="none", **kwargs)
    assert jnp.all(unreduced >= 0), unreduced  # NaN fails too


@by_name
@SETTINGS
@given(data=st.data())
def test_sum_is_mean_times_count(spec, data):
    first, second, options = data.draw(calls(spec, weighted=False), label="call")
    count = int(np.prod(loss_shape(spec, first.shape)))
    mean = spec.loss(first, second, **options)
    total = spec.loss(first, second, reduction="sum", **options)
    np.testing.assert_allclose(total, mean * count, rtol=2e-6, atol=1e-30)


@by_name
@SETTINGS
@given(data=st.data())
def test_weighted_sum_is_weighted_mean_times_total_weight(spec, data):
    # The documented rule: "mean" is sum(w m l) / sum(w m), and 0 when sum(w m) is 0.
    first, second, kwargs = data.draw(calls(spec), label="call")
    total_weight = jnp.sum(jnp.where(kwargs["where"], kwargs["weights"], 0))
    mean = spec.loss(first, second, **kwargs)
    total = spec.loss(first, second, reduction="sum", **kwargs)
    np.testing.assert_allclose(total, mean * total_weight, rtol=4e-6, atol=1e-30)


@by_name
@SETTINGS
@given(data=st.data(), kept=st.lists(st.booleans(), min_size=SHAPE[0], max_size=SHAPE[0]))
def test_masked_equals_filtered(spec, data, kept):
    # Rows are kept or dropped along the first axis: f(x, where=m) == f(x[m]).
    first, second, kwargs = data.draw(calls(spec), label="call")
    kept_rows = np.asarray(kept)
    unreduced = loss_shape(spec, SHAPE)
    where = jnp.broadcast_to(
        jnp.asarray(kept_rows).reshape((-1,) + (1,) * (len(unreduced) - 1)), unreduced
    )
    weights = kwargs.pop("weights")
    del kwargs["where"]
    masked = spec.loss(first, second, weights=weights, where=where, **kwargs)
    if kept_rows.any():
        rows = jnp.asarray(kept_rows)
        filtered = spec.loss(first[rows], second[rows], weights=weights[rows], **kwargs)
    else:
        filtered = jnp.float32(0.0)  # the documented mean over nothing
    # Two shapes compile to two programs, rounded differently at logits of 1e4.
    atol = value_tolerance(spec, first, reduction="mean", weights=weights, where=where)
    assert_close(masked, filtered, rtol=2e-6, atol=atol, what="masked against filtered")


def at_the_minimum(spec, first, second, options):
    """Inputs at which the loss is documented to be exactly 0, or None if it has none."""
    if spec.target_kind == "real":
        return second, second
    labels = spec.target_kind == "labels"
    one_hot = (np.arange(first.shape[-1]) == np.asarray(second)[..., None]) if labels else None
    if spec.name == "one_hot_mse":
        return jnp.asarray(one_hot, jnp.float32), second
    if spec.name == "rescaled_square_loss":
        # k (z_y - m)**2 + sum of the other z**2 vanishes at z = m onehot(y).
        return jnp.asarray(np.where(one_hot, np.float32(options["m"]), np.float32(0))), second
    if spec.target_kind != "probability":
        return None  # the softmax losses reach 0 only as a logit goes to +inf
    hard_targets = jnp.round(second)
    if spec.domain == "probability":
        return hard_targets, hard_targets
    # An infinite logit of the target's side: sigmoid(z) is exactly the 0 or 1 target.
    return jnp.where(hard_targets == 1, jnp.inf, -jnp.inf).astype(jnp.float32), hard_targets


HAS_A_ZERO = [spec for spec in SPECS if spec.name not in SOFTMAX]


@pytest.mark.parametrize("spec", HAS_A_ZERO, ids=[spec.name for spec in HAS_A_ZERO])
@SETTINGS
@given(data=st.data())
def test_zero_value_and_gradient_at_equality(spec, data):
    first, second, kwargs = data.draw(calls(spec), label="call")
    first, second = at_the_minimum(spec, first, second, kwargs)
    value = spec.loss(first, second, reduction="none", **kwargs)
    if spec.name == "rescaled_square_loss":
        # It computes sum z**2 - z_y**2 + k (z_y - m)**2: the cancellation leaves a
        # rounding of m**2, which can land below 0 (-1.3e-6 at m = 8.365234, k = 1).
        atol = value_tolerance(spec, first, reduction="none", weights=kwargs["weights"])
        assert_close(value, np.zeros(value.shape), rtol=0, atol=atol, what="value at the minimum")
    else:
        np.testing.assert_array_equal(value, 0)
    np.testing.assert_array_equal(spec.gradient(first, second, reduction="none", **kwargs), 0)


@by_name
@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS)
def test_weights_of_one_change_nothing(spec, data, reduction):
    first, second, kwargs = data.draw(calls(spec), label="call")
    ones = jnp.ones_like(kwargs["weights"])
    everywhere = jnp.ones_like(kwargs["where"])
    options = {name: kwargs[name] for name in spec.options if name in kwargs}
    # Equal up to float32 rounding: the weighted sum may be accumulated in another order.
    atol = value_tolerance(spec, first, reduction=reduction)
    assert_close(
        spec.loss(first, second, reduction=reduction, weights=ones, where=everywhere, **options),
        spec.loss(first, second, reduction=reduction, **options),
        rtol=1e-6,
        atol=atol,
        what="unit weights against none",
    )


SYMMETRIC = [LOSSES[name] for name in ("mse", "mae", "huber", "smooth_l1")]


@pytest.mark.parametrize("spec", SYMMETRIC, ids=[spec.name for spec in SYMMETRIC])
@SETTINGS
@given(data=st.data(), reduction=REDUCTIONS)
def test_symmetric_in_predictions_and_targets(spec, data, reduction):
    first, second, kwargs = data.draw(calls(spec), label="call")
    np.testing.assert_array_equal(
        spec.loss(first, second, reduction=reduction, **kwargs),
        spec.loss(second, first, reduction=reduction, **kwargs),
    )


@SETTINGS
@given(data=st.data(), scale=st.sampled_from([0.0, -1.0, 0.5, 4.0, -8.0]))
def test_scaling_laws_of_mse_and_mae(data, scale):
    # Powers of two and 0 scale exactly in float32, so the laws hold to rounding.
    first, second, _ = data.draw(calls(LOSSES["mse"], large=False, weighted=False))
    scaled = (jnp.float32(scale) * first, jnp.float32(scale) * second)
    np.testing.assert_allclose(
        LOSSES["mse"].loss(*scaled), scale**2 * LOSSES["mse"].loss(first, second), rtol=1e-6
    )
    np.testing.assert_allclose(
        LOSSES["mae"].loss(*scaled), abs(scale) * LOSSES["mae"].loss(first, second), rtol=1e-6
    )


HALF = st.sampled_from([jnp.float16, jnp.bfloat16, jnp.float32])


@by_name
@SETTINGS
@given(data=st.data(), dtype=HALF)
def test_laws_hold_in_every_float_dtype(spec, data, dtype):
    first, second, options = data.draw(calls(spec, large=False, weighted=False), label="call")
    first = first.astype(dtype)
    if spec.target_kind != "labels":
        second = second.astype(dtype)
    unreduced = spec.loss(first, second, reduction="none", **options)
    assert unreduced.dtype == dtype and jnp.all(unreduced >= 0)
    count = int(np.prod(loss_shape(spec, first.shape)))
    mean = spec.loss(first, second, **options)
    total = spec.loss(first, second, reduction="sum", **options)
    np.testing.assert_allclose(total, mean * count, rtol=1e-5, atol=1e-30)


# ---------------------------------------------------------------------------------------
# Fuzzing: valid calls of other shapes and dtypes match the reference; a call with one
# defect raises the documented exception.

FUZZ_SHAPES = ((5,), (2, 3, 4), (0, 3))
FUZZ_DTYPES = (jnp.float32, jnp.float16, jnp.bfloat16)
# Out-of-range values of the range-checked hyper-parameters (see their docstrings).
OUT_OF_RANGE = {"delta": (0.0, -1.0), "beta": (-0.5,), "label_smoothing": (-0.1, 1.5)}
DEFECTS = {
    "integer first argument": TypeError,
    "unknown reduction": ValueError,
    "targets of another shape": ValueError,
    "targets of a wrong dtype": TypeError,  # float labels, or complex targets
    "weights that do not broadcast": ValueError,
    "non-boolean mask": TypeError,
    "option out of range": ValueError,
}


def defects(spec: LossSpec) -> list[str]:
    checked = any(name in OUT_OF_RANGE for name in spec.options)
    return [name for name in DEFECTS if checked or name != "option out of range"]


@st.composite
def fuzzed_calls(draw, spec: LossSpec):
    """``(first, second, kwargs, defect)``: a valid call (mostly), or one with a defect."""
    shape = draw(st.sampled_from(FUZZ_SHAPES), label="shape")
    dtype = draw(st.sampled_from(FUZZ_DTYPES), label="dtype")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    first, second = spec.sample(rng, shape)
    first = jnp.asarray(first, dtype)
    if spec.target_kind == "labels":
        second = jnp.asarray(second, draw(st.sampled_from([jnp.int32, jnp.uint8])))
    else:
        target_dtype = draw(st.sampled_from([dtype, jnp.float32, jnp.int32, jnp.bool_]))
        if not jnp.issubdtype(target_dtype, jnp.floating):
            # Integer and boolean targets are documented to be cast: 0/1 labels.
            if spec.target_kind == "class_probabilities":
                second = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
            else:
                second = rng.integers(0, 2, shape)
        second = jnp.asarray(second).astype(target_dtype)
    options = draw(st.sampled_from(["default", "registry", "drawn"]), label="options")
    kwargs: dict[str, Any] = {
        "default": {},
        "registry": dict(spec.options),  # Python numbers: static under jit
        "drawn": as_arrays(draw(option_values(spec))),
    }[options]
    kwargs["reduction"] = draw(REDUCTIONS, label="reduction")
    unreduced = loss_shape(spec, shape)
    weight_shape = draw(
        st.sampled_from([None, unreduced, unreduced[-1:], (1,) * len(unreduced)]),
        label="weights shape",
    )
    if weight_shape is not None:
        kwargs["weights"] = jnp.asarray(rng.uniform(0.1, 2.0, weight_shape), jnp.float32)
    if draw(st.booleans(), label="masked"):
        kwargs["where"] = jnp.asarray(rng.uniform(size=unreduced) < 0.7)

    # Two valid calls for each defect: most calls reach the reference.
    choices = defects(spec)
    defect = draw(st.sampled_from([None] * 2 * len(choices) + choices), label="defect")
    if defect == "integer first argument":
        first = first.astype(jnp.int32)
    elif defect == "unknown reduction":
        kwargs["reduction"] = draw(st.sampled_from(["average", "elementwise_mean", "", "Mean"]))
    elif defect == "targets of another shape":
        second = second[None]
    elif defect == "targets of a wrong dtype":
        wrong = jnp.float32 if spec.target_kind == "labels" else jnp.complex64
        second = second.astype(wrong)
    elif defect == "weights that do not broadcast":
        kwargs["weights"] = jnp.ones((*unreduced, 2), jnp.float32)
    elif defect == "non-boolean mask":
        kwargs["where"] = jnp.ones(unreduced, jnp.float32)
    elif defect == "option out of range":
        name = draw(st.sampled_from([name for name in spec.options if name in OUT_OF_RANGE]))
        value = draw(st.sampled_from(OUT_OF_RANGE[name]))
        kwargs[name] = draw(st.sampled_from([value, jnp.float32(value)]))
    return first, second, kwargs, defect


def tolerance(dtype) -> float:
    """A few roundings of ``dtype``, and float32's 2e-5 at least."""
    return max(2e-5, 4 * float(jnp.finfo(dtype).eps))


@by_name
@SETTINGS
@given(data=st.data())
def test_fuzzed_calls_match_the_reference_or_raise_the_documented_error(spec, data):
    first, second, kwargs, defect = data.draw(fuzzed_calls(spec), label="call")
    if defect is not None:
        with pytest.raises(DEFECTS[defect]):
            spec.loss(first, second, **kwargs)
        with pytest.raises(DEFECTS[defect]):
            spec.gradient(first, second, **kwargs)
        return
    want = expected(spec, first, second, **kwargs)
    value = spec.loss(first, second, **kwargs)
    gradient = spec.gradient(first, second, **kwargs)
    assert gradient.dtype == first.dtype and gradient.shape == first.shape
    rtol = tolerance(value.dtype)
    atol = value_tolerance(spec, first, **kwargs) + rtol * np.abs(want["value"])
    assert_close(value, want["value"], rtol=rtol, atol=atol, what="value")
    rtol = tolerance(first.dtype)
    assert_close(
        gradient, want["gradient"], rtol=rtol, atol=rtol * np.abs(want["scale"]), what="gradient"
    )
