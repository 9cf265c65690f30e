r"""Sequence losses: connectionist temporal classification (CTC).

CTC (Graves et al. 2006) scores a label sequence ``y`` of length ``U`` against ``T``
frames of class scores by summing the probability of every *alignment*: a path of
one class per frame that, once repeated classes are merged and blanks dropped,
reads ``y``. The sum runs over the extended sequence ``l = (blank, y_1, blank,
y_2, ..., y_U, blank)`` of ``L = 2U + 1`` states; a path stays in its state, moves
to the next one, or skips a blank between two *different* labels.

Not a :class:`~jaxloss._definition.LossDefinition`: a loss takes four inputs here
(scores, their paddings, labels, their paddings), one value comes from a whole
sequence of frames, and labels and frames have their own lengths. The public
function is written out, with its own derivative rule (``jax.custom_jvp``), and
follows the library's reduction rule through :func:`jaxloss._reduction.reduce`.

The derivative is the closed form from the forward (alpha) and backward (beta)
recursions, both in log space under ``lax.scan``: with
:math:`\gamma_t(s) = \alpha_t(s)\beta_t(s)/p(y)` the posterior occupation of state
``s`` at frame ``t``,

.. math::
   \frac{\partial(-\log p(y))}{\partial z_{t,k}}
   = \operatorname{softmax}(z_t)_k - \sum_{s:\,l_s = k} \gamma_t(s)

for the logits ``z``, and :math:`-\sum_{s: l_s = k}\gamma_t(s)` for log-probabilities
taken as they are. The rule's output is linear in the tangent, so ``jax.grad`` runs
the two recursions once each and never differentiates through a scan. Second
derivatives (Hessian-vector products, ``jax.hessian``) differentiate that rule once
more: forward mode through the two recursions, which is the expectation semiring
computed by autodiff; CTC has no cheaper closed-form Hessian (it needs the pairwise
state posteriors).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxloss import _checks
from jaxloss._checks import Parameter, Reduction
from jaxloss._frontend import as_checked_array
from jaxloss._reduction import compute_dtype, reduce

__all__ = ["ctc_loss", "ctc_loss_with_forward_probs"]

_LOG_EPSILON = Parameter("log_epsilon")


# --------------------------------------------------------------------------------------
# The lattice: blank and label states, the two recursions, the loss and its gradient.
#
# The 2U + 1 states are kept as two arrays, the blanks [B, S + 1] (blank n precedes
# label n) and the labels [B, S]. A frame's update is then two log-add-exps per
# label where the interleaved 2S + 1 states need a three-way log-sum-exp each:
#   E[n]        = logaddexp(blank[n], label[n - 1])       (arrived at blank n)
#   new_blank   = E + log p(blank)
#   new_label   = logaddexp(label, E if label n differs from label n - 1 else blank)
#                 + log p(label n)


def _logaddexp(first: jax.Array, second: jax.Array, exact: bool) -> jax.Array:
    """``log(exp(first) + exp(second))``: one exp and one log1p.

    With a finite log 0 (``exact`` false) both are finite and no guard is needed.
    """
    largest = jnp.maximum(first, second)
    if not exact:
        return largest + jnp.log1p(jnp.exp(-jnp.abs(first - second)))
    # Both -inf: select, never -inf - -inf (whose forward-mode derivative is NaN too).
    unreachable = largest == -jnp.inf
    difference = jnp.where(unreachable, 0, first - second)
    return jnp.where(unreachable, -jnp.inf, largest + jnp.log1p(jnp.exp(-jnp.abs(difference))))


def _shift_up(states: jax.Array, fill: float) -> jax.Array:
    """``out[n] = states[n - 1]``, ``fill`` at 0, one longer (labels to blanks)."""
    # A pad, not a concatenation: XLA's CPU backend fuses it into the step's loop.
    return jnp.pad(states, ((0, 0), (1, 0)), constant_values=fill)


def _recursions(
    blank_log_probabilities: jax.Array,
    label_log_probabilities: jax.Array,
    frame_valid: jax.Array,
    skip: jax.Array,
    final: tuple[jax.Array, jax.Array] | None,
    *,
    log_epsilon: float,
    keep_all: bool,
) -> tuple[tuple[jax.Array, jax.Array], tuple[jax.Array, jax.Array] | None, tuple | None]:
    """The alpha recursion and, given ``final``, the beta recursion, in one scan.

    Inputs are time-major: ``blank_log_probabilities`` ``[T, B]``,
    ``label_log_probabilities`` ``[T, B, S]``, ``frame_valid`` ``[T, B]``; ``skip``
    ``[B, S]`` says where label n may follow label n - 1 directly. A padded frame
    leaves alpha and beta as they were. ``alpha_t`` sums the paths through frames
    ``0..t`` ending in each state, frame ``t`` included; ``beta_t`` the paths from
    each state after frame ``t`` to the end, starting from ``final`` (``beta_{T-1}``:
    0 in the last blank and the last label, log 0 elsewhere). beta runs in the same
    loop as alpha, over the frames in reverse order: one pass over time, not two.

    Returns the last alpha (blanks, labels), every alpha with ``keep_all`` or
    ``final``, and every beta with ``final`` (each ``[T, B, S + 1]``, ``[T, B, S]``).
    """
    _, batch, max_label_length = label_log_probabilities.shape
    dtype = label_log_probabilities.dtype
    exact = log_epsilon == -math.inf
    # Before the first frame, all mass sits in the first blank.
    initial = (
        jnp.full((batch, max_label_length + 1), log_epsilon, dtype).at[:, 0].set(0),
        jnp.full((batch, max_label_length), log_epsilon, dtype),
    )

    def alpha_step(alpha, blank_log_probability, label_log_probability, valid):
        blank, label = alpha
        arrived = _logaddexp(blank, _shift_up(label, log_epsilon), exact)
        new_blank = arrived + blank_log_probability[:, None]
        entering = jnp.where(skip, arrived[:, :-1], blank[:, :-1])
        new_label = _logaddexp(label, entering, exact) + label_log_probability
        keep = valid[:, None]
        return jnp.where(keep, new_blank, blank), jnp.where(keep, new_label, label)

    if final is None:

        def forward_step(alpha, frame):
            new = alpha_step(alpha, *frame)
            return new, new if keep_all else None

        frames = (blank_log_probabilities, label_log_probabilities, frame_valid)
        last, every = jax.lax.scan(forward_step, initial, frames)
        return last, every, None

    # Label n's successors are label n, blank n + 1 and, where skip[n + 1], label n + 1.
    skip_next = jnp.pad(skip[:, 1:], ((0, 0), (0, 1)), constant_values=False)

    def step(carry, frame):
        alpha, beta = carry
        new_alpha = alpha_step(alpha, *frame[:3])
        # beta is beta_f for frame f = T - 1 - (this step): emit frame f, then step
        # back to every state that reaches the emitting one.
        later_blank_log_probability, later_label_log_probability, later_valid = frame[3:]
        blank, label = beta
        emitted_blank = blank + later_blank_log_probability[:, None]
        emitted_label = label + later_label_log_probability
        padded_label = jnp.pad(emitted_label, ((0, 0), (0, 1)), constant_values=log_epsilon)
        new_blank = _logaddexp(emitted_blank, padded_label, exact)
        leaving = jnp.where(skip_next, new_blank[:, 1:], emitted_blank[:, 1:])
        new_label = _logaddexp(emitted_label, leaving, exact)
        keep = later_valid[:, None]
        new_beta = (jnp.where(keep, new_blank, blank), jnp.where(keep, new_label, label))
        return (new_alpha, new_beta), (new_alpha, beta)

    frames = (
        blank_log_probabilities,
        label_log_probabilities,
        frame_valid,
        blank_log_probabilities[::-1],
        label_log_probabilities[::-1],
        frame_valid[::-1],
    )
    (last, _), (every, betas) = jax.lax.scan(step, (initial, final), frames)
    return last, every, (betas[0][::-1], betas[1][::-1])


class _Problem:
    """One batch's lattice: each frame's log-probability of each state's class.

    ``scores`` ``[B, T, K]``, ``frame_valid`` ``[B, T]``, ``labels`` ``[B, S]``,
    ``label_lengths`` ``[B]``; with ``normalize`` the scores are logits.
    """

    def __init__(
        self,
        scores: jax.Array,
        frame_valid: jax.Array,
        labels: jax.Array,
        label_lengths: jax.Array,
        *,
        blank_id: int,
        log_epsilon: float,
        normalize: bool,
    ) -> None:
        num_classes = scores.shape[-1]
        max_label_length = labels.shape[1]
        # One integer dtype for the index arithmetic (int64 inputs under x64 included).
        label_lengths = label_lengths.astype(jnp.int32)
        self.scores = scores
        self.label_lengths = label_lengths
        self.blank_id = blank_id
        self.log_epsilon = log_epsilon
        self.normalize = normalize
        self.frame_valid = frame_valid
        self.log_probs = jax.nn.log_softmax(scores) if normalize else scores
        real = jnp.arange(max_label_length, dtype=jnp.int32)[None, :] < label_lengths[:, None]
        # A label outside [0, K) gives NaN (the library's rule for a bad class index).
        self.bad_label = jnp.any(real & ((labels < 0) | (labels >= num_classes)), axis=1)
        # Padded positions become blanks: whatever they held (-1, a stray class) can
        # neither poison the backward recursion, which runs from the last state down,
        # nor index outside the classes.
        self.labels = jnp.where(real, jnp.clip(labels, 0, num_classes - 1), blank_id)
        repeated = self.labels[:, 1:] == self.labels[:, :-1]
        self.skip = jnp.pad(~repeated, ((0, 0), (1, 0)), constant_values=False)
        # A repeated label needs a blank between its two copies: U + repeats frames.
        repeats = jnp.sum(repeated & real[:, 1:], axis=1, dtype=jnp.int32)
        frames = jnp.sum(frame_valid, axis=1, dtype=jnp.int32)
        self.possible = label_lengths + repeats <= frames

    def time_major(self) -> tuple[jax.Array, jax.Array]:
        """The blank's log-probability ``[T, B]`` and each label's ``[T, B, S]``."""
        log_probs = jnp.transpose(self.log_probs, (1, 0, 2))
        blank = log_probs[..., self.blank_id]
        label = jnp.take_along_axis(log_probs, self.labels[None], axis=2)
        if self.log_epsilon != -math.inf:
            # log_epsilon stands for log 0: a smaller log-probability counts as log 0,
            # which keeps every state finite (no -inf - -inf) to any order of derivative.
            blank = jnp.maximum(blank, self.log_epsilon)
            label = jnp.maximum(label, self.log_epsilon)
        return blank, label

    def recursions(self, *, gradient: bool, keep_all: bool = False):
        blank, label = self.time_major()
        final = None
        if gradient:
            lengths = self.label_lengths[:, None]
            dtype = self.scores.dtype
            # beta after the last frame: 0 in the last blank and the last label.
            blanks = jnp.arange(self.labels.shape[1] + 1, dtype=jnp.int32)[None, :]
            final = (
                jnp.where(blanks == lengths, 0, self.log_epsilon).astype(dtype),
                jnp.where(blanks[:, :-1] == lengths - 1, 0, self.log_epsilon).astype(dtype),
            )
        return _recursions(
            blank,
            label,
            self.frame_valid.T,
            self.skip,
            final,
            log_epsilon=self.log_epsilon,
            keep_all=keep_all,
        )

    def log_likelihood(self, last_alpha: tuple[jax.Array, jax.Array]) -> jax.Array:
        """``log p(y)``: the paths ending in the last blank or the last label."""
        blank, label = last_alpha
        lengths = self.label_lengths[:, None]
        in_blank = jnp.take_along_axis(blank, lengths, axis=1)[:, 0]
        in_label = jnp.take_along_axis(label, jnp.maximum(lengths - 1, 0), axis=1)[:, 0]
        # With no labels there is no last label, only the all-blank path.
        in_label = jnp.where(self.label_lengths > 0, in_label, -jnp.inf)
        return jnp.logaddexp(in_blank, in_label)

    def finish(self, log_likelihood: jax.Array) -> tuple[jax.Array, jax.Array]:
        """The loss ``-log p(y)`` and which sequences have an alignment of nonzero mass."""
        possible = self.possible & (log_likelihood > -jnp.inf)
        # In exact arithmetic -log p(y) >= 0; rounding in float32 can land a hair below
        # 0 for a near-certain alignment (reported against optax's CTC), and a negative
        # loss misleads a training loop, so it is clamped. The gradient is not: it is
        # the closed form, which is ~0 there anyway.
        loss = jnp.where(possible, jnp.maximum(-log_likelihood, 0), jnp.inf)
        return jnp.where(self.bad_label, jnp.nan, loss), possible

    def value(self) -> jax.Array:
        last, _, _ = self.recursions(gradient=False)
        return self.finish(self.log_likelihood(last))[0]

    def value_and_gradient(self) -> tuple[jax.Array, jax.Array, tuple[jax.Array, jax.Array]]:
        """The loss ``[B]``, its gradient ``[B, T, K]`` and every log-alpha (time-major)."""
        last, alpha, beta = self.recursions(gradient=True)
        assert alpha is not None and beta is not None
        log_likelihood = self.log_likelihood(last)
        loss, possible = self.finish(log_likelihood)
        # A logZ of -inf (an impossible sequence) is replaced so that gamma stays finite;
        # the gradient of those sequences is 0 (below). States past the last label
        # reach no end.
        shift = jnp.where(jnp.isfinite(log_likelihood), log_likelihood, 0)[None, :, None]
        lengths = self.label_lengths[None, :, None]
        valid = self.frame_valid.T[:, :, None]
        positions = jnp.arange(self.labels.shape[1] + 1, dtype=jnp.int32)[None, None, :]
        blank_gamma = jnp.where(
            valid & (positions <= lengths), jnp.exp(alpha[0] + beta[0] - shift), 0
        )
        label_gamma = jnp.where(
            valid & (positions[..., :-1] < lengths), jnp.exp(alpha[1] + beta[1] - shift), 0
        )
        num_classes = self.scores.shape[-1]
        classes = jax.lax.broadcasted_iota(self.labels.dtype, (1, 1, num_classes), 2)
        one_hot = (self.labels[..., None] == classes).astype(label_gamma.dtype)
        # Time-major out of the contraction (the fastest layout on the CPU), then back.
        occupation = jnp.einsum("tbn,bnk->tbk", label_gamma, one_hot)
        is_blank = (classes == self.blank_id).astype(blank_gamma.dtype)
        occupation = occupation + jnp.sum(blank_gamma, axis=2, keepdims=True) * is_blank
        occupation = jnp.transpose(occupation, (1, 0, 2))
        # Through log_softmax: softmax(z) * sum_k(occupation) - occupation, and the
        # occupation of a valid frame sums to 1.
        gradient = jnp.exp(self.log_probs) - occupation if self.normalize else -occupation
        # An impossible sequence's loss is +inf whatever the scores: its derivative is 0.
        keep_frames = self.frame_valid & possible[:, None]
        gradient = jnp.where(keep_frames[..., None], gradient, 0)
        return loss, gradient, alpha


def _problem(
    scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, normalize
) -> _Problem:
    return _Problem(
        scores,
        frame_valid,
        labels,
        label_lengths,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
        normalize=normalize,
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _ctc(
    blank_id: int,
    log_epsilon: float,
    normalize: bool,
    scores: jax.Array,
    frame_valid: jax.Array,
    labels: jax.Array,
    label_lengths: jax.Array,
) -> jax.Array:
    """The per-sequence CTC loss ``[B]``; ``normalize`` applies ``log_softmax`` first."""
    return _problem(
        scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, normalize
    ).value()


@_ctc.defjvp
def _ctc_jvp(blank_id, log_epsilon, normalize, primals, tangents):
    scores, frame_valid, labels, label_lengths = primals
    loss, gradient, _ = _problem(
        scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, normalize
    ).value_and_gradient()
    return loss, jnp.einsum("btk,btk->b", gradient, tangents[0])


def ctc_per_sequence(
    scores: jax.Array,
    frame_valid: jax.Array,
    labels: jax.Array,
    label_lengths: jax.Array,
    *,
    blank_id: int,
    log_epsilon: float,
    normalize: bool,
) -> jax.Array:
    """The per-sequence loss ``[B]`` from validated arrays; shared with ``torch_compat``.

    ``scores`` ``[B, T, K]`` (floating, compute dtype), ``frame_valid`` ``[B, T]``
    bool, ``labels`` ``[B, S]`` integer, ``label_lengths`` ``[B]`` integer. With
    ``normalize`` the scores are logits (``log_softmax`` is applied), else
    log-probabilities taken as they are.
    """
    return _ctc(blank_id, log_epsilon, normalize, scores, frame_valid, labels, label_lengths)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def _ctc_with_alphas(
    blank_id: int,
    log_epsilon: float,
    scores: jax.Array,
    frame_valid: jax.Array,
    labels: jax.Array,
    label_lengths: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    problem = _problem(scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, True)
    last, every, _ = problem.recursions(gradient=False, keep_all=True)
    assert every is not None
    loss, _ = problem.finish(problem.log_likelihood(last))
    return loss, every[0], every[1]


@_ctc_with_alphas.defjvp
def _ctc_with_alphas_jvp(blank_id, log_epsilon, primals, tangents):
    scores, frame_valid, labels, label_lengths = primals
    loss, gradient, _ = _problem(
        scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, True
    ).value_and_gradient()

    def alphas(scores: jax.Array) -> tuple[jax.Array, jax.Array]:
        problem = _problem(scores, frame_valid, labels, label_lengths, blank_id, log_epsilon, True)
        _, every, _ = problem.recursions(gradient=False, keep_all=True)
        assert every is not None
        return every

    # The loss's tangent is the closed form; the forward probabilities have none
    # cheaper than forward mode through their own recursion.
    every, every_dot = jax.jvp(alphas, (scores,), (tangents[0],))
    loss_dot = jnp.einsum("btk,btk->b", gradient, tangents[0])
    return (loss, *every), (loss_dot, *every_dot)


# --------------------------------------------------------------------------------------
# Argument checks and the public functions.


def _static_log_epsilon(log_epsilon: ArrayLike) -> float:
    """``log_epsilon`` as a Python float (it is static: each value compiles once)."""
    try:
        value = float(np.asarray(log_epsilon))
    except jax.errors.TracerArrayConversionError as error:
        raise TypeError(
            "log_epsilon must be a concrete number (it selects the recursion's log 0 at "
            "trace time), got a traced value"
        ) from error
    if math.isnan(value) or value > 0:
        raise ValueError(f"log_epsilon must be a log-probability (<= 0, or -inf), got {value!r}")
    return value


def _check_blank(blank_id: object) -> int:
    if not isinstance(blank_id, int | np.integer) or isinstance(blank_id, bool):
        raise TypeError(f"blank_id must be an int, got {type(blank_id).__name__}")
    return int(blank_id)


def _validated(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    blank_id: int,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Trace-time checks; returns logits in the compute dtype, frame_valid ``[B, T]``,
    the labels and their lengths ``[B]``."""
    logits_array = _checks.as_array("logits", logits)
    _checks.check_floating("logits", logits_array)
    if logits_array.ndim != 3:
        raise ValueError(f"logits must have shape [B, T, K], got {logits_array.shape}")
    batch, frames, num_classes = logits_array.shape
    if not 0 <= blank_id < num_classes:
        raise ValueError(
            f"blank_id must lie in [0, {num_classes}) for logits.shape={logits_array.shape}, "
            f"got {blank_id}"
        )
    paddings = as_checked_array("logit_paddings", logit_paddings)
    _checks.check_shape(
        "logit_paddings", paddings, (batch, frames), f"logits.shape={logits_array.shape} [B, T]"
    )
    labels_array = _checks.as_array("labels", labels)
    _checks.check_integer("labels", labels_array)
    if labels_array.ndim != 2 or labels_array.shape[0] != batch:
        raise ValueError(
            f"labels must have shape [B, N] with B = {batch} (logits.shape="
            f"{logits_array.shape}), got {labels_array.shape}"
        )
    label_padding_array = as_checked_array("label_paddings", label_paddings)
    _checks.check_same_shape("labels", labels_array, "label_paddings", label_padding_array)
    max_label_length = labels_array.shape[1]
    # Right-padded labels (optax's requirement): the count of padded entries is enough.
    label_lengths = max_label_length - jnp.sum(label_padding_array != 0, axis=1)
    return (
        logits_array.astype(compute_dtype(logits_array.dtype)),
        paddings == 0,
        labels_array,
        label_lengths.astype(jnp.int32),
    )


def _check_weights(weights: ArrayLike | None) -> None:
    if weights is not None:
        _checks.check_array_range(
            "weights",
            weights,
            lambda values: np.isfinite(values) & (values >= 0),
            "must be finite and non-negative",
        )


@functools.partial(jax.jit, static_argnames=("blank_id", "log_epsilon", "reduction"))
def _ctc_loss_compiled(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    weights: ArrayLike | None,
    where: ArrayLike | None,
    *,
    blank_id: int,
    log_epsilon: float,
    reduction: Reduction,
) -> jax.Array:
    input_dtype = jnp.asarray(logits).dtype
    scores, frame_valid, labels_array, label_lengths = _validated(
        logits, logit_paddings, labels, label_paddings, blank_id
    )
    loss_shape = scores.shape[:1]
    weights_array = None
    if weights is not None:
        weights_array = as_checked_array("weights", weights)
        _checks.check_broadcastable("weights", weights_array, loss_shape)
        weights_array = jnp.broadcast_to(weights_array.astype(scores.dtype), loss_shape)
    where_array = None
    if where is not None:
        where_array = _checks.as_array("where", where)
        _checks.check_mask("where", where_array)
        _checks.check_broadcastable("where", where_array, loss_shape)
        where_array = jnp.broadcast_to(where_array, loss_shape)
    if weights_array is not None:
        # A zero weight leaves a sequence out, as a mask would: 0 * inf (an impossible
        # alignment) would otherwise make the whole reduction NaN.
        nonzero = weights_array != 0
        where_array = nonzero if where_array is None else where_array & nonzero
    if where_array is not None:
        # Masked sequences run on harmless inputs, so that an inf or NaN hidden under
        # the mask cannot reach the gradient as 0 * inf.
        scores = jnp.where(where_array[:, None, None], scores, 0)
        label_lengths = jnp.where(where_array, label_lengths, 0)
    loss = ctc_per_sequence(
        scores,
        frame_valid,
        labels_array,
        label_lengths,
        blank_id=blank_id,
        log_epsilon=log_epsilon,
        normalize=True,
    )
    return reduce(
        loss, reduction=reduction, weights=weights_array, where=where_array, none_dtype=input_dtype
    )


def ctc_loss(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: ArrayLike = -1e5,
    reduction: Reduction = "mean",
    weights: ArrayLike | None = None,
    where: ArrayLike | None = None,
) -> jax.Array:
    r"""Connectionist temporal classification loss, optax's ``ctc_loss``.

    .. math:: \ell_b = -\log \sum_{\pi \in \mathcal{B}^{-1}(y_b)}
       \prod_t \operatorname{softmax}(z_{b,t})_{\pi_t}

    summed over the alignments ``pi`` of the ``T_b`` unpadded frames that read the
    label sequence ``y_b`` once repeats are merged and blanks removed (Graves et al.
    2006). Arguments, layout (batch-major) and ``reduction="none"`` are optax's:
    the per-sequence values equal ``optax.ctc_loss``'s.

    Its gradient is the closed form ``softmax(z) - occupation``, the posterior
    probability of each class at each frame under the alignments, from the forward
    and backward recursions (log space, one ``lax.scan`` over time for both);
    second derivatives differentiate that rule in forward mode (``jax.jvp`` of
    ``jax.grad``, ``jax.hessian``).

    Differences from optax: a label sequence no alignment can read (longer than
    its frames, counting the blank each repeated label needs) gives ``+inf`` with
    gradient 0 (optax: about ``1e5`` times the shortfall, from ``log_epsilon``);
    the loss is never negative (float32 rounding can take optax's a hair below 0);
    a ``-inf`` logit is a class of probability 0 (optax gives NaN); a label outside
    ``[0, K)`` gives NaN. Like optax's, ``log_epsilon`` stands for ``log 0`` in the
    recursion (a log-probability below it counts as 0); ``-math.inf`` runs it
    exactly.

    Args:
      logits: ``[B, T, K]`` scores; ``logits[b, :, blank_id]`` are the blank's.
      logit_paddings: ``[B, T]``, 1 (any nonzero) where a frame is padding. Padded
        frames are skipped wherever they are.
      labels: ``[B, N]`` integer labels, right-padded.
      label_paddings: ``[B, N]``, 1 where a label is padding (after the real ones).
      blank_id: the blank's class index in ``[0, K)``.
      log_epsilon: the stand-in for ``log 0``, a Python number (static).
      reduction: ``"mean"`` (default, over sequences), ``"sum"`` or ``"none"``.
      weights: per-sequence weights, broadcast to ``[B]``; a zero weight leaves its
        sequence out (its loss may be ``+inf`` without making the result NaN).
      where: boolean mask broadcast to ``[B]``: sequences to include.

    Returns:
      A scalar, or the per-sequence losses ``[B]`` when ``reduction="none"``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> logits = jnp.zeros((1, 3, 3))  # 3 frames, uniform: 5 alignments of 27 read "1 2"
      >>> jaxloss.ctc_loss(logits, jnp.zeros((1, 3)), jnp.array([[1, 2]]),
      ...                  jnp.zeros((1, 2)), reduction="none")
      Array([1.686...], dtype=float32)
    """
    _checks.check_reduction(reduction)
    _check_weights(weights)
    return _ctc_loss_compiled(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        weights,
        where,
        blank_id=_check_blank(blank_id),
        log_epsilon=_static_log_epsilon(log_epsilon),
        reduction=reduction,
    )


@functools.partial(jax.jit, static_argnames=("blank_id", "log_epsilon"))
def _forward_probs_compiled(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int,
    log_epsilon: float,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    input_dtype = jnp.asarray(logits).dtype
    scores, frame_valid, labels_array, label_lengths = _validated(
        logits, logit_paddings, labels, label_paddings, blank_id
    )
    loss, blank, label = _ctc_with_alphas(
        blank_id, log_epsilon, scores, frame_valid, labels_array, label_lengths
    )
    # optax's last row also counts the paths that have just emitted label n - 1 in
    # blank n (the epsilon move with no frame).
    last = jnp.concatenate(
        [blank[-1:, :, :1], jnp.logaddexp(blank[-1:, :, 1:], label[-1:])], axis=2
    )
    blank = jnp.concatenate([blank[:-1], last], axis=0)
    return loss.astype(input_dtype), blank.astype(input_dtype), label.astype(input_dtype)


def ctc_loss_with_forward_probs(
    logits: ArrayLike,
    logit_paddings: ArrayLike,
    labels: ArrayLike,
    label_paddings: ArrayLike,
    *,
    blank_id: int = 0,
    log_epsilon: ArrayLike = -1e5,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""The per-sequence CTC loss and the forward log-probabilities, optax's function.

    Returns what ``optax.ctc_loss_with_forward_probs`` returns: the losses ``[B]``
    (as :func:`ctc_loss` with ``reduction="none"``, so ``+inf`` for an impossible
    label sequence) and ``log alpha`` of the blank states ``[T, B, N + 1]`` and of
    the label states ``[T, B, N]``: ``[t, b, n]`` sums the paths over frames
    ``0..t`` that end in the blank before label ``n`` (resp. in label ``n``). A
    padded frame repeats the previous row. The last row of the blanks also counts
    the paths that have just emitted label ``n - 1``, as optax's does.

    The loss's gradient is the closed form of :func:`ctc_loss`; the forward
    probabilities are differentiated in forward mode through their recursion.

    Args:
      logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon: as in
        :func:`ctc_loss`.

    Returns:
      ``(loss, log_alpha_blank, log_alpha_label)``.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> loss, blank, label = jaxloss.ctc_loss_with_forward_probs(
      ...     jnp.zeros((1, 3, 3)), jnp.zeros((1, 3)), jnp.array([[1, 2]]), jnp.zeros((1, 2)))
      >>> loss, blank.shape, label.shape
      (Array([1.686...], dtype=float32), (3, 1, 3), (3, 1, 2))
    """
    return _forward_probs_compiled(
        logits,
        logit_paddings,
        labels,
        label_paddings,
        blank_id=_check_blank(blank_id),
        log_epsilon=_static_log_epsilon(log_epsilon),
    )
