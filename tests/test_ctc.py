"""CTC: jaxloss.ctc_loss / ctc_loss_with_forward_probs and torch_compat.ctc_loss / CTCLoss.

Three independent references: optax's ``ctc_loss`` (values, gradients, forward
probabilities, and the edge cases of optax's own tests), torch 2.13's
``ctc_loss`` (every reduction, both target layouts, unbatched input,
``zero_infinity``), and a brute-force sum over every alignment of a few frames
(values, gradients and Hessian-vector products through ``jax.grad`` /
``jax.hessian`` of that sum, in float64).
"""

from __future__ import annotations

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxloss
from jaxloss import torch_compat

# optax's CTC mixes a float32 constant into float64 inputs, which the suite's strict
# promotion refuses; its calls run under the standard rule.
STANDARD = jax.numpy_dtype_promotion("standard")

# One shape for the optax comparisons (each new shape compiles again): B sequences of
# T frames over K classes, labels padded to S.
B, T, K, S = 6, 9, 5, 4


def _paddings(lengths: np.ndarray, width: int) -> np.ndarray:
    return (np.arange(width)[None, :] >= np.asarray(lengths)[:, None]).astype(np.float32)


def _batch(dtype=np.float64, blank_id: int = 0):
    """Frames and labels that cover the cases: repeats, an empty label, a row needing
    every frame, an impossible row (too long for its frames), trailing padding."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((B, T, K)).astype(dtype)
    others = [k for k in range(K) if k != blank_id]
    labels = np.array(
        [
            [others[0], others[1], others[1], others[2]],  # a repeat needs a blank
            [others[2], others[2], others[2], others[0]],  # three repeats, padded to 3
            [others[3], others[0], others[3], others[0]],  # uses all S labels
            [others[1], others[0], others[0], others[0]],  # empty (all padding)
            [others[0], others[0], others[0], others[0]],  # 4 x the same: needs 7 frames
            [others[3], others[2], others[1], others[0]],  # one-to-one: T_b = U
        ]
    )
    label_lengths = np.array([4, 3, 4, 0, 4, 4])
    frame_lengths = np.array([9, 7, 8, 5, 6, 4])  # row 4: 6 < 7 frames, impossible
    return (
        logits,
        _paddings(frame_lengths, T).astype(dtype),
        labels,
        _paddings(label_lengths, S).astype(dtype),
    )


POSSIBLE = np.array([True, True, True, True, False, True])


# --------------------------------------------------------------------------------------
# Against optax.


@pytest.mark.parametrize("blank_id", [0, K - 1])
def test_values_and_gradients_equal_optax_float64(blank_id):
    """Per-sequence values (reduction="none") and gradients equal optax's, float64."""
    with jax.enable_x64(True):
        logits, logit_paddings, labels, label_paddings = _batch(np.float64, blank_id)

        def ours(z):
            return jaxloss.ctc_loss(
                z, logit_paddings, labels, label_paddings, blank_id=blank_id, reduction="none"
            )

        def theirs(z):
            with STANDARD:
                return optax.ctc_loss(z, logit_paddings, labels, label_paddings, blank_id=blank_id)

        value, optax_value = ours(logits), theirs(logits)
        np.testing.assert_allclose(value[POSSIBLE], optax_value[POSSIBLE], rtol=1e-12)
        # optax: ~1e5 per missing frame, from log_epsilon; jaxloss: +inf (the rule).
        assert np.all(optax_value[~POSSIBLE] > 5e4)
        assert np.all(value[~POSSIBLE] == np.inf)
        weights = jnp.asarray(POSSIBLE.astype(np.float64))
        gradient = jax.grad(lambda z: jnp.sum(ours(z) * weights))(logits)
        optax_gradient = jax.grad(lambda z: jnp.sum(theirs(z) * weights))(logits)
        np.testing.assert_allclose(gradient, optax_gradient, rtol=1e-10, atol=1e-13)
        # The impossible row's gradient is 0 (the loss is +inf for every logit).
        full = jax.grad(lambda z: jnp.sum(jnp.where(POSSIBLE, ours(z), 0)))(logits)
        assert np.all(np.asarray(jax.grad(lambda z: ours(z)[4])(logits)) == 0)
        np.testing.assert_allclose(full, optax_gradient, rtol=1e-10, atol=1e-13)


def test_values_and_gradients_equal_optax_float32():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    value = jaxloss.ctc_loss(logits, logit_paddings, labels, label_paddings, reduction="none")
    optax_value = optax.ctc_loss(logits, logit_paddings, labels, label_paddings)
    np.testing.assert_allclose(value[POSSIBLE], optax_value[POSSIBLE], rtol=2e-6)
    weights = jnp.asarray(POSSIBLE.astype(np.float32))
    gradient = jax.grad(
        lambda z: jaxloss.ctc_loss(
            z, logit_paddings, labels, label_paddings, reduction="sum", weights=weights
        )
    )(logits)
    optax_gradient = jax.grad(
        lambda z: jnp.sum(optax.ctc_loss(z, logit_paddings, labels, label_paddings) * weights)
    )(logits)
    np.testing.assert_allclose(gradient, optax_gradient, rtol=1e-4, atol=2e-6)


def test_forward_probs_equal_optax():
    """ctc_loss_with_forward_probs returns optax's (loss, log alpha blank, log alpha label)."""
    with jax.enable_x64(True):
        logits, logit_paddings, labels, label_paddings = _batch(np.float64)
        loss, blank, label = jaxloss.ctc_loss_with_forward_probs(
            logits, logit_paddings, labels, label_paddings
        )
        with STANDARD:
            optax_loss, optax_blank, optax_label = optax.ctc_loss_with_forward_probs(
                logits, logit_paddings, labels, label_paddings
            )
        assert blank.shape == optax_blank.shape == (T, B, S + 1)
        assert label.shape == optax_label.shape == (T, B, S)
        np.testing.assert_allclose(loss[POSSIBLE], optax_loss[POSSIBLE], rtol=1e-12)
        # The states of each row's labels: reachable ones agree to rounding, unreachable
        # ones are both near log_epsilon (the log-0 stand-in, added in another order).
        # States past a row's labels differ: optax runs them on the padding's values.
        label_lengths = S - np.sum(label_paddings, axis=1).astype(int)
        for ours, theirs, last in ((blank, optax_blank, 0), (label, optax_label, -1)):
            positions = np.arange(ours.shape[2])[None, None, :]
            within = positions <= label_lengths[None, :, None] + last
            reachable = np.asarray(theirs) > -1e4
            assert np.array_equal(reachable & within, (np.asarray(ours) > -1e4) & within)
            both = reachable & within
            np.testing.assert_allclose(ours[both], theirs[both], rtol=1e-11)
        # The loss is differentiable through this function too (closed form), and so are
        # the forward probabilities (forward mode through their recursion).
        weights = jnp.asarray(POSSIBLE.astype(np.float64))

        def total(z, function):
            loss, blank, _ = function(z, logit_paddings, labels, label_paddings)
            reachable = (optax_blank[-1] > -1e4) & (
                np.arange(S + 1)[None, :] <= label_lengths[:, None]
            )
            return jnp.sum(loss * weights) + jnp.sum(jnp.where(reachable, blank[-1], 0))

        with STANDARD:
            optax_gradient = jax.grad(total)(logits, optax.ctc_loss_with_forward_probs)
        np.testing.assert_allclose(
            jax.grad(total)(logits, jaxloss.ctc_loss_with_forward_probs),
            optax_gradient,
            rtol=1e-9,
            atol=1e-12,
        )


def test_optax_one_to_one_alignment_cases():
    """optax's CTCTest: T = U without repeats (the only alignment is the labels), with
    and without paddings, and its minimal alignments of repeated labels."""
    rng = np.random.default_rng(1234)
    # test_with_one_to_one_alignment (smaller): no blank can fit.
    batch, steps, classes = 3, 12, 8
    logits = rng.standard_normal((batch, steps, classes)).astype(np.float32)
    labels = rng.integers(1, classes, size=(batch, steps))
    for row in labels:
        for t in range(1, steps):
            while row[t] == row[t - 1]:
                row[t] = rng.integers(1, classes)
    no_padding = np.zeros((batch, steps), np.float32)
    loss, blank, label = jaxloss.ctc_loss_with_forward_probs(logits, no_padding, labels, no_padding)
    log_probs = jax.nn.log_softmax(logits)
    path = -np.sum(np.take_along_axis(np.asarray(log_probs), labels[..., None], 2), (1, 2))
    np.testing.assert_allclose(loss, path, rtol=1e-6)
    np.testing.assert_allclose(blank[-1, :, 0], np.sum(log_probs[:, :, 0], 1), rtol=1e-6)
    np.testing.assert_allclose(label[-1, :, steps - 1], -loss, rtol=1e-6)
    np.testing.assert_allclose(blank[-1, :, steps], -loss, rtol=1e-6)
    # test_with_one_to_one_alignment_and_paddings: the gradient is softmax - onehot(y).
    lengths = np.array([3, 5, 4])
    paddings = _paddings(lengths, steps)
    gradient = jax.grad(
        lambda z: jaxloss.ctc_loss(z, paddings, labels, paddings, reduction="mean")
    )(logits)
    expected = np.array(jax.nn.softmax(logits))
    for n in range(batch):
        expected[n, lengths[n] :] = 0
        expected[n, np.arange(lengths[n]), labels[n, : lengths[n]]] -= 1
    np.testing.assert_allclose(gradient, expected / batch, rtol=1e-5, atol=1e-6)
    # test_repeat_with_one_to_one_alignment: the minimal alignments of repeats.
    repeat_labels = np.array([[1, 2, 2, 3], [2, 3, 4, 4], [1, 1, 1, 1], [1, 1, 2, 3], [1, 1, 1, 2]])
    alignments = [
        [1, 2, 0, 2, 3],
        [2, 3, 4, 0, 4],
        [1, 0, 1, 0, 1, 0, 1],
        [1, 0, 1, 2, 3],
        [1, 0, 1, 0, 1, 2],
    ]
    frames = np.array([len(a) for a in alignments])
    logits = rng.standard_normal((5, 7, 5)).astype(np.float32)
    labels = np.pad(repeat_labels, ((0, 0), (0, 2)))
    loss = jaxloss.ctc_loss(
        logits, _paddings(frames, 7), labels, _paddings([4] * 5, 6), reduction="none"
    )
    log_probs = np.asarray(jax.nn.log_softmax(logits))
    expected = [-sum(log_probs[n, t, k] for t, k in enumerate(a)) for n, a in enumerate(alignments)]
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_never_negative_in_float32():
    """A near-certain alignment: -log p rounds to about 0, and the loss stays >= 0."""
    labels = np.array([[1, 2, 3, 4]])
    logits = np.full((1, 4, 5), -30.0, np.float32)
    logits[0, np.arange(4), labels[0]] = 30.0
    logits = logits + np.linspace(0, 1e-3, 20, dtype=np.float32).reshape(1, 4, 5)
    zeros4 = np.zeros((1, 4), np.float32)
    loss = jaxloss.ctc_loss(logits, zeros4, labels, zeros4, reduction="none")
    assert loss[0] >= 0
    assert loss[0] < 1e-6
    gradient = jax.grad(lambda z: jaxloss.ctc_loss(z, zeros4, labels, zeros4))(logits)
    assert np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) < 1e-6


def test_infinite_logits_and_bad_labels():
    """A -inf logit is a class of probability 0 (optax: NaN); a label outside [0, K) is NaN."""
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    masked = logits.copy()
    masked[:, :, K - 1] = -np.inf  # a class no row's first label uses...
    labels = labels.copy()
    labels[labels == K - 1] = 1  # ...and no label at all
    loss = jaxloss.ctc_loss(masked, logit_paddings, labels, label_paddings, reduction="none")
    assert np.all(np.isfinite(loss[POSSIBLE]))
    assert np.all(np.isnan(optax.ctc_loss(masked, logit_paddings, labels, label_paddings)))
    gradient = jax.grad(
        lambda z: jaxloss.ctc_loss(z, logit_paddings, labels, label_paddings, where=POSSIBLE)
    )(masked)
    assert np.all(np.isfinite(gradient))
    assert np.all(gradient[:, :, K - 1] == 0)
    bad = labels.copy()
    bad[0, 0] = K
    loss = jaxloss.ctc_loss(logits, logit_paddings, bad, label_paddings, reduction="none")
    assert np.isnan(loss[0]) and np.all(np.isfinite(loss[1:4]))


# --------------------------------------------------------------------------------------
# Against a brute-force sum over every alignment (independent of any recursion).


def _collapse(path) -> tuple[int, ...]:
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return tuple(k for k in merged if k != 0)


def _brute_force(logits, frame_lengths, labels, label_lengths):
    """-log sum over alignments of prod softmax, each sequence on its first T_b frames."""
    num_classes = logits.shape[-1]
    losses = []
    for b in range(logits.shape[0]):
        frames = int(frame_lengths[b])
        target = tuple(int(k) for k in labels[b, : label_lengths[b]])
        paths = np.array(
            [
                p
                for p in itertools.product(range(num_classes), repeat=frames)
                if _collapse(p) == target
            ]
        ).reshape(-1, frames)
        log_probs = jax.nn.log_softmax(logits[b, :frames])
        scores = jnp.sum(log_probs[jnp.arange(frames)[None, :], paths], axis=1)
        losses.append(-jax.nn.logsumexp(scores) if len(paths) else jnp.inf)
    return jnp.stack(losses)


TINY_FRAMES = np.array([5, 4, 5, 3])
TINY_LABELS = np.array([[1, 1, 2], [2, 1, 0], [2, 0, 0], [1, 2, 1]])
TINY_LABEL_LENGTHS = np.array([3, 2, 0, 3])  # row 3 needs 3 frames: exactly enough


def _tiny(dtype=np.float64):
    logits = np.random.default_rng(2).standard_normal((4, 5, 3)).astype(dtype)
    return logits, _paddings(TINY_FRAMES, 5).astype(dtype), _paddings(TINY_LABEL_LENGTHS, 3)


@jax.jit
def _brute_force_total(logits, weights):
    return jnp.sum(weights * _brute_force(logits, TINY_FRAMES, TINY_LABELS, TINY_LABEL_LENGTHS))


def test_value_gradient_and_hessian_equal_brute_force():
    """Value, gradient (closed form) and Hessian-vector product (forward over the rule)
    equal jax.grad / jax.hessian of the sum over all alignments, in float64, with the
    default log_epsilon and with an exact log 0 (log_epsilon=-inf)."""
    with jax.enable_x64(True):
        logits, logit_paddings, label_paddings = _tiny()
        weights = jnp.array([1.0, 0.5, 2.0, 1.5])
        value = _brute_force_total(logits, weights)
        gradient = jax.jit(jax.grad(_brute_force_total))(logits, weights)
        hessian = jax.jit(jax.hessian(_brute_force_total))(logits, weights)
        hessian = hessian.reshape(logits.size, logits.size)
        vector = np.random.default_rng(3).standard_normal(logits.shape)
        expected = (hessian @ vector.reshape(-1)).reshape(logits.shape)
        for log_epsilon in (-math.inf, -1e5):

            def ours(z, log_epsilon=log_epsilon):
                return jaxloss.ctc_loss(
                    z,
                    logit_paddings,
                    TINY_LABELS,
                    label_paddings,
                    log_epsilon=log_epsilon,
                    reduction="sum",
                    weights=weights,
                )

            np.testing.assert_allclose(ours(logits), value, rtol=1e-12)
            np.testing.assert_allclose(jax.grad(ours)(logits), gradient, rtol=1e-10, atol=1e-13)
        # Forward over the rule (the exact log 0's product is finite too, not checked
        # again here: each product compiles the rule's derivative anew).
        _, product = jax.jvp(jax.grad(ours), (logits,), (vector,))
        np.testing.assert_allclose(product, expected, rtol=1e-9, atol=1e-12)
        # Reverse over the rule gives the same product.
        reverse = jax.grad(lambda z: jnp.vdot(jax.grad(ours)(z), vector))(logits)
        np.testing.assert_allclose(reverse, expected, rtol=1e-9, atol=1e-12)


def test_impossible_alignments_are_inf_never_nan():
    """Too few frames, counting a blank between repeats: +inf with gradient 0; masked
    or zero-weighted, it leaves the reduction finite."""
    logits, _, label_paddings = _tiny(np.float32)
    frames = np.array([4, 1, 5, 2])  # row 0: 1 1 2 needs 4 (fits); row 1 needs 2; row 3 needs 3
    logit_paddings = _paddings(frames, 5)
    loss = jaxloss.ctc_loss(logits, logit_paddings, TINY_LABELS, label_paddings, reduction="none")
    assert np.isfinite(loss[0]) and np.isfinite(loss[2])
    assert loss[1] == np.inf and loss[3] == np.inf
    for reduction in ("mean", "sum"):
        assert (
            jaxloss.ctc_loss(
                logits, logit_paddings, TINY_LABELS, label_paddings, reduction=reduction
            )
            == np.inf
        )
    possible = np.array([True, False, True, False])
    gradient = jax.grad(lambda z: jaxloss.ctc_loss(z, logit_paddings, TINY_LABELS, label_paddings))(
        logits
    )
    assert np.all(np.isfinite(gradient)) and np.all(gradient[~possible] == 0)
    masked = jaxloss.ctc_loss(logits, logit_paddings, TINY_LABELS, label_paddings, where=possible)
    weighted = jaxloss.ctc_loss(
        logits, logit_paddings, TINY_LABELS, label_paddings, weights=possible.astype(np.float32)
    )
    np.testing.assert_allclose(masked, np.mean(loss[possible]), rtol=1e-6)
    np.testing.assert_allclose(weighted, masked, rtol=1e-6)


# --------------------------------------------------------------------------------------
# The reduction rule, transforms, dtypes and argument errors.


def test_reductions_weights_where_jit_and_vmap():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    where = POSSIBLE
    per_sequence = jaxloss.ctc_loss(
        logits, logit_paddings, labels, label_paddings, reduction="none"
    )
    weights = np.linspace(0.5, 2.0, B).astype(np.float32)
    kept = per_sequence[where]
    cases = {
        "mean": np.mean(kept),
        "sum": np.sum(kept),
    }
    for reduction, expected in cases.items():
        value = jaxloss.ctc_loss(
            logits, logit_paddings, labels, label_paddings, reduction=reduction, where=where
        )
        np.testing.assert_allclose(value, expected, rtol=1e-6)
    weighted = jaxloss.ctc_loss(
        logits, logit_paddings, labels, label_paddings, weights=weights, where=where
    )
    np.testing.assert_allclose(
        weighted, np.sum(weights[where] * kept) / np.sum(weights[where]), rtol=1e-6
    )
    jitted = jax.jit(
        lambda z: jaxloss.ctc_loss(z, logit_paddings, labels, label_paddings, reduction="none")
    )
    np.testing.assert_allclose(jitted(logits), per_sequence, rtol=1e-6)
    # vmap over a leading axis: two copies of the batch, the second with shifted logits.
    stacked = np.stack([logits, logits + 1.0])  # a constant shift leaves softmax unchanged
    mapped = jax.vmap(
        lambda z: jaxloss.ctc_loss(z, logit_paddings, labels, label_paddings, reduction="none")
    )(stacked)
    np.testing.assert_allclose(mapped[0], per_sequence, rtol=1e-6)
    np.testing.assert_allclose(mapped[1][where], per_sequence[where], rtol=1e-5)


def test_half_precision_and_empty():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    half = jnp.asarray(logits, jnp.bfloat16)
    none = jaxloss.ctc_loss(half, logit_paddings, labels, label_paddings, reduction="none")
    assert none.dtype == jnp.bfloat16
    mean = jaxloss.ctc_loss(half, logit_paddings, labels, label_paddings, where=POSSIBLE)
    assert mean.dtype == jnp.float32
    reference = jaxloss.ctc_loss(
        np.asarray(half, np.float32), logit_paddings, labels, label_paddings, where=POSSIBLE
    )
    np.testing.assert_allclose(mean, reference, rtol=1e-6)
    empty = jaxloss.ctc_loss(
        np.zeros((0, T, K), np.float32), np.zeros((0, T)), np.zeros((0, S), int), np.zeros((0, S))
    )
    assert empty == 0


def test_argument_errors():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    with pytest.raises(ValueError, match=r"logits must have shape \[B, T, K\]"):
        jaxloss.ctc_loss(logits[0], logit_paddings, labels, label_paddings)
    with pytest.raises(ValueError, match="logit_paddings must have shape"):
        jaxloss.ctc_loss(logits, logit_paddings[:, :-1], labels, label_paddings)
    with pytest.raises(ValueError, match="labels must have shape"):
        jaxloss.ctc_loss(logits, logit_paddings, labels[:-1], label_paddings[:-1])
    with pytest.raises(ValueError, match="same shape"):
        jaxloss.ctc_loss(logits, logit_paddings, labels, label_paddings[:, :-1])
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        jaxloss.ctc_loss(logits, logit_paddings, labels.astype(np.float32), label_paddings)
    with pytest.raises(ValueError, match=r"blank_id must lie in \[0, 5\)"):
        jaxloss.ctc_loss(logits, logit_paddings, labels, label_paddings, blank_id=K)
    with pytest.raises(ValueError, match="log_epsilon must be a log-probability"):
        jaxloss.ctc_loss(logits, logit_paddings, labels, label_paddings, log_epsilon=1.0)
    with pytest.raises(TypeError, match="log_epsilon must be a concrete number"):
        jax.jit(
            lambda e: jaxloss.ctc_loss(
                logits, logit_paddings, labels, label_paddings, log_epsilon=e
            )
        )(-1e5)
    with pytest.raises(ValueError, match="weights must be finite and non-negative"):
        jaxloss.ctc_loss(logits, logit_paddings, labels, label_paddings, weights=-np.ones(B))


# --------------------------------------------------------------------------------------
# torch_compat against torch 2.13.

N, TT, C, SS = 5, 8, 5, 4
TORCH_TARGETS = np.array([[1, 2, 2, 3], [3, 3, 0, 0], [4, 1, 4, 1], [2, 0, 0, 0], [1, 1, 1, 1]])
TORCH_TARGET_LENGTHS = np.array([4, 2, 4, 0, 4])
# Row 4 (1 1 1 1) needs 7 frames and has 6: impossible. Row 3 has no labels.
TORCH_INPUT_LENGTHS = np.array([8, 5, 8, 3, 6])


def _torch_inputs(blank: int):
    logits = np.random.default_rng(4).standard_normal((TT, N, C))
    targets = TORCH_TARGETS.copy()
    if blank:
        targets = np.where(targets == blank, 0, targets)  # never the blank: swap it with 0
    return logits, targets


def _torch_loss(logits, targets, input_lengths, target_lengths, **options):
    tensor = torch.tensor(logits, requires_grad=True)
    loss = torch.nn.functional.ctc_loss(
        tensor.log_softmax(-1),
        torch.tensor(targets),
        torch.tensor(input_lengths),
        torch.tensor(target_lengths),
        **options,
    )
    finite = torch.where(torch.isfinite(loss), loss, 0)
    finite.sum().backward()
    return loss.detach().numpy(), tensor.grad.numpy()


def _ours(logits, targets, input_lengths, target_lengths, **options):
    def finite_sum(z):
        loss = torch_compat.ctc_loss(
            jax.nn.log_softmax(z), targets, input_lengths, target_lengths, **options
        )
        return jnp.sum(jnp.where(jnp.isfinite(loss), loss, 0)), loss

    gradient, value = jax.jit(jax.grad(finite_sum, has_aux=True))(logits)
    return np.asarray(value), np.asarray(gradient)


@pytest.mark.parametrize("blank", [0, 2])
def test_torch_parity_every_reduction_and_layout(blank):
    """Values and logit gradients equal torch's: 3 reductions x zero_infinity x padded
    or concatenated targets, with repeats, an empty target and an impossible one."""
    with jax.enable_x64(True):
        logits, targets = _torch_inputs(blank)
        concatenated = np.concatenate(
            [row[:length] for row, length in zip(targets, TORCH_TARGET_LENGTHS, strict=True)]
        )
        # Each reduction with and without zero_infinity, each time in the other layout
        # (every combination compiles again); a nonzero blank needs only one.
        combinations = [
            (reduction, zero_infinity, "concatenated" if zero_infinity else "padded")
            for reduction in ("none", "sum", "mean")
            for zero_infinity in (False, True)
        ]
        if blank:
            combinations = [("mean", True, "concatenated")]
        for reduction, zero_infinity, layout in combinations:
            options = {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity}
            chosen = targets if layout == "padded" else concatenated
            expected, expected_gradient = _torch_loss(
                logits, chosen, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, **options
            )
            value, gradient = _ours(
                logits, chosen, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, **options
            )
            np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=str(options))
            # torch's gradient of an inf loss is NaN (zero_infinity=False); jaxloss's is 0.
            expected_gradient = np.nan_to_num(expected_gradient, nan=0.0)
            np.testing.assert_allclose(
                gradient, expected_gradient, rtol=1e-9, atol=1e-12, err_msg=str(options)
            )


def test_torch_parity_unbatched_float32_class_and_log_probs_gradient():
    logits, targets = _torch_inputs(0)
    logits32 = logits[:, 0].astype(np.float32)
    log_probs = torch.tensor(logits32).log_softmax(-1)
    for reduction in ("none", "sum", "mean"):
        expected = torch.nn.functional.ctc_loss(
            log_probs,
            torch.tensor(targets[0]),
            torch.tensor(8),
            torch.tensor(4),
            reduction=reduction,
        )
        value = torch_compat.CTCLoss(reduction=reduction)(
            jax.nn.log_softmax(logits32), targets[0], 8, 4
        )
        assert value.shape == () and value.dtype == jnp.float32
        np.testing.assert_allclose(value, expected.numpy(), rtol=1e-6)
    # The gradient with respect to log_probs itself: jaxloss's is the derivative,
    # -occupation; torch's is exp(log_probs) - occupation (the gradient for the logits).
    with jax.enable_x64(True):
        tensor = torch.tensor(logits, requires_grad=True)
        torch.nn.functional.ctc_loss(
            tensor,
            torch.tensor(targets),
            torch.tensor(TORCH_INPUT_LENGTHS),
            torch.tensor(TORCH_TARGET_LENGTHS),
            reduction="sum",
        ).backward()
        possible = np.array([True, True, True, True, False])
        gradient = jax.grad(
            lambda x: jnp.sum(
                torch_compat.ctc_loss(
                    x, targets, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, reduction="none"
                )[possible]
            )
        )(logits)
        valid = np.arange(TT)[:, None] < TORCH_INPUT_LENGTHS[None, :]
        torch_gradient = tensor.grad.numpy() - np.where(valid[..., None], np.exp(logits), 0)
        np.testing.assert_allclose(
            gradient[:, possible], torch_gradient[:, possible], rtol=1e-9, atol=1e-12
        )


def test_torch_traced_lengths_and_errors():
    logits, targets = _torch_inputs(0)
    log_probs = jax.nn.log_softmax(jnp.asarray(logits, jnp.float32))
    concatenated = np.concatenate(
        [row[:length] for row, length in zip(targets, TORCH_TARGET_LENGTHS, strict=True)]
    )
    eager = torch_compat.ctc_loss(
        log_probs, concatenated, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, zero_infinity=True
    )
    jitted = jax.jit(
        lambda x, i, t: torch_compat.ctc_loss(x, concatenated, i, t, zero_infinity=True)
    )(log_probs, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6)
    with pytest.raises(ValueError, match=r"input_lengths must lie in \[0, 8\]"):
        torch_compat.ctc_loss(log_probs, targets, [9, 5, 8, 3, 6], TORCH_TARGET_LENGTHS)
    with pytest.raises(ValueError, match="target_lengths must be at most"):
        torch_compat.ctc_loss(log_probs, targets, TORCH_INPUT_LENGTHS, [5, 2, 4, 0, 4])
    with pytest.raises(ValueError, match="sum\\(target_lengths\\) = 14"):
        torch_compat.ctc_loss(
            log_probs, concatenated[:-1], TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS
        )
    with pytest.raises(ValueError, match="blank must be in label range"):
        torch_compat.ctc_loss(
            log_probs, targets, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, blank=C
        )
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        torch_compat.ctc_loss(
            log_probs, targets, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, reduction="max"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        legacy = torch_compat.ctc_loss(
            log_probs,
            targets,
            TORCH_INPUT_LENGTHS,
            TORCH_TARGET_LENGTHS,
            reduction="elementwise_mean",
            zero_infinity=True,
        )
    np.testing.assert_allclose(
        legacy,
        torch_compat.ctc_loss(
            log_probs, targets, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, zero_infinity=True
        ),
    )
