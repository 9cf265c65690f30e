"""Training diagnostics from the harness's records (``jaxloss.train.Result``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from jaxloss.train.harness import Result


def layer_gradient_norms(result: Result, rate_index: int = 0) -> dict[str, np.ndarray]:
    """The gradient norm of each layer (weights and bias together), ``[seeds, steps]``.

    Example:
      >>> import numpy as np
      >>> from types import SimpleNamespace
      >>> fake = SimpleNamespace(parameter_names=["layer0/b", "layer0/w"],
      ...                        parameter_grad_norms=np.array([[[[3.0, 4.0]]]]))
      >>> layer_gradient_norms(fake)["layer0"].tolist()
      [[5.0]]
    """
    norms = result.parameter_grad_norms[rate_index]
    layers: dict[str, np.ndarray] = {}
    for index, name in enumerate(result.parameter_names):
        layer = name.split("/")[0]
        layers[layer] = layers.get(layer, 0.0) + np.square(norms[..., index])
    return {layer: np.sqrt(squares) for layer, squares in layers.items()}


def saturated_fraction(result: Result, rate_index: int = 0) -> np.ndarray:
    """Fraction of training examples whose output unit is saturated, ``[seeds, steps]``.

    Saturated means the slope ``p (1 - p)`` of the predicted class's probability is
    below ``jaxloss.train.harness.SATURATION_SLOPE`` (0.01).

    Example:
      >>> from jaxloss.train import Experiment, load_dataset, train
      >>> experiment = Experiment(loss="sigmoid_mse", steps=3, init="saturated")
      >>> result = train(experiment, load_dataset("breast_cancer"), [0, 1], [0.1])
      >>> saturated_fraction(result).shape
      (2, 3)
    """
    return result.records["saturated_fraction"][rate_index]


def plateau_end(curves: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """The step at which each loss curve leaves its initial plateau.

    That is the first step where the loss has fallen by ``fraction`` of its total
    fall (from its first value to its minimum); ``nan`` for a curve that never falls.

    Example:
      >>> plateau_end(np.array([[1.0, 0.99, 0.98, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0, 1.0]]))
      array([ 3., nan])
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
    curves = np.asarray(curves, float)
    start = curves[..., :1]
    fall = start - np.min(curves, axis=-1, keepdims=True)
    left = curves <= start - fraction * fall
    first = np.argmax(left, axis=-1).astype(float)
    return np.where(fall[..., 0] > 0, first, np.nan)
