"""Vocabulary-parallel linear_softmax_cross_entropy on 4 host devices equals one device.

The device count is fixed when JAX starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``. The weight (and bias) are
split over their vocabulary axis; each device's chunks are ragged (25 columns in
chunks of 7) and the label of most tokens lives on another device. Checked: the value,
the three gradients, ``jax.jvp`` and a forward-over-reverse Hessian-vector product;
a weight placed with a ``NamedSharding`` is detected, on a mesh with automatic axes
(concrete arrays) and with explicit axes (also under ``jit`` and ``grad``); the compiled program
has no all-gather (the weight is never gathered) and its gradient stays sharded.
Agreement is to float32 rounding: each device sums its own columns first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import AxisType, NamedSharding, PartitionSpec
    import jaxloss

    jax.config.update("jax_numpy_dtype_promotion", "strict")
    jax.config.update("jax_numpy_rank_promotion", "raise")
    assert len(jax.devices()) == 4, jax.devices()
    rng = np.random.default_rng(0)
    tokens, features, classes = 16, 8, 100
    hidden = jnp.asarray(rng.standard_normal((tokens, features)), jnp.float32)
    weight = jnp.asarray(rng.standard_normal((features, classes)), jnp.float32)
    bias = jnp.asarray(rng.standard_normal(classes), jnp.float32)
    labels = jnp.asarray(rng.integers(0, classes, tokens), jnp.int32)
    options = dict(label_smoothing=0.1, z_loss=1e-3, logit_soft_cap=5.0, chunk_size=7)

    def loss(hidden, weight, bias, **more):
        return jaxloss.linear_softmax_cross_entropy(
            hidden, weight, labels, bias=bias, **options, **more)

    # Each set of results is one compiled program (every eager call would compile again).
    def results(hidden, weight, bias, **more):
        function = lambda h, w, b: loss(h, w, b, **more)
        primals = (hidden, weight, bias)
        value, gradients = jax.value_and_grad(function, (0, 1, 2))(*primals)
        tangent = jax.jvp(function, primals, primals)[1]
        product = jax.jvp(jax.grad(function, (0, 1, 2)), primals, primals)[1]
        return [value, *gradients, tangent, *product]

    def check(sharded, single, what):
        for ours, expected in zip(sharded, single, strict=True):
            np.testing.assert_allclose(ours, expected, rtol=2e-5, atol=1e-6, err_msg=what)

    single = jax.jit(results)(hidden, weight, bias)
    for axis_type in (AxisType.Auto, AxisType.Explicit):
        mesh = jax.make_mesh((4,), ("vocab",), axis_types=(axis_type,))
        with jax.set_mesh(mesh):
            split = jax.device_put(weight, NamedSharding(mesh, PartitionSpec(None, "vocab")))
            split_bias = jax.device_put(bias, NamedSharding(mesh, PartitionSpec("vocab")))
            if axis_type == AxisType.Explicit:
                # Detected from the weight's type, under jit, grad and jvp.
                detected = jax.jit(results)(hidden, split, split_bias)
                check(detected, single, "explicit axes, detected")
                continue
            # Named, under jit: the way a training step calls it.
            step = jax.jit(lambda h, w, b: results(h, w, b, vocab_axis="vocab", mesh=mesh))
            # Compiled once: run, and its text read.
            compiled = step.lower(hidden, split, split_bias).compile()
            sharded = compiled(hidden, split, split_bias)
            check(sharded, single, "vocab_axis under jit")
            assert sharded[2].sharding.spec == PartitionSpec(None, "vocab"), sharded[2].sharding
            program = compiled.as_text()
            assert "all-gather" not in program
            assert "all-reduce" in program
            # Detected from a concrete weight's NamedSharding.
            value = loss(hidden, split, split_bias)
            np.testing.assert_allclose(value, single[0], rtol=2e-5)
    print("sharded equals single-device")
    """
)


def test_vocabulary_parallel_equals_single_device():
    environment = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "sharded equals single-device" in completed.stdout
