"""Nielsen's single sigmoid neuron: the quadratic cost learns slowly, cross-entropy does not.

From *Neural Networks and Deep Learning*, chapter 3: one input of 1.0, target 0.0,
learning rate 0.15, 300 epochs of plain gradient descent from (w, b) = (0.6, 0.9)
and (2.0, 2.0). The quadratic cost is C = (a - y)^2 / 2, i.e. half of
``jaxloss.sigmoid_mse``; its gradient carries sigma'(z), which is tiny at the
saturated start (2.0, 2.0), so the output stays near 1 for many epochs.

Run: ``python examples/single_neuron.py [--epochs 300] [--json PATH] [--plot PATH]``
"""

from __future__ import annotations

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxloss

INPUT, TARGET, LEARNING_RATE = 1.0, 0.0, 0.15
STARTS = {"0.6,0.9": (0.6, 0.9), "2.0,2.0": (2.0, 2.0)}


def quadratic(logit: jax.Array, target: jax.Array) -> jax.Array:
    return 0.5 * jaxloss.sigmoid_mse(logit, target)


def cross_entropy(logit: jax.Array, target: jax.Array) -> jax.Array:
    return jaxloss.sigmoid_binary_cross_entropy(logit, target)


COSTS = {"quadratic": quadratic, "cross_entropy": cross_entropy}


def trajectory(cost, start: tuple[float, float], epochs: int) -> np.ndarray:
    """The neuron's output a = sigma(w x + b) before each epoch and after the last."""
    optimizer = optax.sgd(LEARNING_RATE)
    x, y = jnp.asarray([INPUT]), jnp.asarray([TARGET])

    def objective(params):
        return cost(params["w"] * x + params["b"], y)

    def epoch(state, _):
        params, optimizer_state = state
        output = jax.nn.sigmoid(params["w"] * INPUT + params["b"])
        updates, optimizer_state = optimizer.update(jax.grad(objective)(params), optimizer_state)
        return (optax.apply_updates(params, updates), optimizer_state), output

    params = {"w": jnp.asarray(start[0]), "b": jnp.asarray(start[1])}
    (final, _), outputs = jax.lax.scan(epoch, (params, optimizer.init(params)), length=epochs)
    last = jax.nn.sigmoid(final["w"] * INPUT + final["b"])
    return np.append(np.asarray(outputs), np.asarray(last))


def main(argv: list[str] | None = None) -> dict[str, dict[str, list[float]]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--json", type=pathlib.Path, help="write the outputs a_0 .. a_epochs")
    parser.add_argument("--plot", type=pathlib.Path, help="write the four curves as a PNG")
    args = parser.parse_args(argv)

    outputs = {
        cost_name: {
            start_name: trajectory(cost, start, args.epochs).tolist()
            for start_name, start in STARTS.items()
        }
        for cost_name, cost in COSTS.items()
    }
    every = max(1, args.epochs // 6)
    epochs = list(range(0, args.epochs + 1, every))
    print("output a at epoch " + " ".join(f"{epoch:>6}" for epoch in epochs))
    for cost_name, by_start in outputs.items():
        for start_name, curve in by_start.items():
            values = " ".join(f"{curve[epoch]:6.3f}" for epoch in epochs)
            print(f"{cost_name:>13} (w,b)=({start_name}) {values}")
    if args.json is not None:
        args.json.write_text(json.dumps(outputs) + "\n")
    if args.plot is not None:
        _plot(outputs, args.plot)
    return outputs


def _plot(outputs: dict[str, dict[str, list[float]]], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for cost_name, by_start in outputs.items():
        for start_name, curve in by_start.items():
            style = "-" if cost_name == "cross_entropy" else "--"
            axis.plot(curve, style, label=f"{cost_name}, (w, b) = ({start_name})")
    axis.set_xlabel("epoch")
    axis.set_ylabel("output a (target 0)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    main()
