"""Textbook formulas: regression (see tests/formulas/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FORMULAS: dict[str, Callable[..., Any]] = {}


def _log_cosh(predictions, targets, *, xp):
    # Keras 3's keras.losses.log_cosh: x + softplus(-2 x) - log 2 with x = p - t
    # (keras/src/losses/losses.py), softplus written as logaddexp(0, .).
    x = predictions - targets
    return x + xp.logaddexp(0.0, -2.0 * x) - xp.log(2.0)


def _mean_absolute_percentage_error(predictions, targets, *, xp, epsilon=1e-7):
    # Keras 3's keras.losses.mean_absolute_percentage_error before its mean over the
    # last axis: 100 * abs((y_true - y_pred) / maximum(abs(y_true), epsilon)).
    return 100.0 * xp.abs((targets - predictions) / xp.maximum(xp.abs(targets), epsilon))


def _mean_squared_logarithmic_error(predictions, targets, *, xp, epsilon=1e-7):
    # Keras 3's keras.losses.mean_squared_logarithmic_error before its mean over the
    # last axis: square(log(maximum(y_pred, eps) + 1) - log(maximum(y_true, eps) + 1)).
    first_log = xp.log(xp.maximum(predictions, epsilon) + 1.0)
    second_log = xp.log(xp.maximum(targets, epsilon) + 1.0)
    return (first_log - second_log) ** 2


def _cosine_similarity(predictions, targets, *, xp, epsilon=0.0):
    # optax.cosine_similarity (optax/losses/_regression.py): each vector over the
    # square root of its squared norm clipped below at epsilon, then the dot product.
    a_norm = xp.sqrt(xp.maximum(xp.sum(predictions**2, axis=-1, keepdims=True), epsilon))
    b_norm = xp.sqrt(xp.maximum(xp.sum(targets**2, axis=-1, keepdims=True), epsilon))
    return xp.sum((predictions / a_norm) * (targets / b_norm), axis=-1)


def _cosine_distance(predictions, targets, *, xp, epsilon=0.0):
    # optax.cosine_distance: 1 - cosine_similarity.
    return 1.0 - _cosine_similarity(predictions, targets, xp=xp, epsilon=epsilon)


FORMULAS["log_cosh"] = _log_cosh
FORMULAS["mean_absolute_percentage_error"] = _mean_absolute_percentage_error
FORMULAS["mean_squared_logarithmic_error"] = _mean_squared_logarithmic_error
FORMULAS["cosine_similarity"] = _cosine_similarity
FORMULAS["cosine_distance"] = _cosine_distance


def _poisson_nll(log_rates, targets, *, xp):
    # torch.poisson_nll_loss with log_input=True, full=False (aten Loss.cpp):
    # exp(input) - target * input.
    return xp.exp(log_rates) - targets * log_rates


def _poisson_nll_with_rates(rates, targets, *, xp, eps=1e-8):
    # torch.poisson_nll_loss with log_input=False: input - target * log(input + eps).
    return rates - targets * xp.log(rates + eps)


def _gaussian_nll(mean, targets, variance, *, xp, eps=1e-6):
    # torch.nn.functional.gaussian_nll_loss (full=False): var clamped at eps in place
    # under no_grad, so the derivative passes the clamp; then
    # 0.5 * (log(var) + (input - target)**2 / var).
    from tests.reference import _held_constant

    clamped = variance + _held_constant(xp.maximum(variance, eps) - variance, xp)
    return 0.5 * (xp.log(clamped) + (mean - targets) ** 2 / clamped)


FORMULAS["poisson_nll"] = _poisson_nll
FORMULAS["poisson_nll_with_rates"] = _poisson_nll_with_rates
FORMULAS["gaussian_nll"] = _gaussian_nll
