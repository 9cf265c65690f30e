"""Gradient descent at the edge of stability: MSE against cross-entropy on digits.

Cohen et al. (ICLR 2021, "Gradient descent on neural networks typically occurs at
the edge of stability") trained networks by full-batch gradient descent with step
size ``lr`` and watched the sharpness, the largest eigenvalue of the Hessian of the
training loss. It rises during training ("progressive sharpening") until it reaches
``2 / lr``, the largest curvature at which gradient descent is stable on a
quadratic, and then hovers there while the loss keeps falling, though no longer
monotonically. Under MSE it stays there; under cross-entropy it falls late in
training, as the loss (and with it the curvature) goes to zero.

This reproduces the experiment on scikit-learn's digits (1347 training examples of
64 features, 10 classes): a fully connected tanh network (two hidden layers of 64),
trained by full-batch gradient descent with the paper's MSE (half the squared
distance to the one-hot target, averaged over examples) and with cross-entropy, at
three step sizes each. The sharpness is measured every 10 steps by Lanczos
(:func:`jaxloss.curvature.top_eigenvalues`), each time warm-started from the
previous top eigenvector. It draws the sharpness against ``2 / lr`` and the training
loss, marks where each run reached 99% training accuracy, and prints a table.

The paper stops each run at 99% training accuracy. Digits gets there within a few
hundred steps, before the sharpness of the smaller step sizes has risen to
``2 / lr``, so the runs here go on to a budget of 2000 steps; ``--stop-at-99``
stops them as the paper does.

Run: ``python examples/edge_of_stability.py [--small] [--out PATH]``; the default
writes ``docs/edge_of_stability.png``.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss
from jaxloss import curvature
from jaxloss.train import datasets, models

DEFAULT_OUT = pathlib.Path(__file__).resolve().parent.parent / "docs" / "edge_of_stability.png"
TARGET_ACCURACY = 0.99
# The final sharpness is the mean over this last fraction of the measurements.
FINAL_FRACTION = 0.1


def half_squared_error(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """The paper's MSE: ``mean over examples of ½‖logits - onehot(label)‖²``.

    ``jaxloss.mse`` averages over all ``N·C`` elements; ``C / 2`` times it is the
    half squared distance per example, averaged over examples.
    """
    num_classes = logits.shape[-1]
    targets = jaxloss.one_hot(labels, num_classes, dtype=logits.dtype)
    return 0.5 * num_classes * jaxloss.mse(logits, targets)


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "mse": half_squared_error,
    "cross_entropy": jaxloss.softmax_cross_entropy_with_integer_labels,
}


@dataclasses.dataclass
class Run:
    """One loss at one step size: per-step curves up to the stop, and the sharpness."""

    loss: str
    learning_rate: float
    losses: np.ndarray  # [steps]: entry t after t updates, before update t + 1
    accuracies: np.ndarray  # [steps]
    sharpness_steps: np.ndarray  # [measurements]
    sharpness: np.ndarray  # [measurements]
    steps_to_target: int | None  # None: the budget ran out first
    seconds: float

    @property
    def threshold(self) -> float:
        return 2.0 / self.learning_rate

    @property
    def final_sharpness(self) -> float:
        last = max(1, round(FINAL_FRACTION * self.sharpness.size))
        return float(self.sharpness[-last:].mean())


def train(
    loss: str,
    learning_rates: list[float],
    *,
    model: models.Model,
    x: jax.Array,
    y: jax.Array,
    budget: int,
    every: int,
    iterations: int,
    stop_at_target: bool = False,
    seed: int = 0,
    verbose: bool = False,
) -> list[Run]:
    """Full-batch gradient descent at each rate for ``budget`` steps.

    With ``stop_at_target``, each run stops at 99% training accuracy, as in the paper.
    """
    loss_function = LOSSES[loss]

    def training_loss(params):
        return loss_function(model.apply(params, x), y)

    @jax.jit
    def measure(params, previous):
        # Linearized once: each Lanczos product is then the tangent pass alone,
        # not the gradient's forward and backward pass again.
        _, hessian_product = jax.linearize(jax.grad(training_loss), params)
        values, vectors = curvature.top_eigenvalues(
            hessian_product, params, num_iterations=iterations, initial=previous, is_matvec=True
        )
        return values[0], jax.tree.map(lambda leaf: leaf[0], vectors)

    @jax.jit
    def advance(params, learning_rate):
        """``every`` steps; the loss and accuracy recorded before each update."""

        def step(params, _):
            logits, pullback = jax.vjp(lambda p: model.apply(p, x), params)
            value, logit_grad = jax.value_and_grad(loss_function)(logits, y)
            (grads,) = pullback(logit_grad)
            accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == y)
            new_params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
            return new_params, (value, accuracy)

        return jax.lax.scan(step, params, None, length=every)

    runs = []
    for learning_rate in learning_rates:
        start = time.perf_counter()
        params = model.init(jax.random.key(seed))
        # A zero start makes the first Lanczos run draw a random one.
        vector = jax.tree.map(jnp.zeros_like, params)
        losses, accuracies, sharpness = [], [], []
        for _ in range(0, budget, every):
            value, vector = measure(params, vector)
            sharpness.append(float(value))
            params, (block_losses, block_accuracies) = advance(params, learning_rate)
            losses.extend(np.asarray(block_losses))
            accuracies.extend(np.asarray(block_accuracies))
            if not np.isfinite(losses[-1]):
                break
            if stop_at_target and max(accuracies[-every:]) >= TARGET_ACCURACY:
                break
        reached = np.flatnonzero(np.asarray(accuracies) >= TARGET_ACCURACY)
        stop = len(losses) - 1
        if stop_at_target and reached.size:
            stop = int(reached[0])
        measured_at = np.arange(len(sharpness)) * every
        kept = measured_at <= stop
        runs.append(
            Run(
                loss=loss,
                learning_rate=learning_rate,
                losses=np.asarray(losses[: stop + 1]),
                accuracies=np.asarray(accuracies[: stop + 1]),
                sharpness_steps=measured_at[kept],
                sharpness=np.asarray(sharpness)[kept],
                steps_to_target=int(reached[0]) if reached.size else None,
                seconds=time.perf_counter() - start,
            )
        )
        if verbose:
            run = runs[-1]
            print(
                f"{loss} lr {learning_rate:g}: {run.losses.size} steps in {run.seconds:.0f} s, "
                f"sharpness {run.sharpness[0]:.3g} -> max {run.sharpness.max():.3g} "
                f"(2/lr {run.threshold:.3g})",
                flush=True,
            )
    return runs


def format_table(runs: list[Run], budget: int) -> str:
    """The markdown table the README quotes."""
    lines = [
        "| loss | lr | 2/lr | initial sharpness | max sharpness | final sharpness (last 10%) | "
        "steps to 99% train accuracy |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        reached = f"not in {budget}" if run.steps_to_target is None else str(run.steps_to_target)
        lines.append(
            f"| {run.loss} | {run.learning_rate:g} | {run.threshold:.3g} | "
            f"{run.sharpness[0]:.3g} | {run.sharpness.max():.3g} | "
            f"{run.final_sharpness:.3g} | {reached} |"
        )
    return "\n".join(lines)


def figure_png(runs: list[Run], title: str) -> bytes:
    """Per loss: the sharpness against 2/lr, and the training loss (log scale)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.lines import Line2D

    losses = list(dict.fromkeys(run.loss for run in runs))
    figure, axes = plt.subplots(
        2, len(losses), figsize=(6.2 * len(losses), 8.2), squeeze=False, sharex="col"
    )
    figure.subplots_adjust(left=0.08, right=0.93, top=0.9, bottom=0.15, hspace=0.1, wspace=0.3)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rates = list(dict.fromkeys(run.learning_rate for run in runs))
    for column, loss in enumerate(losses):
        sharpness_axis, loss_axis = axes[0, column], axes[1, column]
        highest = 0.0
        for run in (run for run in runs if run.loss == loss):
            colour = colours[rates.index(run.learning_rate) % len(colours)]
            sharpness_axis.plot(run.sharpness_steps, run.sharpness, color=colour, linewidth=1.5)
            sharpness_axis.axhline(
                run.threshold, color=colour, linestyle=(0, (4, 3)), linewidth=1.2, zorder=1
            )
            # Named in the right margin, where no curve runs.
            sharpness_axis.annotate(
                f"2/lr\n= {run.threshold:.3g}",
                xy=(1.0, run.threshold),
                xycoords=("axes fraction", "data"),
                xytext=(4, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=9,
                color=colour,
            )
            highest = max(highest, run.threshold, float(run.sharpness.max()))
            loss_axis.plot(np.arange(run.losses.size), run.losses, color=colour, linewidth=1.2)
            if run.steps_to_target is not None:
                # Where the run reached 99% training accuracy.
                for axis, curve_at in (
                    (loss_axis, run.losses[run.steps_to_target]),
                    (
                        sharpness_axis,
                        np.interp(run.steps_to_target, run.sharpness_steps, run.sharpness),
                    ),
                ):
                    axis.plot(
                        run.steps_to_target,
                        curve_at,
                        marker="o",
                        markersize=6,
                        markerfacecolor="white",
                        color=colour,
                        zorder=3,
                    )
        sharpness_axis.set_ylim(0, highest * 1.12)
        sharpness_axis.set_title(
            "MSE (½‖z − onehot‖², mean over examples)" if loss == "mse" else "cross-entropy",
            fontsize=11,
        )
        sharpness_axis.set_ylabel("sharpness (top Hessian eigenvalue)")
        loss_axis.set_ylabel("training loss (log scale)")
        loss_axis.set_yscale("log")
        loss_axis.set_xlabel("step (○: 99% training accuracy reached)")
        for axis in (sharpness_axis, loss_axis):
            axis.set_xlim(left=0)
            axis.grid(alpha=0.3)
    handles = [
        Line2D([], [], color=colours[index % len(colours)], label=f"lr = {rate:g}")
        for index, rate in enumerate(rates)
    ]
    handles.append(
        Line2D([], [], color="grey", linestyle=(0, (4, 3)), label="2 / lr, in the run's colour")
    )
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False)
    figure.suptitle(title, fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def _rates(text: str) -> list[float]:
    return [float(part) for part in text.split(",")]


def main(argv: list[str] | None = None) -> dict[str, list[Run]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small",
        action="store_true",
        help="a tiny run for the tests: 200 examples, one hidden layer of 16, 40 steps, two rates",
    )
    parser.add_argument("--losses", default="mse,cross_entropy", help="either or both")
    parser.add_argument("--hidden", default="64,64", help="hidden layer widths")
    parser.add_argument("--mse-lr", type=_rates, default="0.25,0.2,0.15", help="step sizes")
    parser.add_argument("--ce-lr", type=_rates, default="0.5,2,8", help="step sizes")
    parser.add_argument("--budget", type=int, default=2000, help="steps per run")
    parser.add_argument("--every", type=int, default=10, help="steps between measurements")
    parser.add_argument("--iterations", type=int, default=20, help="Lanczos iterations")
    parser.add_argument(
        "--stop-at-99", action="store_true", help="stop each run at 99%% training accuracy"
    )
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="the figure")
    args = parser.parse_args(argv)
    dataset = datasets.load("digits")
    x, y = dataset.x_train, dataset.y_train
    hidden = tuple(int(width) for width in args.hidden.split(","))
    if args.small:
        x, y, hidden = x[:200], y[:200], (16,)
        args.budget, args.every, args.iterations = 40, 5, 8
        # Two rates per loss, with 2 / lr above the sharpness this small net starts at.
        args.mse_lr, args.ce_lr = [0.05, 0.1], [0.4, 0.8]
    model = models.build(models.ModelSpec(hidden=hidden), dataset.num_features, 10)
    setting = dict(
        model=model,
        x=jnp.asarray(x),
        y=jnp.asarray(y),
        budget=args.budget,
        every=args.every,
        iterations=args.iterations,
        stop_at_target=args.stop_at_99,
        verbose=not args.small,
    )
    start, process_start = time.perf_counter(), time.process_time()
    rates = {"mse": args.mse_lr, "cross_entropy": args.ce_lr}
    results = {loss: train(loss, rates[loss], **setting) for loss in args.losses.split(",")}
    seconds, process_seconds = time.perf_counter() - start, time.process_time() - process_start
    runs = [run for loss_runs in results.values() for run in loss_runs]
    print(format_table(runs, args.budget))
    parameters = models.count_parameters(model.init(jax.random.key(0)))
    title = (
        f"digits ({x.shape[0]} training examples), tanh MLP {'-'.join(map(str, hidden))} "
        f"({parameters} parameters), full-batch gradient descent; sharpness every "
        f"{args.every} steps ({args.iterations} Lanczos iterations, warm-started)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(figure_png(runs, title))
    print(f"\n{seconds:.0f} s ({process_seconds:.0f} s of processor time); wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
