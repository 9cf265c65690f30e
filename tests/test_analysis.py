"""The analysis toolkit: profiles, saturation intervals, landscapes, diagnostics, plots."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import jaxloss
from jaxloss.analysis import (
    gradient_profile,
    gradient_ratio,
    landscape,
    layer_gradient_norms,
    plateau_end,
    saturated_fraction,
    saturation_region,
)

GRID = np.linspace(-12.0, 12.0, 241)


def logit(probability: float) -> float:
    return math.log(probability / (1 - probability))


def test_sigmoid_mse_is_not_convex_but_sigmoid_cross_entropy_is():
    for target in (0.0, 1.0):
        mse = gradient_profile("sigmoid_mse", GRID, target).second_derivative
        cross_entropy = gradient_profile(
            "sigmoid_binary_cross_entropy", GRID, target
        ).second_derivative
        assert mse.min() < 0 < mse.max()  # the curvature changes sign
        assert np.all(cross_entropy >= 0)
        # sigma (1 - sigma), the closed form of the cross-entropy's curvature.
        sigma = 1 / (1 + np.exp(-GRID))
        np.testing.assert_allclose(cross_entropy, sigma * (1 - sigma), rtol=1e-9)


@pytest.mark.parametrize("loss", list(jaxloss.registry.LOSSES))
def test_profile_gradient_agrees_with_autodiff(loss):
    spec = jaxloss.registry.LOSSES[loss]
    if spec.domain == "probability":
        grid, target = np.linspace(0.05, 0.95, 19), 0.3
    elif spec.has_classes:
        grid, target = np.linspace(-5.0, 5.0, 21), 1
    else:
        grid, target = np.linspace(-5.0, 5.0, 21), 0.3
    profile = gradient_profile(loss, grid, target, class_index=1, num_classes=3)
    np.testing.assert_allclose(profile.gradient, profile.autodiff_gradient, rtol=1e-10, atol=1e-14)
    assert profile.value.shape == profile.second_derivative.shape == grid.shape


def test_gradient_ratio_shows_the_vanishing_factor():
    ratio = gradient_ratio("sigmoid_mse", "sigmoid_binary_cross_entropy", GRID, 0.0)
    # |2 s^2 (1 - s)| / |s| = 2 s (1 - s), derived by hand from the two closed forms.
    sigma = 1 / (1 + np.exp(-GRID))
    np.testing.assert_allclose(ratio, 2 * sigma * (1 - sigma), rtol=1e-10)


def test_saturation_intervals_of_sigmoid_mse_match_the_cubic_roots():
    tol = 0.05
    # |dl/dz| = 2 s^2 (1 - s) for target 0 peaks at s = 2/3 with value 8/27; the ends
    # solve 2 s^3 - 2 s^2 + tol * 8/27 = 0.
    roots = sorted(r.real for r in np.roots([2, -2, 0, tol * 8 / 27]) if 0 < r.real < 1)
    low, high = saturation_region("sigmoid_mse", 0.0, tol)
    assert low.start == -math.inf and low.correct
    assert high.end == math.inf and not high.correct
    assert abs(low.end - logit(roots[0])) < 1e-9
    assert abs(high.start - logit(roots[1])) < 1e-9


def test_sigmoid_cross_entropy_saturates_only_on_the_right_side():
    tol = 0.05
    for target, expected in ((0.0, (-math.inf, logit(tol))), (1.0, (-logit(tol), math.inf))):
        (interval,) = saturation_region("sigmoid_binary_cross_entropy", target, tol)
        # |s - y| < tol, solved by hand: s < tol for target 0, s > 1 - tol for target 1.
        assert interval.correct
        for got, want in zip((interval.start, interval.end), expected, strict=True):
            assert got == want or abs(got - want) < 1e-9


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: saturation_region("hinge", 0.0, 0.1), "hinge"),
        (lambda: saturation_region("sigmoid_mse", 0.0, 0.0), "tol"),
        (lambda: saturation_region("sigmoid_mse", 0.0, 1.0), "tol"),
        (lambda: saturation_region("sigmoid_mse", 2.0, 0.1), "target"),
        (lambda: saturation_region("mse", 0.0, 0.1), "loss"),
        (lambda: gradient_profile("sigmoid_mse", [], 0.0), "logits"),
        (lambda: gradient_profile("nope", [0.0], 0.0), "nope"),
        (lambda: landscape("sigmoid_mse", [], [1.0]), "hidden_scales"),
        (lambda: landscape("sigmoid_mse", [1.0], np.zeros((2, 2))), "output_scales"),
        (lambda: landscape("one_hot_mse", [1.0], [1.0]), "loss"),
        (lambda: plateau_end(np.ones((1, 3)), fraction=2.0), "fraction"),
    ],
)
def test_bad_arguments_raise_value_error_naming_the_argument(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


def test_landscape_is_reproducible_for_a_fixed_key_and_flatter_for_mse():
    grid = np.geomspace(0.1, 20.0, 21)
    first = landscape("sigmoid_mse", grid, grid, key=jax.random.key(3))
    again = landscape("sigmoid_mse", grid, grid, key=jax.random.key(3))
    cross_entropy = landscape("sigmoid_binary_cross_entropy", grid, grid, key=jax.random.key(3))
    assert first.flat_share == again.flat_share
    np.testing.assert_array_equal(first.gradient_norm, again.gradient_norm)
    assert first.loss.shape == first.gradient_norm.shape == (21, 21)
    assert first.flat_share > cross_entropy.flat_share


def test_plateau_end_and_layer_norms_from_a_training_run():
    pytest.importorskip("optax", reason="training needs the examples extra")
    from jaxloss.train import datasets, harness, models

    experiment = harness.Experiment(
        loss="sigmoid_mse", model=models.parse_model("mlp:4:tanh"), steps=50, init="saturated"
    )
    result = harness.train(experiment, datasets.load("breast_cancer"), [0, 1], [0.5])
    layers = layer_gradient_norms(result)
    assert set(layers) == {"layer0", "layer1"}
    assert layers["layer0"].shape == (2, 50)
    squares = (
        result.parameter_grad_norms[0, ..., 0] ** 2 + result.parameter_grad_norms[0, ..., 1] ** 2
    )
    np.testing.assert_allclose(layers["layer0"], np.sqrt(squares), rtol=1e-6)
    fraction = saturated_fraction(result)
    assert fraction.shape == (2, 50) and np.all((fraction >= 0) & (fraction <= 1))
    ends = plateau_end(result.records["loss"][0])
    assert np.all((ends >= 0) & (ends < 50))


def test_plots_are_written_and_non_empty(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need the examples extra")
    from jaxloss.analysis import plots

    profiles = [gradient_profile(loss, GRID, 0.0) for loss in ("sigmoid_mse",)]
    regions = {"sigmoid_mse": saturation_region("sigmoid_mse", 0.0, 0.05)}
    grid = np.geomspace(0.1, 5.0, 5)
    written = [
        plots.plot_gradient_profile(profiles, tmp_path / "profile.png"),
        plots.plot_saturation(regions, profiles, tmp_path / "saturation.png"),
        plots.plot_landscape([landscape("sigmoid_mse", grid, grid)], tmp_path / "land.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
