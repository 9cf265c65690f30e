r"""torch adapters of the divergences and likelihoods.

* ``kl_div``, ``KLDivLoss``: :func:`jaxloss.kl_divergence` (or
  :func:`jaxloss.kl_divergence_with_log_targets` with ``log_target=True``), elementwise
* ``poisson_nll_loss``, ``PoissonNLLLoss``: :func:`jaxloss.poisson_nll` (or
  :func:`jaxloss.poisson_nll_with_rates` with ``log_input=False``), plus Stirling's
  term with ``full=True``
* ``gaussian_nll_loss``, ``GaussianNLLLoss``: :func:`jaxloss.gaussian_nll` after
  torch's ``var`` broadcasting rules, plus :math:`\frac12\log 2\pi` with ``full=True``

The translations of ``jaxloss.torch_compat`` apply (legacy ``size_average`` and
``reduce``, errors naming torch's arguments, a ``"mean"`` over nothing is 0 where torch
gives NaN, targets of another shape raise ``ValueError`` where torch broadcasts).

torch's ``kl_div`` is elementwise: ``target * (log(target) - input)`` per element, no
sum over classes, where the native KL divergences (optax's) sum over the class axis.
The adapter calls the native per-example definition with a class axis of length 1
(``input[..., None]``), so that every element is its own example: ``"none"`` gives
torch's elementwise array, ``"sum"`` the total, ``"mean"`` the mean over all elements,
and ``"batchmean"`` the total over ``input.shape[0]``. No second implementation, and
the closed-form derivatives are the native ones.

Where these differ from torch on purpose: a zero target adds exactly 0 to the KL
divergence and to the Poisson likelihood's count term, also against a ``-inf``
log-prediction or log-rate (torch: ``0 * inf = NaN``); ``"batchmean"`` of an empty
batch is 0, and so is a ``"mean"`` over no elements (torch: NaN); a concrete negative
``eps`` raises ``ValueError`` (torch accepts it).
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss import gaussian_nll as _native_gaussian_nll
from jaxloss import kl_divergence as _native_kl_divergence
from jaxloss import kl_divergence_with_log_targets as _native_kl_divergence_with_log_targets
from jaxloss import poisson_nll as _native_poisson_nll
from jaxloss import poisson_nll_with_rates as _native_poisson_nll_with_rates
from jaxloss._checks import Parameter, Reduction
from jaxloss._reduction import safe_divide
from jaxloss._regression import check_not_negative
from jaxloss.torch_compat._basic import (
    _as_array,
    _check_elementwise,
    _Loss,
    _torch_reduction,
)

__all__ = [
    "GaussianNLLLoss",
    "KLDivLoss",
    "PoissonNLLLoss",
    "gaussian_nll_loss",
    "kl_div",
    "poisson_nll_loss",
]

# torch.nn.functional.kl_div's warning for reduction="mean", word for word (its three
# sentences are joined without spaces in torch's source), and its category.
_KL_DIV_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)
_EPS = Parameter("eps", low=0.0)


# --------------------------------------------------------------------------------------
# kl_div


def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> jax.Array:
    r"""``torch.nn.functional.kl_div``: the elementwise KL divergence, over the native one.

    ``input`` holds log-probabilities; ``target`` probabilities, or log-probabilities
    with ``log_target=True``. Elementwise, as in torch:

    .. math:: \ell = t(\log t - x) \quad\text{or, with log\_target,}\quad e^{t}(t - x)

    with no sum over classes; ``"batchmean"`` (the divergence per example, the
    mathematically meaningful one) divides the total by ``input.shape[0]``, ``"mean"``
    by the number of elements and warns, as torch does, with torch's ``UserWarning``.
    As in torch, legacy ``size_average``/``reduce`` replace ``reduction`` (with their
    warning, and without the ``"mean"`` one), and a ``reduction="batchmean"`` given
    beside them still divides their result by the batch size.

    Each element goes through :func:`jaxloss.kl_divergence` (or
    :func:`jaxloss.kl_divergence_with_log_targets`) as an example with one class, so
    value and gradient are the native closed forms: the gradient in ``input`` is
    :math:`-t` (:math:`-e^t`). A zero target (a ``-inf`` log-target) gives exactly 0,
    value and gradient, whatever ``input`` is (torch: NaN against a ``-inf`` input),
    and ``"batchmean"`` over an empty batch is 0 (torch: NaN). Shape errors name
    ``input`` and ``target``; torch broadcasts targets of another shape, this raises
    ``ValueError``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> log_p = jnp.log(jnp.array([[0.5, 0.5], [0.9, 0.1]]))
      >>> torch_compat.kl_div(log_p, jnp.array([[0.25, 0.75], [1.0, 0.0]]),
      ...                     reduction="batchmean")
      Array(0.118..., dtype=float32)
    """
    if size_average is not None or reduce is not None:
        native: Reduction = _torch_reduction(size_average, reduce, "mean")
    elif reduction == "batchmean":
        native = "sum"
    else:
        if reduction == "mean":
            warnings.warn(_KL_DIV_MEAN_WARNING, UserWarning, stacklevel=2)
        native = _torch_reduction(None, None, reduction)
    _check_elementwise(input, target)
    divergence = _native_kl_divergence_with_log_targets if log_target else _native_kl_divergence
    # A class axis of length 1: each element is one example, torch's elementwise loss.
    loss = divergence(
        jnp.expand_dims(jnp.asarray(input), -1),
        jnp.expand_dims(jnp.asarray(target), -1),
        reduction=native,
    )
    if reduction == "batchmean" and jnp.ndim(input) != 0:
        loss = safe_divide(loss, jnp.asarray(jnp.shape(input)[0], loss.dtype))
    return loss


class KLDivLoss(_Loss):
    """``torch.nn.KLDivLoss``; calls :func:`kl_div`.

    Legacy ``size_average``/``reduce`` are resolved (with torch's warning) when the
    loss is built; ``reduction="mean"`` warns when it is called, as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.KLDivLoss(reduction="batchmean", log_target=True)
      >>> loss(jnp.log(jnp.array([[0.5, 0.5]])), jnp.log(jnp.array([[0.25, 0.75]])))
      Array(0.130..., dtype=float32)
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


# --------------------------------------------------------------------------------------
# poisson_nll_loss


def _stirling(target: jax.Array) -> jax.Array:
    """torch's ``full`` term: ``t log t - t + log(2 pi t) / 2`` where ``t > 1``, else 0."""
    above_one = target > 1
    # 2 stands in below the threshold, so the untaken branch (log 0 at t = 0) cannot
    # turn the gradient into 0 * inf = NaN.
    safe = jnp.where(above_one, target, 2)
    term = safe * jnp.log(safe) - safe + 0.5 * jnp.log(2 * math.pi * safe)
    return jnp.where(above_one, term, 0)


def poisson_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    log_input: bool = True,
    full: bool = False,
    size_average: bool | None = None,
    eps: float = 1e-8,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.poisson_nll_loss`` over the native Poisson likelihoods.

    ``log_input=True`` (torch's default): :func:`jaxloss.poisson_nll`,
    :math:`e^x - t x`. ``log_input=False``: :func:`jaxloss.poisson_nll_with_rates`,
    :math:`x - t \log(x + \epsilon)`. ``full=True`` adds Stirling's approximation of
    :math:`\log t!`, :math:`t \log t - t + \frac12 \log(2\pi t)`, where :math:`t > 1`
    (0 elsewhere), as torch does; it depends on the target alone, so the gradient in
    ``input`` is the native closed form either way.

    As in torch, ``reduction="elementwise_mean"`` is refused (``poisson_nll_loss``
    checks its reduction before torch's translation). A zero count contributes no
    count term, also at ``input = -inf`` with ``log_input`` (torch: NaN). A concrete
    negative ``eps`` raises ``ValueError`` (torch accepts it); with ``log_input`` it is
    unused, as in torch.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> torch_compat.poisson_nll_loss(jnp.log(jnp.array([2.0, 0.5])),
      ...                               jnp.array([3.0, 0.0]), full=True)
      Array(1.092..., dtype=float32)
    """
    native = _torch_reduction(size_average, reduce, reduction, python_weighted_path=True)
    _check_elementwise(input, target)
    if log_input:
        loss = _native_poisson_nll(input, target, reduction=native)
    else:
        _EPS.check_concrete(eps)
        loss = _native_poisson_nll_with_rates(input, target, eps=eps, reduction=native)
    if not full:
        return loss
    stirling = _stirling(jnp.asarray(target).astype(loss.dtype))
    if native == "none":
        return loss + stirling
    total = jnp.sum(stirling)
    if native == "sum":
        return loss + total
    return loss + safe_divide(total, jnp.asarray(stirling.size, total.dtype))


class PoissonNLLLoss(_Loss):
    """``torch.nn.PoissonNLLLoss``; calls :func:`poisson_nll_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.PoissonNLLLoss(log_input=False, reduction="sum")
      >>> loss(jnp.array([2.0, 0.5]), jnp.array([3.0, 0.0]))
      Array(0.420..., dtype=float32)
    """

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        size_average: bool | None = None,
        eps: float = 1e-8,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input = log_input
        self.full = full
        self.eps = eps

    def __call__(self, log_input: ArrayLike, target: ArrayLike) -> jax.Array:
        return poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
        )


# --------------------------------------------------------------------------------------
# gaussian_nll_loss

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def _torch_variance(var: ArrayLike | float, input: jax.Array) -> jax.Array:
    """torch's ``var`` checks and broadcasting, in torch's order, as an array of ``input``'s shape.

    A Python number fills ``input``'s shape. An array may have ``input``'s shape, that
    shape without its last dimension (one variance per row), or ``input``'s rank with
    the sizes differing in one dimension where ``var`` has 1 (torch's test: the sizes of
    ``var`` at the mismatched dimensions sum to 1).
    """
    if isinstance(var, int | float) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return jnp.full(input.shape, var, input.dtype)
    var_array = _as_array("var", var)
    _checks.check_numeric("var", var_array)
    check_not_negative("var", var_array, "var has negative entry/entries")
    if var_array.shape != input.shape:
        if var_array.shape == input.shape[:-1]:
            var_array = jnp.expand_dims(var_array, -1)
        elif var_array.ndim != input.ndim or (
            sum(v for i, v in zip(input.shape, var_array.shape, strict=True) if i != v) != 1
        ):
            raise ValueError(
                f"var is of incorrect size: var.shape={var_array.shape} for "
                f"input.shape={input.shape} (torch accepts input's shape, input's shape "
                "without its last dimension, or one dimension of size 1)"
            )
    # Broadcast here, where torch broadcasts: the native loss takes a variance per element.
    return jnp.broadcast_to(var_array, input.shape)


def gaussian_nll_loss(
    input: ArrayLike,
    target: ArrayLike,
    var: ArrayLike | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> jax.Array:
    r"""``torch.nn.functional.gaussian_nll_loss`` over :func:`jaxloss.gaussian_nll`.

    .. math:: \ell = \tfrac12\Big(\log v + \frac{(x - t)^2}{v}\Big)
              \;[+\,\tfrac12\log 2\pi \text{ with full}],\quad v = \max(\mathrm{var}, \epsilon)

    torch's checks, in torch's order and with its messages: a negative ``var`` (a
    number, or a concrete array) raises ``ValueError("var has negative
    entry/entries")``; ``var`` must have ``input``'s shape, that shape without its last
    dimension, or ``input``'s rank with one dimension of size 1 where ``input``'s
    differs (``ValueError`` starting "var is of incorrect size"); an unknown
    ``reduction`` raises ``ValueError``. ``var`` is then broadcast to ``input``'s shape
    and the native loss runs, so the gradient in ``var`` is summed over the broadcast
    dimensions, as torch's is, and passes the clamp at ``eps`` as torch's does.

    Differences: ``target`` must have ``input``'s shape (torch broadcasts it), a
    ``"mean"`` over no elements is 0 (torch: NaN), and a concrete negative ``eps``
    raises ``ValueError`` (torch accepts it).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> mean = jnp.array([[1.0, 0.0], [0.5, 2.0]])
      >>> torch_compat.gaussian_nll_loss(mean, jnp.zeros((2, 2)), jnp.array([2.0, 1.0]))
      Array(0.767..., dtype=float32)
    """
    input_array = _as_array("input", input)
    _checks.check_floating("input", input_array)
    variance = _torch_variance(var, input_array)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    native: Reduction = _torch_reduction(None, None, reduction, python_weighted_path=True)
    _check_elementwise(input_array, target)
    _EPS.check_concrete(eps)
    loss = _native_gaussian_nll(input_array, target, variance, eps=eps, reduction=native)
    if not full:
        return loss
    if native == "sum":
        return loss + _HALF_LOG_TWO_PI * input_array.size
    if native == "mean" and input_array.size == 0:
        return loss
    return loss + _HALF_LOG_TWO_PI


class GaussianNLLLoss(_Loss):
    """``torch.nn.GaussianNLLLoss(*, full, eps, reduction)``; calls :func:`gaussian_nll_loss`.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.GaussianNLLLoss(full=True, reduction="sum")
      >>> loss(jnp.array([1.0, 0.0]), jnp.zeros(2), 2.0)
      Array(2.781..., dtype=float32)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction=reduction)
        self.full = full
        self.eps = eps

    def __call__(self, input: ArrayLike, target: ArrayLike, var: ArrayLike | float) -> jax.Array:
        return gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction
        )
