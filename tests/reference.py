r"""The one table of textbook formulas, written independently of jaxloss for comparison.

Each formula is written once against an array namespace ``xp``: ``jax.numpy`` (the
default), where the registry tests differentiate it with ``jax.grad`` and compare
jaxloss's values, custom derivative rules and closed forms (``jaxloss.gradients``,
``jaxloss.hessians``) with it; or ``numpy``, where ``tests/test_precision.py``
evaluates it in float64 as the exact answer for half-precision inputs. So the formulas
use the numerically stable textbook forms, accurate in float64 for any finite input
and smooth where the tests differentiate them:

* ``log sigmoid(z) = -logaddexp(0, -z)``, never ``log(1 / (1 + exp(-z)))`` (which
  loses all relative accuracy above z = 37, where ``1 + exp(-z)`` rounds to 1, and
  gives ``log(0)`` below -709), and ``log(1 - sigmoid(z)) = log sigmoid(-z)``; the
  sigmoid itself as ``1 / (1 + exp(-z))``, which has no cancellation (``exp(-z)``
  only overflows, to the right answer 0, below -709);
* ``log softmax(z) = z - (max z + log sum exp(z - max z))``: the shift cancels, so it
  changes neither the value nor any derivative, and no ``exp`` overflows. Under
  ``jax.grad`` the maximum is held constant (as ``jax.nn.logsumexp`` holds it): its
  derivative would only add terms that cancel, and an ``[N, C]`` argmax mask to the
  program, which ``tests/test_memory.py`` would count as the textbook formula's cost;
* the binary cross-entropy's logs clamped at -100, as torch does.

Where each formula comes from (the unreduced loss; ``reduce`` below is the documented
``weights``/``where``/reduction rule):

* ``mse``: torch ``nn.MSELoss``, :math:`(x - y)^2`.
* ``mae``: torch ``nn.L1Loss``, :math:`|x - y|`.
* ``huber``: torch ``nn.HuberLoss``, :math:`\frac12 d^2` if :math:`|d| < \delta`, else
  :math:`\delta(|d| - \frac12\delta)`, with :math:`d = x - y`.
* ``smooth_l1``: torch ``nn.SmoothL1Loss``, :math:`\frac12 d^2/\beta` if
  :math:`|d| < \beta`, else :math:`|d| - \frac12\beta`.
* ``sigmoid_mse``: torch ``nn.MSELoss`` of ``torch.sigmoid(z)``, :math:`(\sigma(z) - y)^2`.
* ``binary_cross_entropy``: torch ``nn.BCELoss``, :math:`-[y \log x + (1 - y)\log(1 - x)]`,
  where "BCELoss clamps its log function outputs to be greater than or equal to -100".
* ``sigmoid_binary_cross_entropy``: torch ``nn.BCEWithLogitsLoss``,
  :math:`-[p\,y \log\sigma(z) + (1 - y)\log(1 - \sigma(z))]` with ``pos_weight``
  :math:`p`; optax's ``sigmoid_binary_cross_entropy`` writes the two logs as
  ``log_sigmoid(z)`` and ``log_sigmoid(-z)``.
* ``softmax_cross_entropy``: optax ``softmax_cross_entropy``,
  :math:`-\sum_c t_c \log\operatorname{softmax}(z)_c` (torch ``nn.CrossEntropyLoss``
  with class probabilities).
* ``softmax_cross_entropy_with_integer_labels``: the same with
  :math:`t = \operatorname{onehot}(y)` (optax
  ``softmax_cross_entropy_with_integer_labels``; torch ``nn.CrossEntropyLoss`` with
  class indices).
* label smoothing :math:`a`: :math:`t \to (1 - a)\,t + a/C`, torch
  ``nn.CrossEntropyLoss(label_smoothing=a)``, after Szegedy et al., "Rethinking the
  Inception Architecture for Computer Vision" (CVPR 2016), section 7.
* ``one_hot_mse``: torch ``nn.MSELoss`` against ``F.one_hot(y, C)``, per element.
* ``rescaled_square_loss``: Hui & Belkin, "Evaluation of Neural Architectures Trained
  with Square Loss vs Cross-Entropy in Classification Tasks" (ICLR 2021):
  :math:`\frac1C[k(z_y - M)^2 + \sum_{c \ne y} z_c^2]`.

Inputs are kept where the formulas are accurate and smooth (probabilities away from 0
and 1, moderate logits, no ties for the row maximum).
"""

from __future__ import annotations

from types import ModuleType

import jax
import jax.numpy as jnp


def _log_sigmoid(z, xp: ModuleType):
    # log(1 / (1 + exp(-z))) without rounding 1 + exp(-z) to exp(-z) or to 1.
    return -xp.logaddexp(0.0, -z)


def _sigmoid(z, xp: ModuleType):
    return 1 / (1 + xp.exp(-z))


def _held_constant(x, xp: ModuleType):
    """``x`` itself, held constant under ``jax.grad`` when ``xp`` is ``jax.numpy``."""
    return jax.lax.stop_gradient(x) if xp is jnp else x


def _log_softmax(z, xp: ModuleType):
    # The row maximum cancels in the result; subtracting it keeps every exp(.) <= 1.
    # z - logsumexp(z) reads z itself: XLA then stores no shifted [N, C] copy of it.
    maximum = _held_constant(xp.max(z, axis=-1, keepdims=True), xp)
    log_sum_exp = maximum + xp.log(xp.sum(xp.exp(z - maximum), axis=-1, keepdims=True))
    return z - log_sum_exp


def _smoothed(targets, smoothing):
    return (1 - smoothing) * targets + smoothing / targets.shape[-1]


def _one_hot(labels, num_classes, dtype, xp: ModuleType):
    classes = xp.arange(num_classes, dtype=labels.dtype).reshape((1,) * labels.ndim + (-1,))
    return (labels[..., None] == classes).astype(dtype)


def unreduced(name: str, first, second, *more, xp: ModuleType = jnp, **options):
    """The unreduced loss: per element, or per example for the cross-entropies.

    ``more`` are the inputs after the second, for losses of three or more inputs.

    ``xp`` is the array namespace the formula is evaluated in (``jax.numpy`` or
    ``numpy``); ``options`` are the loss's hyper-parameters, defaulting as jaxloss's do.
    """
    if name == "mse":
        return (first - second) ** 2
    if name == "mae":
        return xp.abs(first - second)
    if name == "huber":
        delta = options.get("delta", 1.0)
        d = first - second
        return xp.where(xp.abs(d) < delta, 0.5 * d**2, delta * (xp.abs(d) - 0.5 * delta))
    if name == "smooth_l1":
        beta = options.get("beta", 1.0)
        d = first - second
        return xp.where(xp.abs(d) < beta, 0.5 * d**2 / beta, xp.abs(d) - 0.5 * beta)
    if name == "sigmoid_mse":
        return (_sigmoid(first, xp) - second) ** 2
    if name == "binary_cross_entropy":
        # torch's clamp of each log at -100.
        log_p = xp.maximum(xp.log(first), -100.0)
        log_not_p = xp.maximum(xp.log1p(-first), -100.0)
        return -(second * log_p + (1 - second) * log_not_p)
    if name == "sigmoid_binary_cross_entropy":
        pos_weight = options.get("pos_weight", 1.0)
        log_p, log_not_p = _log_sigmoid(first, xp), _log_sigmoid(-first, xp)
        return -(pos_weight * second * log_p + (1 - second) * log_not_p)
    if name in ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"):
        targets = second
        if name.endswith("integer_labels"):
            targets = _one_hot(second, first.shape[-1], first.dtype, xp)
        targets = _smoothed(targets, options.get("label_smoothing", 0.0))
        return -xp.sum(targets * _log_softmax(first, xp), axis=-1)
    if name == "one_hot_mse":
        return (first - _one_hot(second, first.shape[-1], first.dtype, xp)) ** 2
    if name == "rescaled_square_loss":
        k, m = options.get("k", 1.0), options.get("m", 1.0)
        num_classes = first.shape[-1]
        true_logit = xp.take_along_axis(first, second[..., None], axis=-1)[..., 0]
        # The sum over c != y as the whole sum less z_y^2: no [N, C] mask, and in float64
        # the cancellation is far below the tests' tolerances at their moderate logits.
        others = xp.sum(first**2, axis=-1) - true_logit**2
        return (k * (true_logit - m) ** 2 + others) / num_classes
    from tests.formulas import FORMULAS  # the later families' formulas, one module each

    return FORMULAS[name](first, second, *more, xp=xp, **options)


def reduce(loss, reduction, weights=None, where=None, *, xp: ModuleType = jnp):
    """The documented rule, written out: ``sum(w m l)`` and ``sum(w m l) / sum(w m)``."""
    w = xp.ones_like(loss) if weights is None else xp.broadcast_to(weights, loss.shape)
    m = xp.ones(loss.shape, dtype=bool) if where is None else xp.broadcast_to(where, loss.shape)
    contribution = xp.where(m, w * loss, 0)
    if reduction == "none":
        return contribution
    if reduction == "sum":
        return xp.sum(contribution)
    denominator = xp.sum(xp.where(m, w, 0))
    # Nothing selected gives 0; dividing by 1 there keeps NumPy from warning of 0 / 0.
    mean = xp.sum(contribution) / xp.where(denominator == 0, 1, denominator)
    return xp.where(denominator == 0, 0, mean)


def loss(name, first, second, *more, reduction="mean", weights=None, where=None, xp=jnp, **options):
    """The reduced textbook loss, in the namespace ``xp``."""
    return reduce(
        unreduced(name, first, second, *more, xp=xp, **options), reduction, weights, where, xp=xp
    )


def gradient(name, first, second, *more, **kwargs):
    """``jax.grad`` of the summed reference loss with respect to ``first``."""
    return jax.grad(lambda x: jnp.sum(loss(name, x, second, *more, **kwargs)))(first)
