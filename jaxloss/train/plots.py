"""The convergence figure of a study: median curve and interquartile band per row.

Three panels against the step on a log axis: the training loss divided by its
initial value (each loss on its own scale, so that two losses share an axis), the
training accuracy with the threshold, and the norm of the gradient with respect to
the logits, the quantity whose vanishing slows a saturated sigmoid down. One
colour per loss, one line style per learning rate. Diverged runs are left out and
counted in the legend. A study that measured the sharpness gets a fourth panel: the
sharpness against the step on a linear axis, with the optimizer's stability
threshold (2 / lr for gradient descent) drawn and labelled for each learning rate.
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
    with_sharpness = config.sharpness_every is not None
    # Fixed margins: a layout engine would measure every tick label of three log
    # axes, which costs more than the rest of the figure.
    if with_sharpness:
        figure, axes = plt.subplots(1, len(panels) + 1, figsize=(19, 5.0))
        figure.subplots_adjust(left=0.045, right=0.975, top=0.9, bottom=0.24, wspace=0.3)
        axes, sharpness_axis = axes[:-1], axes[-1]
    else:
        figure, axes = plt.subplots(1, len(panels), figsize=(14, 5.0))
        figure.subplots_adjust(left=0.06, right=0.99, top=0.9, bottom=0.24, wspace=0.28)
        sharpness_axis = None
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

    if sharpness_axis is not None:
        _draw_sharpness(study, sharpness_axis, colours, plain)

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
    if with_sharpness and study_threshold_name(config.optimizer) is not None:
        style_handles.append(
            Line2D(
                [],
                [],
                color=THRESHOLD_COLOUR,
                linewidth=THRESHOLD_WIDTH,
                label=f"stability threshold {study_threshold_name(config.optimizer)}",
            )
        )
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
        f"{config.init} init, {config.seeds} seeds, {config.steps} steps"
        + (
            ""
            if config.sharpness_every is None
            else f", sharpness every {config.sharpness_every} steps"
        ),
        fontsize=11,
    )
    return figure


THRESHOLD_COLOUR = "0.35"
THRESHOLD_WIDTH = 2.4


def study_threshold_name(optimizer: str) -> str | None:
    """How the legend names the optimizer's stability threshold, or None."""
    from jaxloss.train.study import stability_threshold

    if stability_threshold(optimizer, 1.0) is None:
        return None
    return "(2+2β)/lr" if optimizer == "momentum" else "2/lr"


def _draw_sharpness(study: Study, axis: Axes, colours: list[str], plain) -> None:
    """Median sharpness and IQR band per row; each rate's stability threshold."""
    from jaxloss.train.study import stability_threshold

    config = study.config
    drawn = False
    for _, result, rate_index in study.rows():
        if result.sharpness is None:
            continue
        measured_at = result.experiment.sharpness_steps
        colour = colours[config.losses.index(result.experiment.loss) % len(colours)]
        style = LINE_STYLES[rate_index % len(LINE_STYLES)]
        band = _band(result.sharpness[rate_index])
        if band is None:
            continue
        median, q25, q75 = band
        axis.plot(measured_at, median, color=colour, linestyle=style, linewidth=1.6)
        axis.fill_between(measured_at, q25, q75, color=colour, alpha=0.15, linewidth=0)
        drawn = True
    name = study_threshold_name(config.optimizer)
    highest = 0.0
    for rate_index, rate in enumerate(config.learning_rates):
        threshold = stability_threshold(config.optimizer, rate)
        if threshold is None or name is None:
            continue
        highest = max(highest, threshold)
        # Thick and grey under the curves, in the rate's line style, named at its end.
        axis.axhline(
            threshold,
            color=THRESHOLD_COLOUR,
            linestyle=LINE_STYLES[rate_index % len(LINE_STYLES)],
            linewidth=THRESHOLD_WIDTH,
            zorder=1,
        )
        axis.annotate(
            f"{name} = {threshold:.3g}",
            xy=(1.0, threshold),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color=THRESHOLD_COLOUR,
        )
    axis.set_xlabel("step (updates made, linear scale)")
    axis.set_xlim(0, max(config.steps, 1))
    axis.set_ylabel(
        "sharpness: top eigenvalue of the training-loss Hessian\n"
        f"(every {config.sharpness_every} steps; median over seeds, IQR band)",
        fontsize=9,
    )
    axis.grid(alpha=0.3)
    if not drawn:
        axis.text(
            0.5, 0.5, NOTHING_TO_DRAW, transform=axis.transAxes, ha="center", va="center", wrap=True
        )
        return
    low, high = axis.get_ylim()
    if low > 0 and high / low > 20:
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(plain)
        # Room above the highest threshold for its label.
        axis.set_ylim(low, max(high, highest * 1.5))
    else:
        axis.set_ylim(min(low, 0.0), max(high, highest * 1.1))


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
