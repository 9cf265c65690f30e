"""Matplotlib figures of the analysis results (needs the ``examples`` extra).

Each ``*_figure`` function draws a new figure and returns it (the tests read its
axes, labels and legends); each ``plot_*`` function saves that figure as PNG. The
curvature figures draw results of :mod:`jaxloss.curvature`: the Hessian's spectral
density, sharpness (top-eigenvalue) traces against ``2/η``, and the convergence of
a stochastic trace estimate.
"""

from __future__ import annotations

import dataclasses
import io
import math
import pathlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxloss._files import write_atomic
from jaxloss.analysis.diagnostics import layer_gradient_norms
from jaxloss.analysis.landscape import Landscape
from jaxloss.analysis.profiles import Profile
from jaxloss.analysis.saturation import Interval, optimum

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from jaxloss.curvature import SpectralDensity, TraceEstimate
    from jaxloss.train.harness import Result

SIDE_COLOURS = {"right": "tab:green", "wrong": "tab:red", "optimum": "tab:blue"}
SIDE_LABELS = {
    "right": "saturated, prediction on the target's side",
    "wrong": "saturated, prediction on the wrong side",
    "optimum": "saturated around the target's optimum",
}
FLAT_COLOUR = "tab:red"


def _figure(
    rows: int, columns: int, width: float = 4.6, height: float = 3.8, **options: Any
) -> tuple[Figure, np.ndarray]:
    """A new figure with constrained layout; ``axes`` is always ``[rows, columns]``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(width * columns, height * rows),
        layout="constrained",
        squeeze=False,
        **options,
    )
    return figure, axes


def _save(figure: Figure, path: str | pathlib.Path) -> pathlib.Path:
    """Saves atomically: an interrupted run leaves the whole PNG or none."""
    from matplotlib import pyplot as plt

    path = pathlib.Path(path)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return path


def _mark_optimum(axis: Axes, target: float, low: float, high: float) -> bool:
    """A dotted vertical line at the target's optimum, when it lies in the view."""
    where = optimum(target)
    if not low < where < high:
        return False
    axis.axvline(where, color="grey", linestyle=":", linewidth=1)
    return True


# ---------------------------------------------------------------------------------------
# Gradient profile.


def gradient_profile_figure(profiles: Sequence[Profile]) -> Figure:
    """Value, |gradient| and second derivative against the logit, one line per loss."""
    from matplotlib.lines import Line2D

    figure, grid = _figure(1, 3)
    axes = list(grid[0])
    for profile in profiles:
        axes[0].plot(profile.logits, profile.value, label=profile.loss)
        axes[1].plot(profile.logits, np.abs(profile.gradient), label=profile.loss)
        axes[2].plot(profile.logits, profile.second_derivative, label=profile.loss)
    labels = ("loss value l(z)", "|dl/dz| (log scale)", "d²l/dz²")
    for axis, label in zip(axes, labels, strict=True):
        axis.set_ylabel(label)
        axis.set_xlabel("logit z")
        axis.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[2].axhline(0, color="grey", linewidth=0.8)
    handles, names = axes[0].get_legend_handles_labels()
    if profiles:
        target = profiles[0].target
        low, high = float(profiles[0].logits.min()), float(profiles[0].logits.max())
        if any([_mark_optimum(axis, target, low, high) for axis in axes]):
            handles.append(Line2D([], [], color="grey", linestyle=":", linewidth=1))
            names.append(f"optimum z = {optimum(target):.3g}")
        figure.suptitle(f"Each loss along the logit z of one sigmoid output, target y = {target:g}")
    axes[0].legend(handles, names, fontsize=8)
    return figure


def plot_gradient_profile(profiles: Sequence[Profile], path: str | pathlib.Path) -> pathlib.Path:
    """Saves :func:`gradient_profile_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import gradient_profile
      >>> profiles = [gradient_profile("sigmoid_mse", [-2.0, 0.0, 2.0], 0.0)]
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_gradient_profile(profiles, folder / "profile.png").stat().st_size > 0
      True
    """
    return _save(gradient_profile_figure(profiles), path)


# ---------------------------------------------------------------------------------------
# Saturation.


def saturation_figure(
    regions: Mapping[str, Sequence[Interval]],
    profiles: Sequence[Profile],
    *,
    tol: float | None = None,
    levels: Mapping[str, float] | None = None,
) -> Figure:
    """|gradient| per loss with its saturated intervals shaded, coloured by side.

    ``levels`` (from ``saturation_level``) draws each loss's threshold
    ``tol * sup |dl/dz|`` as a dashed line; ``tol`` names it.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure, grid = _figure(1, len(profiles) or 1, sharey=True)
    axes = list(grid[0])
    sides_shown: set[str] = set()
    optimum_shown = level_shown = False
    for axis, profile in zip(axes, profiles, strict=False):
        axis.plot(profile.logits, np.abs(profile.gradient), color="black", linewidth=1.4)
        low, high = float(profile.logits.min()), float(profile.logits.max())
        for interval in regions.get(profile.loss, []):
            start = low if math.isinf(interval.start) else interval.start
            end = high if math.isinf(interval.end) else interval.end
            axis.axvspan(start, end, color=SIDE_COLOURS[interval.side], alpha=0.2, linewidth=0)
            sides_shown.add(interval.side)
        if levels is not None and profile.loss in levels:
            axis.axhline(levels[profile.loss], color="black", linestyle="--", linewidth=0.9)
            level_shown = True
        optimum_shown |= _mark_optimum(axis, profile.target, low, high)
        axis.set_yscale("log")
        axis.set_title(profile.loss, fontsize=10)
        axis.set_xlabel("logit z")
        axis.set_xlim(low, high)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("|dl/dz| (log scale)")
    positive = [
        value
        for profile in profiles
        for value in np.abs(profile.gradient).tolist()
        if value > 0 and math.isfinite(value)
    ]
    if positive:
        # Far tails reach 1e-300; at most twelve decades below the top stay readable.
        smallest = max(min(positive), max(positive) * 1e-12)
        axes[0].set_ylim(smallest / 2, max(positive) * 2)
    handles: list[Any] = [Line2D([], [], color="black", linewidth=1.4, label="|dl/dz|")]
    if level_shown:
        name = "tol" if tol is None else f"{tol:g}"
        handles.append(
            Line2D(
                [], [], color="black", linestyle="--", linewidth=0.9, label=f"{name} × max |dl/dz|"
            )
        )
    if optimum_shown and profiles:
        handles.append(
            Line2D(
                [],
                [],
                color="grey",
                linestyle=":",
                label=f"optimum z = {optimum(profiles[0].target):.3g}",
            )
        )
    handles += [
        Patch(color=SIDE_COLOURS[side], alpha=0.2, label=SIDE_LABELS[side])
        for side in SIDE_COLOURS
        if side in sides_shown
    ]
    figure.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    if profiles:
        where = "" if tol is None else f" below {tol:g} × its maximum"
        figure.suptitle(
            f"Saturated logits: |dl/dz|{where}, target y = {profiles[0].target:g}", fontsize=11
        )
    return figure


def plot_saturation(
    regions: Mapping[str, Sequence[Interval]],
    profiles: Sequence[Profile],
    path: str | pathlib.Path,
    *,
    tol: float | None = None,
    levels: Mapping[str, float] | None = None,
) -> pathlib.Path:
    """Saves :func:`saturation_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import gradient_profile, saturation_region
      >>> profiles = [gradient_profile("sigmoid_mse", [-8.0, 0.0, 8.0], 0.0)]
      >>> regions = {"sigmoid_mse": saturation_region("sigmoid_mse", 0.0, 0.05)}
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_saturation(regions, profiles, folder / "saturation.png").stat().st_size > 0
      True
    """
    return _save(saturation_figure(regions, profiles, tol=tol, levels=levels), path)


# ---------------------------------------------------------------------------------------
# Landscape.


def _edges(centres: np.ndarray, log: bool) -> np.ndarray:
    """Cell edges halfway between grid points (geometrically on a log axis)."""
    points = np.log(centres) if log else np.asarray(centres, float)
    if points.size == 1:
        edges = points + (np.array([-0.1, 0.1]) if log else np.array([-0.5, 0.5]))
    else:
        middles = (points[1:] + points[:-1]) / 2
        first, last = 2 * points[0] - middles[0], 2 * points[-1] - middles[-1]
        edges = np.concatenate([[first], middles, [last]])
    return np.exp(edges) if log else edges


def landscape_figure(landscapes: Sequence[Landscape]) -> Figure:
    """log10 of the gradient norm over the two weight scales, one panel per loss.

    The panels share one colour scale and one colour bar; the flatness threshold
    ``flat_tol`` is drawn as a contour. Grids of positive scales get log axes.
    """
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    figure, grid = _figure(1, len(landscapes) or 1, height=4.4, sharex=True, sharey=True)
    axes = list(grid[0])
    logged = [np.log10(np.maximum(item.gradient_norm, 1e-30)) for item in landscapes]
    finite = np.concatenate([values[np.isfinite(values)] for values in logged] or [np.zeros(1)])
    norm = Normalize(vmin=float(finite.min()), vmax=float(finite.max()))
    image = None
    for axis, item, values in zip(axes, landscapes, logged, strict=False):
        log_x = bool(np.all(item.output_scales > 0))
        log_y = bool(np.all(item.hidden_scales > 0))
        image = axis.pcolormesh(
            _edges(item.output_scales, log_x),
            _edges(item.hidden_scales, log_y),
            values,
            shading="flat",
            norm=norm,
            cmap="viridis",
        )
        level = math.log10(item.flat_tol)
        if min(values.shape) >= 2 and values.min() < level < values.max():
            axis.contour(
                item.output_scales,
                item.hidden_scales,
                values,
                levels=[level],
                colors=FLAT_COLOUR,
                linewidths=1.5,
                # A negative level (log10 of a norm below 1) would be dashed by default.
                linestyles="solid",
            )
        if log_x:
            axis.set_xscale("log")
        if log_y:
            axis.set_yscale("log")
        axis.set_title(f"{item.loss_name}: {item.flat_share:.0%} of the grid flat", fontsize=10)
        axis.set_xlabel("output weight scale b")
    axes[0].set_ylabel("hidden weight scale a")
    if image is not None:
        figure.colorbar(image, ax=axes, label="log10 ‖gradient‖ (one scale for all panels)")
    if landscapes:
        tol = landscapes[0].flat_tol
        figure.legend(
            handles=[
                Line2D(
                    [],
                    [],
                    color=FLAT_COLOUR,
                    linewidth=1.5,
                    label=f"‖gradient‖ = {tol:g}: the darker side is flat",
                )
            ],
            loc="outside lower center",
            fontsize=9,
            frameon=False,
        )
        figure.suptitle(
            "Gradient norm of a tanh network with a sigmoid output over two weight scales",
            fontsize=11,
        )
    return figure


def plot_landscape(landscapes: Sequence[Landscape], path: str | pathlib.Path) -> pathlib.Path:
    """Saves :func:`landscape_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import landscape
      >>> item = landscape("sigmoid_mse", [0.5, 1.0, 2.0], [0.5, 1.0, 2.0])
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_landscape([item], folder / "landscape.png").stat().st_size > 0
      True
    """
    return _save(landscape_figure(landscapes), path)


# ---------------------------------------------------------------------------------------
# Layer gradients.


def _runs(result: Result) -> np.ndarray:
    """The seeds (first rate) whose run never diverged."""
    return ~np.asarray(result.diverged)[0]


def layer_gradients_figure(results: Result | Sequence[Result]) -> Figure:
    """Per loss, the median gradient norm of each layer and the saturated fraction.

    One column per result (loss), rows sharing their y axis; the title gives the
    configuration. Runs that diverged are left out and counted.
    """
    results = [results] if not isinstance(results, Sequence) else list(results)
    figure, axes = _figure(2, len(results) or 1, sharey="row", height=3.4)
    for column, result in enumerate(results):
        kept = _runs(result)
        steps = np.arange(result.records["loss"].shape[-1])
        top, bottom = axes[0, column], axes[1, column]
        if kept.any():
            layers = layer_gradient_norms(result)
            for index, (layer, norms) in enumerate(layers.items()):
                name = "output" if index == len(layers) - 1 else f"hidden {index + 1}"
                top.plot(steps, np.median(norms[kept], axis=0), label=f"{layer} ({name})")
            saturated = result.records["saturated_fraction"][0][kept]
            bottom.plot(steps, np.median(saturated, axis=0), color="black")
            top.set_yscale("log")
            top.legend(fontsize=8, title="layer", title_fontsize=8)
        else:
            for axis in (top, bottom):
                axis.text(0.5, 0.5, "every run diverged", transform=axis.transAxes, ha="center")
        diverged = int((~kept).sum())
        note = f" ({diverged} diverged runs left out)" if diverged else ""
        top.set_title(f"{result.experiment.loss}{note}", fontsize=10)
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_xlabel("step (updates made)")
        for axis in (top, bottom):
            axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("gradient norm per layer\n(median over seeds, log scale)")
    axes[1, 0].set_ylabel("share of examples whose\noutput is saturated (median)")
    if results:
        first = results[0]
        experiment = first.experiment
        rates = ", ".join(f"{rate:g}" for rate in first.learning_rates)
        figure.suptitle(
            f"{first.dataset}: {experiment.model.name}, {experiment.init} init, "
            f"{experiment.optimizer} at learning rate {rates}, {first.seeds.size} seeds, "
            f"{experiment.steps} steps",
            fontsize=11,
        )
    return figure


def plot_layer_gradients(
    results: Result | Sequence[Result], path: str | pathlib.Path
) -> pathlib.Path:
    """Saves :func:`layer_gradients_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.train import Experiment, load_dataset, train
      >>> result = train(Experiment(loss="sigmoid_mse", steps=5), load_dataset("xor"), [0], [0.1])
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_layer_gradients([result], folder / "layers.png").stat().st_size > 0
      True
    """
    return _save(layer_gradients_figure(results), path)


# ---------------------------------------------------------------------------------------
# Curvature (jaxloss.curvature).


def spectral_density_figure(densities: Mapping[str, SpectralDensity]) -> Figure:
    """Each Hessian's eigenvalue density on a log scale, one line per label.

    ``densities`` maps a label (a loss, a training step) to a
    :class:`jaxloss.curvature.SpectralDensity`. The log scale shows both the bulk
    near zero and the few outliers; densities below a millionth of the highest
    peak are cut off.

    Example:
      >>> import numpy as np
      >>> from jaxloss.curvature import SpectralDensity
      >>> grid = np.linspace(-1.0, 3.0, 9)
      >>> nodes, weights = np.array([[0.0, 2.0]]), np.array([[0.5, 0.5]])
      >>> density = SpectralDensity(grid, np.exp(-(grid**2)), nodes, weights, 0.1)
      >>> spectral_density_figure({"sketch": density}).axes[0].get_xlabel()
      'eigenvalue λ'
    """
    figure, grid = _figure(1, 1, width=6.4)
    axis = grid[0, 0]
    peak = max((float(np.max(item.density)) for item in densities.values()), default=1.0)
    for label, item in densities.items():
        values = np.maximum(np.asarray(item.density, float), peak * 1e-6)
        axis.plot(np.asarray(item.grid, float), values, label=label)
    axis.set_yscale("log")
    axis.set_ylim(peak * 1e-6, peak * 2)
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.set_xlabel("eigenvalue λ")
    axis.set_ylabel("density (log scale), integrates to 1")
    axis.grid(alpha=0.3)
    if densities:
        first = next(iter(densities.values()))
        probes, steps = np.shape(first.nodes)
        axis.legend(fontsize=8)
        axis.set_title(
            f"Hessian spectral density: stochastic Lanczos quadrature, {probes} probes, "
            f"{steps} steps, Gaussian width {float(first.sigma):.2g}",
            fontsize=10,
        )
    return figure


def plot_spectral_density(
    densities: Mapping[str, SpectralDensity], path: str | pathlib.Path
) -> pathlib.Path:
    """Saves :func:`spectral_density_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> import jax.numpy as jnp
      >>> from jaxloss import curvature
      >>> density = curvature.spectral_density(lambda v: jnp.arange(4.0) * v, jnp.zeros(4))
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_spectral_density({"diag(0, 1, 2, 3)": density}, folder / "d.png").stat().st_size > 0
      True
    """
    return _save(spectral_density_figure(densities), path)


@dataclasses.dataclass(frozen=True)
class SharpnessTrace:
    """One training run's sharpness over steps, for :func:`sharpness_figure`.

    Attributes:
      label: the run's name in the legend (a loss, a step size).
      learning_rate: the step size ``η``; ``2/η`` is drawn as a dashed line.
      steps: ``[T]`` the steps at which the sharpness was measured.
      sharpness: ``[T]`` the top Hessian eigenvalue at each, or ``[T, k]`` the top
        ``k`` (the first drawn solid, the others faint).
      loss_steps: ``[S]`` the steps of ``loss``, when given.
      loss: ``[S]`` the training loss, drawn in a second panel.
    """

    label: str
    learning_rate: float
    steps: Any
    sharpness: Any
    loss_steps: Any = None
    loss: Any = None


def sharpness_figure(traces: Sequence[SharpnessTrace], *, title: str | None = None) -> Figure:
    """Sharpness against the step, with each run's stability threshold ``2/η``.

    Full-batch gradient descent with step size ``η`` is stable on a quadratic only
    while the top eigenvalue stays below ``2/η``; Cohen et al. (2021) found the
    sharpness rising to that line and hovering there (the edge of stability). Each
    run's threshold is dashed in its own colour. When any trace has a training
    loss, a second panel shows it on a log scale.

    Example:
      >>> import numpy as np
      >>> trace = SharpnessTrace("mse", 0.1, np.arange(5), np.linspace(1, 20, 5))
      >>> figure = sharpness_figure([trace])
      >>> [line.get_label() for line in figure.axes[0].get_lines()]
      ['mse', 'mse: 2/η = 20']
    """
    with_loss = any(trace.loss is not None for trace in traces)
    figure, grid = _figure(2 if with_loss else 1, 1, width=6.4, height=3.4, sharex=True)
    axis = grid[0, 0]
    for index, trace in enumerate(traces):
        colour = f"C{index % 10}"
        steps = np.asarray(trace.steps, float)
        values = np.asarray(trace.sharpness, float)
        values = values[:, None] if values.ndim == 1 else values
        axis.plot(steps, values[:, 0], color=colour, linewidth=1.4, label=trace.label)
        for column in range(1, values.shape[1]):
            axis.plot(steps, values[:, column], color=colour, linewidth=0.8, alpha=0.35)
        threshold = 2 / trace.learning_rate
        axis.axhline(
            threshold,
            color=colour,
            linestyle="--",
            linewidth=1,
            label=f"{trace.label}: 2/η = {threshold:.3g}",
        )
        if trace.loss is not None:
            loss_steps = steps if trace.loss_steps is None else trace.loss_steps
            grid[1, 0].plot(
                np.asarray(loss_steps, float),
                np.asarray(trace.loss, float),
                color=colour,
                label=trace.label,
            )
    axis.set_ylabel("sharpness λ_max(H)")
    axis.grid(alpha=0.3)
    if traces:
        axis.legend(fontsize=8)
    bottom = axis
    if with_loss:
        bottom = grid[1, 0]
        bottom.set_yscale("log")
        bottom.set_ylabel("training loss (log scale)")
        bottom.grid(alpha=0.3)
    bottom.set_xlabel("step")
    figure.suptitle(title or "Sharpness against the stability threshold 2/η", fontsize=11)
    return figure


def plot_sharpness(
    traces: Sequence[SharpnessTrace], path: str | pathlib.Path, *, title: str | None = None
) -> pathlib.Path:
    """Saves :func:`sharpness_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> import numpy as np
      >>> trace = SharpnessTrace("mse", 0.1, np.arange(5), np.linspace(1, 20, 5))
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_sharpness([trace], folder / "sharpness.png").stat().st_size > 0
      True
    """
    return _save(sharpness_figure(traces, title=title), path)


def trace_convergence_figure(
    estimates: Mapping[str, TraceEstimate], *, exact: float | None = None
) -> Figure:
    """A stochastic trace estimate against the number of probes, with its error band.

    For each :class:`jaxloss.curvature.TraceEstimate`, the running mean of its
    samples after ``m`` probes, shaded ± 2 running standard errors (which shrink
    as ``1/√m``); ``exact`` draws the true trace when it is known.

    Example:
      >>> import numpy as np
      >>> from jaxloss.curvature import TraceEstimate
      >>> samples = np.array([5.0, 7.0, 6.0, 6.5])
      >>> estimate = TraceEstimate(samples.mean(), samples.std(ddof=1) / 2, samples)
      >>> figure = trace_convergence_figure({"hutchinson": estimate}, exact=6.0)
      >>> figure.axes[0].get_xlabel()
      'probes m (log scale)'
    """
    figure, grid = _figure(1, 1, width=6.4)
    axis = grid[0, 0]
    for index, (label, estimate) in enumerate(estimates.items()):
        samples = np.asarray(estimate.samples, float)
        count = np.arange(1, samples.size + 1)
        running = np.cumsum(samples) / count
        squares = np.cumsum(samples**2) / count
        # Running sample variance with Bessel's correction; undefined for one probe.
        variance = (squares - running**2) * count / np.maximum(count - 1, 1)
        error = np.where(count > 1, np.sqrt(np.maximum(variance, 0) / count), np.nan)
        colour = f"C{index % 10}"
        axis.plot(count, running, color=colour, label=label)
        axis.fill_between(
            count, running - 2 * error, running + 2 * error, color=colour, alpha=0.2, linewidth=0
        )
    if exact is not None:
        axis.axhline(exact, color="black", linestyle="--", linewidth=1, label=f"exact {exact:.4g}")
    axis.set_xscale("log")
    axis.set_xlabel("probes m (log scale)")
    axis.set_ylabel("trace estimate (± 2 standard errors)")
    axis.grid(alpha=0.3)
    if estimates or exact is not None:
        axis.legend(fontsize=8)
    axis.set_title("Stochastic trace estimate as probes accumulate", fontsize=10)
    return figure


def plot_trace_convergence(
    estimates: Mapping[str, TraceEstimate],
    path: str | pathlib.Path,
    *,
    exact: float | None = None,
) -> pathlib.Path:
    """Saves :func:`trace_convergence_figure` as PNG.

    Example:
      >>> import pathlib, tempfile
      >>> import numpy as np
      >>> from jaxloss.curvature import TraceEstimate
      >>> samples = np.array([5.0, 7.0, 6.0, 6.5])
      >>> estimate = TraceEstimate(samples.mean(), samples.std(ddof=1) / 2, samples)
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_trace_convergence({"h": estimate}, folder / "t.png").stat().st_size > 0
      True
    """
    return _save(trace_convergence_figure(estimates, exact=exact), path)
