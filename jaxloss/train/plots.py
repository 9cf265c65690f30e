"""The convergence plot: median curve and interquartile band per loss."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from jaxloss.train.compare import Study


def _band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median and quartiles over seeds; diverged (non-finite) runs are left out."""
    finite_runs = np.isfinite(curves).all(axis=-1)
    kept = curves[finite_runs] if finite_runs.any() else np.full_like(curves[:1], np.nan)
    q25, median, q75 = np.percentile(kept, [25, 50, 75], axis=0)
    return median, q25, q75


def convergence_png(study: Study) -> bytes:
    """Training loss (log scale) and training accuracy against step, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    config = study.config
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = np.arange(config.steps)
    for key, result in study.results.items():
        rate = study.summary["losses"][key]["learning_rate"]
        rate_index = int(np.argmin(np.abs(result.learning_rates - rate)))
        for axis, record in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
            median, q25, q75 = _band(result.records[record][rate_index])
            (line,) = axis.plot(steps, median, label=key, linewidth=1.6)
            axis.fill_between(steps, q25, q75, color=line.get_color(), alpha=0.2, linewidth=0)
    loss_axis.set_yscale("log")
    loss_axis.set_ylabel("training loss (median, IQR band)")
    accuracy_axis.set_ylabel("training accuracy (median, IQR band)")
    accuracy_axis.axhline(config.threshold, color="grey", linestyle=":", linewidth=1)
    for axis in (loss_axis, accuracy_axis):
        axis.set_xlabel("step")
        # Linear up to step 10, logarithmic after: early and late training both show.
        axis.set_xscale("symlog", linthresh=10)
        axis.set_xlim(0, config.steps)
        axis.grid(alpha=0.3)
    accuracy_axis.legend(loc="lower right", fontsize=8)
    figure.suptitle(
        f"{study.summary['dataset']['name']}, {config.model.name}, {config.optimizer}, "
        f"{config.init} init, {config.seeds} seeds",
        fontsize=10,
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
