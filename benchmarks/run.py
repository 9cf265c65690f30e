"""The benchmark suite: every number is a ratio against a reference timed in the same run.

Sections (markdown tables on stdout; ``--json PATH`` writes all numbers):

1. per-loss overhead: forward and ``value_and_grad`` against the hand-written ``jnp``
   expression, optax's counterpart and ``torch.nn.functional`` on the CPU;
2. bandwidth: forward MSE at N = 10^7 against ``numpy.add``'s streaming rate;
3. gradient cost: ``value_and_grad`` against the cheapest NumPy value-and-gradient;
4. memory: temporary buffers of ``value_and_grad`` from XLA's memory analysis;
5. eager calls against jitted calls at N = 10^3;
6. checked calls (``jaxloss.checked``) against unchecked ones;
7. the training study against an eager PyTorch loop, and how it scales;
8. the per-loss targets: the integer-label cross-entropy against optax, and
   ``sigmoid_mse`` against the hand-written formula differentiated by JAX, each
   measured ``--repeats`` times (median and spread of the ratio);
9. curvature: a Hessian-vector product, a Gauss-Newton product and 20 Lanczos steps
   against a gradient (``benchmarks/curvature.py``);
10. CTC: ``jaxloss.ctc_loss`` against ``optax.ctc_loss`` (``benchmarks/ctc.py``);
11. the linear cross-entropy: memory and time against the dense formula, and against
    jax-cce and tokamax where they are installed (``benchmarks/linear_cross_entropy.py``).

Timings are medians of repeated runs after warm-up, each ended by
``block_until_ready``. Run:
``python -m benchmarks [--quick] [--repeats N] [--only SECTION ...] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import pathlib
import platform
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss

LOSSES = (
    "mse",
    "sigmoid_mse",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "one_hot_mse",
)
ELEMENTWISE_SIZES = (10**3, 10**5, 10**7)
CLASS_SHAPES = ((64, 10), (1024, 100), (8192, 1000))


def compare_seconds(
    functions: dict[str, Callable[[], Any]], budget_s: float = 1.0, most: int = 200
) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds.

    Each round times every function once (a batch of calls long enough to be above
    timer noise), in a rotating order, so that a slow spell of this shared machine
    hits every candidate alike rather than whichever ran during it.
    """
    samples = interleaved_samples(functions, budget_s, most)
    return {name: float(np.median(values)) for name, values in samples.items()}


def interleaved_samples(
    functions: dict[str, Callable[[], Any]], budget_s: float = 1.0, most: int = 200
) -> dict[str, list[float]]:
    """Seconds per call of each function in each round (see ``compare_seconds``)."""
    once = {}
    for name, function in functions.items():
        for _ in range(2):
            jax.block_until_ready(function())
        start = time.perf_counter()
        jax.block_until_ready(function())
        once[name] = max(time.perf_counter() - start, 1e-7)
    batch = {name: max(1, int(2e-3 / seconds)) for name, seconds in once.items()}
    per_round = sum(once[name] * batch[name] for name in functions)
    rounds = int(min(most, max(7, budget_s / per_round)))
    samples: dict[str, list[float]] = {name: [] for name in functions}
    names = list(functions)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            function = functions[name]
            start = time.perf_counter()
            for _ in range(batch[name]):
                jax.block_until_ready(function())
            samples[name].append((time.perf_counter() - start) / batch[name])
    return samples


# ---------------------------------------------------------------------------------------
# The same loss four ways: jaxloss, hand-written jnp, optax, torch.


def inputs(loss: str, size_index: int, quick: bool) -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(size_index)
    if loss in ("softmax_cross_entropy_with_integer_labels", "one_hot_mse"):
        batch, classes = CLASS_SHAPES[size_index]
        if quick:
            batch = max(batch // 64, 8)
        first = rng.standard_normal((batch, classes)).astype(np.float32)
        second = rng.integers(0, classes, size=batch).astype(np.int32)
        return first, second, f"[{batch}, {classes}]"
    size = ELEMENTWISE_SIZES[size_index] // (1000 if quick else 1)
    first = rng.standard_normal(size).astype(np.float32)
    second = rng.uniform(size=size).astype(np.float32)
    return first, second, f"{size:.0e}"


def hand_written(loss: str) -> Callable[[jax.Array, jax.Array], jax.Array]:
    if loss == "mse":
        return lambda p, t: jnp.mean((p - t) ** 2)
    if loss == "sigmoid_mse":
        return lambda z, t: jnp.mean((jax.nn.sigmoid(z) - t) ** 2)
    if loss == "sigmoid_binary_cross_entropy":
        return lambda z, t: jnp.mean(jax.nn.softplus(z) - z * t)
    if loss == "softmax_cross_entropy_with_integer_labels":
        return lambda z, y: jnp.mean(
            jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, y[:, None], axis=-1)[:, 0]
        )
    return lambda p, y: jnp.mean((p - jax.nn.one_hot(y, p.shape[-1], dtype=p.dtype)) ** 2)


def optax_counterpart(loss: str) -> Callable[[jax.Array, jax.Array], jax.Array] | None:
    import optax

    losses = optax.losses
    if loss == "mse":
        return lambda p, t: jnp.mean(losses.squared_error(p, t))
    if loss == "sigmoid_mse":
        return lambda z, t: jnp.mean(losses.squared_error(jax.nn.sigmoid(z), t))
    if loss == "sigmoid_binary_cross_entropy":
        return lambda z, t: jnp.mean(losses.sigmoid_binary_cross_entropy(z, t))
    if loss == "softmax_cross_entropy_with_integer_labels":
        return lambda z, y: jnp.mean(losses.softmax_cross_entropy_with_integer_labels(z, y))
    return lambda p, y: jnp.mean(losses.squared_error(p, jax.nn.one_hot(y, p.shape[-1])))


def torch_counterpart(loss: str):
    try:
        import torch
    except ImportError:
        return None
    functional = torch.nn.functional
    if loss == "mse":
        return functional.mse_loss
    if loss == "sigmoid_mse":
        return lambda z, t: functional.mse_loss(torch.sigmoid(z), t)
    if loss == "sigmoid_binary_cross_entropy":
        return functional.binary_cross_entropy_with_logits
    if loss == "softmax_cross_entropy_with_integer_labels":
        return lambda z, y: functional.cross_entropy(z, y.long())
    return lambda p, y: functional.mse_loss(p, functional.one_hot(y.long(), p.shape[-1]).float())


def torch_call(function, first: np.ndarray, second: np.ndarray, backward: bool):
    """A no-argument callable running the torch loss (and its backward pass)."""
    import torch

    first_tensor = torch.from_numpy(first).clone().requires_grad_(backward)
    second_tensor = torch.from_numpy(second)

    def forward():
        with torch.no_grad():
            return function(first_tensor, second_tensor)

    def forward_backward():
        first_tensor.grad = None
        value = function(first_tensor, second_tensor)
        value.backward()
        return value

    return forward_backward if backward else forward


def overhead(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for loss in LOSSES:
        ours = getattr(jaxloss, loss)
        for size_index in range(3):
            first_np, second_np, label = inputs(loss, size_index, quick)
            first, second = jnp.asarray(first_np), jnp.asarray(second_np)
            candidates = {
                "jaxloss": ours,
                "hand": hand_written(loss),
                "optax": optax_counterpart(loss),
            }
            for mode in ("forward", "value_and_grad"):
                calls = {}
                for name, function in candidates.items():
                    if function is None:
                        continue
                    compiled = jax.jit(
                        function if mode == "forward" else jax.value_and_grad(function)
                    )
                    calls[name] = functools.partial(compiled, first, second)
                torch_function = torch_counterpart(loss)
                if torch_function is not None:
                    calls["torch"] = torch_call(
                        torch_function, first_np, second_np, mode == "value_and_grad"
                    )
                times = compare_seconds(calls)
                rows.append({"loss": loss, "size": label, "mode": mode, "seconds": times})
    return rows


def overhead_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| loss | size | mode | jaxloss µs | ÷ hand-written | ÷ optax | ÷ torch |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        times = row["seconds"]
        ours = times["jaxloss"]

        def ratio(name: str, times=times, ours=ours) -> str:
            return f"{ours / times[name]:.2f}" if name in times else "n/a"

        lines.append(
            f"| {row['loss']} | {row['size']} | {row['mode']} | {ours * 1e6:.1f} "
            f"| {ratio('hand')} | {ratio('optax')} | {ratio('torch')} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Bandwidth and the cheapest NumPy value-and-gradient.


def bandwidth(quick: bool) -> dict[str, float]:
    size = 10**7 // (100 if quick else 1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal(size).astype(np.float32)
    b = rng.standard_normal(size).astype(np.float32)
    out = np.empty_like(a)
    predictions, targets = jnp.asarray(a), jnp.asarray(b)
    mse = jax.jit(jaxloss.mse)
    times = compare_seconds(
        {
            "numpy": functools.partial(np.add, a, b, out=out),
            "mse": functools.partial(mse, predictions, targets),
        }
    )
    numpy_s, mse_s = times["numpy"], times["mse"]
    numpy_gbs = 3 * a.nbytes / numpy_s / 1e9  # two reads and a write
    mse_gbs = 2 * a.nbytes / mse_s / 1e9  # two reads
    return {
        "size": size,
        "numpy_add_gbs": numpy_gbs,
        "mse_gbs": mse_gbs,
        "ratio": mse_gbs / numpy_gbs,
    }


def numpy_value_and_grad(loss: str, first: np.ndarray, second: np.ndarray):
    """The fewest NumPy passes we found that give the value and the gradient array."""
    count = first.size
    gradient = np.empty_like(first)
    if loss == "mse":
        np.subtract(first, second, out=gradient)
        value = np.dot(gradient, gradient) / count
        gradient *= 2 / count
        return value, gradient
    if loss == "sigmoid_mse":
        np.negative(first, out=gradient)
        np.exp(gradient, out=gradient)
        gradient += 1
        np.reciprocal(gradient, out=gradient)  # s
        residual = gradient - second
        value = np.dot(residual, residual) / count
        residual *= gradient
        np.subtract(1, gradient, out=gradient)
        gradient *= residual
        gradient *= 2 / count
        return value, gradient
    if loss == "sigmoid_binary_cross_entropy":
        value = np.mean(np.logaddexp(0, first) - first * second)
        np.negative(first, out=gradient)
        np.exp(gradient, out=gradient)
        gradient += 1
        np.reciprocal(gradient, out=gradient)
        gradient -= second
        gradient /= count
        return value, gradient
    rows = np.arange(first.shape[0])
    if loss == "softmax_cross_entropy_with_integer_labels":
        np.subtract(first, first.max(axis=1, keepdims=True), out=gradient)
        label_shifted = gradient[rows, second].copy()
        np.exp(gradient, out=gradient)
        total = gradient.sum(axis=1, keepdims=True)
        value = np.mean(np.log(total[:, 0]) - label_shifted)
        gradient /= total
        gradient[rows, second] -= 1
        gradient /= first.shape[0]
        return value, gradient
    np.copyto(gradient, first)
    gradient[rows, second] -= 1
    value = np.vdot(gradient, gradient) / count
    gradient *= 2 / count
    return value, gradient


def gradient_cost(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for loss in LOSSES:
        first_np, second_np, label = inputs(loss, 2, quick)
        value, gradient = numpy_value_and_grad(loss, first_np, second_np)
        compiled = jax.jit(jax.value_and_grad(getattr(jaxloss, loss)))
        first, second = jnp.asarray(first_np), jnp.asarray(second_np)
        ours_value, ours_gradient = compiled(first, second)
        np.testing.assert_allclose(ours_value, value, rtol=1e-4)
        np.testing.assert_allclose(ours_gradient, gradient, rtol=1e-3, atol=1e-9)
        times = compare_seconds(
            {
                "numpy": functools.partial(numpy_value_and_grad, loss, first_np, second_np),
                "jaxloss": functools.partial(compiled, first, second),
            }
        )
        numpy_s, ours_s = times["numpy"], times["jaxloss"]
        rows.append({"loss": loss, "size": label, "jaxloss_s": ours_s, "numpy_s": numpy_s})
    return rows


# ---------------------------------------------------------------------------------------
# Memory, eager calls, the training study.


def memory(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for loss in LOSSES:
        first_np, second_np, label = inputs(loss, 2, quick)
        first, second = jnp.asarray(first_np), jnp.asarray(second_np)
        measured = {}
        for name, function in (("jaxloss", getattr(jaxloss, loss)), ("hand", hand_written(loss))):
            compiled = jax.jit(jax.value_and_grad(function)).lower(first, second).compile()
            analysis = compiled.memory_analysis()
            measured[name] = None if analysis is None else analysis.temp_size_in_bytes
        rows.append(
            {"loss": loss, "size": label, "input_bytes": first.nbytes, "temp_bytes": measured}
        )
    return rows


def eager_against_jit() -> list[dict[str, Any]]:
    rows = []
    for loss in LOSSES:
        first_np, second_np, label = inputs(loss, 0, quick=False)
        first, second = jnp.asarray(first_np), jnp.asarray(second_np)
        function = getattr(jaxloss, loss)
        jitted = jax.jit(function)
        times = compare_seconds(
            {
                "eager": functools.partial(function, first, second),
                "jit": functools.partial(jitted, first, second),
            }
        )
        eager_s, jit_s = times["eager"], times["jit"]
        rows.append({"loss": loss, "size": label, "eager_s": eager_s, "jit_s": jit_s})
    return rows


def study_scaling(quick: bool) -> dict[str, Any]:
    from benchmarks import sweep
    from jaxloss.train import datasets, harness

    dataset = datasets.load("breast_cancer")
    seeds_grid = (8, 64) if quick else (8, 64, 512)
    steps_grid = (100, 300) if quick else (100, 1000, 10000)
    scaling = []
    for seeds, steps in [(seeds, 1000 if not quick else 100) for seeds in seeds_grid] + [
        (64 if not quick else 8, steps) for steps in steps_grid
    ]:
        harness._program.cache_clear()
        experiment = harness.Experiment(loss="sigmoid_binary_cross_entropy", steps=steps)
        result = harness.train(experiment, dataset, np.arange(seeds), [0.1])
        scaling.append(
            {"seeds": seeds, "steps": steps, "compile_s": result.compile_s, "run_s": result.run_s}
        )
    sweep_report = sweep.main(["--seeds", "4", "--steps", "20"] if quick else [])
    return {"scaling": scaling, "sweep": sweep_report}


def checked_cost(quick: bool) -> list[dict[str, Any]]:
    """Checked calls (``jaxloss.checked``) against unchecked ones, both jitted."""
    rows = []
    for loss in LOSSES:
        first_np, second_np, label = inputs(loss, 1, quick)
        first, second = jnp.asarray(first_np), jnp.asarray(second_np)
        function = getattr(jaxloss, loss)
        times = compare_seconds(
            {
                "checked": functools.partial(jaxloss.checked(function), first, second),
                "unchecked": functools.partial(jax.jit(function), first, second),
            }
        )
        rows.append({"loss": loss, "size": label, **times})
    return rows


# ---------------------------------------------------------------------------------------
# Targets: the integer-label cross-entropy against optax, sigmoid_mse against autodiff.

TARGET_CLASS_SHAPES = ((8192, 100), (1024, 1000), (8192, 1000))
TARGET_ELEMENTWISE_SIZES = (10**3, 10**4, 10**5, 10**6)
# value_and_grad within 5% of the reference; the forward pass is reported, not targeted.
TARGET_RATIO = 1.05


def target_cases(quick: bool) -> list[dict[str, Any]]:
    """Each case: the loss, its reference, the inputs and the ratio it must stay under."""
    import optax

    cases = []
    for index, (batch, classes) in enumerate(TARGET_CLASS_SHAPES):
        if quick:
            batch = max(batch // 64, 8)
        rng = np.random.default_rng(index)
        first = rng.standard_normal((batch, classes)).astype(np.float32)
        second = rng.integers(0, classes, size=batch).astype(np.int32)
        for mode in ("value_and_grad", "forward"):
            cases.append(
                {
                    "loss": "softmax_cross_entropy_with_integer_labels",
                    "reference": "optax",
                    "size": f"[{batch}, {classes}]",
                    "mode": mode,
                    "target": TARGET_RATIO if mode == "value_and_grad" else None,
                    "ours": jaxloss.softmax_cross_entropy_with_integer_labels,
                    "theirs": lambda z, y: jnp.mean(
                        optax.losses.softmax_cross_entropy_with_integer_labels(z, y)
                    ),
                    "inputs": (first, second),
                }
            )
    for index, size in enumerate(TARGET_ELEMENTWISE_SIZES):
        if quick:
            size = max(size // 1000, 8)
        rng = np.random.default_rng(index)
        first = rng.standard_normal(size).astype(np.float32)
        second = rng.uniform(size=size).astype(np.float32)
        cases.append(
            {
                "loss": "sigmoid_mse",
                "reference": "hand-written",
                "size": f"{size:.0e}",
                "mode": "value_and_grad",
                "target": TARGET_RATIO,
                "ours": jaxloss.sigmoid_mse,
                "theirs": hand_written("sigmoid_mse"),
                "inputs": (first, second),
            }
        )
    return cases


def targets(quick: bool, repeats: int) -> list[dict[str, Any]]:
    """Each target's ratio, jaxloss ÷ reference, measured ``repeats`` times.

    Every repeat is a full interleaved comparison (``interleaved_samples``) of the
    two jitted programs on the same inputs, whose ratio is the median of the rounds'
    ratios; the rows give each repeat's ratio, their median and their spread, so that
    the shared machine's noise shows beside the result.
    """
    rows = []
    for case in target_cases(quick):
        first, second = (jnp.asarray(array) for array in case["inputs"])
        calls = {}
        for name in ("ours", "theirs"):
            function = case[name]
            if case["mode"] == "value_and_grad":
                function = jax.value_and_grad(function)
            calls[name] = functools.partial(jax.jit(function), first, second)
        # The two programs compute the same thing (the value, and the gradient).
        for ours_leaf, theirs_leaf in zip(
            jax.tree.leaves(calls["ours"]()), jax.tree.leaves(calls["theirs"]()), strict=True
        ):
            np.testing.assert_allclose(ours_leaf, theirs_leaf, rtol=1e-4, atol=1e-9)
        seconds, ratios = [], []
        for _ in range(repeats):
            samples = interleaved_samples(calls, budget_s=0.2 if quick else 3.0)
            ours, theirs = np.asarray(samples["ours"]), np.asarray(samples["theirs"])
            seconds.append(float(np.median(ours)))
            # Each round's two timings are adjacent in time: their ratio cancels most of
            # a slow spell, which the ratio of the two medians would not.
            ratios.append(float(np.median(ours / theirs)))
        median = float(np.median(ratios))
        target = case["target"]
        rows.append(
            {
                "loss": case["loss"],
                "reference": case["reference"],
                "size": case["size"],
                "mode": case["mode"],
                "jaxloss_s": float(np.median(seconds)),
                "ratios": ratios,
                "median": median,
                "low": min(ratios),
                "high": max(ratios),
                "target": target,
                "met": None if target is None else median <= target,
            }
        )
    return rows


def targets_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| loss | ÷ reference | size | mode | jaxloss µs | median ratio | spread | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        target = row["target"]
        status = "report" if target is None else f"≤ {target} {'met' if row['met'] else 'NOT met'}"
        lines.append(
            f"| {row['loss']} | {row['reference']} | {row['size']} | {row['mode']} "
            f"| {row['jaxloss_s'] * 1e6:.1f} | {row['median']:.3f} "
            f"| {row['low']:.3f}-{row['high']:.3f} | {status} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------


def print_overhead(rows: list[dict[str, Any]]) -> None:
    print(overhead_table(rows))


def print_bandwidth(band: dict[str, float]) -> None:
    print("| N | numpy.add GB/s | jaxloss.mse GB/s | ratio |\n| --- | --- | --- | --- |")
    print(
        f"| {band['size']:.0e} | {band['numpy_add_gbs']:.1f} | {band['mse_gbs']:.1f} "
        f"| {band['ratio']:.2f} |"
    )


def print_gradient_cost(rows: list[dict[str, Any]]) -> None:
    print("| loss | size | jaxloss ms | numpy ms | ratio |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['loss']} | {row['size']} | {row['jaxloss_s'] * 1e3:.2f} "
            f"| {row['numpy_s'] * 1e3:.2f} | {row['jaxloss_s'] / row['numpy_s']:.2f} |"
        )


def print_memory(rows: list[dict[str, Any]]) -> None:
    print("| loss | size | input MB | jaxloss temp MB | hand-written temp MB |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        temps = row["temp_bytes"]
        print(
            f"| {row['loss']} | {row['size']} | {row['input_bytes'] / 1e6:.1f} "
            f"| {temps['jaxloss'] / 1e6:.2f} | {temps['hand'] / 1e6:.2f} |"
        )


def print_eager(rows: list[dict[str, Any]]) -> None:
    print("| loss | eager µs | jitted µs | ratio |\n| --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['loss']} | {row['eager_s'] * 1e6:.1f} | {row['jit_s'] * 1e6:.1f} "
            f"| {row['eager_s'] / row['jit_s']:.2f} |"
        )


def print_checked(rows: list[dict[str, Any]]) -> None:
    print("| loss | size | checked µs | unchecked µs | ratio |\n| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['loss']} | {row['size']} | {row['checked'] * 1e6:.1f} "
            f"| {row['unchecked'] * 1e6:.1f} | {row['checked'] / row['unchecked']:.2f} |"
        )


def print_study(study: dict[str, Any]) -> None:
    # The sweep prints its own table while it runs, above this one.
    print("\n| seeds | steps | compile s | run s |\n| --- | --- | --- | --- |")
    for row in study["scaling"]:
        print(f"| {row['seeds']} | {row['steps']} | {row['compile_s']:.2f} | {row['run_s']:.3f} |")


def print_targets(rows: list[dict[str, Any]]) -> None:
    print(targets_table(rows))


# Each section: its heading, how to measure it from the options, and how to print it.
SECTIONS: dict[str, tuple[str, Callable[[argparse.Namespace], Any], Callable[[Any], None]]] = {
    "overhead": (
        "Per-loss time, ratio jaxloss ÷ reference (below 1: jaxloss faster)",
        lambda args: overhead(args.quick),
        print_overhead,
    ),
    "bandwidth": (
        "Bandwidth, forward MSE",
        lambda args: bandwidth(args.quick),
        print_bandwidth,
    ),
    "gradient_cost": (
        "value_and_grad against the cheapest NumPy value and gradient",
        lambda args: gradient_cost(args.quick),
        print_gradient_cost,
    ),
    "memory": (
        "Temporary memory of value_and_grad (XLA memory analysis)",
        lambda args: memory(args.quick),
        print_memory,
    ),
    "eager": (
        "Eager call against a jitted call, N = 10^3",
        lambda args: eager_against_jit(),
        print_eager,
    ),
    "checked": (
        "Checked mode against unchecked calls",
        lambda args: checked_cost(args.quick),
        print_checked,
    ),
    "study": (
        "The training study",
        lambda args: study_scaling(args.quick),
        print_study,
    ),
    "targets": (
        "Targets: the integer-label cross-entropy against optax, sigmoid_mse against autodiff",
        lambda args: targets(args.quick, args.repeats),
        print_targets,
    ),
    "curvature": (
        "Curvature products against a gradient (10^4-parameter MLP)",
        lambda args: _section("curvature").rows(args.quick),
        lambda rows: print(_section("curvature").table(rows)),
    ),
    "ctc": (
        "CTC against optax, T=200, N=32, C=50, S=40",
        lambda args: _section("ctc").rows(args.quick),
        lambda rows: print(_section("ctc").table(rows)),
    ),
    "linear_cross_entropy": (
        "Linear cross-entropy without the logits against the dense formula",
        lambda args: _section("linear_cross_entropy").rows(args.quick),
        lambda rows: print(_section("linear_cross_entropy").table(rows)),
    ),
}


def _section(name: str) -> Any:
    """A section kept in its own module (it imports this one for its timing helpers)."""
    return importlib.import_module(f"benchmarks.{name}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks it runs")
    parser.add_argument(
        "--repeats", type=int, default=3, help="measurements of each target (section 8)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(SECTIONS),
        default=list(SECTIONS),
        metavar="SECTION",
        help=f"run only these sections: {', '.join(SECTIONS)}",
    )
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "devices": [str(device) for device in jax.devices()],
        }
    }
    print(f"# jaxloss benchmarks on {report['machine']}\n")
    for number, (name, (heading, measure, show)) in enumerate(SECTIONS.items(), start=1):
        if name not in args.only:
            continue
        # Printed before measuring: the study's sweep prints a table of its own.
        print(f"## {number}. {heading}\n")
        report[name] = measure(args)
        show(report[name])
        print()
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
