"""The fused projection + cross-entropy against the dense formula, in ratios from one run.

``jaxloss.linear_softmax_cross_entropy`` (logits never held) against the dense
formula (``hidden @ weight`` materialised, optax's integer-label cross-entropy), and
against jax-cce and tokamax when they are installed in the running interpreter. For
each: the temporary bytes of the compiled ``value_and_grad`` with respect to hidden
and weight (XLA's memory analysis: the gradients are outputs, not temporaries) and
its median time (``benchmarks.run.compare_seconds``, interleaved rounds), each as a
ratio to the dense formula's. A second table gives the error of the value and the
gradients against the float64 dense formula on the same inputs, per input dtype.

Run: ``python -m benchmarks.linear_cross_entropy [--quick] [--gpu] [--json PATH]``.
``--gpu`` runs the GPU shapes (N = 8192, D = 4096, V = 131072 and 262144) in
bfloat16 on the default device. A candidate that fails (not installed, out of
memory, an error) gets a row saying why.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import jaxloss
from benchmarks.run import compare_seconds

CPU_SHAPES = ((2048, 512, 65536), (2048, 512, 131072))
QUICK_SHAPES = ((512, 64, 32768),)
GPU_SHAPES = ((8192, 4096, 131072), (8192, 4096, 262144))
PRECISION_SHAPE = (512, 256, 16384)
QUICK_PRECISION_SHAPE = (64, 32, 1000)

Loss = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def dense(hidden: jax.Array, weight: jax.Array, labels: jax.Array) -> jax.Array:
    """The reference: the logits materialised (float32 accumulation), optax's loss."""
    import optax

    # float32 accumulation for half-precision inputs; float64 stays float64.
    accumulation = jnp.promote_types(hidden.dtype, jnp.float32)
    logits = jnp.matmul(hidden, weight, preferred_element_type=accumulation)
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def fused(hidden: jax.Array, weight: jax.Array, labels: jax.Array) -> jax.Array:
    return jaxloss.linear_softmax_cross_entropy(hidden, weight, labels)


def third_party() -> dict[str, Loss | str]:
    """jax-cce's and tokamax's losses where importable, else why not (a string)."""
    found: dict[str, Loss | str] = {}
    if importlib.util.find_spec("jax_cce") is None:
        found["jax-cce"] = "not installed (pip install jax-cce)"
    else:
        from jax_cce import linear_cross_entropy as cce  # type: ignore[import-not-found]

        # jax-cce takes the classifier as [V, D]; its own default chunk size (4096).
        found["jax-cce"] = lambda hidden, weight, labels: cce(hidden, weight.T, labels)
    if importlib.util.find_spec("tokamax") is None:
        found["tokamax"] = "not installed (pip install tokamax)"
    else:
        import tokamax  # type: ignore[import-not-found]
        from absl import flags  # type: ignore[import-not-found]

        # tokamax reads absl flags, which would otherwise parse this script's arguments.
        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()

        function = getattr(tokamax, "linear_softmax_cross_entropy_loss", None)
        if function is None:
            found["tokamax"] = "this tokamax has no linear_softmax_cross_entropy_loss"
        else:
            # Its default implementation: the XLA one off TPU (the Pallas kernel is TPU-only).
            found["tokamax"] = lambda hidden, weight, labels: function(
                hidden, labels, weight, reduction="mean"
            )
    return found


def _inputs(shape: tuple[int, int, int], dtype: Any, seed: int = 0):
    tokens, features, classes = shape
    keys = jax.random.split(jax.random.key(seed), 3)
    hidden = jax.random.normal(keys[0], (tokens, features), dtype)
    weight = (jax.random.normal(keys[1], (features, classes)) / math.sqrt(features)).astype(dtype)
    labels = jax.random.randint(keys[2], (tokens,), 0, classes, jnp.int32)
    return hidden, weight, labels


def _describe(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:160]


def rows(
    quick: bool, gpu: bool = False, budget_s: float | None = None, rounds: int = 50
) -> list[dict[str, Any]]:
    """One row per shape and candidate: temporary bytes and seconds, and their ratios.

    ``rounds`` caps the interleaved timing rounds (``compare_seconds``'s ``most``).
    """
    shapes = GPU_SHAPES if gpu else QUICK_SHAPES if quick else CPU_SHAPES
    dtype = jnp.bfloat16 if gpu else jnp.float32
    budget = budget_s if budget_s is not None else 0.3 if quick else 20.0
    device = jax.devices()[0].device_kind
    candidates: dict[str, Loss | str] = {"jaxloss": fused, "dense": dense, **third_party()}
    results = []
    for shape in shapes:
        hidden, weight, labels = _inputs(shape, dtype)
        compiled: dict[str, Any] = {}
        outcome: dict[str, dict[str, Any]] = {}
        for name, loss in candidates.items():
            if isinstance(loss, str):
                outcome[name] = {"error": loss}
                continue
            try:
                function = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
                executable = function.lower(hidden, weight, labels).compile()
                analysis = executable.memory_analysis()
                temp = None if analysis is None else analysis.temp_size_in_bytes
                jax.block_until_ready(executable(hidden, weight, labels))
            except Exception as error:  # an unsupported path or out of memory: say which
                outcome[name] = {"error": _describe(error)}
                continue
            compiled[name] = executable
            outcome[name] = {"temp_bytes": temp}
        arguments = (hidden, weight, labels)
        timings = compare_seconds(
            {
                name: (lambda executable=executable, arguments=arguments: executable(*arguments))
                for name, executable in compiled.items()
            },
            budget_s=budget,
            most=rounds,
        )
        for name, seconds in timings.items():
            outcome[name]["seconds"] = seconds
        reference = outcome.get("dense", {})
        for name, measured in outcome.items():
            row = {
                "shape": shape,
                "dtype": jnp.dtype(dtype).name,
                "device": device,
                "candidate": name,
                **measured,
            }
            for key in ("temp_bytes", "seconds"):
                if measured.get(key) is not None and reference.get(key):
                    row[f"{key}_ratio"] = measured[key] / reference[key]
            results.append(row)
    return results


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| N, D, V | dtype | device | candidate | temp MiB | temp / dense | seconds | "
        "time / dense |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in results:
        shape = ", ".join(str(size) for size in row["shape"])
        prefix = f"| {shape} | {row['dtype']} | {row['device']} | {row['candidate']} |"
        if "error" in row:
            lines.append(f"{prefix} {row['error']} | | | |")
            continue
        temp = row.get("temp_bytes")
        cells = [
            "n/a" if temp is None else f"{temp / 2**20:.1f}",
            f"{row['temp_bytes_ratio']:.3f}" if "temp_bytes_ratio" in row else "",
            f"{row['seconds']:.3f}" if "seconds" in row else "",
            f"{row['seconds_ratio']:.2f}" if "seconds_ratio" in row else "",
        ]
        lines.append(f"{prefix} {' | '.join(cells)} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Error against float64, per input dtype.


def _relative_error(ours, reference) -> float:
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    return float(np.max(np.abs(ours - reference)) / max(np.max(np.abs(reference)), 1e-300))


def precision_rows(quick: bool) -> list[dict[str, Any]]:
    """The value's and each gradient's error against the float64 dense formula.

    The inputs are rounded to each dtype first, and the float64 reference runs on the
    rounded inputs: the error is the computation's, not the inputs' rounding. The
    dense formula in the same dtype (logits in that dtype, as ``hidden @ weight``
    gives them) is shown beside.
    """
    shape = QUICK_PRECISION_SHAPE if quick else PRECISION_SHAPE
    results = []
    for dtype in (jnp.float32, jnp.bfloat16, jnp.float16):
        hidden, weight, labels = _inputs(shape, dtype, seed=1)
        argnums = (0, 1)
        with jax.enable_x64(True):
            wide = (hidden.astype(jnp.float64), weight.astype(jnp.float64))
            expected = jax.value_and_grad(dense, argnums)(*wide, labels)
            expected = jax.tree.map(np.asarray, expected)

        def same_dtype_dense(hidden, weight, labels):
            import optax

            return jnp.mean(
                optax.softmax_cross_entropy_with_integer_labels(hidden @ weight, labels)
            )

        for name, loss in (("jaxloss", fused), ("dense, same dtype", same_dtype_dense)):
            value, (d_hidden, d_weight) = jax.value_and_grad(loss, argnums)(hidden, weight, labels)
            results.append(
                {
                    "dtype": jnp.dtype(dtype).name,
                    "candidate": name,
                    "value": _relative_error(value, expected[0]),
                    "hidden_gradient": _relative_error(d_hidden, expected[1][0]),
                    "weight_gradient": _relative_error(d_weight, expected[1][1]),
                }
            )
    return results


def precision_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| inputs | computed by | value | d hidden | d weight |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for row in results:
        errors = " | ".join(
            f"{row[key]:.1e}" for key in ("value", "hidden_gradient", "weight_gradient")
        )
        lines.append(f"| {row['dtype']} | {row['candidate']} | {errors} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, short timings")
    parser.add_argument("--gpu", action="store_true", help="the GPU shapes, bfloat16")
    parser.add_argument("--budget", type=float, default=None, help="seconds of timing per shape")
    parser.add_argument("--rounds", type=int, default=50, help="at most this many timing rounds")
    parser.add_argument("--json", help="also write every number to this file")
    arguments = parser.parse_args(argv)
    report = {
        "speed_and_memory": rows(
            arguments.quick, arguments.gpu, arguments.budget, arguments.rounds
        ),
        "precision": precision_rows(arguments.quick),
    }
    print(table(report["speed_and_memory"]))
    print()
    print(precision_table(report["precision"]))
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(report, file, indent=1, default=str)
    return report


if __name__ == "__main__":
    main()
