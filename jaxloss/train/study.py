"""The study's configuration and its results, shared by ``compare`` and ``plots``.

Kept apart from ``compare`` so that the plots can name these types without
importing the module that imports them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from jaxloss.train import harness
from jaxloss.train.models import ModelSpec

DEFAULT_BINARY_LOSSES = ("sigmoid_mse", "sigmoid_binary_cross_entropy")
DEFAULT_MULTICLASS_LOSSES = (
    "softmax_cross_entropy_with_integer_labels",
    "one_hot_mse",
    "rescaled_square_loss",
)


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """One study; the losses and the learning rates must each be distinct."""

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
    sharpness_every: int | None = None
    sharpness_iterations: int = 20

    def __post_init__(self) -> None:
        repeated = _first_repeat(self.losses)
        if repeated is not None:
            raise ValueError(f"losses must differ; {repeated!r} is named twice")
        # Rows are keyed by the rate as printed, so two rates that print alike collide.
        repeated = _first_repeat(rate_label(rate) for rate in self.learning_rates)
        if repeated is not None:
            raise ValueError(f"learning rates must differ; {repeated} is named twice")

    def to_json(self) -> dict[str, Any]:
        config = dataclasses.asdict(self)
        config["model"] = self.model.name
        config["losses"] = list(self.losses)
        config["learning_rates"] = list(self.learning_rates)
        if self.sharpness_every is None:
            # A study without measurements writes the summary it always wrote.
            del config["sharpness_every"], config["sharpness_iterations"]
        return config


def _first_repeat(items: Any) -> Any:
    seen = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def rate_label(learning_rate: float) -> str:
    """A learning rate as the table, the legend and the row keys print it."""
    return f"{learning_rate:g}"


def stability_threshold(optimizer: str, learning_rate: float) -> float | None:
    """The sharpness above which the optimizer's step is unstable on a quadratic.

    Gradient descent on ``λ w² / 2`` multiplies ``w`` by ``1 - η λ`` each step, so it
    oscillates with a growing amplitude once ``λ > 2 / η``; heavy-ball momentum
    ``β`` moves that to ``(2 + 2β) / η`` (Cohen et al., 2021, appendix). Adam
    preconditions the Hessian, so its raw sharpness has no such line: None.

    Example:
      >>> stability_threshold("gd", 0.1), stability_threshold("adam", 0.1)
      (20.0, None)
    """
    if optimizer in ("gd", "sgd"):
        return 2.0 / learning_rate
    if optimizer == "momentum":
        return (2.0 + 2.0 * harness.MOMENTUM) / learning_rate
    return None


def row_key(loss: str, learning_rate: float, several_rates: bool) -> str:
    return f"{loss}@lr={rate_label(learning_rate)}" if several_rates else loss


@dataclasses.dataclass
class Study:
    config: StudyConfig
    results: dict[str, harness.Result]  # by loss; each holds every learning rate
    summary: dict[str, Any]

    def rows(self) -> Iterator[tuple[str, harness.Result, int]]:
        """``(row key, result, learning-rate index)`` for each row of the summary."""
        several_rates = len(self.config.learning_rates) > 1
        for loss, result in self.results.items():
            for rate_index, rate in enumerate(self.config.learning_rates):
                yield row_key(loss, rate, several_rates), result, rate_index
