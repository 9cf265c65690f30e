r"""torch adapters of the fused projection and cross-entropy (torch 2.13).

* ``linear_cross_entropy``, ``LinearCrossEntropyLoss``:
  :func:`jaxloss.linear_softmax_cross_entropy` with torch's ``[C, D]`` weight layout

torch's reference formula is ``cross_entropy(linear(input, linear_weight,
linear_bias), target, ...)``; the native loss computes it without the ``[N, C]``
logits, and, unlike torch's chunked path (``options=LinearCrossEntropyOptions(...)``),
with forward-mode, higher-order and ``vmap`` differentiation. Chunking is always on
(the native automatic chunk size); torch's ``options`` argument is not taken.

Where these differ from torch: class-probability targets and K-dimensional weights
(``out_features``) are not supported (``ValueError``); an out-of-range class index
that is not ``ignore_index`` gives a NaN loss (torch raises); a ``"mean"`` over no
kept targets, or over kept targets whose weights sum to 0, is 0 (torch: NaN);
half-precision inputs give a float32 reduced loss.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._linear_cross_entropy import linear_cross_entropy_call
from jaxloss._reduction import compute_dtype, safe_divide
from jaxloss.torch_compat._basic import (
    _LABEL_SMOOTHING,
    _WEIGHT,
    _as_array,
    _checked_input,
    _checked_weight,
    _known_zero,
    _torch_reduction,
)

__all__ = ["LinearCrossEntropyLoss", "linear_cross_entropy"]

# torch maps ignore_index=None to -100 for class-index targets.
_DEFAULT_IGNORE_INDEX = -100
_NAMES = ("input", "linear_weight", "target", "linear_bias")


def _check_arguments(
    input: ArrayLike, linear_weight: ArrayLike, target: ArrayLike, weight: ArrayLike | None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    input_array = _checked_input(input)
    if input_array.ndim not in (1, 2):
        raise ValueError(
            f"input must have shape (in_features,) or (N, in_features), got {input_array.shape}"
        )
    weight_array = _as_array("linear_weight", linear_weight)
    if weight_array.ndim != 2:
        raise ValueError(
            "linear_weight must have shape (C, in_features); K-dimensional weights "
            f"(out_features) are not supported, got {weight_array.shape}"
        )
    target_array = _as_array("target", target)
    _checks.check_numeric("target", target_array)
    if jnp.issubdtype(target_array.dtype, jnp.floating):
        raise ValueError(
            "target must hold class indices; class-probability targets are not supported "
            f"(they need the [N, C] logits), got dtype {target_array.dtype}"
        )
    if weight is not None:
        _checks.check_shape(
            "weight",
            _checked_weight(_WEIGHT, weight),
            weight_array.shape[:1],
            f"one weight per class of linear_weight.shape={weight_array.shape}",
        )
    return input_array, weight_array, target_array


def linear_cross_entropy(
    input: ArrayLike,
    linear_weight: ArrayLike,
    target: ArrayLike,
    *,
    linear_bias: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
) -> jax.Array:
    r"""``torch.nn.functional.linear_cross_entropy`` over the native fused loss.

    :func:`jaxloss.linear_softmax_cross_entropy` with torch's arguments. ``input`` is
    ``(D,)`` or ``(N, D)``, ``linear_weight`` ``(C, D)`` (torch's
    ``Linear`` layout), ``linear_bias`` ``(C,)``, ``target`` integer class indices
    ``()`` or ``(N,)``. The value is torch's ``cross_entropy(input @ linear_weight.T +
    linear_bias, target, weight=weight, ignore_index=ignore_index,
    label_smoothing=label_smoothing, reduction=reduction)``, computed chunk by chunk
    over the classes.

    ``ignore_index=None`` means -100, as in torch. ``weight[y]`` weights each example
    and ``"mean"`` divides by the kept examples' summed weights, torch's rule. With
    both ``weight`` and ``label_smoothing = a`` torch weights each smoothing term by
    its own class; the adapter adds that term,
    :math:`\frac{a}{C}\sum_c w_c(\operatorname{lse}(z) - z_c) = \frac{a}{C}\big(
    (\textstyle\sum_c w_c)\operatorname{lse}(z) - x \cdot (w W) - w \cdot b\big)`,
    from the native per-token loss and one matrix-vector product, still without the
    logits. Differences from torch are listed in the module docstring.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> input = jnp.array([[1.0, 0.0], [0.0, 2.0]])
      >>> linear_weight = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
      >>> torch_compat.linear_cross_entropy(input, linear_weight, jnp.array([0, -100]))
      Array(0.407..., dtype=float32)
    """
    native = _torch_reduction(None, None, reduction)
    input_array, weight_array, target_array = _check_arguments(input, linear_weight, target, weight)
    _LABEL_SMOOTHING.check_concrete(label_smoothing)
    ignore = _DEFAULT_IGNORE_INDEX if ignore_index is None else ignore_index
    keep = target_array != ignore
    options = {
        "bias": linear_bias,
        "z_loss": 0.0,
        "logit_soft_cap": None,
        "chunk_size": None,
        "vocab_axis": None,
        "mesh": None,
        "vocabulary_major": True,
        "names": _NAMES,
    }
    if weight is None or _known_zero(label_smoothing):
        label_weights = None
        if weight is not None:
            label_weights = jnp.take(jnp.asarray(weight), target_array, mode="clip")
        return linear_cross_entropy_call(
            input_array,
            weight_array,
            target_array,
            reduction=native,
            weights=label_weights,
            where=keep,
            label_smoothing=label_smoothing,
            **options,
        )
    # torch's weighted smoothing: (1 - a) w_y nll + (a / C) sum_c w_c (lse - z_c).
    per_token = linear_cross_entropy_call(
        input_array,
        weight_array,
        target_array,
        reduction="none",
        weights=None,
        where=keep,
        label_smoothing=0.0,
        **options,
    )
    dtype = compute_dtype(input_array.dtype)
    per_token = per_token.astype(dtype)
    class_weights = jnp.asarray(weight).astype(dtype)
    num_classes = weight_array.shape[0]
    kept_input = jnp.where(keep[..., None], input_array, 0).astype(dtype)
    safe_target = jnp.where(keep, target_array, 0)
    matrix = weight_array.astype(dtype)
    label_logit = jnp.sum(kept_input * jnp.take(matrix, safe_target, axis=0), axis=-1)
    weighted_logits = kept_input @ (class_weights @ matrix)
    if linear_bias is not None:
        bias = jnp.asarray(linear_bias).astype(dtype)
        label_logit = label_logit + jnp.take(bias, safe_target)
        weighted_logits = weighted_logits + jnp.dot(class_weights, bias)
    logsumexp = per_token + label_logit
    label_weights = jnp.where(keep, jnp.take(class_weights, safe_target), 0)
    smoothing = (
        label_smoothing
        if isinstance(label_smoothing, float | int)
        else (jnp.asarray(label_smoothing).astype(dtype))
    )
    smoothing_term = jnp.sum(class_weights) * logsumexp - weighted_logits
    loss = jnp.where(
        keep,
        (1 - smoothing) * label_weights * per_token + smoothing / num_classes * smoothing_term,
        0,
    )
    if native == "none":
        return loss.astype(input_array.dtype)
    total = jnp.sum(loss)
    return total if native == "sum" else safe_divide(total, jnp.sum(label_weights))


def _uniform(key: jax.Array, shape: tuple[int, ...], bound: float, dtype) -> jax.Array:
    return jax.random.uniform(key, shape, dtype, minval=-bound, maxval=bound)


class LinearCrossEntropyLoss:
    r"""``torch.nn.LinearCrossEntropyLoss``: a projection to ``num_classes`` logits and
    the cross-entropy, computed by :func:`linear_cross_entropy` without the logits.

    Holds ``linear_weight`` ``(num_classes, in_features)`` and, with ``bias=True``,
    ``linear_bias`` ``(num_classes,)`` as jax arrays, initialised as torch's
    ``nn.Linear`` does, uniform in :math:`\pm 1/\sqrt{\text{in\_features}}`, from
    ``key`` (default ``jax.random.key(0)``; torch draws from its global generator).
    Replace them, or call :func:`linear_cross_entropy` with your own parameters, to
    train. ``out_features`` other than ``()`` is not supported (``ValueError``);
    torch's ``device`` and ``options`` are not taken. A ``weight`` of the wrong shape
    or a ``label_smoothing`` outside ``[0, 1]`` raises ``ValueError`` (torch:
    ``RuntimeError``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxloss import torch_compat
      >>> loss = torch_compat.LinearCrossEntropyLoss(4, 10, bias=True)
      >>> loss.linear_weight.shape, loss.linear_bias.shape
      ((10, 4), (10,))
      >>> loss(jnp.ones((3, 4)), jnp.array([1, 2, 3])).shape
      ()
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        out_features: tuple[int, ...] = (),
        bias: bool = False,
        dtype=None,
        reduction: str = "mean",
        weight: ArrayLike | None = None,
        ignore_index: int | None = None,
        label_smoothing: float = 0.0,
        key: jax.Array | None = None,
    ) -> None:
        for name, value in (("in_features", in_features), ("num_classes", num_classes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if tuple(out_features) != ():
            raise ValueError(
                f"out_features (K-dimensional loss) is not supported, got {out_features!r}"
            )
        if weight is not None:
            _checks.check_shape(
                "weight", _checked_weight(_WEIGHT, weight), (num_classes,), "one per class"
            )
        _LABEL_SMOOTHING.check_concrete(label_smoothing)
        self.num_classes = num_classes
        self.in_features = in_features
        self.reduction = reduction
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        dtype = jnp.float32 if dtype is None else dtype
        weight_key, bias_key = jax.random.split(jax.random.key(0) if key is None else key)
        # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) is U(+-1/sqrt(fan_in)),
        # and so is the bias.
        bound = 1 / math.sqrt(in_features)
        self.linear_weight = _uniform(weight_key, (num_classes, in_features), bound, dtype)
        self.linear_bias = _uniform(bias_key, (num_classes,), bound, dtype) if bias else None

    def __call__(self, input: ArrayLike, target: ArrayLike) -> jax.Array:
        return linear_cross_entropy(
            input,
            self.linear_weight,
            target,
            linear_bias=self.linear_bias,
            weight=self.weight,
            reduction=self.reduction,
            ignore_index=self.ignore_index,
            label_smoothing=self.label_smoothing,
        )

    def __repr__(self) -> str:
        return (
            f"LinearCrossEntropyLoss(in_features={self.in_features}, "
            f"num_classes={self.num_classes}, bias={self.linear_bias is not None}, "
            f"reduction={self.reduction!r}, ignore_index={self.ignore_index!r}, "
            f"label_smoothing={self.label_smoothing!r})"
        )
