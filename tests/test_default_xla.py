"""The tests marked ``default_xla``, in a process with XLA's default settings.

The suite compiles fast (``tests/conftest.py``: backend optimisations off, the older
fusion emitters), and where an overflow becomes NaN can depend on those settings. The
tests of every loss at extreme inputs and of compiled programs' memory must see what
users' programs do, so this test runs them in a process of their own, compiled with
XLA's defaults, and fails with their report if any fails.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_apart(selection: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("XLA_FLAGS", "JAX_DISABLE_MOST_OPTIMIZATIONS")
    }
    env["JAXLOSS_TEST_XLA"] = "default"
    command = [sys.executable, "-m", "pytest", "tests", "-m", selection]
    command += ["-n", "0", "-q", "-p", "no:cacheprovider", "--no-header"]
    completed = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    report = completed.stdout[-6000:] + completed.stderr[-2000:]
    assert completed.returncode == 0, report
    # The marked tests ran (exit status 5 would mean none was collected).
    assert " passed" in completed.stdout, report


def test_default_xla_tests_pass_under_xlas_default_settings():
    run_apart("default_xla and not slow")


@pytest.mark.slow
def test_slow_default_xla_tests_pass_under_xlas_default_settings():
    run_apart("default_xla and slow")
