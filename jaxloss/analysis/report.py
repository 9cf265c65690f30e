"""The report behind ``jaxloss profile``: profiles, saturation, landscapes, layer gradients."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import numpy as np

from jaxloss import registry
from jaxloss.analysis import plots
from jaxloss.analysis.diagnostics import plateau_end
from jaxloss.analysis.landscape import landscape
from jaxloss.analysis.profiles import gradient_profile, has_classes
from jaxloss.analysis.saturation import optimum, saturation_level, saturation_region

# The losses a profile of one sigmoid output can show.
PROFILE_LOSSES = tuple(
    name
    for name, spec in registry.LOSSES.items()
    if spec.domain == "logit" and not has_classes(spec)
)
LANDSCAPE_SCALES = np.geomspace(0.1, 20.0, 41)
# The layer-gradient run: a small tanh network from a saturated start on xor.
LAYER_RUN = {"dataset": "xor", "model": "mlp:8:tanh", "seeds": 8, "learning_rate": 0.5}


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
    losses: tuple[str, ...] = ("sigmoid_mse", "sigmoid_binary_cross_entropy")
    target: float = 0.0
    tol: float = 0.05
    logit_min: float = -10.0
    logit_max: float = 10.0
    points: int = 401
    train_steps: int = 300

    def check(self) -> None:
        for loss in self.losses:
            if loss not in PROFILE_LOSSES:
                raise ValueError(
                    f"loss {loss!r} cannot be profiled on one sigmoid output; "
                    f"choose from {', '.join(PROFILE_LOSSES)}"
                )
        if not 0 <= self.target <= 1:
            raise ValueError(f"target must lie in [0, 1], got {self.target!r}")
        if not 0 < self.tol < 1:
            raise ValueError(f"tol must lie in (0, 1), got {self.tol!r}")
        if not self.logit_min < self.logit_max:
            raise ValueError(
                f"--min must be below --max, got {self.logit_min} and {self.logit_max}"
            )
        if self.points < 2:
            raise ValueError(f"points must be at least 2, got {self.points}")

    def reported_logits(self) -> tuple[float, ...]:
        """The table's logits: both ends of the grid and the target's optimum between.

        For a target of 0 or 1 the optimum lies at infinity; the decision boundary
        ``z = 0`` takes its place. A middle point outside the grid is left out.

        Example:
          >>> ProfileConfig(target=0.5, logit_min=-1e3, logit_max=4.0).reported_logits()
          (-1000.0, 0.0, 4.0)
        """
        middle = optimum(self.target)
        if not np.isfinite(middle):
            middle = 0.0
        logits = {self.logit_min, self.logit_max}
        if self.logit_min < middle < self.logit_max:
            logits.add(middle)
        return tuple(sorted(logits))


def build(
    config: ProfileConfig, folder: pathlib.Path, *, cache_folder: pathlib.Path | None = None
) -> dict[str, Any]:
    """Computes everything, writes the PNGs into ``folder`` and returns the JSON numbers.

    ``cache_folder`` keeps the layer-gradient run's data between processes.
    """
    from jaxloss.train import datasets, harness, models

    config.check()
    grid = np.linspace(config.logit_min, config.logit_max, config.points)
    profiles = [gradient_profile(loss, grid, config.target) for loss in config.losses]
    regions = {loss: saturation_region(loss, config.target, config.tol) for loss in config.losses}
    levels = {loss: saturation_level(loss, config.target, config.tol) for loss in config.losses}
    landscapes = [landscape(loss, LANDSCAPE_SCALES, LANDSCAPE_SCALES) for loss in config.losses]

    data = datasets.load(LAYER_RUN["dataset"], cache_folder=cache_folder)
    training = {}
    for loss in config.losses:
        experiment = harness.Experiment(
            loss=loss,
            model=models.parse_model(LAYER_RUN["model"]),
            steps=config.train_steps,
            init="saturated",
        )
        training[loss] = harness.train(
            experiment, data, np.arange(LAYER_RUN["seeds"]), [LAYER_RUN["learning_rate"]]
        )

    written = [
        plots.plot_gradient_profile(profiles, folder / "gradient_profile.png"),
        plots.plot_saturation(
            regions, profiles, folder / "saturation.png", tol=config.tol, levels=levels
        ),
        plots.plot_landscape(landscapes, folder / "landscape.png"),
        plots.plot_layer_gradients(list(training.values()), folder / "layer_gradients.png"),
    ]

    numbers: dict[str, Any] = {"config": dataclasses.asdict(config), "losses": {}}
    for profile, item in zip(profiles, landscapes, strict=True):
        at = {}
        for logit in config.reported_logits():
            reported = gradient_profile(profile.loss, np.asarray([logit]), config.target)
            # Adding 0.0 turns a negative zero into zero: "-0" would read as a sign.
            at[f"{logit:g}"] = {
                "value": float(reported.value[0]) + 0.0,
                "gradient": float(reported.gradient[0]) + 0.0,
                "second_derivative": float(reported.second_derivative[0]) + 0.0,
            }
        ends = plateau_end(training[profile.loss].records["loss"][0])
        ends = ends[np.isfinite(ends)]
        numbers["losses"][profile.loss] = {
            "at_logits": at,
            "saturation": [interval.to_json() for interval in regions[profile.loss]],
            "landscape_flat_share": item.flat_share,
            "landscape_flat_tol": item.flat_tol,
            "training_plateau_end_median": float(np.median(ends)) if ends.size else None,
            "profile": profile.to_json(),
        }
    numbers["written"] = [path.name for path in written]
    return numbers


def to_json_bytes(numbers: dict[str, Any]) -> bytes:
    return (json.dumps(numbers, indent=2) + "\n").encode()


def format_summary(numbers: dict[str, Any]) -> str:
    """A markdown table of the value, gradient and curvature at the reported logits."""
    lines = [
        "| loss | z | loss value | dl/dz | d2l/dz2 |",
        "| --- | --- | --- | --- | --- |",
    ]
    for loss, row in numbers["losses"].items():
        for logit, at in row["at_logits"].items():
            lines.append(
                f"| {loss} | {logit} | {at['value']:.6g} | {at['gradient']:.6g} "
                f"| {at['second_derivative']:.6g} |"
            )
    tol = numbers["config"]["tol"]
    lines.append("")
    flat_tol = next(iter(numbers["losses"].values()))["landscape_flat_tol"]
    lines.append(
        f"| loss | saturated logit intervals (tol {tol:g}) "
        f"| flat share of landscape (‖gradient‖ < {flat_tol:g}) |"
    )
    lines.append("| --- | --- | --- |")
    for loss, row in numbers["losses"].items():
        intervals = ", ".join(
            f"({_end(i['start'])}, {_end(i['end'])}) {_SIDES[i['side']]}" for i in row["saturation"]
        )
        lines.append(f"| {loss} | {intervals or 'none'} | {row['landscape_flat_share']:.1%} |")
    return "\n".join(lines)


_SIDES = {"right": "right side", "wrong": "wrong side", "optimum": "around the optimum"}


def _end(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.4f}"
