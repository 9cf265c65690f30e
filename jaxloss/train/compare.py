"""The convergence study behind ``jaxloss compare``: run, summarise, tabulate, save.

Each loss (and learning rate) trains the same model from the same seeds; the
summary reports, over seeds, the steps to a training-accuracy threshold (median
and quartiles, and how many seeds never reached it), final accuracies and loss.
"""

from __future__ import annotations

import dataclasses
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
from jaxloss.train.models import ModelSpec

DEFAULT_BINARY_LOSSES = ("sigmoid_mse", "sigmoid_binary_cross_entropy")
DEFAULT_MULTICLASS_LOSSES = (
    "softmax_cross_entropy_with_integer_labels",
    "one_hot_mse",
    "rescaled_square_loss",
)


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    dataset: str = "breast_cancer"
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    losses: tuple[str, ...] = DEFAULT_BINARY_LOSSES
    optimizer: str = "sgd"
    learning_rates: tuple[float, ...] = (0.1,)
    seeds: int = 32
    steps: int = 3000
    init: str = "normal"
    threshold: float = 0.95
    loss_threshold: float | None = None
    devices: int = 1

    def to_json(self) -> dict[str, Any]:
        config = dataclasses.asdict(self)
        config["model"] = self.model.name
        config["losses"] = list(self.losses)
        config["learning_rates"] = list(self.learning_rates)
        return config


@dataclasses.dataclass
class Study:
    config: StudyConfig
    results: dict[str, harness.Result]  # by row key: the loss, and "@lr=" when several
    summary: dict[str, Any]


def row_key(loss: str, learning_rate: float, several_rates: bool) -> str:
    return f"{loss}@lr={learning_rate:g}" if several_rates else loss


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
    several_rates = len(config.learning_rates) > 1
    results: dict[str, harness.Result] = {}
    rows: dict[str, Any] = {}
    for loss in config.losses:
        experiment = harness.Experiment(
            loss=loss,
            model=config.model,
            optimizer=config.optimizer,
            steps=config.steps,
            init=config.init,
        )

        def report(done: int, total: int, loss: str = loss) -> None:
            if on_progress is not None:
                on_progress(loss, done, total)

        result = harness.train(
            experiment,
            dataset,
            seeds,
            config.learning_rates,
            devices=config.devices,
            chunk_steps=chunk_steps,
            on_chunk=report,
        )
        for rate_index, rate in enumerate(result.learning_rates):
            key = row_key(loss, float(rate), several_rates)
            results[key] = result
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
    diverged = ~np.isfinite(records["loss"]).all(axis=-1)
    steps = metrics.steps_to_threshold(records["accuracy"], config.threshold)
    steps = np.where(diverged, np.nan, steps)
    # One learning rate's runs share the program: its timings are split evenly.
    share = 1.0 / len(result.learning_rates)
    row: dict[str, Any] = {
        "learning_rate": float(result.learning_rates[rate_index]),
        "steps_to_threshold": metrics.summarize(steps),
        "final_train_accuracy": metrics.summarize_finite(records["accuracy"][:, -1]),
        "final_test_accuracy": metrics.summarize_finite(records["test_accuracy"][:, -1]),
        "final_loss": metrics.summarize_finite(records["loss"][:, -1]),
        "final_test_loss": metrics.summarize_finite(records["test_loss"][:, -1]),
        "compile_s": result.compile_s * share,
        "run_s": result.run_s * share,
        "nan_runs": [
            {"seed": seed, "step": step}
            for rate, seed, step in result.nan_runs()
            if rate == result.learning_rates[rate_index]
        ],
    }
    if config.loss_threshold is not None:
        loss_steps = metrics.steps_to_threshold(records["loss"], config.loss_threshold, above=False)
        row["steps_to_loss_threshold"] = metrics.summarize(np.where(diverged, np.nan, loss_steps))
    return row


def format_table(summary: dict[str, Any]) -> str:
    """A markdown table: one row per loss (and learning rate)."""
    threshold = summary["config"]["threshold"]
    seeds = summary["config"]["seeds"]
    header = (
        f"| loss | steps to {threshold:g} train accuracy, median [IQR] | never (of {seeds}) "
        "| final test accuracy | final loss | compile s | run s |"
    )
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, row in summary["losses"].items():
        steps = row["steps_to_threshold"]
        lines.append(
            f"| {key} | {metrics.format_steps(steps)} | {steps['never']} "
            f"| {_number(row['final_test_accuracy']['median'], '.3f')} "
            f"| {_number(row['final_loss']['median'], '.4g')} "
            f"| {row['compile_s']:.2f} | {row['run_s']:.2f} |"
        )
    return "\n".join(lines)


def _number(value: float | None, spec: str) -> str:
    return "nan" if value is None else format(value, spec)


# ---------------------------------------------------------------------------------------
# Output files, each written atomically (``jaxloss._files``).


def curves_npz(study: Study) -> bytes:
    """Per-step curves ``[seeds, steps]`` for each row, under ``"<row>/<record>"``."""
    arrays: dict[str, np.ndarray] = {"seeds": np.arange(study.config.seeds)}
    for key, result in study.results.items():
        rate_index = int(
            np.argmin(np.abs(result.learning_rates - study.summary["losses"][key]["learning_rate"]))
        )
        for name, curves in result.records.items():
            arrays[f"{key}/{name}"] = curves[rate_index]
        arrays[f"{key}/parameter_grad_norms"] = result.parameter_grad_norms[rate_index]
        arrays[f"{key}/parameter_names"] = np.asarray(result.parameter_names)
    buffer = io.BytesIO()
    # Typed loosely: numpy's stub reads ``**arrays`` as possibly its ``allow_pickle``.
    save_arrays = cast(Callable[..., None], np.savez_compressed)
    save_arrays(buffer, **arrays)
    return buffer.getvalue()


def save(study: Study, folder: pathlib.Path) -> list[pathlib.Path]:
    """Writes ``summary.json``, ``curves.npz`` and ``convergence.png`` into ``folder``."""
    from jaxloss.train import plots

    written = []
    for name, data in (
        ("summary.json", (json.dumps(study.summary, indent=2) + "\n").encode()),
        ("curves.npz", curves_npz(study)),
        ("convergence.png", plots.convergence_png(study)),
    ):
        write_atomic(folder / name, data)
        written.append(folder / name)
    return written


def save_plot(study: Study, path: pathlib.Path) -> None:
    """Writes the convergence plot alone (creating the folder), atomically."""
    from jaxloss.train import plots

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, plots.convergence_png(study))
