"""The analysis toolkit: profiles, saturation intervals, landscapes, diagnostics, plots.

Profiles against autodiff: one loss of each kind in the default tier, the other
profileable losses in the slow one (``pytest -m slow``).
"""

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
from jaxloss.analysis.profiles import profileable

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


PROFILEABLE = [name for name, spec in jaxloss.registry.LOSSES.items() if profileable(spec)]


def _one_of_each_kind(names: list[str]) -> list[str]:
    """The first loss of each kind (domain, target kind, per-example or elementwise)."""
    firsts: dict[tuple[str, str, bool], str] = {}
    for name in names:
        spec = jaxloss.registry.LOSSES[name]
        firsts.setdefault((spec.domain, spec.target_kind, spec.per_example), name)
    return list(firsts.values())


# Every branch of gradient_profile's inputs and slicing, one loss each, in the default
# tier; the other profileable losses in the slow one (test_registry checks each loss's
# closed-form gradient against jax.grad in the default tier already).
COVERING = _one_of_each_kind(PROFILEABLE)


def assert_profile_gradient_agrees_with_autodiff(loss):
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


@pytest.mark.parametrize("loss", COVERING)
def test_profile_gradient_agrees_with_autodiff(loss):
    assert_profile_gradient_agrees_with_autodiff(loss)


@pytest.mark.slow
@pytest.mark.parametrize("loss", [name for name in PROFILEABLE if name not in COVERING])
def test_profile_gradient_agrees_with_autodiff_for_the_other_losses(loss):
    assert_profile_gradient_agrees_with_autodiff(loss)


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
    assert low.start == -math.inf and low.side == "right"
    assert high.end == math.inf and high.side == "wrong"
    assert abs(low.end - logit(roots[0])) < 1e-9
    assert abs(high.start - logit(roots[1])) < 1e-9


def test_sigmoid_cross_entropy_saturates_only_on_the_right_side():
    tol = 0.05
    for target, expected in ((0.0, (-math.inf, logit(tol))), (1.0, (-logit(tol), math.inf))):
        (interval,) = saturation_region("sigmoid_binary_cross_entropy", target, tol)
        # |s - y| < tol, solved by hand: s < tol for target 0, s > 1 - tol for target 1.
        assert interval.side == "right"
        for got, want in zip((interval.start, interval.end), expected, strict=True):
            assert got == want or abs(got - want) < 1e-9


def test_at_an_inner_target_the_interval_around_the_optimum_is_neither_side():
    # Issue 11: at target 0.5 the interval around the optimum z = 0 read "wrong side".
    tol = 0.05
    for target in (0.5, 0.3):
        (interval,) = saturation_region("sigmoid_binary_cross_entropy", target, tol)
        assert interval.side == "optimum"
        # |s - y| < tol * max(y, 1 - y), solved by hand for s around y.
        spread = tol * max(target, 1 - target)
        assert abs(interval.start - logit(target - spread)) < 1e-9
        assert abs(interval.end - logit(target + spread)) < 1e-9
    sides = [interval.side for interval in saturation_region("sigmoid_mse", 0.5, tol)]
    # Far out either way the prediction is confident while the target is undecided.
    assert sides == ["wrong", "optimum", "wrong"]
    sides = [interval.side for interval in saturation_region("sigmoid_mse", 0.3, tol)]
    assert sides == ["right", "optimum", "wrong"]


def test_the_profile_report_follows_the_grid_and_names_the_tol():
    from jaxloss.analysis import report

    assert report.ProfileConfig().reported_logits() == (-10.0, 0.0, 10.0)
    config = report.ProfileConfig(target=0.3, logit_min=-1e3, logit_max=4.0)
    np.testing.assert_allclose(config.reported_logits(), (-1000.0, logit(0.3), 4.0), rtol=1e-12)
    # A target's optimum outside the grid is left out, for targets 0 and 1 as well.
    assert report.ProfileConfig(logit_min=2.0, logit_max=8.0).reported_logits() == (2.0, 8.0)
    numbers = {
        "config": {"tol": 0.2},
        "losses": {
            "sigmoid_mse": {
                "at_logits": {},
                "saturation": [{"start": -1.0, "end": 1.0, "side": "optimum"}],
                "landscape_flat_share": 0.1,
                "landscape_flat_tol": 0.05,
            }
        },
    }
    summary = report.format_summary(numbers)
    assert "saturated logit intervals (tol 0.2)" in summary
    assert "(-1.0000, 1.0000) around the optimum" in summary


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
        (lambda: gradient_profile("cosine_similarity", [0.0], 0.0), "cosine_similarity"),
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


LOSSES = ("sigmoid_mse", "sigmoid_binary_cross_entropy")


@pytest.fixture(scope="module")
def xor_runs():
    """Each of LOSSES training a small tanh network on xor: two seeds, five steps."""
    pytest.importorskip("optax", reason="training needs the examples extra")
    from jaxloss.train import datasets, harness, models

    return {
        loss: harness.train(
            harness.Experiment(loss=loss, model=models.parse_model("mlp:4:tanh"), steps=5),
            datasets.load("xor"),
            [0, 1],
            [0.5],
        )
        for loss in LOSSES
    }


def test_plateau_end_and_layer_norms_from_a_training_run(xor_runs):
    result = xor_runs["sigmoid_mse"]
    layers = layer_gradient_norms(result)
    assert set(layers) == {"layer0", "layer1"}
    assert layers["layer0"].shape == (2, 5)
    squares = (
        result.parameter_grad_norms[0, ..., 0] ** 2 + result.parameter_grad_norms[0, ..., 1] ** 2
    )
    np.testing.assert_allclose(layers["layer0"], np.sqrt(squares), rtol=1e-6)
    fraction = saturated_fraction(result)
    assert fraction.shape == (2, 5) and np.all((fraction >= 0) & (fraction <= 1))
    ends = plateau_end(result.records["loss"][0])
    assert np.all((ends >= 0) & (ends < 5))


def test_plots_are_written_and_non_empty(tmp_path):
    pytest.importorskip("matplotlib", reason="plots need the examples extra")
    from jaxloss.analysis import plots

    profiles = [gradient_profile(loss, GRID, 0.0) for loss in ("sigmoid_mse",)]
    regions = {"sigmoid_mse": saturation_region("sigmoid_mse", 0.0, 0.05)}
    grid = np.geomspace(0.1, 20.0, 21)  # the landscape tests' grid: one compilation
    written = [
        plots.plot_gradient_profile(profiles, tmp_path / "profile.png"),
        plots.plot_saturation(regions, profiles, tmp_path / "saturation.png"),
        plots.plot_landscape([landscape("sigmoid_mse", grid, grid)], tmp_path / "land.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------
# The figures, read through matplotlib's objects.


@pytest.fixture
def figures():
    """Collects the figures a test draws and closes them afterwards."""
    pytest.importorskip("matplotlib", reason="plots need the examples extra")
    from matplotlib import pyplot

    drawn = []
    yield drawn
    for figure in drawn:
        pyplot.close(figure)


def legend_labels(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def test_the_saturation_figure_names_its_colours_and_its_tol(figures):
    from jaxloss.analysis import plots
    from jaxloss.analysis.saturation import saturation_level

    target, tol = 0.3, 0.05
    profiles = [gradient_profile(loss, GRID, target) for loss in LOSSES]
    regions = {loss: saturation_region(loss, target, tol) for loss in LOSSES}
    levels = {loss: saturation_level(loss, target, tol) for loss in LOSSES}
    figure = plots.saturation_figure(regions, profiles, tol=tol, levels=levels)
    figures.append(figure)
    labels = legend_labels(figure)
    for side in ("right", "wrong", "optimum"):
        assert plots.SIDE_LABELS[side] in labels
    assert "0.05 × max |dl/dz|" in labels
    assert f"optimum z = {logit(target):.3g}" in labels
    assert "0.05" in figure.get_suptitle() and "0.3" in figure.get_suptitle()
    for axis, loss in zip(figure.axes, LOSSES, strict=True):
        assert axis.get_title() == loss and axis.get_xlabel() == "logit z"
        assert axis.get_yscale() == "log"
    assert figure.axes[0].get_ylabel().startswith("|dl/dz|")


def test_the_landscape_figure_has_log_axes_one_colour_scale_and_the_flat_contour(figures):
    from matplotlib.contour import ContourSet

    from jaxloss.analysis import plots

    grid = np.geomspace(0.1, 20.0, 21)
    landscapes = [landscape(loss, grid, grid) for loss in LOSSES]
    figure = plots.landscape_figure(landscapes)
    figures.append(figure)
    panels = [axis for axis in figure.axes if axis.get_label() != "<colorbar>"]
    assert len(panels) == 2 and len(figure.axes) == 3  # one colour bar for both
    limits = set()
    for axis in panels:
        assert axis.get_xscale() == "log" and axis.get_yscale() == "log"
        assert axis.get_xlabel() and "flat" in axis.get_title()
        (mesh,) = axis.collections[:1]
        limits.add((mesh.norm.vmin, mesh.norm.vmax))
        assert any(isinstance(item, ContourSet) for item in axis.collections)
    assert len(limits) == 1
    assert "‖gradient‖ = 0.05: the darker side is flat" in legend_labels(figure)
    # The cells cover the grid geometrically: the first cell ends halfway in log space.
    x_edges = panels[0].collections[0].get_coordinates()[0, :, 0]
    np.testing.assert_allclose(x_edges[1], np.sqrt(grid[0] * grid[1]), rtol=1e-6)


def test_the_layer_gradient_figure_shows_both_losses_and_the_configuration(figures, xor_runs):
    from jaxloss.analysis import plots

    results = [xor_runs[loss] for loss in LOSSES]
    figure = plots.layer_gradients_figure(results)
    figures.append(figure)
    title = figure.get_suptitle()
    for part in ("xor", "mlp:4:tanh", "normal init", "learning rate 0.5", "2 seeds", "5 steps"):
        assert part in title
    top = figure.axes[:2]
    assert [axis.get_title() for axis in top] == list(LOSSES)
    assert top[0].get_shared_y_axes().joined(top[0], top[1])
    assert top[0].get_yscale() == "log"
