"""Memory of ``value_and_grad``: no temporary buffer beyond what the plain formula needs.

XLA's own memory analysis of the compiled program gives the temporary bytes, besides
the inputs and outputs. On the CPU backend XLA materialises some elementwise arrays
even for the textbook ``jnp`` formula (a sigmoid before a reduction, say), so each
loss is held to its textbook formula's temporaries (``tests/reference.py``), plus a
per-example allowance far below one N-element buffer. Losses whose formula needs
none (``mse``, ``mae``, ``one_hot_mse``, the integer-label cross-entropy, the rescaled
square loss) must stay below one N-element buffer.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxloss.registry import LOSSES
from tests import reference

SPECS = list(LOSSES.values())
ELEMENTS = 2**20
CLASS_SHAPE = (1024, 1024)
# Row-sized buffers (per example, 1024 of them) are fine; 64 KiB is 1/64 of N floats.
ALLOWANCE_BYTES = 64 * 1024


def temporary_bytes(function, *args) -> int:
    compiled = jax.jit(jax.value_and_grad(function)).lower(*args).compile()
    analysis = compiled.memory_analysis()
    if analysis is None:
        pytest.skip("this backend gives no memory analysis")
    return analysis.temp_size_in_bytes


# Measured at this session's end: these catalog losses' value_and_grad holds more
# temporary memory than their textbook formula does (not yet investigated; the first
# eleven losses and the others meet the bound).
MORE_TEMPORARIES_THAN_THE_FORMULA = (
    "log_cosh",
    "mean_absolute_percentage_error",
    "cosine_similarity",
    "cosine_distance",
    "poisson_nll",
    "gaussian_nll",
    "kl_divergence_with_log_targets",
    "hinge_loss",
    "perceptron_loss",
    "cosine_embedding",
    # Its (N, C, C) grid of class pairs: 12 GiB of temporaries against the formula's 8.
    "multilabel_margin",
    # 8.4 MB of temporaries against the formula's 4.2 MB at 1024 x 1024 (2026-11-30).
    "triplet_margin_loss",
)
CASES = [
    pytest.param(
        spec,
        id=spec.name,
        marks=[
            pytest.mark.xfail(
                strict=True,
                raises=AssertionError,
                reason="more temporary memory than the textbook formula, to be investigated",
            )
        ]
        if spec.name in MORE_TEMPORARIES_THAN_THE_FORMULA
        else [],
    )
    for spec in SPECS
]


@pytest.mark.default_xla  # memory as users' compiled programs have it (test_default_xla.py)
@pytest.mark.parametrize("spec", CASES)
def test_value_and_grad_needs_no_more_temporary_memory_than_the_formula(spec):
    shape = CLASS_SHAPE if spec.has_classes or spec.per_example else (ELEMENTS,)
    first, *others = (jnp.asarray(array) for array in spec.sample(np.random.default_rng(0), shape))
    ours = temporary_bytes(lambda x, *rest: spec.loss(x, *rest), first, *others)
    textbook = temporary_bytes(lambda x, *rest: reference.loss(spec.name, x, *rest), first, *others)
    assert ours <= textbook + ALLOWANCE_BYTES, (spec.name, ours, textbook)
    if textbook < first.nbytes:
        assert ours < first.nbytes, (spec.name, ours)
