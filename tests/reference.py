"""Textbook formulas of every loss, written independently of jaxloss for comparison.

Each reference is the plain formula in jnp, differentiated by ``jax.grad``; the
generic tests compare jaxloss's values, its custom derivative rules and its closed
forms in ``jaxloss.gradients`` against these. Inputs are kept where the plain
formulas are accurate (probabilities away from 0 and 1, moderate logits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _sigmoid(z):
    return 1 / (1 + jnp.exp(-z))


def _smoothed(targets, smoothing):
    return (1 - smoothing) * targets + smoothing / targets.shape[-1]


def _one_hot(labels, num_classes, dtype):
    classes = jnp.arange(num_classes, dtype=labels.dtype).reshape((1,) * labels.ndim + (-1,))
    return (labels[..., None] == classes).astype(dtype)


def unreduced(name: str, first, second, **options):
    """The unreduced loss: per element, or per example for the cross-entropies."""
    if name == "mse":
        return (first - second) ** 2
    if name == "sigmoid_mse":
        return (_sigmoid(first) - second) ** 2
    if name == "mae":
        return jnp.abs(first - second)
    if name == "huber":
        delta = options.get("delta", 1.0)
        d = first - second
        return jnp.where(jnp.abs(d) < delta, 0.5 * d**2, delta * (jnp.abs(d) - 0.5 * delta))
    if name == "smooth_l1":
        beta = options.get("beta", 1.0)
        d = first - second
        return jnp.where(jnp.abs(d) < beta, 0.5 * d**2 / beta, jnp.abs(d) - 0.5 * beta)
    if name == "binary_cross_entropy":
        return -(second * jnp.log(first) + (1 - second) * jnp.log(1 - first))
    if name == "sigmoid_binary_cross_entropy":
        pos_weight = options.get("pos_weight", 1.0)
        p = _sigmoid(first)
        return -(pos_weight * second * jnp.log(p) + (1 - second) * jnp.log(1 - p))
    if name in ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"):
        targets = second
        if name.endswith("integer_labels"):
            targets = _one_hot(second, first.shape[-1], first.dtype)
        targets = _smoothed(targets, options.get("label_smoothing", 0.0))
        log_softmax = first - jnp.log(jnp.sum(jnp.exp(first), axis=-1, keepdims=True))
        return -jnp.sum(targets * log_softmax, axis=-1)
    if name == "one_hot_mse":
        return (first - _one_hot(second, first.shape[-1], first.dtype)) ** 2
    if name == "rescaled_square_loss":
        k, m = options.get("k", 1.0), options.get("m", 1.0)
        num_classes = first.shape[-1]
        true_logit = jnp.take_along_axis(first, second[..., None], axis=-1)[..., 0]
        others = jnp.sum(first**2, axis=-1) - true_logit**2
        return (k * (true_logit - m) ** 2 + others) / num_classes
    raise KeyError(name)


def reduce(loss, reduction, weights=None, where=None):
    """The documented rule, written out: ``sum(w m l)`` and ``sum(w m l) / sum(w m)``."""
    w = jnp.ones_like(loss) if weights is None else jnp.broadcast_to(weights, loss.shape)
    m = jnp.ones(loss.shape, bool) if where is None else jnp.broadcast_to(where, loss.shape)
    contribution = jnp.where(m, w * loss, 0)
    if reduction == "none":
        return contribution
    if reduction == "sum":
        return jnp.sum(contribution)
    denominator = jnp.sum(jnp.where(m, w, 0))
    return jnp.where(denominator == 0, 0, jnp.sum(contribution) / denominator)


def loss(name, first, second, *, reduction="mean", weights=None, where=None, **options):
    return reduce(unreduced(name, first, second, **options), reduction, weights, where)


def gradient(name, first, second, **kwargs):
    """``jax.grad`` of the summed reference loss with respect to ``first``."""
    return jax.grad(lambda x: jnp.sum(loss(name, x, second, **kwargs)))(first)
