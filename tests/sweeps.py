"""Helpers shared by the parity tests: option sweeps in two tiers, and one-pass gradients."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import pytest

# The sweeps' tiers: a covering subset by default, the full product in the slow tier.
TIERS = [
    pytest.param(False, id="covering"),
    pytest.param(True, id="full", marks=pytest.mark.slow),
]


def sweep(full, *axes):
    """The product of ``axes`` (``full``), or a covering subset of it in which every
    value of every axis appears at least once."""
    if full:
        return list(itertools.product(*axes))
    return [tuple(axis[i % len(axis)] for axis in axes) for i in range(max(map(len, axes)))]


def traceable_value_and_gradients(loss, *arrays):
    """The value and the gradients of its sum in every input, in one pass."""

    def summed(*args):
        value = loss(*args)
        return jnp.sum(value), value

    (_, value), gradients = jax.value_and_grad(
        summed, argnums=tuple(range(len(arrays))), has_aux=True
    )(*arrays)
    return value, gradients
