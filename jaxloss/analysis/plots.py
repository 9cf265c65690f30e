"""Matplotlib figures of the analysis results (needs the ``examples`` extra).

Each function draws into a new figure and saves it as PNG to ``path``.
"""

from __future__ import annotations

import io
import math
import pathlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from jaxloss._files import write_atomic
from jaxloss.analysis.diagnostics import layer_gradient_norms
from jaxloss.analysis.landscape import Landscape
from jaxloss.analysis.profiles import Profile
from jaxloss.analysis.saturation import Interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from jaxloss.train.harness import Result


def _figure(columns: int, height: float = 3.8) -> tuple[Figure, list]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(1, columns, figsize=(4.6 * columns, height))
    return figure, list(np.atleast_1d(axes))


def _save(figure: Figure, path: str | pathlib.Path) -> pathlib.Path:
    """Saves atomically: an interrupted run leaves the whole PNG or none."""
    from matplotlib import pyplot as plt

    path = pathlib.Path(path)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return path


def plot_gradient_profile(profiles: Sequence[Profile], path: str | pathlib.Path) -> pathlib.Path:
    """Value, |gradient| and second derivative against the logit, one line per loss.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import gradient_profile
      >>> profiles = [gradient_profile("sigmoid_mse", [-2.0, 0.0, 2.0], 0.0)]
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_gradient_profile(profiles, folder / "profile.png").stat().st_size > 0
      True
    """
    figure, axes = _figure(3)
    for profile in profiles:
        axes[0].plot(profile.logits, profile.value, label=profile.loss)
        axes[1].plot(profile.logits, np.abs(profile.gradient), label=profile.loss)
        axes[2].plot(profile.logits, profile.second_derivative, label=profile.loss)
    titles = ("loss", "|dl/dz|", "d2l/dz2")
    for axis, title in zip(axes, titles, strict=True):
        axis.set_title(title)
        axis.set_xlabel("logit z")
        axis.grid(alpha=0.3)
    axes[1].set_yscale("log")
    axes[2].axhline(0, color="grey", linewidth=0.8)
    axes[0].legend(fontsize=8)
    if profiles:
        figure.suptitle(f"target {profiles[0].target:g}", fontsize=10)
    return _save(figure, path)


def plot_saturation(
    regions: dict[str, list[Interval]], profiles: Sequence[Profile], path: str | pathlib.Path
) -> pathlib.Path:
    """|gradient| per loss with its saturated intervals shaded (red: wrong side).

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import gradient_profile, saturation_region
      >>> profiles = [gradient_profile("sigmoid_mse", [-8.0, 0.0, 8.0], 0.0)]
      >>> regions = {"sigmoid_mse": saturation_region("sigmoid_mse", 0.0, 0.05)}
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_saturation(regions, profiles, folder / "saturation.png").stat().st_size > 0
      True
    """
    figure, axes = _figure(len(profiles) or 1)
    for axis, profile in zip(axes, profiles, strict=False):
        axis.plot(profile.logits, np.abs(profile.gradient), color="black")
        low, high = float(profile.logits.min()), float(profile.logits.max())
        for interval in regions.get(profile.loss, []):
            start = low if math.isinf(interval.start) else interval.start
            end = high if math.isinf(interval.end) else interval.end
            colour = "tab:green" if interval.correct else "tab:red"
            axis.axvspan(start, end, color=colour, alpha=0.2, linewidth=0)
        axis.set_yscale("log")
        axis.set_title(f"{profile.loss}: saturated logits", fontsize=9)
        axis.set_xlabel("logit z")
        axis.set_xlim(low, high)
    return _save(figure, path)


def plot_landscape(landscapes: Sequence[Landscape], path: str | pathlib.Path) -> pathlib.Path:
    """log10 of the gradient norm over the two weight scales, one panel per loss.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.analysis import landscape
      >>> item = landscape("sigmoid_mse", [0.5, 1.0, 2.0], [0.5, 1.0, 2.0])
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_landscape([item], folder / "landscape.png").stat().st_size > 0
      True
    """
    figure, axes = _figure(len(landscapes) or 1, height=4.2)
    for axis, item in zip(axes, landscapes, strict=False):
        image = axis.pcolormesh(
            item.output_scales,
            item.hidden_scales,
            np.log10(np.maximum(item.gradient_norm, 1e-30)),
            shading="auto",
        )
        figure.colorbar(image, ax=axis, label="log10 |gradient|")
        axis.set_title(f"{item.loss_name}: {item.flat_share:.0%} flat", fontsize=9)
        axis.set_xlabel("output weight scale")
        axis.set_ylabel("hidden weight scale")
    return _save(figure, path)


def plot_layer_gradients(result: Result, path: str | pathlib.Path) -> pathlib.Path:
    """Median gradient norm of each layer over seeds, and the saturated fraction.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxloss.train import Experiment, load_dataset, train
      >>> result = train(Experiment(loss="sigmoid_mse", steps=5), load_dataset("xor"), [0], [0.1])
      >>> folder = pathlib.Path(tempfile.mkdtemp())
      >>> plot_layer_gradients(result, folder / "layers.png").stat().st_size > 0
      True
    """
    figure, axes = _figure(2)
    steps = np.arange(result.records["loss"].shape[-1])
    for layer, norms in layer_gradient_norms(result).items():
        axes[0].plot(steps, np.median(norms, axis=0), label=layer)
    axes[0].set_yscale("log")
    axes[0].set_title("gradient norm per layer (median over seeds)", fontsize=9)
    axes[0].legend(fontsize=8)
    saturated = result.records["saturated_fraction"][0]
    axes[1].plot(steps, np.median(saturated, axis=0), color="black")
    axes[1].set_title("fraction of saturated output units", fontsize=9)
    axes[1].set_ylim(-0.02, 1.02)
    for axis in axes:
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    figure.suptitle(result.experiment.loss, fontsize=10)
    return _save(figure, path)
