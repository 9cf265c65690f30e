"""Test-wide settings: surface silent upcasts and rank broadcasts as errors, compile fast.

Warnings are turned into errors in pyproject.toml (``filterwarnings = ["error"]``).

The suite's cost is XLA compiling thousands of small programs, each run once or twice,
so the tests compile fast rather than well: XLA's backend optimisations (LLVM's level
and its expensive passes) are off, and the CPU backend uses its older fusion emitters,
together about half the compile time. The numerics at overflow can differ between
these settings and XLA's defaults (one loss gave NaN unoptimised and inf optimised),
so the tests marked ``default_xla`` (every loss at extreme inputs, the memory of
compiled programs, checked mode's bitwise equality with the unchecked loss) run apart,
in a process with XLA's defaults:
``tests/test_default_xla.py`` starts it. ``JAXLOSS_TEST_XLA=default pytest`` runs any
selection with XLA's defaults; the settings are environment variables, so that the
command-line tests' subprocesses inherit them.

Hypothesis draws 4 examples per property test by default (each distinct draw compiles
again, so the examples are the cost); ``pytest --hypothesis-profile=thorough`` draws
12, as the slow tier's thoroughness for the property tests. Draws are derandomized, so
a run repeats exactly.
"""

import os

FAST = os.environ.get("JAXLOSS_TEST_XLA", "fast") == "fast"
if FAST:
    os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
    _flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" not in _flags:
        os.environ["XLA_FLAGS"] = f"{_flags} --xla_cpu_use_fusion_emitters=false".strip()

import jax  # noqa: E402  (after the environment variables it reads)
from hypothesis import settings  # noqa: E402

settings.register_profile("jaxloss", max_examples=4, deadline=None, derandomize=True, database=None)
settings.register_profile("thorough", parent=settings.get_profile("jaxloss"), max_examples=12)
settings.load_profile("jaxloss")

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_collection_modifyitems(config, items):
    """Under the fast settings, the ``default_xla`` tests are left to their own process."""
    if not FAST:
        return
    apart = [item for item in items if item.get_closest_marker("default_xla")]
    if apart:
        config.hook.pytest_deselected(items=apart)
        items[:] = [item for item in items if not item.get_closest_marker("default_xla")]
