"""Textbook formulas: divergences (see tests/formulas/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def _kl_divergence(log_predictions, targets, *, xp):
    # optax.kl_divergence (optax/losses/_classification.py): Kullback & Leibler (1951),
    # sum_c t_c (log t_c - q_c) with log 0 read as 0.
    log_targets = xp.where(targets == 0, 0.0, xp.log(xp.where(targets == 0, 1.0, targets)))
    return xp.sum(targets * (log_targets - log_predictions), axis=-1)


def _kl_divergence_with_log_targets(log_predictions, log_targets, *, xp):
    # optax.kl_divergence_with_log_targets: sum_c exp(r_c) (r_c - q_c).
    return xp.sum(xp.exp(log_targets) * (log_targets - log_predictions), axis=-1)


def _generalized_kl_divergence(log_predictions, targets, *, xp):
    # optax.generalized_kl_divergence: the Bregman divergence of x log x - x (Boyd &
    # Vandenberghe, Convex Optimization, p. 90): KL + sum_c (exp(q_c) - t_c).
    return _kl_divergence(log_predictions, targets, xp=xp) + xp.sum(
        xp.exp(log_predictions) - targets, axis=-1
    )


FORMULAS["kl_divergence"] = _kl_divergence
FORMULAS["kl_divergence_with_log_targets"] = _kl_divergence_with_log_targets
FORMULAS["generalized_kl_divergence"] = _generalized_kl_divergence
