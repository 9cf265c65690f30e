r"""Sparsemax and Fenchel-Young losses.

A Fenchel-Young loss (Blondel, Martins & Niculae, "Learning with Fenchel-Young
Losses", JMLR 2020) is built from a regulariser :math:`\Omega` and its conjugate, the
*max-function* :math:`\Omega^*`:

.. math:: L_\Omega(z, y) = \Omega^*(z) + \Omega(y) - \langle z, y\rangle \ge 0,
   \qquad \nabla_z L_\Omega = \nabla\Omega^*(z) - y,

the gradient being the regularised *argmax* minus the target. The log-sum-exp gives
the softmax cross-entropy; the Gini negentropy :math:`\Omega(p) = \frac12(\|p\|^2 -
1)` gives the sparsemax losses here, whose argmax, sparsemax (Martins & Astudillo,
"From Softmax to Sparsemax", ICML 2016), is the Euclidean projection onto the
simplex: exactly 0 on classes below a threshold, so the loss is exactly 0 once the
label's score leads the others by 1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Reduction, check_array_range
from jaxloss._classification import _gather, _one_hot, _without_limit, nan_outside_classes, times
from jaxloss._definition import LossDefinition
from jaxloss._frontend import as_checked_array
from jaxloss._reduction import compute_dtype, reduce
from jaxloss._regression import LOGIT_EXTREMES, REAL_EXTREMES

__all__ = ["make_fenchel_young_loss", "multiclass_sparsemax_loss", "sparsemax_loss"]


# --------------------------------------------------------------------------------------
# sparsemax_loss (binary)


def _sparsemax_binary(logits: jax.Array, targets: jax.Array):
    # sparse_plus(z) - y z + y^2 - y, piece by piece: (1 - y)(z - y) for z >= 1,
    # ((z + 1)/2 - y)^2 in between, y (y - 1 - z) for z <= -1. `times` keeps the
    # matching infinite logit (+inf with y = 1, -inf with y = 0) at 0, not 0 * inf.
    upper = times(1 - targets, logits - targets)
    lower = times(targets, targets - 1 - logits)
    middle = jnp.square((logits + 1) / 2 - targets)
    value = jnp.where(logits >= 1, upper, jnp.where(logits <= -1, lower, middle))
    # The Fenchel-Young gradient: sparse_sigmoid(z) - y, sparse_sigmoid = clip((z+1)/2).
    d_logits = jnp.clip((logits + 1) / 2, 0, 1) - targets
    return value, (d_logits, 2 * targets - 1 - logits)


SPARSEMAX_LOSS = LossDefinition(
    name="sparsemax_loss",
    value_and_partials=_sparsemax_binary,
    curvature=lambda logits, targets: jnp.where(jnp.abs(logits) < 1, 0.5, 0.0).astype(logits.dtype),
    domain="logit",
    target_kind="probability",
    link="identity",
    extremes=LOGIT_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.sparsemax_loss`.

    :math:`\operatorname{sparse\_sigmoid}(z) - y` with
    :math:`\operatorname{sparse\_sigmoid}(z) = \operatorname{clip}((z+1)/2, 0, 1)`
    (``jax.nn.sparse_sigmoid``): the Fenchel-Young gradient, prediction minus target.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.sparsemax_loss(
      ...     jnp.array([-2.0, 0.0, 2.0]), jnp.array([1.0, 1.0, 1.0]), reduction="sum")
      Array([-1. , -0.5,  0. ], dtype=float32)
    """,
    hessian_doc=r"""
    Second derivative of :func:`jaxloss.sparsemax_loss`: 1/2 for :math:`|z| < 1`, 0
    outside (the loss is linear there; convex everywhere).

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.sparsemax_loss(
      ...     jnp.array([-2.0, 0.0, 2.0]), jnp.array([1.0, 1.0, 1.0]), reduction="sum")
      Array([0. , 0.5, 0. ], dtype=float32)
    """,
)


@SPARSEMAX_LOSS.public
def sparsemax_loss(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Binary sparsemax loss, optax's ``sparsemax_loss``: Fenchel-Young of the sparse sigmoid.

    .. math:: \ell_i = \operatorname{sparse\_plus}(z_i) - y_i z_i + y_i^2 - y_i

    with :math:`\operatorname{sparse\_plus}(z)` 0 for :math:`z \le -1`,
    :math:`(z+1)^2/4` for :math:`|z| < 1` and :math:`z` for :math:`z \ge 1`
    (``jax.nn.sparse_plus``). For labels 0 and 1 it is optax's
    ``sparse_plus(-z)`` (label 1) and ``sparse_plus(z)`` (label 0); it is 0 exactly
    when ``jax.nn.sparse_sigmoid(z) == y``, e.g. for :math:`z \ge 1` with label 1.
    Soft labels in ``[0, 1]`` get the same Fenchel-Young loss (Blondel et al. 2020,
    sec. 4.4), where optax treats any non-zero label as 1. Exact at infinite logits
    (0 at ``(+inf, 1)`` and ``(-inf, 0)``). Keras has no sparsemax loss.

    Args:
      logits: scores, any shape.
      labels: 0/1 (or soft) labels, same shape as ``logits``.
      reduction, weights, where: as in :func:`jaxloss.mse`.

    Returns:
      A scalar, or an array shaped like ``logits`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.sparsemax_loss(
      ...     jnp.array([-2.0, 0.0, 2.0]), jnp.array([1.0, 1.0, 1.0]), reduction="none")
      Array([2.  , 0.25, 0.  ], dtype=float32)
    """
    return SPARSEMAX_LOSS(logits, labels, reduction=reduction, weights=weights, where=where)


# --------------------------------------------------------------------------------------
# multiclass_sparsemax_loss


def _sparsemax_parts(scores: jax.Array):
    """``(shifted, probabilities, support_size)`` of sparsemax over the last axis.

    The scores are shifted by their row maximum first (sparsemax is shift-invariant),
    a ``+inf`` score to 0 and the finite ones to ``-inf``, as the softmax's are in
    ``jaxloss._classification``: the limit, all mass on the ``+inf`` class.
    """
    num_classes = scores.shape[-1]
    maximum = jax.lax.stop_gradient(jnp.max(scores, axis=-1, keepdims=True))
    shifted = jnp.where(scores == jnp.inf, 0, scores - maximum)
    # Martins & Astudillo's threshold: with z sorted in decreasing order,
    # k = max{k : 1 + k z_(k) > sum_{j <= k} z_(j)} and tau = (sum_{j <= k} z_(j) - 1) / k.
    ordered = -jnp.sort(-shifted, axis=-1)
    cumulative = jnp.cumsum(ordered, axis=-1)
    ranks = jax.lax.broadcasted_iota(scores.dtype, scores.shape, scores.ndim - 1) + 1
    size = jnp.sum(1 + ranks * ordered > cumulative, axis=-1, keepdims=True)
    # At least the largest score is in the support; the clip keeps an all-NaN row's
    # gather in range.
    size = jnp.clip(size, 1, num_classes)
    threshold = (jnp.take_along_axis(cumulative, size - 1, axis=-1) - 1) / size.astype(scores.dtype)
    probabilities = jnp.maximum(shifted - threshold, 0)
    return shifted, probabilities, size


def _multiclass_sparsemax(scores: jax.Array, labels: jax.Array):
    num_classes = scores.shape[-1]
    shifted, probabilities, _ = _sparsemax_parts(scores)
    label_shifted = _gather(shifted, labels)
    # Omega*(z) - z_y + Omega(e_y) = p . (z - z_y) + (1 - |p|^2) / 2; `times` leaves
    # out the classes sparsemax gives 0 (a -inf score among them).
    spread = jnp.sum(times(probabilities, shifted - label_shifted[..., None]), axis=-1)
    value = spread + (1 - jnp.sum(jnp.square(probabilities), axis=-1)) / 2
    plus_infinite = jnp.sum(scores == jnp.inf, axis=-1)
    value = _without_limit(value, plus_infinite, jnp.where(plus_infinite > 0, jnp.inf, 0.0))
    value = nan_outside_classes(value, labels, num_classes)
    return value, (probabilities - _one_hot(labels, num_classes, scores.dtype), None)


def _multiclass_sparsemax_curvature(scores, labels, vector) -> jax.Array:
    # The Jacobian of sparsemax: diag(s) - s s^T / |S|, s the support's indicator.
    _, probabilities, size = _sparsemax_parts(scores)
    support = probabilities > 0
    total = jnp.sum(jnp.where(support, vector, 0), axis=-1, keepdims=True)
    return jnp.where(support, vector - total / size.astype(scores.dtype), 0)


MULTICLASS_SPARSEMAX_LOSS = LossDefinition(
    name="multiclass_sparsemax_loss",
    value_and_partials=_multiclass_sparsemax,
    curvature=_multiclass_sparsemax_curvature,
    domain="logit",
    target_kind="labels",
    link="identity",
    per_example=True,
    class_axis=True,
    class_weights=True,
    extremes=REAL_EXTREMES,
    gradient_doc=r"""
    Derivative of :func:`jaxloss.multiclass_sparsemax_loss`.

    :math:`\operatorname{sparsemax}(z) - \operatorname{onehot}(y)`: the Fenchel-Young
    gradient, exactly 0 once :math:`z_y` leads every other score by at least 1.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.gradients.multiclass_sparsemax_loss(
      ...     jnp.array([[1.0, 0.5, -1.0]]), jnp.array([1]))
      Array([[ 0.75, -0.75,  0.  ]], dtype=float32)
    """,
    hessian_doc=r"""
    Per-example Hessian of :func:`jaxloss.multiclass_sparsemax_loss`, ``[..., C, C]``.

    The Jacobian of sparsemax, :math:`\operatorname{diag}(s) - s s^\top/|S|` with
    :math:`s` the indicator of the support :math:`S` (the classes sparsemax gives a
    positive probability): piecewise constant, positive semi-definite.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> jaxloss.hessians.multiclass_sparsemax_loss(
      ...     jnp.array([[1.0, 0.5, -1.0]]), jnp.array([1]))
      Array([[[ 0.5, -0.5,  0. ],
              [-0.5,  0.5,  0. ],
              [ 0. ,  0. ,  0. ]]], dtype=float32)
    """,
)


@MULTICLASS_SPARSEMAX_LOSS.public
def multiclass_sparsemax_loss(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = -1,
    class_weights: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Multiclass sparsemax loss (Martins & Astudillo 2016), optax's ``multiclass_sparsemax_loss``.

    .. math:: \ell_n = \sum_c p_{nc}(z_{nc} - z_{n y_n}) + \tfrac12\big(1 - \|p_n\|^2\big),
        \qquad p_n = \operatorname{sparsemax}(z_n)

    The Fenchel-Young loss of sparsemax, equal to Martins & Astudillo's
    :math:`-z_y + \frac12\sum_{j \in S(z)}(z_j^2 - \tau^2) + \frac12`. Its gradient is
    ``sparsemax(z) - onehot(y)``; it is 0 exactly once the label's score leads every
    other by at least 1. ``reduction="none"`` gives optax's values (optax vmaps over
    the first axis only; any leading axes work here). A ``-inf`` score masks its
    class; a single ``+inf`` score gives the limit (0 on the label's class). Keras has
    no sparsemax loss; see :func:`jaxloss.make_fenchel_young_loss` for others.

    Args:
      scores: scores with a class axis.
      labels: integer class indices, shaped like ``scores`` without ``axis``.
      axis: the class axis.
      class_weights: optional weight per class, shape ``[C]``.
      reduction, weights, where: as in :func:`jaxloss.mse`, broadcast to the
        per-example loss.

    Returns:
      A scalar, or the per-example losses when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> scores = jnp.array([[1.0, 0.5, -1.0], [3.0, 0.0, 0.0]])
      >>> jaxloss.multiclass_sparsemax_loss(scores, jnp.array([1, 0]), reduction="none")
      Array([0.5625, 0.    ], dtype=float32)
    """
    return MULTICLASS_SPARSEMAX_LOSS(
        scores,
        labels,
        axis=axis,
        class_weights=class_weights,
        reduction=reduction,
        weights=weights,
        where=where,
    )


# --------------------------------------------------------------------------------------
# make_fenchel_young_loss: a loss from any max-function, so a factory, not a definition.


def make_fenchel_young_loss(
    max_fun: Callable[..., ArrayLike],
    *,
    argmax_fun: Callable[..., ArrayLike] | None = None,
) -> Callable[..., jax.Array]:
    r"""A Fenchel-Young loss from a max-function, optax's ``make_fenchel_young_loss``.

    .. math:: \ell_n = \Omega^*(z_n) - \langle y_n, z_n\rangle

    for the max-function :math:`\Omega^* =` ``max_fun`` (a convex function of one
    score vector, such as ``jax.nn.logsumexp``), over the last axis. This is optax's
    loss, which leaves out the constant :math:`\Omega(y)` of Blondel et al.'s
    definition (so it is non-negative only up to that constant). Its gradient with
    respect to the scores is :math:`\nabla\Omega^*(z) - y`, the regularised argmax
    minus the target: ``argmax_fun(scores)`` when given (a closed form, e.g. the
    softmax for ``logsumexp``), else ``jax.grad(max_fun)``. Not a registry row: it is
    a family of losses, built from a function; each loss it returns is one function
    with jaxloss's ``reduction``, ``weights`` and ``where``.

    Args:
      max_fun: ``max_fun(scores, *args, **kwargs)`` of a ``[C]`` vector, a scalar.
      argmax_fun: optional gradient of ``max_fun``, ``[C] -> [C]``, with the same
        extra arguments.

    Returns:
      ``fenchel_young_loss(scores, targets, *args, reduction="mean", weights=None,
      where=None, **kwargs)``: ``scores`` and ``targets`` ``[..., C]``, the extra
      arguments passed on to ``max_fun`` (held constant: differentiating with respect
      to them raises; arrays among them are traced, anything else is compiled in and
      must be hashable), ``weights`` and ``where`` over ``[...]``. One ``jit`` call, as
      every jaxloss loss. ``reduction="none"`` returns optax's per-example values.

    Example:
      >>> import jax, jax.numpy as jnp, jaxloss
      >>> loss = jaxloss.make_fenchel_young_loss(jax.nn.logsumexp)
      >>> scores = jnp.array([[2.0, 0.0, -1.0]])
      >>> loss(scores, jnp.array([[1.0, 0.0, 0.0]]))  # the softmax cross-entropy
      Array(0.169..., dtype=float32)
    """

    def one_max(vector: jax.Array, args: tuple[Any, ...], kwargs: dict[str, Any]) -> jax.Array:
        return jnp.asarray(max_fun(vector, *args, **kwargs))

    def one_argmax(vector: jax.Array, args: tuple[Any, ...], kwargs: dict[str, Any]) -> jax.Array:
        if argmax_fun is None:
            return jax.grad(one_max)(vector, args, kwargs)
        return jnp.asarray(argmax_fun(vector, *args, **kwargs))

    @functools.partial(jax.jit, static_argnames=("reduction", "static_arguments"))
    def compiled(
        scores, targets, weights, where, dynamic_arguments, *, reduction, static_arguments
    ) -> jax.Array:
        args, kwargs = _merge_arguments(dynamic_arguments, static_arguments)
        scores_array = _checks.as_array("scores", scores)
        targets_array = _checks.as_array("targets", targets)
        _checks.check_floating("scores", scores_array)
        _checks.check_numeric("targets", targets_array)
        if scores_array.ndim == 0:
            raise ValueError("scores must have a class axis, got a scalar")
        _checks.check_same_shape("scores", scores_array, "targets", targets_array)
        loss_shape = scores_array.shape[:-1]
        dtype = compute_dtype(scores_array.dtype)
        first = scores_array.astype(dtype)
        second = targets_array.astype(dtype)
        weights_array = None
        if weights is not None:
            weights_array = as_checked_array("weights", weights)
            _checks.check_broadcastable("weights", weights_array, loss_shape)
            weights_array = jnp.broadcast_to(weights_array.astype(dtype), loss_shape)
        where_array = None
        if where is not None:
            where_array = _checks.as_array("where", where)
            _checks.check_mask("where", where_array)
            _checks.check_broadcastable("where", where_array, loss_shape)
            where_array = jnp.broadcast_to(where_array, loss_shape)
            # Masked rows are replaced before the core runs, so a NaN there reaches
            # neither the value nor the gradient.
            first = jnp.where(where_array[..., None], first, 0.5)
            second = jnp.where(where_array[..., None], second, 0.5)

        maxima = jnp.vectorize(lambda z: one_max(z, args, kwargs), signature="(n)->()")
        argmaxima = jnp.vectorize(lambda z: one_argmax(z, args, kwargs), signature="(n)->(n)")

        @jax.custom_jvp
        def core(z: jax.Array, y: jax.Array) -> jax.Array:
            # `times`: a target of 0 at a -inf score adds 0, not 0 * inf.
            return maxima(z) - jnp.sum(times(y, z), axis=-1)

        def rule(primals, tangents):
            z, y = primals
            z_dot, y_dot = tangents
            value = core(z, y)
            tangent = jnp.zeros_like(value)
            if not isinstance(z_dot, SymbolicZero):
                tangent = tangent + jnp.sum((argmaxima(z) - y) * z_dot, axis=-1)
            if not isinstance(y_dot, SymbolicZero):
                tangent = tangent - jnp.sum(z * y_dot, axis=-1)
            return value, tangent

        core.defjvp(rule, symbolic_zeros=True)
        return reduce(
            core(first, second),
            reduction=reduction,
            weights=weights_array,
            where=where_array,
            none_dtype=scores_array.dtype,
        )

    def fenchel_young_loss(
        scores: ArrayLike,
        targets: ArrayLike,
        *args: Any,
        reduction: Reduction = "mean",
        weights: ArrayLike | None = None,
        where: ArrayLike | None = None,
        **kwargs: Any,
    ) -> jax.Array:
        _checks.check_reduction(reduction)
        if weights is not None:
            check_array_range(
                "weights",
                weights,
                lambda values: np.isfinite(values) & (values >= 0),
                "must be finite and non-negative",
            )
        dynamic_arguments, static_arguments = _split_arguments(args, kwargs)
        return compiled(
            scores,
            targets,
            weights,
            where,
            dynamic_arguments,
            reduction=reduction,
            static_arguments=static_arguments,
        )

    return fenchel_young_loss


def _is_array(value: Any) -> bool:
    return isinstance(value, jax.Array | np.ndarray | np.generic)


def _split_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]):
    """The max-function's extra arguments: arrays traced, everything else static.

    As jaxloss's hyper-parameters are, a Python number (or any hashable non-array) is
    compiled in, and an array stays dynamic. The static part records where each
    dynamic array goes back.
    """
    named = sorted(kwargs.items())
    array_positions = tuple(index for index, value in enumerate(args) if _is_array(value))
    array_names = tuple(name for name, value in named if _is_array(value))
    dynamic = (
        tuple(args[index] for index in array_positions),
        tuple(kwargs[name] for name in array_names),
    )
    static = (
        len(args),
        tuple((index, value) for index, value in enumerate(args) if not _is_array(value)),
        tuple((name, value) for name, value in named if not _is_array(value)),
        array_positions,
        array_names,
    )
    return dynamic, static


def _merge_arguments(dynamic, static) -> tuple[tuple[Any, ...], dict[str, Any]]:
    count, static_positional, static_named, array_positions, array_names = static
    positional_arrays, named_arrays = dynamic
    values = dict(static_positional) | dict(zip(array_positions, positional_arrays, strict=True))
    named = dict(static_named) | dict(zip(array_names, named_arrays, strict=True))
    return tuple(values[index] for index in range(count)), named
