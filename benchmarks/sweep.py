"""The training study in jaxloss (vmap + scan) against an eager PyTorch loop.

Both train logistic regression on breast_cancer with plain SGD from scaled-normal
starts, 64 seeds x 2 losses (sigmoid MSE, sigmoid cross-entropy) x 1000 full-batch
steps, recording the training loss, training accuracy, test accuracy and the norm of
the gradient with respect to the logits at every step. jaxloss runs all seeds of a
loss as one compiled program; PyTorch loops over seeds and steps in Python.

Run: ``python -m benchmarks.sweep [--seeds 64] [--steps 1000] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time

import numpy as np

from jaxloss.train import datasets, harness

LOSSES = ("sigmoid_mse", "sigmoid_binary_cross_entropy")
LEARNING_RATE = 0.1


def time_jaxloss(dataset: datasets.Dataset, seeds: int, steps: int) -> tuple[float, float]:
    compile_s = run_s = 0.0
    for loss in LOSSES:
        # A fresh step count per call keeps the compile cache from hiding compile time.
        experiment = harness.Experiment(loss=loss, steps=steps)
        harness._program.cache_clear()
        result = harness.train(experiment, dataset, np.arange(seeds), [LEARNING_RATE])
        compile_s += result.compile_s
        run_s += result.run_s
    return compile_s, run_s


def time_torch(dataset: datasets.Dataset, seeds: int, steps: int) -> float:
    import torch

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
    args = parser.parse_args(argv)

    dataset = datasets.load("breast_cancer")
    compile_s, run_s = time_jaxloss(dataset, args.seeds, args.steps)
    torch_s = time_torch(dataset, args.seeds, args.steps)
    report = {
        "jaxloss_compile_s": compile_s,
        "jaxloss_run_s": run_s,
        "torch_s": torch_s,
        "ratio_run": torch_s / run_s,
        "ratio_total": torch_s / (compile_s + run_s),
    }
    print(f"study: {args.seeds} seeds x {len(LOSSES)} losses x {args.steps} steps, breast_cancer")
    print("| | seconds | PyTorch eager / this |")
    print("| --- | --- | --- |")
    print(f"| PyTorch eager loop | {torch_s:.2f} | 1.0 |")
    print(f"| jaxloss run | {run_s:.3f} | {report['ratio_run']:.1f}x |")
    print(f"| jaxloss compile + run | {compile_s + run_s:.2f} | {report['ratio_total']:.1f}x |")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
