"""jaxloss.curvature against dense linear algebra on networks small enough to hold H.

The network is a tanh MLP with 111 parameters on 24 examples, in float64; its exact
Hessian comes from ``jax.hessian`` of the loss over the flattened parameters and
its eigenvalues from ``numpy.linalg.eigh``. Most estimator statistics run on
``v -> H @ v`` with that matrix (the estimators see only products), which keeps
the compilations few. The slow tier (``pytest -m slow``) adds the estimators'
statistics on explicit matrices: the trace error's 1/sqrt(probes) law and the
spectral density of a known spectrum.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import jaxloss
from jaxloss import curvature

INPUTS, HIDDEN, CLASSES, EXAMPLES = 5, 12, 3, 24
CE = "softmax_cross_entropy_with_integer_labels"


@pytest.fixture(autouse=True)
def float64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield


def model(params: dict[str, jax.Array], inputs: jax.Array) -> jax.Array:
    hidden = jnp.tanh(inputs @ params["w1"] + params["b1"][None, :])
    return hidden @ params["w2"] + params["b2"][None, :]


@functools.cache
def problem() -> dict[str, object]:
    """Parameters, data and the loss of the network."""
    rng = np.random.default_rng(0)
    params = {
        "w1": jnp.asarray(rng.standard_normal((INPUTS, HIDDEN))),
        "b1": jnp.asarray(0.1 * rng.standard_normal(HIDDEN)),
        "w2": jnp.asarray(rng.standard_normal((HIDDEN, CLASSES))),
        "b2": jnp.zeros(CLASSES),
    }
    inputs = jnp.asarray(rng.standard_normal((EXAMPLES, INPUTS)))
    labels = jnp.asarray(rng.integers(0, CLASSES, EXAMPLES))
    return {"params": params, "batch": (inputs, labels)}


def training_loss(params: dict[str, jax.Array], batch: tuple[jax.Array, jax.Array]) -> jax.Array:
    inputs, labels = batch
    return jaxloss.softmax_cross_entropy_with_integer_labels(model(params, inputs), labels)


# Each group of checks runs as one compiled program (compilation is the tests' cost);
# the key is an argument, so other keys reuse the compilation.
@functools.partial(jax.jit, static_argnames="probe_vectors")
def network_program(params, batch, key, probe_vectors: int = 3) -> dict[str, object]:
    flat, unravel = ravel_pytree(params)
    loss = functools.partial(training_loss, batch=batch)
    eigen_key, trace_key, density_key, vector_key = jax.random.split(key, 4)
    vectors = jax.random.normal(vector_key, (probe_vectors, flat.size), flat.dtype)
    values, eigenvectors = curvature.top_eigenvalues(
        loss, params, 5, num_iterations=60, key=eigen_key
    )
    return {
        "hessian": jax.hessian(lambda vector: loss(unravel(vector)))(flat),
        "vectors": vectors,
        "products": jax.vmap(
            lambda vector: ravel_pytree(
                curvature.hessian_vector_product(loss, params, unravel(vector))
            )[0]
        )(vectors),
        "eigenvalues": values,
        "eigenvectors": jax.vmap(lambda tree: ravel_pytree(tree)[0])(eigenvectors),
        "hutchinson": curvature.hessian_trace(loss, params, num_probes=60, key=trace_key),
        "hutch++": curvature.hessian_trace(
            loss, params, num_probes=60, key=trace_key, method="hutch++"
        ),
        "density": curvature.spectral_density(
            loss, params, num_probes=20, num_iterations=30, key=density_key
        ),
    }


@functools.cache
def network() -> dict[str, object]:
    data = problem()
    results = network_program(data["params"], data["batch"], jax.random.key(7))
    results = jax.tree.map(np.asarray, results)
    hessian = results["hessian"]
    results["exact_eigenvalues"] = np.linalg.eigh(hessian)[0][::-1]
    return results


def dense_matvec(matrix):
    return lambda vector: matrix @ vector


# ---------------------------------------------------------------------------------------
# Products.


def test_hessian_vector_product_is_the_dense_hessian_times_v():
    results = network()
    np.testing.assert_allclose(
        results["products"], results["vectors"] @ results["hessian"].T, rtol=1e-10, atol=1e-12
    )


def _explicit_gauss_newton(loss_of_outputs, params, inputs):
    """Jᵀ H J from the model's Jacobian and the loss's Hessian in the outputs, dense."""
    flat, unravel = ravel_pytree(params)
    outputs = model(params, inputs)
    jacobian = jax.jacobian(lambda vector: model(unravel(vector), inputs).reshape(-1))(flat)
    loss_hessian = jax.hessian(lambda out: loss_of_outputs(out.reshape(outputs.shape)))(
        outputs.reshape(-1)
    )
    return jacobian.T @ loss_hessian @ jacobian


def _gauss_newton_matrix(loss, params, batch, **options):
    flat, unravel = ravel_pytree(params)
    return jax.vmap(
        lambda vector: ravel_pytree(
            curvature.gauss_newton_vector_product(
                model, loss, params, batch, unravel(vector), **options
            )
        )[0]
    )(jnp.eye(flat.size))


@functools.cache
def gauss_newton() -> dict[str, np.ndarray]:
    data = problem()
    params, (inputs, labels) = data["params"], data["batch"]
    rng = np.random.default_rng(2)
    targets = jnp.asarray(rng.standard_normal((EXAMPLES, CLASSES)))
    weights = jnp.asarray(rng.uniform(0.5, 2.0, (EXAMPLES, CLASSES)))

    # Independent loss formulas: log-softmax and squared error written out here.
    def cross_entropy(outputs):
        log_probabilities = outputs - jax.nn.logsumexp(outputs, axis=1, keepdims=True)
        return -jnp.mean(jnp.take_along_axis(log_probabilities, labels[:, None], axis=1))

    def weighted_squares(outputs):
        return jnp.sum(weights * (outputs - targets) ** 2)

    @jax.jit
    def program(params):
        operator = functools.partial(
            curvature.gauss_newton_vector_product, model, CE, params, (inputs, labels)
        )
        return {
            "cross_entropy": _gauss_newton_matrix(CE, params, (inputs, labels)),
            "cross_entropy_explicit": _explicit_gauss_newton(cross_entropy, params, inputs),
            # An elementwise loss with a weighted sum reduction, through its closed form.
            "mse": _gauss_newton_matrix(
                "mse", params, (inputs, targets), reduction="sum", weights=weights
            ),
            "mse_explicit": _explicit_gauss_newton(weighted_squares, params, inputs),
            # A plain callable's product comes from autodiff.
            "callable": _gauss_newton_matrix(
                lambda outputs, _: cross_entropy(outputs), params, (inputs, labels)
            ),
            "top": curvature.top_eigenvalues(operator, params, 3, num_iterations=60)[0],
        }

    return jax.tree.map(np.asarray, program(params))


def test_gauss_newton_product_equals_explicit_jacobian_hessian_jacobian():
    results = gauss_newton()
    for name in ("cross_entropy", "mse"):
        np.testing.assert_allclose(
            results[name], results[f"{name}_explicit"], rtol=1e-9, atol=1e-12, err_msg=name
        )
    np.testing.assert_allclose(
        results["callable"], results["cross_entropy_explicit"], rtol=1e-9, atol=1e-12
    )


def test_top_eigenvalues_of_the_gauss_newton_operator():
    results = gauss_newton()
    expected = np.linalg.eigh(results["cross_entropy_explicit"])[0][::-1]
    np.testing.assert_allclose(results["top"], expected[:3], rtol=1e-6)


def test_gauss_newton_equals_hessian_for_a_linear_model():
    # A linear model has no second-order term: G = H exactly (Martens 2020, sec. 8).
    rng = np.random.default_rng(4)
    inputs = jnp.asarray(rng.standard_normal((10, 4)))
    labels = jnp.asarray(rng.integers(0, 3, 10))
    weights = jnp.asarray(rng.standard_normal((4, 3)))

    def linear(w, x):
        return x @ w

    @jax.jit
    def program(weights):
        hessian = jax.hessian(
            lambda w: jaxloss.softmax_cross_entropy_with_integer_labels(linear(w, inputs), labels)
        )(weights).reshape(12, 12)
        columns = jax.vmap(
            lambda vector: curvature.gauss_newton_vector_product(
                linear, CE, weights, (inputs, labels), vector.reshape(4, 3)
            ).reshape(-1)
        )(jnp.eye(12))
        return columns, hessian

    columns, hessian = program(weights)
    np.testing.assert_allclose(columns, hessian, rtol=1e-10, atol=1e-13)


# ---------------------------------------------------------------------------------------
# Lanczos.


def test_top_eigenvalues_equal_dense_eigh_and_are_deterministic():
    results = network()
    values, vectors, hessian = results["eigenvalues"], results["eigenvectors"], results["hessian"]
    np.testing.assert_allclose(values, results["exact_eigenvalues"][:5], rtol=1e-6)
    # Each Ritz vector is a unit eigenvector: ‖H u - λ u‖ small, ‖u‖ = 1.
    residuals = vectors @ hessian - values[:, None] * vectors
    assert np.max(np.linalg.norm(residuals, axis=1)) < 1e-5
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-10)
    # A fixed key gives bitwise the same result; another key the same values.
    data = problem()
    again = network_program(data["params"], data["batch"], jax.random.key(7))
    assert np.array_equal(np.asarray(again["eigenvalues"]), values)
    other = network_program(data["params"], data["batch"], jax.random.key(8))
    np.testing.assert_allclose(other["eigenvalues"], values, rtol=1e-6)


@jax.jit
def dense_program(hessian, moved, top_vector):
    """The Lanczos checks on explicit matrices, in one compilation;
    ``top_vector``: the network's top Hessian eigenvector (from ``network``)."""
    size = hessian.shape[0]
    start = jnp.zeros(size, hessian.dtype)
    # Warm and cold under one vmap (one Lanczos to compile): a zero initial vector is
    # the cold start (initial=None starts from zeros too, drawing a normal from key).
    warm, cold = jax.vmap(
        lambda initial: curvature.top_eigenvalues(
            dense_matvec(moved), start, 1, num_iterations=4, initial=initial
        )[0]
    )(jnp.stack([top_vector, jnp.zeros_like(top_vector)]))
    # Rank 2: the Krylov space is exhausted after two steps, where an unguarded
    # Lanczos divides by zero; a warm start from an exact eigenvector exhausts it at once.
    low_rank = jnp.diag(jnp.zeros(10, hessian.dtype).at[0].set(3.0).at[1].set(-2.0))
    low_rank_top = curvature.top_eigenvalues(
        dense_matvec(low_rank), jnp.zeros(10, hessian.dtype), 4, num_iterations=8
    )[0]
    # The exact start (top 2) and the negated matrix from a cold start (its top 1, the
    # first of its top 2), under one vmap.
    exact_start, bottom = jax.vmap(
        lambda matrix, initial: curvature.top_eigenvalues(
            dense_matvec(matrix),
            jnp.zeros(10, hessian.dtype),
            2,
            num_iterations=10,
            initial=initial,
        )[0]
    )(
        jnp.stack([low_rank, -low_rank]),
        jnp.stack([jnp.eye(10, dtype=hessian.dtype)[0], jnp.zeros(10, hessian.dtype)]),
    )
    bottom = bottom[:1]
    return {
        "warm": warm,
        "cold": cold,
        "low_rank": low_rank_top,
        "exact_start": exact_start,
        "bottom": bottom,
    }


@jax.jit
def estimator_program(hessian, key):
    """The trace and density estimators' statistics on explicit matrices (slow tier)."""
    size = hessian.shape[0]
    start = jnp.zeros(size, hessian.dtype)
    # Eigenvalues 1 (x 30) and 5 (x 10).
    clusters = jnp.diag(jnp.where(jnp.arange(40) < 30, 1.0, 5.0).astype(hessian.dtype))
    known = curvature.spectral_density(
        dense_matvec(clusters), jnp.zeros(40, hessian.dtype), num_probes=50, num_iterations=10
    )
    keys = jax.random.split(key, 300)
    traces = {
        probes: jax.vmap(
            lambda probe_key, probes=probes: curvature.hessian_trace(
                dense_matvec(hessian), start, num_probes=probes, key=probe_key, is_matvec=True
            )
        )(keys)
        for probes in (8, 128)
    }
    return {"known": known, "traces": traces}


@functools.cache
def dense() -> dict[str, object]:
    hessian, top_vector = network()["hessian"], network()["eigenvectors"][0]
    # A slightly moved matrix, as after one training step.
    moved = hessian + 1e-3 * np.diag(np.random.default_rng(5).standard_normal(hessian.shape[0]))
    results = jax.tree.map(np.asarray, dense_program(hessian, moved, top_vector))
    results["moved_top"] = np.linalg.eigh(moved)[0][-1]
    return results


@functools.cache
def estimators() -> dict[str, object]:
    hessian = network()["hessian"]
    return jax.tree.map(np.asarray, estimator_program(hessian, jax.random.key(11)))


def test_warm_start_from_the_previous_top_eigenvector_needs_few_iterations():
    results = dense()
    expected = results["moved_top"]
    np.testing.assert_allclose(results["warm"][0], expected, rtol=1e-8)
    assert abs(results["cold"][0] - expected) > 100 * abs(results["warm"][0] - expected)


def test_lanczos_past_an_exhausted_krylov_space_stays_finite_and_exact():
    results = dense()
    np.testing.assert_allclose(results["low_rank"], [3.0, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(results["exact_start"], [3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(results["bottom"], [2.0], atol=1e-12)


def test_a_function_or_an_operator_is_told_apart_or_must_be_named():
    with pytest.raises(ValueError, match="is_matvec"):
        curvature.top_eigenvalues(lambda w: w**2, jnp.zeros(()), 1)
    with pytest.raises(ValueError, match="neither"):
        curvature.top_eigenvalues(lambda w: jnp.zeros(3), jnp.zeros(2), 1)
    with pytest.raises(ValueError, match="k must be"):
        curvature.top_eigenvalues(lambda v: v, jnp.zeros(2), 3)
    values, _ = jax.jit(
        lambda w: curvature.top_eigenvalues(lambda w: 1.5 * w**2, w, 1, is_matvec=False)
    )(jnp.zeros(()))
    np.testing.assert_allclose(values, [3.0])


# ---------------------------------------------------------------------------------------
# Trace and spectral density.


def test_hutchinson_trace_is_within_four_standard_errors_on_the_network():
    results = network()
    exact = np.trace(results["hessian"])
    for method, probes in (("hutchinson", 60), ("hutch++", 20)):
        estimate = results[method]
        assert abs(estimate.estimate - exact) < 4 * estimate.standard_error, method
        assert estimate.samples.shape == (probes,)
    # Hutch++ deflates the few dominant eigenvalues: a smaller error for the same 60.
    assert results["hutch++"].standard_error < results["hutchinson"].standard_error


@pytest.mark.slow  # test_hutchinson_trace_is_within_four_standard_errors_on_the_network
def test_hutchinson_error_shrinks_as_one_over_root_probes():
    results = estimators()
    exact = np.trace(network()["hessian"])
    errors = {}
    for probes, estimates in results["traces"].items():
        errors[probes] = float(np.sqrt(np.mean((estimates.estimate - exact) ** 2)))
        # The stated standard error matches the observed spread (within sampling noise).
        assert 0.8 < float(np.mean(estimates.standard_error)) / errors[probes] < 1.2, probes
    # 16 times the probes: a quarter of the error; 300 repeats leave ~6% noise in each.
    assert 3.3 < errors[8] / errors[128] < 4.8


def test_spectral_density_moments_equal_trace_and_frobenius_norm():
    results = network()
    hessian, density = results["hessian"], results["density"]
    size = hessian.shape[0]
    for power, exact in ((1, np.trace(hessian) / size), (2, np.sum(hessian**2) / size)):
        estimate, error = density.moment(power)
        assert abs(estimate - exact) < 4 * error, power
    np.testing.assert_allclose(np.sum(density.weights, axis=1), 1.0, rtol=1e-10)
    # The broadened density on its grid: mass 1, mean the quadrature's, second moment
    # the quadrature's plus the Gaussian's sigma² (trapezoid rule on the grid).
    grid, values = density.grid, density.density
    np.testing.assert_allclose(np.trapezoid(values, grid), 1.0, rtol=1e-4)
    np.testing.assert_allclose(np.trapezoid(grid * values, grid), density.moment(1)[0], rtol=1e-4)
    second = np.trapezoid(grid**2 * values, grid) - float(density.sigma) ** 2
    np.testing.assert_allclose(second, density.moment(2)[0], rtol=1e-4)


@pytest.mark.slow  # test_spectral_density_moments_equal_trace_and_frobenius_norm
def test_spectral_density_of_a_known_spectrum_puts_its_mass_at_the_eigenvalues():
    # Eigenvalues 1 (x 30) and 5 (x 10): each cluster carries its share of the
    # mass (3/4 and 1/4), up to the probes' sampling error.
    known = estimators()["known"]
    grid, density = known.grid, known.density
    near_one = np.trapezoid(np.where(grid < 3, density, 0), grid)
    assert abs(near_one - 0.75) < 0.05
    assert abs(grid[np.argmax(density)] - 1.0) < 0.05


# ---------------------------------------------------------------------------------------
# Per-example gradients and the noise scale.


@functools.cache
def per_example() -> dict[str, object]:
    """Our per-example results in one program, and a Python loop's gradients ``[B, n]``."""
    data = problem()
    params, (inputs, labels) = data["params"], data["batch"]

    @jax.jit
    def program(params, batch):
        return {
            "norms": curvature.per_example_gradient_norms(CE, model, params, batch),
            "noise": curvature.gradient_noise_scale(CE, model, params, batch),
            "batch_gradient": ravel_pytree(jax.grad(training_loss)(params, batch))[0],
        }

    gradient = jax.jit(lambda p, x, y: ravel_pytree(jax.grad(training_loss)(p, (x, y)))[0])
    looped = np.stack(
        [
            np.asarray(gradient(params, inputs[i : i + 1], labels[i : i + 1]))
            for i in range(EXAMPLES)
        ]
    )
    results = jax.tree.map(np.asarray, program(params, (inputs, labels)))
    results["looped"] = looped
    return results


def test_per_example_gradient_norms_equal_a_python_loop():
    results = per_example()
    looped = results["looped"]
    np.testing.assert_allclose(results["norms"], np.linalg.norm(looped, axis=1), rtol=1e-12)
    # The batch gradient is their mean (the mean reduction is one per example).
    np.testing.assert_allclose(
        looped.mean(axis=0), results["batch_gradient"], rtol=1e-10, atol=1e-14
    )


def test_noise_scale_equals_its_definition():
    results = per_example()
    looped, noise = results["looped"], results["noise"]
    # McCandlish et al. (2018), eq. 2.8 and App. A: tr(Σ) from the unbiased sample
    # covariance, |G|² = |ḡ|² - tr(Σ)/B.
    trace = np.trace(np.cov(looped.T, ddof=1))
    gradient_squared = np.sum(looped.mean(axis=0) ** 2) - trace / EXAMPLES
    np.testing.assert_allclose(noise.trace_covariance, trace, rtol=1e-10)
    np.testing.assert_allclose(noise.gradient_squared_norm, gradient_squared, rtol=1e-10)
    np.testing.assert_allclose(noise.noise_scale, trace / gradient_squared, rtol=1e-10)


def test_noise_scale_from_two_batch_sizes_is_unbiased():
    # Gradients drawn from N(G, Σ) with |G|² = 1 and tr(Σ) = 8: averaged over many
    # steps, the two batch-size estimators recover both (McCandlish et al., App. A).
    rng = np.random.default_rng(6)
    mean = np.zeros(4)
    mean[0] = 1.0
    scales = np.sqrt(np.array([1.0, 2.0, 2.0, 3.0]))
    steps, small, big = 20000, 2, 16
    draws = mean + scales * rng.standard_normal((steps, big, 4))
    small_norms = np.sum(draws[:, :small].mean(axis=1) ** 2, axis=1)
    big_norms = np.sum(draws.mean(axis=1) ** 2, axis=1)
    result = curvature.gradient_noise_scale_from_batches(
        small_norms.mean(), small, big_norms.mean(), big
    )
    np.testing.assert_allclose(result.trace_covariance, 8.0, rtol=0.05)
    np.testing.assert_allclose(result.gradient_squared_norm, 1.0, rtol=0.1)
    np.testing.assert_allclose(result.noise_scale, 8.0, rtol=0.15)
    with pytest.raises(ValueError, match="must differ"):
        curvature.gradient_noise_scale_from_batches(1.0, 4, 1.0, 4)


# ---------------------------------------------------------------------------------------
# Figures (jaxloss.analysis.plots).


def test_curvature_figures_draw_what_they_are_given(tmp_path):
    pytest.importorskip("matplotlib", reason="the figures need the examples extra")
    from matplotlib import pyplot

    from jaxloss.analysis import plots

    results = network()
    density = results["density"]
    figure = plots.spectral_density_figure({"cross-entropy": density})
    line = figure.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), density.grid)
    assert line.get_label() == "cross-entropy"
    assert "20 probes, 30 steps" in figure.axes[0].get_title()
    pyplot.close(figure)

    steps = np.arange(0, 50, 10)
    trace = plots.SharpnessTrace(
        "mse, η = 0.1",
        0.1,
        steps,
        np.stack([np.linspace(2, 19, 5), np.linspace(1, 5, 5)], axis=1),
        loss_steps=np.arange(50),
        loss=np.linspace(1.0, 0.1, 50),
    )
    figure = plots.sharpness_figure([trace])
    top, bottom = figure.axes
    labels = [line.get_label() for line in top.get_lines()]
    # The top eigenvalue, the second one (unlabelled), then the threshold 2/0.1 = 20.
    assert labels[0] == "mse, η = 0.1" and labels[-1] == "mse, η = 0.1: 2/η = 20"
    np.testing.assert_allclose(top.get_lines()[-1].get_ydata(), [20, 20])
    assert bottom.get_yscale() == "log" and len(bottom.get_lines()) == 1
    pyplot.close(figure)

    estimate = results["hutchinson"]
    exact = float(np.trace(results["hessian"]))
    figure = plots.trace_convergence_figure({"hutchinson": estimate}, exact=exact)
    running = figure.axes[0].get_lines()[0].get_ydata()
    # The running mean ends at the estimate itself.
    np.testing.assert_allclose(running[-1], estimate.estimate, rtol=1e-12)
    np.testing.assert_allclose(figure.axes[0].get_lines()[1].get_ydata(), [exact, exact])
    pyplot.close(figure)

    for path in (
        plots.plot_spectral_density({"cross-entropy": density}, tmp_path / "density.png"),
        plots.plot_sharpness([trace], tmp_path / "sharpness.png"),
        plots.plot_trace_convergence({"h": estimate}, tmp_path / "trace.png", exact=exact),
    ):
        assert path.read_bytes().startswith(b"\x89PNG")
