r"""Large-vocabulary cross-entropy from the hidden states, without the logits.

For a language model the last projection and the cross-entropy hold the ``[N, V]``
logits and their gradient, gigabytes at ``V = 128k``. Here the vocabulary is cut
into chunks of ``C`` columns: each pass recomputes a chunk's logits ``[N, C]``,
uses them and drops them, so the memory beyond the inputs and outputs is a few
``[N, C]`` tiles and per-token statistics.

How it is differentiated, and why that way:

* The per-token loss is a ``jax.custom_jvp`` function. Its rule is a second chunked
  pass that contracts the closed-form derivative with respect to the logits,
  ``g = [(1 + 2 lambda lse) softmax(s) - (1 - alpha) onehot(y) - alpha / V] * ds/dz``,
  with the tangent of the logits ``dz = dh W + h dW + db``, one chunk at a time.
* ``jax.grad`` / ``jax.vjp`` transpose that linear pass. Its loop body is under
  ``jax.checkpoint``, so the transpose recomputes each chunk's logits instead of
  saving them: reverse mode costs the statistics pass plus one pass of three
  matrix products per chunk (logits, ``g W^T`` into the hidden gradient,
  ``h^T g`` into the chunk's columns of the weight gradient) and holds no ``[N, V]``
  array. XLA updates the weight gradient's columns in place.
* ``jax.jvp`` runs the rule itself: two matrix products per chunk.
* Because the rule is ordinary JAX code, forward-over-reverse Hessian-vector
  products (``jax.jvp(jax.grad(f))``) differentiate it once more, chunk by chunk,
  again without ``[N, V]`` memory. (A ``jax.custom_vjp`` would give the first
  derivative as cheaply but refuses ``jax.jvp``; ``jax.custom_derivatives.linear_call``
  refuses tangents of its residuals, which forward-over-reverse needs.)
  Reverse-over-reverse also works; it saves per-chunk statistics, ``[N]`` each.

With the weight sharded over its vocabulary axis on a mesh, each device runs the
same passes on its own columns inside ``jax.shard_map`` and the devices combine
``[N]``-sized statistics (maximum, sum of exponentials, label logit, logit sum, and
the tangent's partial sums), as Megatron-LM's vocabulary-parallel cross-entropy
does; the weight is never gathered.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.core import Tracer
from jax.custom_derivatives import SymbolicZero
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Parameter, Reduction
from jaxloss._reduction import compute_dtype, reduce

__all__ = ["linear_softmax_cross_entropy"]

# Elements of one [N, C] tile of logits in the automatic chunk size: 2**22 float32
# values are 16 MiB, a few of which the passes hold at once.
TILE_ELEMENTS = 2**22
# Chunks are a multiple of this many columns (vector and matrix units like it), and
# never narrower: below it the loop's overhead outgrows the matrix products.
CHUNK_MULTIPLE = 128

_LABEL_SMOOTHING = Parameter("label_smoothing", low=0.0, high=1.0)
_Z_LOSS = Parameter("z_loss", low=0.0)
_SOFT_CAP = Parameter("logit_soft_cap", low=0.0, low_open=True, optional=True)


def default_chunk_size(num_tokens: int, vocabulary: int) -> int:
    """The automatic chunk size: columns of the logits computed at once.

    The whole vocabulary when ``num_tokens * vocabulary <= 2**22``; otherwise
    ``2**22 // num_tokens`` rounded down to a multiple of 128, at least 128 and at
    most ``vocabulary``. A tile of logits then holds about 2**22 values (16 MiB in
    float32) whatever the shapes.
    """
    if num_tokens * vocabulary <= TILE_ELEMENTS:
        return max(vocabulary, 1)
    columns = TILE_ELEMENTS // max(num_tokens, 1) // CHUNK_MULTIPLE * CHUNK_MULTIPLE
    return min(max(columns, CHUNK_MULTIPLE), vocabulary)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The static shape of the computation (hashable: a ``jit`` and ``custom_jvp`` key)."""

    chunk: int  # columns per chunk, at most the (local) vocabulary
    vocabulary: int  # the global vocabulary size V
    soft_cap: float | None
    vocabulary_major: bool  # weight laid out [V, D] (torch) rather than [D, V]
    axis: str | None = None  # the mesh axis sharding the vocabulary, if any
    mesh: Any = None  # a Mesh, or the AbstractMesh of an explicitly sharded weight

    @property
    def vocabulary_dimension(self) -> int:
        return 0 if self.vocabulary_major else 1


# --------------------------------------------------------------------------------------
# One chunk of columns.


@dataclasses.dataclass
class _Tile:
    """Chunk ``index``'s logits after the soft cap, and what the passes need of it."""

    weight: jax.Array  # the chunk's columns of the weight, [D, C] or [C, D]
    start: jax.Array  # the chunk's first local column
    capped: jax.Array  # s = cap tanh(z / cap), or z; [N, C] in the compute dtype
    slope: jax.Array | None  # ds/dz = 1 - (s / cap)^2, or None without a cap
    fresh: jax.Array  # [1, C]: columns not already seen by an earlier chunk
    is_label: jax.Array  # [N, C]: the label's column, fresh


def _weight_columns(weight: jax.Array, start: jax.Array, plan: _Plan) -> jax.Array:
    return lax.dynamic_slice_in_dim(weight, start, plan.chunk, axis=plan.vocabulary_dimension)


def _project(hidden: jax.Array, columns: jax.Array, plan: _Plan, dtype: Any) -> jax.Array:
    """``hidden @ columns`` accumulated in ``dtype`` (float32 for half-precision inputs)."""
    contracting = 1 if plan.vocabulary_major else 0
    return lax.dot_general(
        hidden, columns, (((1,), (contracting,)), ((), ())), preferred_element_type=dtype
    )


def _tile(
    hidden: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    labels: jax.Array,
    index: jax.Array,
    plan: _Plan,
    dtype: Any,
) -> _Tile:
    local_vocabulary = weight.shape[plan.vocabulary_dimension]
    # The last chunk is moved back to end at the last column rather than padded (a
    # padded copy of the weight would cost as much as the weight); the columns it
    # shares with the chunk before are masked out as not fresh.
    start = jnp.minimum(index * plan.chunk, local_vocabulary - plan.chunk)
    columns = _weight_columns(weight, start, plan)
    logits = _project(hidden, columns, plan, dtype)
    if bias is not None:
        logits = logits + lax.dynamic_slice_in_dim(bias, start, plan.chunk).astype(dtype)[None]
    column = start + lax.broadcasted_iota(labels.dtype, (1, plan.chunk), 1)
    fresh = column >= index * plan.chunk
    if plan.axis is not None:
        column = column + lax.axis_index(plan.axis).astype(labels.dtype) * local_vocabulary
    is_label = fresh & (column == labels[:, None])
    if plan.soft_cap is None:
        return _Tile(columns, start, logits, None, fresh, is_label)
    capped = plan.soft_cap * jnp.tanh(logits / plan.soft_cap)
    slope = 1 - jnp.square(capped / plan.soft_cap)
    return _Tile(columns, start, capped, slope, fresh, is_label)


def _chunk_count(weight: jax.Array, plan: _Plan) -> int:
    return -(-weight.shape[plan.vocabulary_dimension] // plan.chunk)


def _per_device(initial: jax.Array, plan: _Plan) -> jax.Array:
    """A loop's initial carry, typed as differing between devices, as the loop's
    output does when the vocabulary is sharded (``shard_map``'s type check)."""
    if plan.axis is None:
        return initial
    return lax.pcast(initial, (plan.axis,), to="varying")


# --------------------------------------------------------------------------------------
# The two passes, on one device's columns.


def _statistics(
    hidden: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    labels: jax.Array,
    *,
    plan: _Plan,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Per token: maximum logit ``m``, ``sum exp(s - m)``, the label's logit, ``sum s``.

    One online-logsumexp pass over the chunks; across devices the partial results
    are combined with one ``pmax`` and three ``psum`` of ``[N]`` arrays.
    """
    dtype = compute_dtype(hidden.dtype)
    num_tokens = hidden.shape[0]

    # Checkpointed so that reverse-over-reverse saves the [N] carry per chunk, not tiles.
    @jax.checkpoint
    def body(index, carry):
        maximum, total, label_logit, logit_sum = carry
        tile = _tile(hidden, weight, bias, labels, index, plan, dtype)
        masked = jnp.where(tile.fresh, tile.capped, -jnp.inf)
        # The maximum only shifts the exponentials; the logsumexp's derivative does
        # not depend on it, so it carries none (and pmax needs none).
        new_maximum = lax.stop_gradient(jnp.maximum(maximum, jnp.max(masked, axis=1)))
        # exp(-inf - -inf) would be NaN on the first chunk; the sum is 0 there anyway.
        rescale = jnp.where(maximum == new_maximum, 1, jnp.exp(maximum - new_maximum))
        total = total * rescale + jnp.sum(jnp.exp(masked - new_maximum[:, None]), axis=1)
        label_logit = label_logit + jnp.sum(jnp.where(tile.is_label, tile.capped, 0), axis=1)
        logit_sum = logit_sum + jnp.sum(jnp.where(tile.fresh, tile.capped, 0), axis=1)
        return new_maximum, total, label_logit, logit_sum

    zeros = _per_device(jnp.zeros((num_tokens,), dtype), plan)
    initial = (_per_device(jnp.full((num_tokens,), -jnp.inf, dtype), plan), zeros, zeros, zeros)
    maximum, total, label_logit, logit_sum = lax.fori_loop(
        0, _chunk_count(weight, plan), body, initial
    )
    if plan.axis is not None:
        local_maximum = maximum
        maximum = lax.stop_gradient(lax.pmax(lax.stop_gradient(maximum), plan.axis))
        total = lax.psum(total * jnp.exp(local_maximum - maximum), plan.axis)
        label_logit = lax.psum(label_logit, plan.axis)
        logit_sum = lax.psum(logit_sum, plan.axis)
    return maximum, total, label_logit, logit_sum


def _tangent(
    hidden: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    labels: jax.Array,
    logsumexp: jax.Array,
    smoothing: jax.Array,
    z_loss: jax.Array,
    d_hidden: jax.Array | None,
    d_weight: jax.Array | None,
    d_bias: jax.Array | None,
    *,
    plan: _Plan,
) -> jax.Array:
    """Per token, ``sum_v g_v dz_v``: the loss's tangent along ``dz = dh W + h dW + db``."""
    dtype = compute_dtype(hidden.dtype)
    num_tokens = hidden.shape[0]
    probability_scale = (1 + 2 * z_loss * logsumexp)[:, None]
    uniform = smoothing / plan.vocabulary
    # The hidden tangent enters the loop in the compute dtype and is narrowed back
    # (exactly) inside: its transpose, the hidden gradient, then sums the chunks'
    # contributions in float32 rather than in a half-precision loop carry.
    wide_d_hidden = None if d_hidden is None else d_hidden.astype(dtype)

    # Checkpointed: reverse mode transposes this loop, and the transpose must
    # recompute each tile of logits rather than save all of them ([N, V]).
    @jax.checkpoint
    def body(index, accumulated):
        tile = _tile(hidden, weight, bias, labels, index, plan, dtype)
        probabilities = jnp.exp(tile.capped - logsumexp[:, None])
        d_capped = (
            probability_scale * probabilities
            - (1 - smoothing) * tile.is_label.astype(dtype)
            - uniform
        )
        d_logits = d_capped if tile.slope is None else d_capped * tile.slope
        d_logits = jnp.where(tile.fresh, d_logits, 0)
        d_z = jnp.zeros((), dtype)
        if wide_d_hidden is not None:
            narrow = wide_d_hidden.astype(hidden.dtype)
            d_z = d_z + _project(narrow, tile.weight, plan, dtype)
        if d_weight is not None:
            d_z = d_z + _project(hidden, _weight_columns(d_weight, tile.start, plan), plan, dtype)
        if d_bias is not None:
            d_z = d_z + lax.dynamic_slice_in_dim(d_bias, tile.start, plan.chunk).astype(dtype)[None]
        return accumulated + jnp.sum(d_logits * d_z, axis=1)

    accumulated = lax.fori_loop(
        0, _chunk_count(weight, plan), body, _per_device(jnp.zeros((num_tokens,), dtype), plan)
    )
    if plan.axis is not None:
        accumulated = lax.psum(accumulated, plan.axis)
    return accumulated


def _on_shards(function, plan: _Plan, *arguments: Any) -> Any:
    """``function(*arguments, plan=plan)``, inside ``shard_map`` when the vocabulary is sharded.

    ``arguments`` are tagged: ``("weight", array)`` is split over the vocabulary axis,
    ``("bias", array)`` likewise along its only axis, anything else replicated.
    A ``None`` argument is passed through outside the map.
    """
    kinds = [kind for kind, _ in arguments]
    values = [value for _, value in arguments]
    if plan.axis is None:
        return function(*values, plan=plan)
    present = [i for i, value in enumerate(values) if value is not None]
    weight_spec = (
        PartitionSpec(plan.axis, None) if plan.vocabulary_major else PartitionSpec(None, plan.axis)
    )
    specs = {"weight": weight_spec, "bias": PartitionSpec(plan.axis)}

    def local(*present_values):
        full = list(values)
        for i, value in zip(present, present_values, strict=True):
            full[i] = value
        return function(*full, plan=plan)

    mapped = jax.shard_map(
        local,
        mesh=plan.mesh,
        in_specs=tuple(specs.get(kinds[i], PartitionSpec()) for i in present),
        out_specs=PartitionSpec(),
    )
    return mapped(*(values[i] for i in present))


# --------------------------------------------------------------------------------------
# The per-token loss and its derivative rule.


def _value(
    statistics: tuple[jax.Array, ...],
    labels: jax.Array,
    smoothing: jax.Array,
    z_loss: jax.Array,
    plan: _Plan,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The per-token loss, its logsumexp and the label logit minus the mean logit."""
    maximum, total, label_logit, logit_sum = statistics
    log_total = jnp.log(total)
    logsumexp = maximum + log_total
    mean_logit = logit_sum / plan.vocabulary
    # Written relative to the maximum, as in softmax_cross_entropy_with_integer_labels:
    # log(total) - (s_y - m) keeps its precision where lse - s_y would lose it (float32's
    # spacing at 1e4 is 1e-3). With smoothing 0 the mean is skipped, so -inf bias
    # entries (masked classes) add nothing.
    smoothing_term = jnp.where(smoothing == 0, 0, smoothing * (mean_logit - maximum))
    value = (
        log_total
        - (1 - smoothing) * (label_logit - maximum)
        - smoothing_term
        + z_loss * jnp.square(logsumexp)
    )
    valid = (labels >= 0) & (labels < plan.vocabulary)
    # An out-of-range label gives NaN, as the integer-label cross-entropy does.
    return jnp.where(valid, value, jnp.nan), logsumexp, label_logit - mean_logit


def _statistics_of(hidden, weight, bias, labels, plan):
    return _on_shards(
        _statistics, plan, ("", hidden), ("weight", weight), ("bias", bias), ("", labels)
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(6,))
def _per_token(
    hidden: jax.Array,
    weight: jax.Array,
    bias: jax.Array | None,
    labels: jax.Array,
    smoothing: jax.Array,
    z_loss: jax.Array,
    plan: _Plan,
) -> jax.Array:
    statistics = _statistics_of(hidden, weight, bias, labels, plan)
    return _value(statistics, labels, smoothing, z_loss, plan)[0]


def _is_zero(tangent: Any) -> bool:
    return tangent is None or isinstance(tangent, SymbolicZero)


def _per_token_jvp(plan: _Plan, primals, tangents):
    hidden, weight, bias, labels, smoothing, z_loss = primals
    d_hidden, d_weight, d_bias, _, d_smoothing, d_z_loss = tangents
    statistics = _statistics_of(hidden, weight, bias, labels, plan)
    value, logsumexp, label_minus_mean = _value(statistics, labels, smoothing, z_loss, plan)
    d_hidden, d_weight, d_bias = (
        None if _is_zero(tangent) else tangent for tangent in (d_hidden, d_weight, d_bias)
    )
    if d_hidden is None and d_weight is None and d_bias is None:
        d_value = jnp.zeros_like(value)
    else:
        d_value = _on_shards(
            _tangent,
            plan,
            ("", hidden),
            ("weight", weight),
            ("bias", bias),
            ("", labels),
            ("", logsumexp),
            ("", smoothing),
            ("", z_loss),
            ("", d_hidden),
            ("weight", d_weight),
            ("bias", d_bias),
        )
    # d/d alpha of -(1 - alpha) s_y - alpha mean(s) is s_y - mean(s); d/d lambda is lse^2.
    if not _is_zero(d_smoothing):
        d_value = d_value + d_smoothing * label_minus_mean
    if not _is_zero(d_z_loss):
        d_value = d_value + d_z_loss * jnp.square(logsumexp)
    return value, d_value


_per_token.defjvp(_per_token_jvp, symbolic_zeros=True)


# --------------------------------------------------------------------------------------
# The front end.


@functools.partial(jax.jit, static_argnames=("plan", "reduction"))
def _compiled(
    hidden: jax.Array,
    weight: jax.Array,
    labels: jax.Array,
    bias: jax.Array | None,
    weights: jax.Array | None,
    where: jax.Array | None,
    smoothing: jax.Array,
    z_loss: jax.Array,
    *,
    plan: _Plan,
    reduction: Reduction,
) -> jax.Array:
    dtype = compute_dtype(hidden.dtype)
    loss_shape = labels.shape
    tokens = hidden.reshape(-1, hidden.shape[-1])
    # int32 column indices throughout; an out-of-range label becomes -1 first, so that
    # narrowing a wide integer cannot wrap it into range.
    token_labels = labels.reshape(-1)
    in_range = (token_labels >= 0) & (token_labels < plan.vocabulary)
    token_labels = jnp.where(in_range, token_labels.astype(jnp.int32), jnp.int32(-1))
    if where is not None:
        where = jnp.broadcast_to(where, loss_shape)
        keep = where.reshape(-1)
        # A masked token gets a zero hidden state and a valid label, so that an inf,
        # a NaN or a padding label (-100) under the mask cannot reach the gradient.
        tokens = jnp.where(keep[:, None], tokens, 0)
        token_labels = jnp.where(keep, token_labels, 0)
    if weights is not None:
        weights = jnp.broadcast_to(weights.astype(dtype), loss_shape)
    loss = _per_token(
        tokens, weight, bias, token_labels, smoothing.astype(dtype), z_loss.astype(dtype), plan
    ).reshape(loss_shape)
    return reduce(loss, reduction=reduction, weights=weights, where=where, none_dtype=hidden.dtype)


def _is_concrete(array: object) -> bool:
    """A jax array with its data, not a tracer of ``jit``, ``grad`` or ``vmap``."""
    return isinstance(array, jax.Array) and not isinstance(array, Tracer)


def _vocabulary_sharding(
    weight: jax.Array, vocabulary_dimension: int, vocab_axis: str | None, mesh: Any
) -> tuple[str | None, Any]:
    """The mesh axis that shards the weight's vocabulary axis, and its mesh.

    Named by ``vocab_axis`` (with ``mesh``, or the weight's own mesh), or read from
    the weight's sharding: its type's, on a mesh with explicit axes (also under
    ``jit`` and ``grad``), or a concrete array's ``NamedSharding``.
    """
    found = None
    typed = getattr(jax.typeof(weight), "sharding", None)
    # A type's sharding names only the mesh's explicit axes (an automatic axis shows
    # as None), so a type that names none defers to the concrete array's sharding.
    if isinstance(typed, NamedSharding) and any(entry is not None for entry in typed.spec):
        found = typed
    elif _is_concrete(weight) and isinstance(weight.sharding, NamedSharding):
        found = weight.sharding
    if vocab_axis is not None:
        if mesh is None:
            if found is None:
                raise ValueError(
                    f"vocab_axis={vocab_axis!r} needs a mesh: pass mesh=, or a weight "
                    "placed with a NamedSharding"
                )
            mesh = found.mesh
        if vocab_axis not in mesh.shape:
            raise ValueError(f"vocab_axis {vocab_axis!r} is not an axis of the mesh {mesh.shape}")
        return vocab_axis, mesh
    if mesh is not None:
        raise ValueError("mesh is given without vocab_axis, the mesh axis to shard over")
    if found is None:
        return None, None
    spec = (*found.spec, None, None)
    if spec[1 - vocabulary_dimension] is not None:
        raise ValueError(
            "weight is sharded over its feature axis; shard it over the vocabulary axis "
            f"only, got {found.spec}"
        )
    entry = spec[vocabulary_dimension]
    if isinstance(entry, tuple) and len(entry) == 1:
        entry = entry[0]
    if entry is None:
        return None, None
    if not isinstance(entry, str):
        raise ValueError(
            f"weight's vocabulary axis must be sharded over one mesh axis, got {found.spec}"
        )
    if found.mesh.shape[entry] == 1:
        return None, None
    return entry, found.mesh


def linear_cross_entropy_call(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    bias: ArrayLike | None,
    reduction: Reduction,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    label_smoothing: ArrayLike,
    z_loss: ArrayLike,
    logit_soft_cap: float | None,
    chunk_size: int | None,
    vocab_axis: str | None,
    mesh: Mesh | None,
    vocabulary_major: bool,
    names: tuple[str, str, str, str] = ("hidden", "weight", "labels", "bias"),
) -> jax.Array:
    """Checks the arguments and runs the loss; ``vocabulary_major`` takes ``weight``
    as ``[V, D]`` (torch's layout). ``names`` are the arguments' names in messages."""
    hidden_name, weight_name, labels_name, bias_name = names
    _checks.check_reduction(reduction)
    hidden_array = _checks.as_array(hidden_name, hidden)
    weight_array = (
        weight if isinstance(weight, jax.Array) else _checks.as_array(weight_name, weight)
    )
    labels_array = _checks.as_array(labels_name, labels)
    _checks.check_floating(hidden_name, hidden_array)
    _checks.check_floating(weight_name, weight_array)
    _checks.check_integer(labels_name, labels_array)
    if hidden_array.ndim == 0:
        raise ValueError(f"{hidden_name} must have a feature axis, got a scalar")
    if weight_array.ndim != 2:
        raise ValueError(f"{weight_name} must be 2-D, got shape {weight_array.shape}")
    vocabulary_dimension = 0 if vocabulary_major else 1
    features = weight_array.shape[1 - vocabulary_dimension]
    vocabulary = weight_array.shape[vocabulary_dimension]
    if features != hidden_array.shape[-1]:
        layout = "[V, D]" if vocabulary_major else "[D, V]"
        raise ValueError(
            f"{weight_name} must be {layout} with D = {hidden_name}.shape[-1]; got "
            f"{hidden_name}.shape={hidden_array.shape} and {weight_name}.shape={weight_array.shape}"
        )
    if vocabulary == 0:
        raise ValueError(
            f"{weight_name} must have at least one class, got shape {weight_array.shape}"
        )
    if hidden_array.dtype != weight_array.dtype:
        raise TypeError(
            f"{hidden_name} and {weight_name} must have the same dtype, got "
            f"{hidden_array.dtype} and {weight_array.dtype}"
        )
    loss_shape = hidden_array.shape[:-1]
    _checks.check_shape(
        labels_name,
        labels_array,
        loss_shape,
        f"{hidden_name}.shape={hidden_array.shape} without its feature axis",
    )
    bias_array = None
    if bias is not None:
        bias_array = _checks.as_array(bias_name, bias)
        _checks.check_floating(bias_name, bias_array)
        _checks.check_shape(bias_name, bias_array, (vocabulary,), "one entry per class")
    weights_array = None
    if weights is not None:
        weights_array = _checks.as_array("weights", weights)
        _checks.check_numeric("weights", weights_array)
        _checks.check_broadcastable("weights", weights_array, loss_shape)
        _checks.check_array_range(
            "weights",
            weights,
            lambda values: np.isfinite(values) & (values >= 0),
            "must be finite and non-negative",
        )
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss_shape)
    for parameter, value in ((_LABEL_SMOOTHING, label_smoothing), (_Z_LOSS, z_loss)):
        parameter.check_concrete(value)
        if jnp.ndim(value) != 0:
            raise ValueError(f"{parameter.name} must be a scalar, got shape {jnp.shape(value)}")
    if logit_soft_cap is not None and not isinstance(logit_soft_cap, int | float):
        raise TypeError(
            f"logit_soft_cap must be a Python number or None, got {type(logit_soft_cap).__name__}"
        )
    _SOFT_CAP.check_concrete(logit_soft_cap)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer)
    ):
        raise TypeError(f"chunk_size must be an int or None, got {type(chunk_size).__name__}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")

    axis, mesh = _vocabulary_sharding(weight_array, vocabulary_dimension, vocab_axis, mesh)
    local_vocabulary = vocabulary
    if axis is not None and mesh is not None:
        devices = mesh.shape[axis]
        if vocabulary % devices:
            raise ValueError(
                f"the vocabulary ({vocabulary}) must divide evenly over the {devices} "
                f"devices of mesh axis {axis!r}"
            )
        local_vocabulary = vocabulary // devices
    num_tokens = int(np.prod(loss_shape))
    chunk = default_chunk_size(num_tokens, local_vocabulary) if chunk_size is None else chunk_size
    plan = _Plan(
        chunk=min(int(chunk), local_vocabulary),
        vocabulary=vocabulary,
        soft_cap=None if logit_soft_cap is None else float(logit_soft_cap),
        vocabulary_major=vocabulary_major,
        axis=axis,
        mesh=mesh,
    )
    return _compiled(
        hidden_array,
        weight_array,
        labels_array,
        bias_array,
        weights_array,
        where_array,
        jnp.asarray(label_smoothing),
        jnp.asarray(z_loss),
        plan=plan,
        reduction=reduction,
    )


def linear_softmax_cross_entropy(
    hidden: ArrayLike,
    weight: ArrayLike,
    labels: ArrayLike,
    *,
    bias: ArrayLike | None = None,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
    label_smoothing: ArrayLike = 0.0,
    z_loss: ArrayLike = 0.0,
    logit_soft_cap: float | None = None,
    chunk_size: int | None = None,
    vocab_axis: str | None = None,
    mesh: Mesh | None = None,
) -> jax.Array:
    r"""Softmax cross-entropy of ``hidden @ weight + bias``, without the ``[N, V]`` logits.

    Equal to ``softmax_cross_entropy_with_integer_labels(hidden @ weight + bias,
    labels, ...)``, plus the options language models use: with
    :math:`s = c \tanh(z / c)` when ``logit_soft_cap = c`` (else :math:`s = z`),

    .. math:: \ell_n = \operatorname{lse}(s_n) - (1 - \alpha)\, s_{n y_n}
              - \frac{\alpha}{V} \sum_v s_{nv} + \lambda \operatorname{lse}(s_n)^2

    (``label_smoothing`` :math:`\alpha`, ``z_loss`` :math:`\lambda`). The logits are
    computed ``chunk_size`` vocabulary columns at a time, with an online logsumexp,
    and never held whole; neither is their gradient. ``jax.grad``, ``jax.vjp``,
    ``jax.jvp`` and forward-over-reverse Hessian-vector products
    (``jax.jvp(jax.grad(f))``) all work, with closed-form derivatives recomputed chunk
    by chunk (see the module docstring): ``value_and_grad`` costs four
    ``N x D x V`` matrix products against the dense formula's three, and holds
    a few ``[N, chunk_size]`` tiles where the dense formula holds ``[N, V]`` arrays.

    Half-precision ``hidden`` and ``weight`` are multiplied with float32
    accumulation and the statistics kept in float32; the reduced loss is float32,
    ``"none"`` comes back in the input dtype, and each gradient in its input's dtype.

    With ``weight`` sharded over its vocabulary axis on a mesh, each device computes
    its own columns and the devices exchange per-token statistics (``[N]`` arrays), as
    Megatron-LM's vocabulary-parallel cross-entropy does; the weight is never
    gathered. A concrete ``weight`` placed with a ``NamedSharding`` over one mesh axis
    is detected; under an outer ``jit`` (where the weight is a tracer) name the axis
    with ``vocab_axis`` and pass the ``mesh``.

    Args:
      hidden: the final hidden states, ``[..., D]``.
      weight: the output projection, ``[D, V]``, of ``hidden``'s dtype.
      labels: integer class indices, ``hidden.shape[:-1]``. A label outside
        ``[0, V)`` gives a NaN loss for its token; mask padding with ``where``.
      bias: optional ``[V]`` added to the logits.
      reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
      weights, where: as in :func:`jaxloss.mse`, broadcast to ``labels``' shape.
        A masked token adds nothing to the value or any gradient, whatever its
        hidden state or label.
      label_smoothing: :math:`\alpha` in ``[0, 1]``; the target is
        ``(1 - alpha) onehot(y) + alpha / V``.
      z_loss: :math:`\lambda \ge 0`, the weight of PaLM's :math:`\operatorname{lse}^2`
        penalty.
      logit_soft_cap: optional :math:`c > 0` (Gemma 2 uses 30), a Python number.
      chunk_size: vocabulary columns per chunk. By default the whole vocabulary
        when ``N * V <= 2**22``, else ``2**22 // N`` rounded down to a multiple of 128
        (at least 128): tiles of about 16 MiB in float32. Any positive value works;
        ``V`` need not be a multiple of it. With a sharded vocabulary, the rule uses
        each device's share of ``V``.
      vocab_axis: the mesh axis over which ``weight``'s vocabulary axis (and ``bias``)
        is sharded; read from a concrete weight's ``NamedSharding`` when omitted.
      mesh: the mesh of ``vocab_axis``; by default the weight's.

    Returns:
      A scalar, or the per-token losses ``hidden.shape[:-1]`` when ``reduction="none"``.

    Example:
      >>> import jax, jax.numpy as jnp, jaxloss
      >>> hidden = jnp.array([[1.0, 0.0], [0.0, 2.0]])
      >>> weight = jnp.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.5]])
      >>> labels = jnp.array([0, 1])
      >>> jaxloss.linear_softmax_cross_entropy(hidden, weight, labels)
      Array(0.407..., dtype=float32)
      >>> jaxloss.softmax_cross_entropy_with_integer_labels(hidden @ weight, labels)
      Array(0.407..., dtype=float32)
      >>> jax.grad(jaxloss.linear_softmax_cross_entropy)(hidden, weight, labels)
      Array([[-0.212...,  0.144...],
             [-0.077..., -0.106...]], dtype=float32)
    """
    return linear_cross_entropy_call(
        hidden,
        weight,
        labels,
        bias=bias,
        reduction=reduction,
        weights=weights,
        where=where,
        label_smoothing=label_smoothing,
        z_loss=z_loss,
        logit_soft_cap=logit_soft_cap,
        chunk_size=chunk_size,
        vocab_axis=vocab_axis,
        mesh=mesh,
        vocabulary_major=False,
    )
