"""The main job, ``jaxloss compare``, against an eager PyTorch loop and a plain matmul.

The study: logistic regression on breast_cancer with plain SGD from scaled-normal
starts, 64 seeds x 2 losses (sigmoid MSE, sigmoid cross-entropy) x 1000 full-batch
steps, recording the training loss, training accuracy, test accuracy and the norm of
the gradient with respect to the logits at every step. jaxloss runs all seeds of a
loss as one compiled program; PyTorch loops over seeds and steps in Python.

Three comparisons, each against a reference measured in the same run:

1. the whole process: ``jaxloss compare`` from process start to files written, with
   an empty compilation cache (cold) and with the cache the cold run filled (warm),
   against the eager PyTorch loop (its import not counted);
2. the run's throughput: the floating-point operations of the study's matrix
   products (forward, weight gradient, test forward) per second of the compiled
   run, against a plain ``jnp`` matmul of the same shapes, looped in one program;
3. the compiled run alone against the eager loop (the former ``ratio_run``).

Run: ``python -m benchmarks.sweep [--seeds 64] [--steps 1000] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

from jaxloss.train import datasets, harness

LOSSES = ("sigmoid_mse", "sigmoid_binary_cross_entropy")
LEARNING_RATE = 0.1


def matmul_flops(dataset: datasets.Dataset, seeds: int, steps: int) -> float:
    """The study's matrix-product operations: per step and seed, the training logits
    ``x w``, the weight gradient ``x^T g`` and the test logits, two per multiply-add."""
    train_examples, features = dataset.x_train.shape
    test_examples = dataset.x_test.shape[0]
    return 2.0 * features * (2 * train_examples + test_examples) * seeds * steps


def time_matmul(dataset: datasets.Dataset, seeds: int, steps: int) -> float:
    """Seconds for ``steps`` rounds of the study's three products, one compiled loop."""
    import jax
    import jax.numpy as jnp

    x_train = jnp.asarray(dataset.x_train)
    x_test = jnp.asarray(dataset.x_test)

    @jax.jit
    def products(weights):
        def step(weights, _):
            logits = x_train @ weights
            gradient = x_train.T @ logits
            test_logits = x_test @ weights
            # The update chains the steps, so that no product can be hoisted or skipped.
            return weights - 1e-6 * gradient, test_logits[0]

        return jax.lax.scan(step, weights, None, length=steps)

    weights = jnp.full((dataset.num_features, seeds), 0.01, jnp.float32)
    jax.block_until_ready(products(weights))
    start = time.perf_counter()
    jax.block_until_ready(products(weights))
    return time.perf_counter() - start


def time_run(dataset: datasets.Dataset, seeds: int, steps: int, repeat: int) -> float:
    """Seconds of the compiled runs of both losses (compiled before, new seed values)."""
    run_s = 0.0
    for loss in LOSSES:
        experiment = harness.Experiment(loss=loss, steps=steps)
        seed_values = np.arange(seeds) + seeds * repeat
        run_s += harness.train(experiment, dataset, seed_values, [LEARNING_RATE]).run_s
    return run_s


def time_compile(dataset: datasets.Dataset, seeds: int, steps: int) -> float:
    compile_s = 0.0
    for loss in LOSSES:
        # A cleared program cache keeps an earlier compilation from hiding this one.
        harness._program.cache_clear()
        experiment = harness.Experiment(loss=loss, steps=steps)
        compile_s += harness.train(experiment, dataset, np.arange(seeds), [LEARNING_RATE]).compile_s
    return compile_s


def time_process(seeds: int, steps: int, cache: pathlib.Path, out: pathlib.Path) -> float:
    """Wall seconds of ``jaxloss compare`` from process start to its files written."""
    command = [sys.executable, "-m", "jaxloss.cli", "compare", "--seeds", str(seeds)]
    command += ["--steps", str(steps), "--lr", str(LEARNING_RATE)]
    command += ["--out", str(out), "--cache", str(cache)]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def time_torch(dataset: datasets.Dataset, seeds: int, steps: int) -> float:
    import torch

    # One intra-op thread: these tensors are too small to split, and two threads that
    # spin-wait on a busy machine slow the loop down tenfold.
    torch.set_num_threads(1)
    functional = torch.nn.functional
    x_train = torch.tensor(dataset.x_train)
    y_train = torch.tensor(dataset.y_train, dtype=torch.float32)
    x_test = torch.tensor(dataset.x_test)
    y_test = torch.tensor(dataset.y_test, dtype=torch.float32)
    losses = {
        "sigmoid_mse": lambda z, y: functional.mse_loss(torch.sigmoid(z), y),
        "sigmoid_binary_cross_entropy": functional.binary_cross_entropy_with_logits,
    }
    start = time.perf_counter()
    for loss in LOSSES:
        for seed in range(seeds):
            generator = torch.Generator().manual_seed(seed)
            features = x_train.shape[1]
            weights = (torch.randn(features, generator=generator) / features**0.5).requires_grad_()
            bias = torch.zeros((), requires_grad=True)
            optimizer = torch.optim.SGD([weights, bias], lr=LEARNING_RATE)
            records = []
            for _ in range(steps):
                logits = x_train @ weights + bias
                logits.retain_grad()
                value = losses[loss](logits, y_train)
                optimizer.zero_grad()
                value.backward()
                optimizer.step()
                with torch.no_grad():
                    assert logits.grad is not None
                    accuracy = ((logits > 0).float() == y_train).float().mean()
                    test_logits = x_test @ weights + bias
                    test_accuracy = ((test_logits > 0).float() == y_test).float().mean()
                    records.append((value.detach(), accuracy, test_accuracy, logits.grad.norm()))
            torch.stack([torch.stack(record) for record in records])
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=64)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--json", type=pathlib.Path)
    parser.add_argument(
        "--repeats",
        type=int,
        help="timings per measurement, the median kept (default: 3, or 1 for a study "
        "under 10^4 seed-steps, whose timings only check that the benchmark runs)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.seeds * args.steps >= 10_000 else 1)

    dataset = datasets.load("breast_cancer")
    flops = matmul_flops(dataset, args.seeds, args.steps)
    compile_s = time_compile(dataset, args.seeds, args.steps)
    # Interleaved repeats: a slow spell of a shared machine hits both sides alike.
    run_times, matmul_times = [], []
    for repeat in range(repeats):
        run_times.append(time_run(dataset, args.seeds, args.steps, repeat + 1))
        matmul_times.append(time_matmul(dataset, args.seeds, args.steps) * len(LOSSES))
    run_s, matmul_s = float(np.median(run_times)), float(np.median(matmul_times))

    with tempfile.TemporaryDirectory() as folder:
        cache = pathlib.Path(folder) / "cache"
        cold_s = time_process(args.seeds, args.steps, cache, pathlib.Path(folder) / "cold")
        torch_s = time_torch(dataset, args.seeds, args.steps)
        warm = [
            time_process(args.seeds, args.steps, cache, pathlib.Path(folder) / f"warm{index}")
            for index in range(repeats)
        ]
        warm_s = float(np.median(warm))

    report = {
        "jaxloss_compile_s": compile_s,
        "jaxloss_run_s": run_s,
        "torch_s": torch_s,
        "ratio_run": torch_s / run_s,
        "ratio_total": torch_s / (compile_s + run_s),
        "run_gflops": flops * len(LOSSES) / run_s / 1e9,
        "matmul_gflops": flops * len(LOSSES) / matmul_s / 1e9,
        "run_over_matmul": matmul_s / run_s,
        "process_cold_s": cold_s,
        "process_warm_s": warm_s,
        "torch_over_process_cold": torch_s / cold_s,
        "torch_over_process_warm": torch_s / warm_s,
    }
    print(f"study: {args.seeds} seeds x {len(LOSSES)} losses x {args.steps} steps, breast_cancer\n")
    print("| | seconds | PyTorch eager / this |")
    print("| --- | --- | --- |")
    print(f"| PyTorch eager loop | {torch_s:.2f} | 1.0 |")
    print(
        f"| `jaxloss compare`, process start to files written, empty cache | {cold_s:.2f} "
        f"| {report['torch_over_process_cold']:.1f}x |"
    )
    print(
        f"| `jaxloss compare`, process start to files written, warm cache | {warm_s:.2f} "
        f"| {report['torch_over_process_warm']:.1f}x |"
    )
    print(f"| jaxloss compile, empty cache | {compile_s:.2f} | |")
    print(f"| jaxloss run | {run_s:.3f} | {report['ratio_run']:.1f}x |")
    print("\n| | GFLOP/s | run / matmul |\n| --- | --- | --- |")
    print(
        f"| plain `jnp` matmul, the study's shapes, one compiled loop | "
        f"{report['matmul_gflops']:.1f} | |"
    )
    print(f"| the compiled run | {report['run_gflops']:.1f} | {report['run_over_matmul']:.2f} |")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
