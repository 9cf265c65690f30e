"""One row per loss: its function, closed-form gradient, input domain and sample inputs.

The generic tests run every check on every row, so a loss added here is tested by
construction. The command line and the training harness look losses up here too.

Example:
  >>> from jaxloss.registry import LOSSES
  >>> LOSSES["binary_cross_entropy"].link
  'sigmoid'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np

from jaxloss import _classification, _regression, gradients, hessians

Domain = Literal["real", "logit", "probability"]
TargetKind = Literal["real", "probability", "class_probabilities", "labels"]
Link = Literal["identity", "sigmoid", "softmax"]


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """What the tests and tools need to know about one loss.

    Attributes:
      name: the public name, the same in ``jaxloss`` and ``jaxloss.gradients``.
      loss: the loss function.
      gradient: its closed-form derivative with respect to the first argument.
      hessian: its closed-form second derivative (``jaxloss.hessians``).
      domain: what the first argument is: ``"real"`` predictions, ``"logit"`` scores
        or ``"probability"`` values in ``[0, 1]``.
      target_kind: what the second argument is.
      per_example: whether the unreduced loss drops the last (class) axis.
      link: the output link the loss expects its first argument to come through
        when used for training: ``"identity"`` (it takes logits or raw outputs),
        ``"sigmoid"`` or ``"softmax"`` (it takes probabilities).
      options: non-default hyper-parameters the generic tests also run with.
      extremes: values of the first argument at which value and gradient must be
        finite (for class losses, placed in the label's class).
    """

    name: str
    loss: Callable[..., Any]
    gradient: Callable[..., Any]
    hessian: Callable[..., Any]
    domain: Domain
    target_kind: TargetKind
    per_example: bool
    link: Link
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    extremes: tuple[float, ...] = ()

    @property
    def has_classes(self) -> bool:
        return self.target_kind in ("class_probabilities", "labels")

    def sample(
        self, rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float32
    ) -> tuple[np.ndarray, np.ndarray]:
        """Random valid inputs: a first argument of ``shape`` and matching targets.

        For class losses the last entry of ``shape`` is the number of classes.
        """
        if self.domain == "probability":
            first = rng.uniform(0.05, 0.95, size=shape)
        elif self.domain == "logit":
            first = 2.0 * rng.standard_normal(shape)
        else:
            first = rng.standard_normal(shape)
        if self.target_kind == "labels":
            second = rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int32)
        elif self.target_kind == "class_probabilities":
            scores = rng.standard_normal(shape)
            second = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
        elif self.target_kind == "probability":
            second = rng.uniform(0.0, 1.0, size=shape)
        else:
            second = rng.standard_normal(shape)
        if self.target_kind != "labels":
            second = second.astype(dtype)
        return first.astype(dtype), second


_LOGIT_EXTREMES = (0.0, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4, float("inf"), float("-inf"))
_REAL_EXTREMES = (0.0, 1.0, -1.0, 20.0, -20.0, 1e4, -1e4)
_PROBABILITY_EXTREMES = (0.0, 1e-12, 0.5, 1.0 - 1e-7, 1.0)


def _spec(name: str, **fields: Any) -> LossSpec:
    loss = getattr(_regression, name, None) or getattr(_classification, name)
    return LossSpec(
        name=name,
        loss=loss,
        gradient=getattr(gradients, name),
        hessian=getattr(hessians, name),
        **fields,
    )


LOSSES: dict[str, LossSpec] = {
    spec.name: spec
    for spec in (
        _spec(
            "mse",
            domain="real",
            target_kind="real",
            per_example=False,
            link="identity",
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "sigmoid_mse",
            domain="logit",
            target_kind="probability",
            per_example=False,
            link="identity",
            extremes=_LOGIT_EXTREMES,
        ),
        _spec(
            "mae",
            domain="real",
            target_kind="real",
            per_example=False,
            link="identity",
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "huber",
            domain="real",
            target_kind="real",
            per_example=False,
            link="identity",
            options={"delta": 0.7},
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "smooth_l1",
            domain="real",
            target_kind="real",
            per_example=False,
            link="identity",
            options={"beta": 0.6},
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "binary_cross_entropy",
            domain="probability",
            target_kind="probability",
            per_example=False,
            link="sigmoid",
            extremes=_PROBABILITY_EXTREMES,
        ),
        _spec(
            "sigmoid_binary_cross_entropy",
            domain="logit",
            target_kind="probability",
            per_example=False,
            link="identity",
            options={"pos_weight": 2.5},
            extremes=_LOGIT_EXTREMES,
        ),
        _spec(
            "softmax_cross_entropy",
            domain="logit",
            target_kind="class_probabilities",
            per_example=True,
            link="identity",
            options={"label_smoothing": 0.1},
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "softmax_cross_entropy_with_integer_labels",
            domain="logit",
            target_kind="labels",
            per_example=True,
            link="identity",
            options={"label_smoothing": 0.1},
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "one_hot_mse",
            domain="real",
            target_kind="labels",
            per_example=False,
            link="softmax",
            extremes=_REAL_EXTREMES,
        ),
        _spec(
            "rescaled_square_loss",
            domain="logit",
            target_kind="labels",
            per_example=True,
            link="identity",
            options={"k": 3.0, "m": 2.0},
            extremes=_REAL_EXTREMES,
        ),
    )
}


def get(name: str) -> LossSpec:
    """The registry row for ``name``; an unknown name raises ``ValueError`` listing all."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}") from None
