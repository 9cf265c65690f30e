"""torch adapters: ``CTCLoss`` / ``ctc_loss`` over the native CTC recursion."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction
from jaxloss._reduction import compute_dtype, safe_divide
from jaxloss._sequence import ctc_per_sequence
from jaxloss.torch_compat._basic import _Loss, _torch_reduction

__all__ = ["CTCLoss", "ctc_loss"]


def _concrete(value: jax.Array) -> np.ndarray | None:
    """``value`` as NumPy when it is concrete; None under ``jit`` or ``vmap``."""
    try:
        return np.asarray(value)
    except jax.errors.TracerArrayConversionError:
        return None


def _checked(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array, int | None]:
    """torch's argument checks, under torch's names; the arrays, batched.

    Returns ``log_probs`` ``[T, N, C]``, ``targets`` (``[N, S]`` or 1-D concatenated),
    ``input_lengths`` and ``target_lengths`` ``[N]``, and the padded width the
    concatenated targets need (the longest target when the lengths are concrete).
    """
    log_probs_array = _checks.as_array("log_probs", log_probs)
    _checks.check_floating("log_probs", log_probs_array)
    if log_probs_array.ndim not in (2, 3):
        raise ValueError(
            f"log_probs must have shape (T, N, C) or (T, C), got {log_probs_array.shape}"
        )
    unbatched = log_probs_array.ndim == 2
    targets_array = _checks.as_array("targets", targets)
    input_array = _checks.as_array("input_lengths", input_lengths)
    target_array = _checks.as_array("target_lengths", target_lengths)
    for name, array in (
        ("targets", targets_array),
        ("input_lengths", input_array),
        ("target_lengths", target_array),
    ):
        _checks.check_integer(name, array)
    if unbatched:
        if targets_array.ndim != 1:
            raise ValueError(
                f"targets must have shape (S,) for an unbatched log_probs of shape "
                f"{log_probs_array.shape}, got {targets_array.shape}"
            )
        log_probs_array = log_probs_array[:, None, :]
        targets_array = targets_array[None, :]
        input_array = input_array.reshape(-1)
        target_array = target_array.reshape(-1)
    frames, batch, num_classes = log_probs_array.shape
    if not isinstance(blank, int | np.integer) or isinstance(blank, bool):
        raise TypeError(f"blank must be an int, got {type(blank).__name__}")
    if not 0 <= blank < num_classes:
        # torch's message: "blank must be in label range".
        raise ValueError(f"blank must be in label range [0, {num_classes}), got {blank}")
    for name, array in (("input_lengths", input_array), ("target_lengths", target_array)):
        if array.shape != (batch,):
            raise ValueError(
                f"{name} must have one length per batch entry, shape ({batch},) for "
                f"log_probs of shape {jnp.shape(log_probs)}, got {array.shape}"
            )
    if targets_array.ndim == 2:
        if targets_array.shape[0] != batch:
            raise ValueError(
                f"targets must have shape ({batch}, S) (padded) or (sum(target_lengths),) "
                f"(concatenated), got {targets_array.shape}"
            )
    elif targets_array.ndim != 1 or unbatched:
        raise ValueError(
            f"targets must have shape ({batch}, S) (padded) or (sum(target_lengths),) "
            f"(concatenated), got {targets_array.shape}"
        )
    inputs = _concrete(input_array)
    if inputs is not None and inputs.size and not (inputs.min() >= 0 and inputs.max() <= frames):
        bad = inputs[(inputs < 0) | (inputs > frames)][0]
        raise ValueError(f"input_lengths must lie in [0, {frames}] (T), got {bad}")
    lengths = _concrete(target_array)
    width = None
    if lengths is not None and lengths.size and lengths.min() < 0:
        raise ValueError(f"target_lengths must be non-negative, got {lengths.min()}")
    if targets_array.ndim == 2:
        if lengths is not None and lengths.size and lengths.max() > targets_array.shape[1]:
            raise ValueError(
                f"target_lengths must be at most targets.shape[1] = {targets_array.shape[1]}, "
                f"got {lengths.max()}"
            )
    elif lengths is not None:
        if int(lengths.sum()) != targets_array.shape[0]:
            raise ValueError(
                f"concatenated targets must have sum(target_lengths) = {int(lengths.sum())} "
                f"entries, got {targets_array.shape[0]}"
            )
        width = int(lengths.max()) if lengths.size else 0
    else:
        # Traced lengths: the longest a target can be is all of them.
        width = targets_array.shape[0]
    return log_probs_array, targets_array, input_array, target_array, width


def _padded(targets: jax.Array, target_lengths: jax.Array, width: int) -> jax.Array:
    """Concatenated targets ``[sum(lengths)]`` laid out as rows ``[N, width]``."""
    starts = jnp.cumsum(target_lengths) - target_lengths
    index = starts[:, None] + jnp.arange(width, dtype=jnp.int32)[None, :]
    # Entries past a row's length are padding; the clip only keeps the gather in range.
    return jnp.take(targets, jnp.clip(index, 0, max(targets.shape[0] - 1, 0)), axis=0)


@functools.partial(
    jax.jit, static_argnames=("blank", "reduction", "zero_infinity", "width", "unbatched")
)
def _ctc_compiled(
    log_probs: jax.Array,
    targets: jax.Array,
    input_lengths: jax.Array,
    target_lengths: jax.Array,
    *,
    blank: int,
    reduction: Reduction,
    zero_infinity: bool,
    width: int | None,
    unbatched: bool,
) -> jax.Array:
    input_dtype = log_probs.dtype
    frames = log_probs.shape[0]
    # One integer dtype for the index arithmetic (int64 lengths under x64 included).
    input_lengths = input_lengths.astype(jnp.int32)
    target_lengths = target_lengths.astype(jnp.int32)
    scores = jnp.transpose(log_probs, (1, 0, 2)).astype(compute_dtype(input_dtype))
    if targets.ndim == 1:
        assert width is not None
        if targets.shape[0] == 0:
            targets = jnp.zeros((scores.shape[0], width), targets.dtype)
        else:
            targets = _padded(targets, target_lengths, width)
    lengths = jnp.clip(target_lengths, 0, targets.shape[1]).astype(jnp.int32)
    frame_valid = jnp.arange(frames, dtype=jnp.int32)[None, :] < input_lengths[:, None]
    # log 0 is exactly -inf: torch's recursion is exact, and a -inf log-probability
    # (a class of probability 0) can make a target impossible, which torch reports as inf.
    loss = ctc_per_sequence(
        scores,
        frame_valid,
        targets,
        lengths,
        blank_id=blank,
        log_epsilon=-math.inf,
        normalize=False,
    )
    if zero_infinity:
        loss = jnp.where(loss == jnp.inf, 0, loss)
    if reduction == "none":
        return (loss[0] if unbatched else loss).astype(input_dtype)
    if reduction == "sum":
        return jnp.sum(loss)
    # torch's mean: each loss over its target length (at least 1), then over the batch.
    per_label = loss / jnp.maximum(lengths, 1).astype(loss.dtype)
    return safe_divide(jnp.sum(per_label), jnp.asarray(loss.shape[0], loss.dtype))


def ctc_loss(
    log_probs: ArrayLike,
    targets: ArrayLike,
    input_lengths: ArrayLike,
    target_lengths: ArrayLike,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> jax.Array:
    r"""``torch.nn.functional.ctc_loss`` over the native CTC recursion.

    ``log_probs`` are log-probabilities ``(T, N, C)`` (time-major, as in torch) or
    ``(T, C)`` unbatched, taken as they are (no ``log_softmax``). ``targets`` are
    padded ``(N, S)`` or concatenated ``(sum(target_lengths),)`` (``(S,)``
    unbatched); ``input_lengths`` and ``target_lengths`` have one entry per sequence
    (a scalar unbatched), as arrays, lists or tuples. ``"mean"`` divides each loss
    by its target length (at least 1), then averages over the batch: torch's rule.
    ``zero_infinity`` replaces an infinite loss (no alignment) and its gradient by 0.

    The per-sequence loss is :func:`jaxloss.ctc_loss`'s recursion with an exact
    ``log 0``, on the log-probabilities as given, and its gradient is the closed
    form from alpha and beta.

    Differences from torch: the gradient with respect to ``log_probs`` is the
    derivative of the loss, ``-occupation``; torch's returns
    ``exp(log_probs) - occupation``, the gradient with respect to the logits
    *before* a ``log_softmax`` (the two agree once the log-softmax's derivative is
    applied, which is how torch's is meant to be used). An impossible target without
    ``zero_infinity`` has gradient 0 (the loss is ``+inf`` whatever the inputs;
    torch gives NaN). A ``"mean"`` over an empty batch is 0 (torch: NaN). Argument
    errors raise ``ValueError`` or ``TypeError`` where torch raises
    ``RuntimeError``; lengths are checked when they are concrete (under ``jit``
    an input length above ``T`` counts as ``T``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> log_probs = jax.nn.log_softmax(jnp.zeros((3, 1, 3)))  # T=3, N=1, C=3
      >>> torch_compat.ctc_loss(log_probs, jnp.array([[1, 2]]), [3], [2])
      Array(0.843..., dtype=float32)
    """
    native = _torch_reduction(None, None, reduction)
    log_probs_array, targets_array, input_array, target_array, width = _checked(
        log_probs, targets, input_lengths, target_lengths, blank
    )
    return _ctc_compiled(
        log_probs_array,
        targets_array,
        input_array,
        target_array,
        blank=int(blank),
        reduction=native,
        zero_infinity=bool(zero_infinity),
        width=width,
        unbatched=jnp.ndim(log_probs) == 2,
    )


class CTCLoss(_Loss):
    """``torch.nn.CTCLoss(blank, reduction, zero_infinity)``; calls :func:`ctc_loss`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> log_probs = jax.nn.log_softmax(jnp.zeros((3, 3)))  # unbatched: T=3, C=3
      >>> torch_compat.CTCLoss(reduction="sum")(log_probs, jnp.array([1, 2]), 3, 2)
      Array(1.686..., dtype=float32)
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def __call__(
        self,
        log_probs: ArrayLike,
        targets: ArrayLike,
        input_lengths: ArrayLike,
        target_lengths: ArrayLike,
    ) -> jax.Array:
        return ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            blank=self.blank,
            reduction=self.reduction,
            zero_infinity=self.zero_infinity,
        )
