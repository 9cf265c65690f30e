"""Pure models: an ``init(key, scheme)`` and an ``apply(params, x)`` that returns logits.

Parameters are a list of layers, each ``{"w": [fan_in, fan_out], "b": [fan_out]}``.
A binary model has one output unit and returns logits of shape ``[N]``; a
multi-class model returns ``[N, C]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Params = list[dict[str, jax.Array]]

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "sigmoid": jax.nn.sigmoid,
    "gelu": jax.nn.gelu,
}
INITS = ("normal", "saturated")
# A saturated start multiplies the output layer's weights by this factor, so that on
# standardised inputs most output logits start near +-10, deep in the sigmoid's tails.
SATURATED_WEIGHT_SCALE = 10.0


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A logistic regression (``hidden=()``) or an MLP with ``hidden`` layer widths."""

    hidden: tuple[int, ...] = ()
    activation: str = "tanh"

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r}; choose from {', '.join(ACTIVATIONS)}"
            )
        if any(width < 1 for width in self.hidden):
            raise ValueError(f"hidden layer widths must be positive, got {self.hidden}")

    @property
    def name(self) -> str:
        if not self.hidden:
            return "logistic"
        return "mlp:" + ",".join(map(str, self.hidden)) + ":" + self.activation


def parse_model(text: str) -> ModelSpec:
    """``"logistic"`` or ``"mlp:64,32:tanh"`` (widths, then an optional activation)."""
    if text == "logistic":
        return ModelSpec()
    parts = text.split(":")
    if parts[0] != "mlp" or len(parts) not in (2, 3) or not parts[1]:
        raise ValueError(
            f"unknown model {text!r}; use 'logistic' or 'mlp:WIDTHS[:ACTIVATION]', "
            f"e.g. 'mlp:64,32:tanh' (activations: {', '.join(ACTIVATIONS)})"
        )
    try:
        hidden = tuple(int(width) for width in parts[1].split(","))
    except ValueError:
        raise ValueError(f"hidden widths in {text!r} must be integers") from None
    return ModelSpec(hidden=hidden, activation=parts[2] if len(parts) == 3 else "tanh")


@dataclasses.dataclass(frozen=True)
class Model:
    spec: ModelSpec
    num_features: int
    num_outputs: int

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.num_features, *self.spec.hidden, self.num_outputs)

    def init(self, key: jax.Array, scheme: str = "normal") -> Params:
        """Scaled-normal weights (std ``1/sqrt(fan_in)``) and zero biases.

        ``scheme="saturated"`` scales the output layer's weights by
        ``SATURATED_WEIGHT_SCALE``, the start where MSE after a sigmoid stalls.
        """
        if scheme not in INITS:
            raise ValueError(f"unknown init {scheme!r}; choose from {', '.join(INITS)}")
        layers: Params = []
        keys = jax.random.split(key, len(self.widths) - 1)
        for index, (fan_in, fan_out) in enumerate(
            zip(self.widths[:-1], self.widths[1:], strict=True)
        ):
            scale = 1.0 / jnp.sqrt(fan_in)
            if scheme == "saturated" and index == len(self.widths) - 2:
                scale = scale * SATURATED_WEIGHT_SCALE
            weights = scale * jax.random.normal(keys[index], (fan_in, fan_out))
            layers.append({"w": weights, "b": jnp.zeros((fan_out,))})
        return layers

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        activation = ACTIVATIONS[self.spec.activation]
        hidden = x
        for layer in params[:-1]:
            hidden = activation(hidden @ layer["w"] + layer["b"][None, :])
        logits = hidden @ params[-1]["w"] + params[-1]["b"][None, :]
        return logits[:, 0] if self.num_outputs == 1 else logits

    def parameter_names(self) -> list[str]:
        """Names of the parameter arrays in the order ``jax.tree.leaves`` gives them."""
        names = [f"layer{index}/{kind}" for index in range(len(self.widths) - 1) for kind in "bw"]
        return names


def build(spec: ModelSpec, num_features: int, num_classes: int) -> Model:
    """A model with one output unit for binary tasks and ``num_classes`` otherwise."""
    return Model(spec, num_features, 1 if num_classes == 2 else num_classes)


def count_parameters(params: Any) -> int:
    return sum(leaf.size for leaf in jax.tree.leaves(params))
