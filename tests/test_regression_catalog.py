"""The regression losses added with the catalog, against optax, Keras's formulas and torch.

* ``log_cosh``, ``cosine_similarity``, ``cosine_distance``: values and gradients (in
  both inputs) equal optax's in float64 on random inputs and on optax's own test cases
  (``optax/losses/_regression_test.py``: its inputs and expected numbers, computed by
  optax's authors with Keras 2.4.1 and SciPy), masks and axes included.
* ``mean_absolute_percentage_error``, ``mean_squared_logarithmic_error`` and
  ``poisson_nll_with_rates`` (Keras's ``poisson``), which optax lacks: against Keras
  3's formulas, written out here (``keras/src/losses/losses.py``), including Keras's
  mean over the last axis.
* ``poisson_nll`` and ``gaussian_nll``: the native values and gradients against torch's
  functional forms (``full=False``); the adapters' parity is in ``test_divergences.py``.
* Overflow: ``log_cosh`` and the cosine stay finite at every dtype's largest number.

Parity cases are counted in ``PARITY_CASES`` comments. The cosine losses' parity cases
are shared between the two losses in the default tier; the tier marked slow
(``pytest -m slow``) runs every case for each, and the closed-form Hessian-vector
product against optax's autodiff.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss
from tests.sweeps import traceable_value_and_gradients

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")

RTOL = 1e-10
ATOL = 1e-12


def assert_close(ours, theirs, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=rtol, atol=atol)


def value_and_gradients(loss, *inputs):
    """The value and the gradients of its sum in every input, in one pass."""
    arrays = tuple(jnp.asarray(array, jnp.float64) for array in inputs)
    return traceable_value_and_gradients(loss, *arrays)


def assert_same_value_and_gradients(ours, theirs, *inputs):
    # One compiled program for both sides (optax's losses are not jitted: eagerly, each
    # of their operations would compile on its own).
    arrays = tuple(jnp.asarray(array, jnp.float64) for array in inputs)
    (our_value, our_gradients), (their_value, their_gradients) = jax.jit(
        lambda *args: (value_and_gradients(ours, *args), value_and_gradients(theirs, *args))
    )(*arrays)
    assert our_value.shape == their_value.shape
    assert_close(our_value, their_value)
    for our_gradient, their_gradient in zip(our_gradients, their_gradients, strict=True):
        assert_close(our_gradient, their_gradient)


def normal(shape, seed, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# --------------------------------------------------------------------------------------
# log_cosh against optax.

# optax's LogCoshTest inputs and expected values (computed there with Keras 2.4.1).
OPTAX_LOG_COSH_PREDICTIONS = np.asarray([500, -2.0, -1.0, 0.5, 1.0])
OPTAX_LOG_COSH_TARGETS = np.asarray([-200, -1.5, 0.0, -1, 1.0])
OPTAX_LOG_COSH_EXPECTED = np.asarray([699.3068, 0.12011445, 0.4337809, 0.85544014, 0.0])
OPTAX_LOG_COSH_PREDICTIONS_ONLY = np.asarray(
    [499.30685, 1.3250027, 0.4337809, 0.12011451, 0.43378082]
)


# PARITY_CASES log_cosh: 2 random + optax's 2 cases (with targets, predictions only) = 4.
def test_log_cosh_equals_optax_on_random_inputs_and_optax_cases():
    with jax.enable_x64(True):
        for seed in (0, 1):
            predictions, targets = normal((4, 5), seed, 3.0), normal((4, 5), seed + 10, 3.0)
            assert_same_value_and_gradients(
                lambda p, t: jaxloss.log_cosh(p, t, reduction="none"),
                optax.losses.log_cosh,
                predictions,
                targets,
            )
        ours = jaxloss.log_cosh(
            jnp.asarray(OPTAX_LOG_COSH_PREDICTIONS, jnp.float64),
            jnp.asarray(OPTAX_LOG_COSH_TARGETS, jnp.float64),
            reduction="none",
        )
        # optax's tolerance for these Keras numbers, which are float32 (relative 1e-7).
        assert_close(ours, OPTAX_LOG_COSH_EXPECTED, rtol=1e-7, atol=1e-5)
        # optax's targets=None is zeros here; jaxloss requires targets.
        predictions = jnp.asarray(OPTAX_LOG_COSH_PREDICTIONS, jnp.float64)
        assert_same_value_and_gradients(
            lambda p: jaxloss.log_cosh(p, jnp.zeros_like(p), reduction="none"),
            optax.losses.log_cosh,
            predictions,
        )
        assert_close(
            jaxloss.log_cosh(predictions, jnp.zeros_like(predictions), reduction="none"),
            OPTAX_LOG_COSH_PREDICTIONS_ONLY,
            rtol=0,
            atol=1e-4,
        )


@pytest.mark.parametrize("dtype", (jnp.float16, jnp.bfloat16, jnp.float32))
def test_log_cosh_is_finite_up_to_the_dtype_max_where_cosh_overflows(dtype):
    largest = float(jnp.finfo(dtype).max)
    predictions = jnp.asarray([largest, -largest, 100.0, 0.0], dtype)
    targets = jnp.zeros(4, dtype)
    value = jaxloss.log_cosh(predictions, targets, reduction="none")
    gradient = jaxloss.gradients.log_cosh(predictions, targets, reduction="sum")
    assert jnp.all(jnp.isfinite(value))
    # log cosh x = |x| - log 2 to the dtype's precision for large |x|.
    np.testing.assert_allclose(
        np.asarray(value, np.float64), [largest, largest, 100 - np.log(2), 0.0], rtol=1e-2
    )
    np.testing.assert_array_equal(np.asarray(gradient, np.float64), [1.0, -1.0, 1.0, 0.0])
    # The textbook log(cosh(x)) overflows where this does not.
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.log(np.cosh(np.float32(100.0))))


def test_log_cosh_matches_keras_documented_example():
    # keras.losses.log_cosh's docstring: y_true [[0, 1], [0, 0]], y_pred [[1, 1], [0, 0]]
    # gives 0.108 (mean over all elements, Keras's mean over the last axis then the batch).
    value = jaxloss.log_cosh(
        jnp.asarray([[1.0, 1.0], [0.0, 0.0]]), jnp.asarray([[0.0, 1.0], [0.0, 0.0]])
    )
    np.testing.assert_allclose(value, 0.108, atol=5e-4)


# --------------------------------------------------------------------------------------
# cosine_similarity, cosine_distance against optax.

COSINES = {
    "cosine_similarity": (jaxloss.cosine_similarity, optax.losses.cosine_similarity),
    "cosine_distance": (jaxloss.cosine_distance, optax.losses.cosine_distance),
}
# optax's CosineDistanceTest inputs and the distances it expects (from SciPy).
# optax's test arrays are float32, and SciPy's distances are those of the float32 values.
OPTAX_COSINE_PREDICTIONS = np.asarray([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]], np.float32).astype(
    np.float64
)
OPTAX_COSINE_TARGETS = np.asarray([[0.0, 1.2, 0.2], [1.0, -0.3, 0.0]], np.float32).astype(
    np.float64
)
OPTAX_COSINE_DISTANCES = np.asarray([0.9358251989, 1.0464068465])


COSINE_RANDOM_CASES = ((0, 0.0), (1, 0.0), (2, 0.5), (3, 1e-3))  # (seed, epsilon)
COSINE_AXES = (0, 1, 2)
COSINE_SMALL_EPSILONS = (0.1, 2.0)
# The default tier's share of those, per loss: together every case above.
COSINE_DEFAULT = {
    "cosine_similarity": (((0, 0.0), (3, 1e-3)), (0,), (0.1,)),
    "cosine_distance": (((1, 0.0), (2, 0.5)), (1, 2), (2.0,)),
}


# PARITY_CASES per cosine loss: 4 random (seed, epsilon) + 3 axes + optax's case + small
# (floored) vectors x 2 epsilons + 1-D vectors + element mask = 12 in the slow tier; the
# default tier runs the cases of COSINE_DEFAULT (7 and 8), which between the two losses
# cover every random case, axis and epsilon.
@pytest.mark.parametrize(
    ("name", "every_case"),
    [
        *((name, False) for name in COSINES),
        *(pytest.param(name, True, marks=pytest.mark.slow) for name in COSINES),
    ],
    ids=[*COSINES, *(f"{name}-every_case" for name in COSINES)],
)
def test_cosine_losses_equal_optax_values_and_gradients(name, every_case):
    ours, theirs = COSINES[name]
    random_cases, axes, small_epsilons = (
        (COSINE_RANDOM_CASES, COSINE_AXES, COSINE_SMALL_EPSILONS)
        if every_case
        else COSINE_DEFAULT[name]
    )
    with jax.enable_x64(True):
        for seed, epsilon in random_cases:
            predictions, targets = normal((4, 5), seed), normal((4, 5), seed + 10)
            assert_same_value_and_gradients(
                lambda p, t, e=epsilon: ours(p, t, epsilon=e, reduction="none"),
                lambda p, t, e=epsilon: theirs(p, t, epsilon=e),
                predictions,
                targets,
            )
        predictions, targets = normal((3, 4, 5), 5), normal((3, 4, 5), 6)
        for axis in axes:
            assert_same_value_and_gradients(
                lambda p, t, a=axis: ours(p, t, axis=a, reduction="none"),
                lambda p, t, a=axis: theirs(p, t, axis=a),
                predictions,
                targets,
            )
        assert_same_value_and_gradients(
            lambda p, t: ours(p, t, reduction="none"),
            theirs,
            OPTAX_COSINE_PREDICTIONS,
            OPTAX_COSINE_TARGETS,
        )
        expected = (
            OPTAX_COSINE_DISTANCES if name == "cosine_distance" else 1 - OPTAX_COSINE_DISTANCES
        )
        assert_close(
            ours(
                jnp.asarray(OPTAX_COSINE_PREDICTIONS),
                jnp.asarray(OPTAX_COSINE_TARGETS),
                reduction="none",
            ),
            expected,
            rtol=0,
            atol=1e-7,  # SciPy's distances of the float32 inputs, to float32's precision
        )
        # Vectors whose squared norms lie below epsilon (floored) and above it.
        small_predictions = normal((4, 5), 7, 0.05)
        small_targets = normal((4, 5), 8, 0.5)
        for epsilon in small_epsilons:
            assert_same_value_and_gradients(
                lambda p, t, e=epsilon: ours(p, t, epsilon=e, reduction="none"),
                lambda p, t, e=epsilon: theirs(p, t, epsilon=e),
                small_predictions,
                small_targets,
            )
        # A single vector (no batch axis), as optax's scalar tests.
        assert_same_value_and_gradients(
            lambda p, t: ours(p, t, reduction="none"),
            theirs,
            OPTAX_COSINE_PREDICTIONS[0],
            OPTAX_COSINE_TARGETS[0],
        )
        # optax's `where` masks elements; zeroing them in both vectors is the same loss
        # here, where `where` masks examples (optax's test_mask_* case).
        rng = np.random.default_rng(9)
        predictions, targets = rng.standard_normal(10), rng.standard_normal(10)
        mask = rng.integers(0, 2, size=10).astype(bool)
        assert_close(
            ours(jnp.where(mask, predictions, 0), jnp.where(mask, targets, 0), reduction="none"),
            theirs(jnp.asarray(predictions), jnp.asarray(targets), where=jnp.asarray(mask)),
        )


# A second opinion: test_registry.py's default-tier
# test_hessian_vector_product_matches_forward_over_reverse_of_the_textbook_formula
# checks both cosine losses' closed-form product.
@pytest.mark.slow
def test_cosine_hessian_vector_product_equals_autodiff_of_optax():
    with jax.enable_x64(True):
        predictions, targets = jnp.asarray(normal((3, 4), 11)), jnp.asarray(normal((3, 4), 12))
        vector = jnp.asarray(normal((3, 4), 13))
        for name, (_, theirs) in COSINES.items():
            expected = jax.jit(
                lambda p, v, theirs=theirs: jax.jvp(
                    jax.grad(lambda q: jnp.sum(theirs(q, targets))), (p,), (v,)
                )[1]
            )(predictions, vector)
            closed_form = jaxloss.registry.get(name).hessian_vector_product(
                predictions, targets, vector, reduction="sum"
            )
            assert_close(closed_form, expected, rtol=1e-9)


def test_cosine_is_exact_at_extreme_magnitudes_where_optax_is_not():
    # Rows scaled to the float32 max, and rows with infinite entries (their limit
    # direction is the signs of the infinities).
    largest = float(jnp.finfo(jnp.float32).max)
    predictions = jnp.asarray(
        [[largest, largest, 0.0], [1e30, -1e30, 1e30], [jnp.inf, 1.0, -jnp.inf]]
    )
    targets = jnp.asarray([[1.0, 1.0, 0.0], [1.0, -1.0, 1.0], [1.0, 0.0, -1.0]])
    similarity = jaxloss.cosine_similarity(predictions, targets, reduction="none")
    np.testing.assert_allclose(similarity, [1.0, 1.0, 1.0], rtol=1e-6)
    gradient = jaxloss.gradients.cosine_similarity(predictions, targets, reduction="sum")
    assert jnp.all(jnp.isfinite(gradient))
    # optax squares first: the squared norm overflows, and a / inf = 0 makes the first
    # two similarities 0; the infinite row is inf / inf = NaN.
    theirs = np.asarray(jax.jit(optax.losses.cosine_similarity)(predictions, targets))
    np.testing.assert_array_equal(theirs[:2], [0.0, 0.0])
    assert np.isnan(theirs[2])


def test_cosine_similarity_is_minus_keras_cosine_similarity_loss():
    # keras.losses.cosine_similarity's documented example: [-0., -0.99999994, 0.99999994].
    y_true = jnp.asarray([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    y_pred = jnp.asarray([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])
    ours = jaxloss.cosine_similarity(y_pred, y_true, reduction="none")
    np.testing.assert_allclose(-ours, [0.0, -0.99999994, 0.99999994], atol=1e-6)


# --------------------------------------------------------------------------------------
# Keras-only losses against Keras 3's formulas (keras/src/losses/losses.py), written out
# in NumPy, float64: Keras's per-sample value is the mean over the last axis.

KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def keras_mean_absolute_percentage_error(y_true, y_pred):
    diff = np.abs((y_true - y_pred) / np.maximum(np.abs(y_true), KERAS_EPSILON))
    return 100.0 * np.mean(diff, axis=-1)


def keras_mean_squared_logarithmic_error(y_true, y_pred):
    first_log = np.log(np.maximum(y_pred, KERAS_EPSILON) + 1.0)
    second_log = np.log(np.maximum(y_true, KERAS_EPSILON) + 1.0)
    return np.mean(np.square(first_log - second_log), axis=-1)


def keras_poisson(y_true, y_pred):
    return np.mean(y_pred - y_true * np.log(y_pred + KERAS_EPSILON), axis=-1)


KERAS = {
    "mean_absolute_percentage_error": (
        jaxloss.mean_absolute_percentage_error,
        keras_mean_absolute_percentage_error,
        {},
    ),
    "mean_squared_logarithmic_error": (
        jaxloss.mean_squared_logarithmic_error,
        keras_mean_squared_logarithmic_error,
        {},
    ),
    # Keras's poisson is the rate form with eps = backend.epsilon().
    "poisson_nll_with_rates": (
        jaxloss.poisson_nll_with_rates,
        keras_poisson,
        {"eps": KERAS_EPSILON},
    ),
}


def keras_inputs(name, seed):
    rng = np.random.default_rng(seed)
    y_pred = rng.uniform(0.0, 3.0, size=(4, 5))
    y_true = rng.uniform(0.0, 3.0, size=(4, 5))
    if name == "poisson_nll_with_rates":
        y_true = rng.integers(0, 5, size=(4, 5)).astype(np.float64)
    else:
        # Keras's floors: zeros (and negatives) in both, where Keras clips to epsilon.
        y_true[0, :2] = 0.0
        y_pred[1, 0] = -0.5
        y_pred[2, 1] = 0.0
        y_true[3, 4] = -1.0
    return y_pred, y_true


# PARITY_CASES per Keras loss: 2 seeds x (per-sample values + "mean") = 4.
@pytest.mark.parametrize("name", list(KERAS))
def test_keras_only_losses_equal_keras_formulas(name):
    ours, keras, options = KERAS[name]
    with jax.enable_x64(True):
        for seed in (0, 1):
            y_pred, y_true = keras_inputs(name, seed)
            elementwise = ours(
                jnp.asarray(y_pred), jnp.asarray(y_true), reduction="none", **options
            )
            assert_close(np.mean(np.asarray(elementwise), axis=-1), keras(y_true, y_pred))
            mean = ours(jnp.asarray(y_pred), jnp.asarray(y_true), **options)
            assert_close(mean, np.mean(keras(y_true, y_pred)))


def test_keras_only_gradients_equal_autodiff_of_keras_formulas():
    # jax.grad of Keras's formula written in jax.numpy, away from Keras's floors (where
    # jnp.maximum's derivative splits a tie).
    with jax.enable_x64(True):
        rng = np.random.default_rng(3)
        y_pred = jnp.asarray(rng.uniform(0.1, 3.0, size=(4, 5)))
        y_true = jnp.asarray(rng.uniform(0.1, 3.0, size=(4, 5)))

        def keras_mape(p, t):
            return 100.0 * jnp.mean(jnp.abs((t - p) / jnp.maximum(jnp.abs(t), KERAS_EPSILON)))

        def keras_msle(p, t):
            first = jnp.log(jnp.maximum(p, KERAS_EPSILON) + 1.0)
            second = jnp.log(jnp.maximum(t, KERAS_EPSILON) + 1.0)
            return jnp.mean(jnp.square(first - second))

        def gradients(p, t):
            # Both arguments' gradients, of both sides, in one compiled program.
            return [
                (jax.grad(ours, argnums=(0, 1))(p, t), jax.grad(theirs, argnums=(0, 1))(p, t))
                for ours, theirs in (
                    (jaxloss.mean_absolute_percentage_error, keras_mape),
                    (jaxloss.mean_squared_logarithmic_error, keras_msle),
                )
            ]

        for our_gradients, their_gradients in jax.jit(gradients)(y_pred, y_true):
            for argnum in (0, 1):
                assert_close(our_gradients[argnum], their_gradients[argnum])


def test_mean_absolute_percentage_error_zero_target_uses_the_floor():
    value = jaxloss.mean_absolute_percentage_error(
        jnp.asarray([1.0]), jnp.asarray([0.0]), reduction="none"
    )
    np.testing.assert_allclose(value, [100.0 / KERAS_EPSILON], rtol=1e-6)


# --------------------------------------------------------------------------------------
# Native Poisson and Gaussian likelihoods against torch (full=False), float64.


def torch_value_and_gradients(loss, *inputs):
    tensors = [torch.tensor(np.asarray(array, np.float64), requires_grad=True) for array in inputs]
    value = loss(*tensors)
    value.sum().backward()
    return value.detach().numpy(), [tensor.grad.numpy() for tensor in tensors]


# PARITY_CASES native likelihoods vs torch: poisson_nll 2 seeds, poisson_nll_with_rates
# 2 seeds x 2 eps, gaussian_nll 2 seeds (one with clamped variances) = 8.
def test_native_likelihoods_equal_torch_values_and_gradients():
    functional = torch.nn.functional
    rng = np.random.default_rng(21)
    counts = rng.integers(0, 6, size=(4, 5)).astype(np.float64)
    cases = []
    for seed in (0, 1):
        log_rates = normal((4, 5), seed)
        cases.append(
            (
                lambda x, t: jaxloss.poisson_nll(x, t, reduction="none"),
                lambda x, t: functional.poisson_nll_loss(x, t, reduction="none"),
                (log_rates, counts),
            )
        )
        for eps in (1e-8, 0.5):
            cases.append(
                (
                    lambda x, t, e=eps: jaxloss.poisson_nll_with_rates(
                        x, t, eps=e, reduction="none"
                    ),
                    lambda x, t, e=eps: functional.poisson_nll_loss(
                        x, t, log_input=False, eps=e, reduction="none"
                    ),
                    (np.exp(log_rates), counts),
                )
            )
        variance = np.random.default_rng(seed + 5).uniform(0.0, 2.0, size=(4, 5))
        cases.append(
            (
                lambda m, t, v: jaxloss.gaussian_nll(m, t, v, eps=0.3, reduction="none"),
                lambda m, t, v: functional.gaussian_nll_loss(m, t, v, eps=0.3, reduction="none"),
                (normal((4, 5), seed + 2), normal((4, 5), seed + 3), variance),
            )
        )
    with jax.enable_x64(True):
        for ours, theirs, inputs in cases:
            our_value, our_gradients = value_and_gradients(ours, *inputs)
            their_value, their_gradients = torch_value_and_gradients(theirs, *inputs)
            assert_close(our_value, their_value)
            for our_gradient, their_gradient in zip(our_gradients, their_gradients, strict=True):
                assert_close(our_gradient, their_gradient)
