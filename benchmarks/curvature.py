"""Curvature costs against a gradient of the same training loss, timed in one run.

A fully connected tanh network with 10,026 parameters (32 → 96 → 64 → 10) and the
integer-label cross-entropy on a batch of random data; each row is a jitted
computation's median time divided by ``jax.grad``'s, interleaved in the same rounds
(``benchmarks.run.compare_seconds``). The target is a Hessian-vector product at
most 3× a gradient (forward-over-reverse costs about one forward pass more than
reverse mode alone).

Run: ``python -m benchmarks.curvature [--quick]``.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss
from benchmarks.run import compare_seconds
from jaxloss import curvature

WIDTHS = (32, 96, 64, 10)
LOSS = "softmax_cross_entropy_with_integer_labels"


def _model(params: list[dict[str, jax.Array]], inputs: jax.Array) -> jax.Array:
    hidden = inputs
    for index, layer in enumerate(params):
        hidden = hidden @ layer["w"] + layer["b"][None, :]
        if index < len(params) - 1:
            hidden = jnp.tanh(hidden)
    return hidden


def _setup(batch_size: int) -> tuple[Any, tuple[jax.Array, jax.Array]]:
    rng = np.random.default_rng(0)
    params = [
        {
            "w": jnp.asarray(rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in), jnp.float32),
            "b": jnp.zeros(fan_out, jnp.float32),
        }
        for fan_in, fan_out in itertools.pairwise(WIDTHS)
    ]
    inputs = jnp.asarray(rng.standard_normal((batch_size, WIDTHS[0])), jnp.float32)
    labels = jnp.asarray(rng.integers(0, WIDTHS[-1], batch_size), jnp.int32)
    return params, (inputs, labels)


def rows(quick: bool) -> list[dict[str, Any]]:
    """One row per computation: its median seconds and its ratio to the gradient's."""
    batch_size = 64 if quick else 1024
    params, batch = _setup(batch_size)
    inputs, labels = batch

    def loss(p: Any) -> jax.Array:
        return jaxloss.softmax_cross_entropy_with_integer_labels(_model(p, inputs), labels)

    vector = jax.tree.map(jnp.ones_like, params)
    gauss_newton = functools.partial(curvature.gauss_newton_vector_product, _model, LOSS)
    computations = {
        "gradient": jax.jit(jax.grad(loss)),
        "Hessian-vector product": jax.jit(
            lambda p: curvature.hessian_vector_product(loss, p, vector)
        ),
        "Gauss-Newton-vector product": jax.jit(lambda p: gauss_newton(p, batch, vector)),
        "top eigenvalue, 20 Lanczos steps": jax.jit(
            lambda p: curvature.top_eigenvalues(loss, p, 1, num_iterations=20)[0]
        ),
    }
    size = sum(leaf.size for leaf in jax.tree.leaves(params))
    times = compare_seconds(
        {name: functools.partial(function, params) for name, function in computations.items()},
        budget_s=0.5 if quick else 3.0,
        most=20 if quick else 200,
    )
    return [
        {
            "computation": name,
            "parameters": size,
            "batch": batch_size,
            "seconds": seconds,
            "ratio_to_gradient": seconds / times["gradient"],
        }
        for name, seconds in times.items()
    ]


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    lines = [
        "| computation | parameters | batch | ms | ÷ gradient |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {row['computation']} | {row['parameters']} | {row['batch']} "
        f"| {row['seconds'] * 1e3:.3f} | {row['ratio_to_gradient']:.2f} |"
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small batch: checks it runs")
    args = parser.parse_args(argv)
    measured = rows(args.quick)
    print(table(measured))
    return measured


if __name__ == "__main__":
    main()
