"""The convergence figure of a study: median curve and interquartile band per row.

Three panels against the step on a log axis: the training loss divided by its
initial value (each loss on its own scale, so that two losses share an axis), the
training accuracy with the threshold, and the norm of the gradient with respect to
the logits, the quantity whose vanishing slows a saturated sigmoid down. One
colour per loss, one line style per learning rate. Diverged runs are left out and
counted in the legend.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    from jaxloss.train.study import Study

LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
NOTHING_TO_DRAW = "every run diverged: nothing finite to draw"


def _band(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Median and quartiles over the runs whose curve is finite throughout, or None."""
    kept = curves[np.isfinite(curves).all(axis=-1)]
    if kept.shape[0] == 0:
        return None
    q25, median, q75 = np.percentile(kept, [25, 50, 75], axis=0)
    return median, q25, q75


# record: (axis label, log values)
PANELS = {
    "loss": ("training loss ÷ its initial value", True),
    "accuracy": ("training accuracy", False),
    "logit_grad_norm": ("‖∂loss/∂logits‖ on the training set", True),
}


def convergence_figure(study: Study) -> Figure:
    """The figure ``convergence_png`` saves; tests inspect its axes and legend."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    # Plain numbers ("10", "0.01"): matplotlib's "$10^{1}$" labels go through its
    # TeX parser, whose first use costs more than the rest of the figure.
    plain = FuncFormatter(lambda value, _: f"{value:g}")
    config = study.config
    panels = PANELS
    # Fixed margins: a layout engine would measure every tick label of three log
    # axes, which costs more than the rest of the figure.
    figure, axes = plt.subplots(1, len(panels), figsize=(14, 5.0))
    figure.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.24, wspace=0.28)
    by_record: dict[str, Axes] = dict(zip(panels, axes, strict=True))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    # Entry t of a record is measured after t updates; the log axis starts at one.
    steps = np.arange(config.steps)
    shown = steps >= 1
    drawn = dict.fromkeys(panels, False)
    for _, result, rate_index in study.rows():
        colour = colours[config.losses.index(result.experiment.loss) % len(colours)]
        style = LINE_STYLES[rate_index % len(LINE_STYLES)]
        for record, axis in by_record.items():
            curves = result.records[record][rate_index]
            if record == "loss":
                curves = curves / curves[:, :1]
            band = _band(curves[:, shown])
            if band is None:
                continue
            median, q25, q75 = band
            axis.plot(steps[shown], median, color=colour, linestyle=style, linewidth=1.6)
            axis.fill_between(steps[shown], q25, q75, color=colour, alpha=0.15, linewidth=0)
            drawn[record] = True
    accuracy_axis = by_record["accuracy"]
    accuracy_axis.axhline(config.threshold, color="grey", linestyle=(0, (2, 2)), linewidth=1)
    accuracy_axis.set_ylim(-0.02, 1.02)
    for record, axis in by_record.items():
        label, log_values = panels[record]
        axis.set_ylabel(f"{label}\n(median over seeds, IQR band)", fontsize=9)
        axis.set_xlabel("step (updates made, log scale)")
        axis.set_xscale("log")
        axis.set_xlim(1, max(config.steps, 2))
        axis.xaxis.set_major_formatter(plain)
        # Minor ticks at 2 and 5 only: each tick is an object matplotlib builds.
        axis.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        axis.grid(alpha=0.3)
        if log_values and drawn[record]:
            axis.set_yscale("log")
            low, high = axis.get_ylim()
            # Labels at 1, 2 and 5 times each power of ten while they fit: a range
            # under two decades would otherwise show a single labelled tick.
            subs = (1.0, 2.0, 5.0) if np.log10(high / low) < 3 else (1.0,)
            axis.yaxis.set_major_locator(LogLocator(subs=subs))
            axis.yaxis.set_major_formatter(plain)
            axis.yaxis.set_minor_locator(NullLocator())
        if not drawn[record]:
            axis.text(
                0.5,
                0.5,
                NOTHING_TO_DRAW,
                transform=axis.transAxes,
                ha="center",
                va="center",
                wrap=True,
            )

    loss_handles: list[Line2D] = []
    for loss_index, loss in enumerate(config.losses):
        rows = [row for row in study.summary["losses"].values() if row["loss"] == loss]
        diverged = sum(row["diverged"] for row in rows)
        label = loss
        if diverged:
            label += f" ({diverged} of {config.seeds * len(rows)} runs diverged, left out)"
        colour = colours[loss_index % len(colours)]
        loss_handles.append(Line2D([], [], color=colour, label=label))
    style_handles: list[Line2D] = []
    if len(config.learning_rates) > 1:
        for rate_index, rate in enumerate(config.learning_rates):
            style = LINE_STYLES[rate_index % len(LINE_STYLES)]
            style_handles.append(
                Line2D([], [], color="black", linestyle=style, label=f"learning rate {rate:g}")
            )
    threshold_label = f"accuracy threshold {config.threshold:g}"
    style_handles.append(Line2D([], [], color="grey", linestyle=(0, (2, 2)), label=threshold_label))
    handles = _in_rows([loss_handles, style_handles])
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=max(len(loss_handles), len(style_handles)),
        fontsize=9,
        frameon=False,
    )
    rates = ", ".join(f"{rate:g}" for rate in config.learning_rates)
    figure.suptitle(
        f"{study.summary['dataset']['name']}: {config.model.name}, {config.optimizer}, "
        f"learning rate{'s' if len(config.learning_rates) > 1 else ''} {rates}, "
        f"{config.init} init, {config.seeds} seeds, {config.steps} steps",
        fontsize=11,
    )
    return figure


def _in_rows(rows: list[list[Line2D]]) -> list[Line2D]:
    """Legend handles ordered so that each list fills one row (legends fill columns)."""
    from matplotlib.lines import Line2D

    width = max(len(row) for row in rows)
    padded = [row + [Line2D([], [], alpha=0, label=" ")] * (width - len(row)) for row in rows]
    return [row[column] for column in range(width) for row in padded]


def convergence_png(study: Study) -> bytes:
    """The convergence figure as PNG bytes."""
    from matplotlib import pyplot as plt

    figure = convergence_figure(study)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
