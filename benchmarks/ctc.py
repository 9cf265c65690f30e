"""CTC against optax: ``jaxloss.ctc_loss`` ÷ ``optax.ctc_loss``, measured in the same run.

``python -m benchmarks.ctc [--quick]`` prints one row per mode (the forward value, and
``value_and_grad``), both jitted, on ``T = 200`` frames, ``N = 32`` sequences, ``C =
50`` classes and labels of up to ``S = 40`` (``--quick``: a small size that only checks
it runs). The target is a ratio of at most 1.0 for both. ``rows`` and ``table`` are
what ``benchmarks/run.py`` calls.
"""

from __future__ import annotations

import argparse
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss
from benchmarks.run import compare_seconds

FULL_SIZE = (200, 32, 50, 40)  # T, N, C, S
QUICK_SIZE = (20, 4, 10, 5)
TARGET_RATIO = 1.0


def _inputs(frames: int, batch: int, classes: int, labels: int):
    """Random logits, frame lengths from T/2 to T, label lengths from S/2 to S, and no
    label equal to the blank (0); float32, as a model would give them."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((batch, frames, classes)).astype(np.float32)
    frame_lengths = rng.integers(frames // 2, frames + 1, batch)
    label_lengths = rng.integers(labels // 2, labels + 1, batch)
    label_array = rng.integers(1, classes, (batch, labels)).astype(np.int32)
    logit_paddings = (np.arange(frames)[None, :] >= frame_lengths[:, None]).astype(np.float32)
    label_paddings = (np.arange(labels)[None, :] >= label_lengths[:, None]).astype(np.float32)
    return tuple(
        jnp.asarray(array) for array in (logits, logit_paddings, label_array, label_paddings)
    )


def rows(quick: bool) -> list[dict[str, Any]]:
    """One row per mode: jaxloss's seconds, optax's, and their ratio (below 1: faster)."""
    import optax

    frames, batch, classes, labels = QUICK_SIZE if quick else FULL_SIZE
    arguments = _inputs(frames, batch, classes, labels)

    def ours(logits, logit_paddings, label_array, label_paddings):
        return jaxloss.ctc_loss(logits, logit_paddings, label_array, label_paddings)

    def theirs(logits, logit_paddings, label_array, label_paddings):
        return jnp.mean(optax.ctc_loss(logits, logit_paddings, label_array, label_paddings))

    result = []
    for mode in ("forward", "value_and_grad"):
        calls = {}
        for name, function in (("jaxloss", ours), ("optax", theirs)):
            if mode == "value_and_grad":
                function = jax.value_and_grad(function)
            calls[name] = functools.partial(jax.jit(function), *arguments)
        # Same numbers first: the two programs compute the same value (and gradient, to
        # float32's rounding over 200 frames: both are within 2e-5 of float64's).
        for mine, reference in zip(
            jax.tree.leaves(calls["jaxloss"]()), jax.tree.leaves(calls["optax"]()), strict=True
        ):
            np.testing.assert_allclose(mine, reference, rtol=1e-4, atol=5e-5)
        seconds = compare_seconds(calls, budget_s=0.2 if quick else 3.0)
        result.append(
            {
                "loss": "ctc_loss",
                "reference": "optax",
                "size": f"T={frames}, N={batch}, C={classes}, S={labels}",
                "mode": mode,
                "jaxloss_s": seconds["jaxloss"],
                "optax_s": seconds["optax"],
                "ratio": seconds["jaxloss"] / seconds["optax"],
                "target": TARGET_RATIO,
            }
        )
    return result


def table(result: list[dict[str, Any]]) -> str:
    lines = [
        "| loss | ÷ reference | size | mode | jaxloss ms | optax ms | ratio | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result:
        status = "met" if row["ratio"] <= row["target"] else "NOT met"
        lines.append(
            f"| {row['loss']} | {row['reference']} | {row['size']} | {row['mode']} "
            f"| {row['jaxloss_s'] * 1e3:.2f} | {row['optax_s'] * 1e3:.2f} "
            f"| {row['ratio']:.2f} | ≤ {row['target']} {status} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks it runs")
    args = parser.parse_args(argv)
    result = rows(args.quick)
    print(table(result))
    return result


if __name__ == "__main__":
    main()
