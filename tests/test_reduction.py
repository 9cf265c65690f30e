"""The reduction, weighting, masking and precision rule, and bad-input errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss


def test_weighted_mean_is_sum_of_weighted_losses_over_sum_of_weights():
    predictions = jnp.asarray([1.0, 2.0, 3.0])
    targets = jnp.zeros(3)
    weights = jnp.asarray([1.0, 0.0, 3.0])
    # (1 * 1 + 0 * 4 + 3 * 9) / (1 + 0 + 3) = 28 / 4, worked by hand.
    assert jaxloss.mse(predictions, targets, weights=weights) == 7.0
    assert jaxloss.mse(predictions, targets, weights=weights, reduction="sum") == 28.0
    np.testing.assert_array_equal(
        jaxloss.mse(predictions, targets, weights=weights, reduction="none"), [1.0, 0.0, 27.0]
    )


def test_mask_divides_by_the_unmasked_count():
    predictions = jnp.asarray([1.0, 2.0, 3.0])
    where = jnp.asarray([True, False, True])
    # (1 + 9) / 2 unmasked entries.
    assert jaxloss.mse(predictions, jnp.zeros(3), where=where) == 5.0
    np.testing.assert_array_equal(
        jaxloss.mse(predictions, jnp.zeros(3), where=where, reduction="none"), [1.0, 0.0, 9.0]
    )


def test_per_example_weights_broadcast_over_the_class_axis_of_one_hot_mse():
    predictions = jnp.asarray([[1.0, 0.0], [0.0, 0.0]])
    labels = jnp.asarray([1, 0])
    # Elementwise losses [[1, 1], [1, 0]]; weights [[2], [0]] keep the first row: 4 / 4.
    weights = jnp.asarray([[2.0], [0.0]])
    assert jaxloss.one_hot_mse(predictions, labels, weights=weights) == 1.0


def test_class_weights_follow_the_weighted_mean_rule():
    logits = jnp.zeros((3, 2))
    labels = jnp.asarray([0, 1, 1])
    class_weights = jnp.asarray([1.0, 3.0])
    # Every example's loss is log 2; weights 1, 3, 3; weighted mean is log 2.
    value = jaxloss.softmax_cross_entropy_with_integer_labels(
        logits, labels, class_weights=class_weights
    )
    np.testing.assert_allclose(value, np.log(2.0), rtol=1e-6)
    total = jaxloss.softmax_cross_entropy_with_integer_labels(
        logits, labels, class_weights=class_weights, reduction="sum"
    )
    np.testing.assert_allclose(total, 7 * np.log(2.0), rtol=1e-6)


def test_half_precision_squares_do_not_overflow():
    # A float16 difference of 300 squared is 90 000, past float16's maximum of 65 504.
    predictions = jnp.full((1000,), 300.0, jnp.float16)
    targets = jnp.zeros((1000,), jnp.float16)
    value = jaxloss.mse(predictions, targets)
    assert value.dtype == jnp.float32
    np.testing.assert_allclose(value, 90000.0, rtol=1e-6)


def test_half_precision_is_accumulated_in_float32():
    rng = np.random.default_rng(0)
    predictions = jnp.asarray(rng.standard_normal(100_000), jnp.bfloat16)
    targets = jnp.zeros(100_000, jnp.bfloat16)
    exact = np.mean(np.square(np.asarray(predictions, np.float64)))
    np.testing.assert_allclose(jaxloss.mse(predictions, targets), exact, rtol=1e-5)


def test_out_of_range_labels_give_nan_rather_than_a_plausible_number():
    logits = jnp.zeros((2, 3))
    losses = jaxloss.softmax_cross_entropy_with_integer_labels(
        logits, jnp.asarray([3, -1]), reduction="none"
    )
    assert jnp.all(jnp.isnan(losses))
    masked = jaxloss.softmax_cross_entropy_with_integer_labels(
        logits, jnp.asarray([0, 7]), where=jnp.asarray([True, False])
    )
    np.testing.assert_allclose(masked, np.log(3.0), rtol=1e-6)


def test_class_axis_can_be_anywhere():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.standard_normal((4, 5, 3)), jnp.float32)
    labels = jnp.asarray(rng.integers(0, 5, size=(4, 3)), jnp.int32)
    moved = jnp.moveaxis(logits, 1, -1)
    expected = jaxloss.softmax_cross_entropy_with_integer_labels(moved, labels)
    got = jaxloss.softmax_cross_entropy_with_integer_labels(logits, labels, axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    gradient = jaxloss.gradients.softmax_cross_entropy_with_integer_labels(logits, labels, axis=1)
    autodiff = jax.grad(
        lambda x: jaxloss.softmax_cross_entropy_with_integer_labels(x, labels, axis=1)
    )(logits)
    np.testing.assert_allclose(gradient, autodiff, rtol=1e-6, atol=1e-8)


def test_huber_is_delta_times_smooth_l1():
    rng = np.random.default_rng(0)
    predictions = jnp.asarray(rng.standard_normal(50) * 3, jnp.float32)
    targets = jnp.zeros(50)
    np.testing.assert_allclose(
        jaxloss.huber(predictions, targets, delta=0.5),
        0.5 * jaxloss.smooth_l1(predictions, targets, beta=0.5),
        rtol=1e-6,
    )


def test_smooth_l1_with_zero_beta_is_mae_with_a_finite_gradient():
    predictions = jnp.asarray([0.0, 1.0, -2.0])
    targets = jnp.zeros(3)
    assert jaxloss.smooth_l1(predictions, targets, beta=0.0) == jaxloss.mae(predictions, targets)
    gradient = jax.grad(lambda p: jaxloss.smooth_l1(p, targets, beta=0.0))(predictions)
    np.testing.assert_allclose(gradient, [0.0, 1 / 3, -1 / 3], rtol=1e-6)


def test_sigmoid_binary_cross_entropy_at_infinite_logits():
    logits = jnp.asarray([jnp.inf, -jnp.inf, 1e4, -1e4])
    targets = jnp.asarray([1.0, 0.0, 1.0, 0.0])
    losses = jaxloss.sigmoid_binary_cross_entropy(logits, targets, reduction="none")
    gradient = jax.grad(lambda z: jaxloss.sigmoid_binary_cross_entropy(z, targets, reduction="sum"))
    np.testing.assert_array_equal(losses, [0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(gradient(logits), [0.0, 0.0, 0.0, 0.0])
    wrong = jaxloss.sigmoid_binary_cross_entropy(
        jnp.asarray([1e4, -1e4]), jnp.asarray([0.0, 1.0]), reduction="none"
    )
    np.testing.assert_allclose(wrong, [1e4, 1e4])


def test_softmax_cross_entropy_with_minus_infinity_at_masked_classes():
    logits = jnp.asarray([[2.0, -jnp.inf, 0.0]])
    targets = jnp.asarray([[1.0, 0.0, 0.0]])
    value = jaxloss.softmax_cross_entropy(logits, targets)
    gradient = jax.grad(lambda z: jaxloss.softmax_cross_entropy(z, targets))(logits)
    np.testing.assert_allclose(value, np.log1p(np.exp(-2.0)), rtol=1e-6)
    assert jnp.all(jnp.isfinite(gradient))
    assert gradient[0, 1] == 0


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    value = jaxloss.binary_cross_entropy(jnp.asarray([0.0]), jnp.asarray([1.0]))
    assert value == 100.0


def test_loss_is_compiled_once_per_signature():
    import chex

    counted = chex.assert_max_traces(lambda p, t: jaxloss.mse(p, t, reduction="sum"), n=1)
    jitted = jax.jit(counted)
    for seed in range(3):
        values = jnp.full((8,), float(seed))
        jitted(values, jnp.zeros(8))


# ---------------------------------------------------------------------------------------
# Bad input: every error is raised at trace time, under jit too.


def test_shape_mismatch_names_both_shapes_even_under_jit():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        jaxloss.mse(jnp.zeros((4, 1)), jnp.zeros(4))
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        jax.jit(jaxloss.sigmoid_mse)(jnp.zeros((4, 1)), jnp.zeros(4))


@pytest.mark.parametrize("dtype", (jnp.int32, jnp.bool_))
def test_integer_or_boolean_predictions_raise_type_error(dtype):
    with pytest.raises(TypeError, match="floating"):
        jaxloss.mse(jnp.zeros(3, dtype), jnp.zeros(3))


def test_unknown_reduction_lists_the_valid_values():
    with pytest.raises(ValueError, match=r"\['mean', 'sum', 'none'\].*'average'"):
        jaxloss.mse(jnp.zeros(3), jnp.zeros(3), reduction="average")  # type: ignore[arg-type]


def test_weights_or_mask_that_do_not_broadcast_raise():
    with pytest.raises(ValueError, match="weights of shape"):
        jaxloss.mse(jnp.zeros((2, 3)), jnp.zeros((2, 3)), weights=jnp.ones(2))
    with pytest.raises(ValueError, match="where of shape"):
        jaxloss.softmax_cross_entropy_with_integer_labels(
            jnp.zeros((2, 3)), jnp.zeros(2, jnp.int32), where=jnp.ones(3, bool)
        )
    with pytest.raises(TypeError, match="boolean mask"):
        jaxloss.mse(jnp.zeros(3), jnp.zeros(3), where=jnp.ones(3))


def test_float_labels_raise_type_error():
    with pytest.raises(TypeError, match="integer dtype"):
        jaxloss.softmax_cross_entropy_with_integer_labels(jnp.zeros((2, 3)), jnp.zeros(2))
    with pytest.raises(TypeError, match="integer dtype"):
        jaxloss.one_hot_mse(jnp.zeros((2, 3)), jnp.zeros(2))


def test_label_shape_must_drop_the_class_axis():
    with pytest.raises(ValueError, match=r"labels must have shape \(2,\)"):
        jaxloss.softmax_cross_entropy_with_integer_labels(
            jnp.zeros((2, 3)), jnp.zeros((2, 3), jnp.int32)
        )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: jaxloss.huber(jnp.zeros(2), jnp.zeros(2), delta=0.0), "delta"),
        (lambda: jaxloss.smooth_l1(jnp.zeros(2), jnp.zeros(2), beta=-1.0), "beta"),
        (
            lambda: jaxloss.softmax_cross_entropy(
                jnp.zeros((1, 2)), jnp.zeros((1, 2)), label_smoothing=1.5
            ),
            "label_smoothing",
        ),
        (lambda: jaxloss.smooth_labels(jnp.zeros(2), -0.1), "alpha"),
        (lambda: jaxloss.one_hot(jnp.zeros(2, jnp.int32), 0), "num_classes"),
        (
            lambda: jaxloss.softmax_cross_entropy(jnp.zeros((1, 2)), jnp.zeros((1, 2)), axis=2),
            "axis",
        ),
        (
            lambda: jaxloss.softmax_cross_entropy_with_integer_labels(
                jnp.zeros((1, 2)), jnp.zeros(1, jnp.int32), class_weights=jnp.ones(3)
            ),
            "class_weights",
        ),
    ],
)
def test_invalid_options_raise_value_error_naming_the_option(call, message):
    with pytest.raises(ValueError, match=message):
        call()


_LOGITS, _LABELS = jnp.zeros((2, 3)), jnp.asarray([0, 2])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # A negative pos_weight made a negative loss before it was checked.
        (
            lambda: jaxloss.sigmoid_binary_cross_entropy(
                jnp.zeros(2), jnp.ones(2), pos_weight=-1.0
            ),
            r"pos_weight must lie in \[0.0, inf\), got -1.0",
        ),
        (
            lambda: jaxloss.softmax_cross_entropy_with_integer_labels(
                _LOGITS, _LABELS, class_weights=jnp.asarray([1.0, -2.0, 1.0])
            ),
            r"class_weights must be finite and non-negative; got class_weights\[1\] = -2.0",
        ),
        (
            lambda: jaxloss.mse(jnp.zeros(2), jnp.zeros(2), weights=jnp.asarray([1.0, jnp.nan])),
            r"weights must be finite and non-negative; got weights\[1\] = nan",
        ),
        (
            lambda: jaxloss.rescaled_square_loss(_LOGITS, _LABELS, k=0.0),
            r"k must lie in \(0.0, inf\), got 0.0",
        ),
        (
            lambda: jaxloss.rescaled_square_loss(_LOGITS, _LABELS, m=np.float32(np.inf)),
            r"m must lie in \(-inf, inf\); got m = inf",
        ),
        # delta of the wrong shape named delta instead of a raw broadcasting error.
        (
            lambda: jaxloss.huber(jnp.zeros(2), jnp.zeros(2), delta=jnp.ones(3)),
            r"delta of shape \(3,\) does not broadcast to predictions of shape \(2,\)",
        ),
        (
            lambda: jaxloss.softmax_cross_entropy(
                _LOGITS, jnp.zeros((2, 3)), label_smoothing=jnp.full(2, 0.1)
            ),
            r"label_smoothing must be a scalar",
        ),
        # A class axis of size 0 raised XLA's "zero-size array to reduction operation max".
        (
            lambda: jaxloss.softmax_cross_entropy_with_integer_labels(
                jnp.zeros((3, 0)), jnp.zeros(3, jnp.int32)
            ),
            r"logits must have at least one class, got logits.shape=\(3, 0\)",
        ),
    ],
)
def test_hyper_parameters_weights_and_shapes_are_checked_with_a_message_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_one_hot_accepts_numpy_integers_and_refuses_other_types():
    np.testing.assert_array_equal(jaxloss.one_hot(jnp.asarray([1]), np.int64(3)), [[0.0, 1.0, 0.0]])
    with pytest.raises(TypeError, match="num_classes must be an int, got float"):
        jaxloss.one_hot(jnp.asarray([1]), 3.0)


def test_traced_hyper_parameters_are_not_checked_but_checked_mode_catches_them():
    # Under a caller's jit the value is a tracer: no eager check can run.
    value = jax.jit(lambda d: jaxloss.huber(jnp.ones(2), jnp.zeros(2), delta=d))(-1.0)
    assert jnp.isfinite(value)
    with pytest.raises(ValueError, match="delta must lie in"):
        jaxloss.checked(jaxloss.huber)(jnp.ones(2), jnp.zeros(2), delta=jnp.float32(-1.0))


def test_integer_and_boolean_targets_are_cast_for_value_losses():
    logits = jnp.asarray([0.5, -1.0, 2.0])
    expected = jaxloss.sigmoid_binary_cross_entropy(logits, jnp.asarray([1.0, 0.0, 1.0]))
    for targets in (jnp.asarray([1, 0, 1]), jnp.asarray([True, False, True])):
        np.testing.assert_allclose(jaxloss.sigmoid_binary_cross_entropy(logits, targets), expected)
        np.testing.assert_allclose(
            jaxloss.gradients.sigmoid_binary_cross_entropy(logits, targets),
            jaxloss.gradients.sigmoid_binary_cross_entropy(logits, targets.astype(jnp.float32)),
        )


def test_padding_labels_under_a_mask_leave_one_hot_mse_finite():
    predictions = jnp.asarray([[0.2, 0.8], [0.5, 0.5]])
    labels = jnp.asarray([1, -1])  # the second row is padding
    where = jnp.asarray([[True], [False]])
    value, gradient = jax.value_and_grad(
        lambda p: jaxloss.one_hot_mse(p, labels, where=jnp.broadcast_to(where, (2, 2)))
    )(predictions)
    # (0.2^2 + 0.2^2) / 2 unmasked elements, by hand.
    np.testing.assert_allclose(value, 0.04, rtol=1e-6)
    assert jnp.all(gradient[1] == 0) and jnp.all(jnp.isfinite(gradient))
    assert jnp.isnan(jaxloss.one_hot_mse(predictions, labels))
