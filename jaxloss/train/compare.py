"""The convergence study behind ``jaxloss compare``: run, summarise, tabulate, save.

Each loss (and learning rate) trains the same model from the same seeds; the
summary reports, over seeds, the steps to a training-accuracy threshold (median
and quartiles, and how many seeds never reached it), how many runs diverged, and
final accuracies and losses. A run that diverged (a non-finite loss or parameter)
is left out of every median, quartile and curve, and counted. With
``sharpness_every`` the study also records the sharpness (the top eigenvalue of
the training loss's Hessian) and summarises its initial, largest and final value
against the optimizer's stability threshold (2 / lr for gradient descent).
"""

from __future__ import annotations

import io
import json
import pathlib
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from jaxloss._files import prepare_output_folder as prepare_output_folder
from jaxloss._files import write_atomic
from jaxloss.train import harness, metrics
from jaxloss.train.datasets import Dataset
from jaxloss.train.study import DEFAULT_BINARY_LOSSES as DEFAULT_BINARY_LOSSES
from jaxloss.train.study import DEFAULT_MULTICLASS_LOSSES as DEFAULT_MULTICLASS_LOSSES
from jaxloss.train.study import Study as Study
from jaxloss.train.study import StudyConfig as StudyConfig
from jaxloss.train.study import rate_label as rate_label
from jaxloss.train.study import row_key as row_key
from jaxloss.train.study import stability_threshold as stability_threshold


def run(
    config: StudyConfig,
    dataset: Dataset,
    *,
    chunk_steps: int | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    completed: dict[str, Any] | None = None,
) -> Study:
    """Trains every loss of the study; the learning rates of one loss share a program.

    ``completed``, when given, receives each row of the summary as soon as its loss
    has finished, so a caller interrupted mid-study can report what was done.
    """
    for loss in config.losses:
        harness.check_loss_fits_task(loss, dataset)
    seeds = np.arange(config.seeds)
    results: dict[str, harness.Result] = {}
    rows: dict[str, Any] = {}
    for loss in config.losses:
        experiment = harness.Experiment(
            loss=loss,
            model=config.model,
            optimizer=config.optimizer,
            steps=config.steps,
            init=config.init,
            sharpness_every=config.sharpness_every,
            sharpness_iterations=config.sharpness_iterations,
        )

        def report(done: int, total: int, loss: str = loss) -> None:
            if on_progress is not None:
                on_progress(loss, done, total)

        results[loss] = harness.train(
            experiment,
            dataset,
            seeds,
            config.learning_rates,
            devices=config.devices,
            chunk_steps=chunk_steps,
            on_chunk=None if on_progress is None else report,
        )
        partial = Study(config, {loss: results[loss]}, {})
        for key, result, rate_index in partial.rows():
            rows[key] = _summarize_run(config, result, rate_index)
            if completed is not None:
                completed[key] = rows[key]
    summary = {
        "config": config.to_json(),
        "dataset": {
            "name": dataset.name,
            "train_examples": int(dataset.x_train.shape[0]),
            "test_examples": int(dataset.x_test.shape[0]),
            "features": dataset.num_features,
            "classes": dataset.num_classes,
        },
        "timing": {
            "compile_s": sum(row["compile_s"] for row in rows.values()),
            "run_s": sum(row["run_s"] for row in rows.values()),
        },
        "losses": rows,
    }
    return Study(config, results, summary)


def _summarize_run(config: StudyConfig, result: harness.Result, rate_index: int) -> dict:
    records = {name: curves[rate_index] for name, curves in result.records.items()}
    diverged = result.diverged[rate_index]
    kept = ~diverged

    def steps_to(curves: np.ndarray, threshold: float, above: bool) -> dict[str, Any]:
        steps = metrics.steps_to_threshold(curves, threshold, above=above)
        return metrics.summarize(np.where(diverged, np.nan, steps))

    # One learning rate's runs share the program: its timings are split evenly.
    share = 1.0 / len(result.learning_rates)
    row: dict[str, Any] = {
        "loss": result.experiment.loss,
        "learning_rate": float(config.learning_rates[rate_index]),
        "steps_to_threshold": steps_to(records["accuracy"], config.threshold, True),
        "diverged": int(diverged.sum()),
        "diverged_runs": [
            {"seed": int(seed), "step": int(step)}
            for seed, step in zip(
                result.seeds[diverged], result.diverged_at[rate_index][diverged], strict=True
            )
        ],
        "final_train_accuracy": metrics.summarize_finite(records["accuracy"][kept, -1]),
        "final_test_accuracy": metrics.summarize_finite(records["test_accuracy"][kept, -1]),
        "final_loss": metrics.summarize_finite(records["loss"][kept, -1]),
        "final_test_loss": metrics.summarize_finite(records["test_loss"][kept, -1]),
        "compile_s": result.compile_s * share,
        "run_s": result.run_s * share,
    }
    if config.loss_threshold is not None:
        row["steps_to_loss_threshold"] = steps_to(records["loss"], config.loss_threshold, False)
    if result.sharpness is not None:
        row["sharpness"] = _summarize_sharpness(
            config, result.sharpness[rate_index][kept], row["learning_rate"]
        )
    return row


# The final sharpness is averaged over this last fraction of the measurements: at
# the edge of stability it oscillates around 2 / lr from one measurement to the next.
FINAL_FRACTION = 0.1


def final_sharpness(sharpness: np.ndarray) -> np.ndarray:
    """``[..., measurements] -> [...]``: the mean over the last 10% (at least one)."""
    last = max(1, round(FINAL_FRACTION * sharpness.shape[-1]))
    return sharpness[..., -last:].mean(axis=-1)


def _summarize_sharpness(
    config: StudyConfig, sharpness: np.ndarray, learning_rate: float
) -> dict[str, Any]:
    """Over the runs that did not diverge: ``sharpness`` is ``[runs, measurements]``."""
    return {
        "every": config.sharpness_every,
        "iterations": config.sharpness_iterations,
        "stability_threshold": stability_threshold(config.optimizer, learning_rate),
        "initial": metrics.summarize_finite(sharpness[:, 0]),
        "max": metrics.summarize_finite(sharpness.max(axis=-1)),
        "final": metrics.summarize_finite(final_sharpness(sharpness)),
    }


def format_table(summary: dict[str, Any]) -> str:
    """A markdown table: one row per loss (and learning rate).

    A row whose runs all diverged says so in its first column and leaves the
    columns that would summarise them as ``-``. A study that measured the
    sharpness adds its median initial, largest and final value (the mean over the
    last 10% of the measurements) and the optimizer's stability threshold.
    """
    config = summary["config"]
    seeds = config["seeds"]
    loss_threshold = config.get("loss_threshold")
    columns = [
        "loss",
        f"steps to {config['threshold']:g} train accuracy, median [IQR]",
        f"never (of {seeds})",
    ]
    if loss_threshold is not None:
        columns += [
            f"steps to train loss {loss_threshold:g}, median [IQR]",
            f"loss never (of {seeds})",
        ]
    columns += [
        f"diverged (of {seeds})",
        "final test accuracy",
        "final loss",
    ]
    sharpness = config.get("sharpness_every") is not None
    if sharpness:
        columns += [
            "initial sharpness",
            "max sharpness",
            "final sharpness (last 10%)",
            _threshold_name(config["optimizer"]),
        ]
    columns += ["compile s", "run s"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for key, row in summary["losses"].items():
        accuracy_steps = row["steps_to_threshold"]
        every_run_diverged = accuracy_steps["runs"] == 0
        cells = [key]
        if every_run_diverged:
            cells += [f"all {row['diverged']} runs diverged", "-"]
        else:
            cells += [metrics.format_steps(accuracy_steps), str(accuracy_steps["never"])]
        if loss_threshold is not None:
            loss_steps = row["steps_to_loss_threshold"]
            cells += [
                metrics.format_steps(loss_steps),
                "-" if every_run_diverged else str(loss_steps["never"]),
            ]
        cells += [
            str(row["diverged"]),
            _number(row["final_test_accuracy"]["median"], ".3f"),
            _number(row["final_loss"]["median"], ".4g"),
        ]
        if sharpness:
            measured = row["sharpness"]
            cells += [
                _number(measured[name]["median"], ".4g") for name in ("initial", "max", "final")
            ]
            cells.append(_number(measured["stability_threshold"], ".4g"))
        cells += [
            f"{row['compile_s']:.2f}",
            f"{row['run_s']:.2f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _threshold_name(optimizer: str) -> str:
    if optimizer == "momentum":
        return "stability threshold (2+2β)/lr"
    return "stability threshold 2/lr"


def _number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def diverged_warnings(summary: dict[str, Any]) -> list[str]:
    """One line per loss some of whose runs diverged (over all its learning rates)."""
    by_loss: dict[str, list[dict[str, Any]]] = {}
    for row in summary["losses"].values():
        by_loss.setdefault(row["loss"], []).append(row)
    seeds = summary["config"]["seeds"]
    lines = []
    for loss, rows in by_loss.items():
        diverged = sum(row["diverged"] for row in rows)
        if not diverged:
            continue
        first = min(run["step"] for row in rows for run in row["diverged_runs"])
        where = ", ".join(
            f"lr {rate_label(row['learning_rate'])}: {row['diverged']}"
            for row in rows
            if row["diverged"]
        )
        lines.append(
            f"{loss}: {diverged} of {seeds * len(rows)} runs diverged ({where}; the first at "
            f"step {first}); they are counted in the table and left out of its medians"
        )
    return lines


# ---------------------------------------------------------------------------------------
# Output files, each written atomically (``jaxloss._files``).


def curves_npz(study: Study) -> bytes:
    """Per-step curves ``[seeds, steps]`` for each row, under ``"<row>/<record>"``.

    A diverged run's curves are NaN from the step it diverged, which
    ``"<row>/diverged_at"`` gives per seed (-1: it never diverged). A study that
    measured the sharpness adds ``"<row>/sharpness"`` ``[seeds, measurements]``,
    measured before the updates numbered by ``"sharpness_steps"``.
    """
    arrays: dict[str, np.ndarray] = {"seeds": np.arange(study.config.seeds)}
    for key, result, rate_index in study.rows():
        for name, curves in result.records.items():
            arrays[f"{key}/{name}"] = curves[rate_index]
        arrays[f"{key}/parameter_grad_norms"] = result.parameter_grad_norms[rate_index]
        arrays[f"{key}/parameter_names"] = np.asarray(result.parameter_names)
        arrays[f"{key}/diverged_at"] = result.diverged_at[rate_index]
        if result.sharpness is not None:
            arrays[f"{key}/sharpness"] = result.sharpness[rate_index]
            arrays["sharpness_steps"] = result.experiment.sharpness_steps
    buffer = io.BytesIO()
    # Typed loosely: numpy's stub reads ``**arrays`` as possibly its ``allow_pickle``.
    save_arrays = cast(Callable[..., None], np.savez_compressed)
    save_arrays(buffer, **arrays)
    return buffer.getvalue()


def save_data(study: Study, folder: pathlib.Path) -> list[pathlib.Path]:
    """Writes ``summary.json`` and ``curves.npz`` into ``folder``."""
    written = []
    for name, data in (
        ("summary.json", (json.dumps(study.summary, indent=2) + "\n").encode()),
        ("curves.npz", curves_npz(study)),
    ):
        write_atomic(folder / name, data)
        written.append(folder / name)
    return written


def save(study: Study, folder: pathlib.Path) -> list[pathlib.Path]:
    """Writes ``summary.json``, ``curves.npz`` and then ``convergence.png`` into ``folder``.

    The numbers are on disk before the plot is drawn, so a failing plot loses
    nothing but itself.
    """
    written = save_data(study, folder)
    save_plot(study, folder / "convergence.png")
    return [*written, folder / "convergence.png"]


def save_plot(study: Study, path: pathlib.Path) -> None:
    """Writes the convergence plot alone (creating the folder), atomically."""
    from jaxloss.train import plots

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, plots.convergence_png(study))
