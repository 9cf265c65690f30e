"""Test-wide settings: surface silent upcasts and rank broadcasts as errors, compile fast.

Warnings are turned into errors in pyproject.toml (``filterwarnings = ["error"]``).

The suite's cost is XLA compiling thousands of small programs, each run once or twice,
so XLA's backend optimisations (LLVM's optimisation level and its expensive passes) are
off: about a quarter less CPU time. XLA's HLO passes (fusion, algebraic simplification)
still run, but the numerics at overflow can differ between the levels (one loss gave
NaN unoptimised and inf optimised), so the tests of compiled programs' memory
(``test_memory``) and of every loss at extreme inputs (``test_extremes``) turn them back
on with the ``optimized_compilation`` fixture. ``JAX_DISABLE_MOST_OPTIMIZATIONS=0
pytest`` runs the whole suite optimised; the setting is an environment variable so that
the command-line tests' subprocesses inherit it.

Hypothesis draws 4 examples per property test by default (each distinct draw compiles
again, so the examples are the cost); ``pytest --hypothesis-profile=thorough`` draws
12, as the slow tier's thoroughness for the property tests. Draws are derandomized, so
a run repeats exactly.
"""

import os

os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")

import jax  # after the environment variable it reads
import pytest
from hypothesis import settings

settings.register_profile("jaxloss", max_examples=4, deadline=None, derandomize=True, database=None)
settings.register_profile("thorough", parent=settings.get_profile("jaxloss"), max_examples=12)
settings.load_profile("jaxloss")

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def optimized_compilation():
    """XLA's full optimisation for the test's own compilations."""
    previous = jax.config.read("jax_disable_most_optimizations")
    jax.config.update("jax_disable_most_optimizations", False)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)
