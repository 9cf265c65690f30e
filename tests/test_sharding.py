"""Sharding the seeds axis over 4 host devices gives the single-device results.

The device count is fixed when JAX starts, so the check runs in a subprocess with
``XLA_FLAGS=--xla_force_host_platform_device_count=4``. Runs at one device count are
bitwise reproducible. Between 1 and 4 devices they agree to float32 rounding, not
bitwise: XLA:CPU tiles a batch of 2 seeds per device differently from a batch of 8,
which changes the order of the sums (measured: at most 3e-7 relative).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("optax", reason="the training harness needs the examples extra")

SCRIPT = textwrap.dedent(
    """
    import jax, numpy as np
    from jaxloss.train import datasets, harness
    assert len(jax.devices()) == 4, jax.devices()
    dataset = datasets.load("breast_cancer")
    experiment = harness.Experiment(loss="sigmoid_mse", steps=40, init="saturated")
    single = harness.train(experiment, dataset, np.arange(8), [0.1, 0.5], devices=1)
    sharded = harness.train(experiment, dataset, np.arange(8), [0.1, 0.5], devices=4)
    for name in harness.RECORDS:
        np.testing.assert_allclose(sharded.records[name], single.records[name], rtol=1e-6)
        again = harness.train(experiment, dataset, np.arange(8), [0.1, 0.5], devices=4)
        np.testing.assert_array_equal(again.records[name], sharded.records[name])
    print("sharded equals single-device")
    """
)


def test_sharded_seeds_equal_single_device_results():
    environment = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "sharded equals single-device" in completed.stdout
