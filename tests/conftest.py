"""Test-wide settings: surface silent upcasts and rank broadcasts as errors, compile fast.

Warnings are turned into errors in pyproject.toml (``filterwarnings = ["error"]``).

The suite's cost is XLA compiling thousands of small programs, each run once or twice,
so XLA's backend optimisations (LLVM's optimisation level and its expensive passes) are
off: about a quarter less CPU time. XLA's HLO passes (fusion, algebraic simplification)
still run, so the numerics tested are the ones users get. Tests that measure compiled
programs (``test_memory``) turn them back on with the ``optimized_compilation``
fixture. ``JAX_DISABLE_MOST_OPTIMIZATIONS=0 pytest`` runs the whole suite optimised;
the setting is an environment variable so that the command-line tests' subprocesses
inherit it.
"""

import os

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax  # after the environment variable it reads
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def optimized_compilation():
    """XLA's full optimisation for the test's own compilations."""
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)
