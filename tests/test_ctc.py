"""CTC: jaxloss.ctc_loss / ctc_loss_with_forward_probs and torch_compat.ctc_loss / CTCLoss.

Three independent references: optax's ``ctc_loss`` (values, gradients, forward
probabilities, and the edge cases of optax's own tests), torch 2.13's
``ctc_loss`` (every reduction, both target layouts, unbatched input,
``zero_infinity``), and a brute-force sum over every alignment of a few frames
(values, gradients and Hessian-vector products through ``jax.grad`` / ``jax.jvp``
of that sum, in float64).

The default tier covers each option value at least once; the slow tier
(``pytest -m slow``) adds the float32 optax comparison, optax's with a nonzero blank,
optax's one-to-one alignment cases, every torch reduction x ``zero_infinity``
combination, the brute-force comparison with an exact log 0 and by reverse mode over
the derivative rule, and optax's NaN for a ``-inf`` logit.
"""

from __future__ import annotations

import functools
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
# Against optax. Each comparison is one compiled program: ours, optax's and their
# derivatives traced together (every separate call would compile again).


@functools.partial(jax.jit, static_argnames="blank_id")
def _optax_float64_program(logits, logit_paddings, labels, label_paddings, blank_id):
    def ours(z):
        return jaxloss.ctc_loss(
            z, logit_paddings, labels, label_paddings, blank_id=blank_id, reduction="none"
        )

    def theirs(z):
        with STANDARD:
            return optax.ctc_loss(z, logit_paddings, labels, label_paddings, blank_id=blank_id)

    weights = jnp.asarray(POSSIBLE.astype(np.float64))
    results = {
        "value": ours(logits),
        "optax_value": theirs(logits),
        "gradient": jax.grad(lambda z: jnp.sum(ours(z) * weights))(logits),
        "optax_gradient": jax.grad(lambda z: jnp.sum(theirs(z) * weights))(logits),
        "full": jax.grad(lambda z: jnp.sum(jnp.where(POSSIBLE, ours(z), 0)))(logits),
        "impossible_row": jax.grad(lambda z: ours(z)[4])(logits),
    }
    if blank_id == 0:
        # test_forward_probs_equal_optax's, in the same compilation.
        results["forward_probs"] = _forward_probs_comparison(
            logits, logit_paddings, labels, label_paddings, weights
        )
    return results


def _forward_probs_comparison(logits, logit_paddings, labels, label_paddings, weights):
    ours = jaxloss.ctc_loss_with_forward_probs(logits, logit_paddings, labels, label_paddings)
    with STANDARD:
        theirs = optax.ctc_loss_with_forward_probs(logits, logit_paddings, labels, label_paddings)
    # The loss is differentiable through this function too (closed form), and so are the
    # forward probabilities (forward mode through their recursion); the blank states
    # summed are those optax reaches (a constant mask).
    label_lengths = S - jnp.sum(label_paddings, axis=1).astype(jnp.int32)
    reachable = (theirs[1][-1] > -1e4) & (
        jnp.arange(S + 1, dtype=jnp.int32)[None, :] <= label_lengths[:, None]
    )

    def total(z, function):
        loss, blank, _ = function(z, logit_paddings, labels, label_paddings)
        return jnp.sum(loss * weights) + jnp.sum(jnp.where(reachable, blank[-1], 0))

    with STANDARD:
        optax_gradient = jax.grad(total)(logits, optax.ctc_loss_with_forward_probs)
    gradient = jax.grad(total)(logits, jaxloss.ctc_loss_with_forward_probs)
    return ours, theirs, gradient, optax_gradient


@pytest.mark.parametrize(
    "blank_id",
    # A nonzero blank in the default tier: test_torch_parity_every_reduction_and_layout.
    [0, pytest.param(K - 1, marks=pytest.mark.slow)],
)
def test_values_and_gradients_equal_optax_float64(blank_id):
    """Per-sequence values (reduction="none") and gradients equal optax's, float64."""
    with jax.enable_x64(True):
        results = _optax_float64_program(*_batch(np.float64, blank_id), blank_id=blank_id)
        value, optax_value = results["value"], results["optax_value"]
        np.testing.assert_allclose(value[POSSIBLE], optax_value[POSSIBLE], rtol=1e-12)
        # optax: ~1e5 per missing frame, from log_epsilon; jaxloss: +inf (the rule).
        assert np.all(optax_value[~POSSIBLE] > 5e4)
        assert np.all(value[~POSSIBLE] == np.inf)
        optax_gradient = results["optax_gradient"]
        np.testing.assert_allclose(results["gradient"], optax_gradient, rtol=1e-10, atol=1e-13)
        # The impossible row's gradient is 0 (the loss is +inf for every logit).
        assert np.all(np.asarray(results["impossible_row"]) == 0)
        np.testing.assert_allclose(results["full"], optax_gradient, rtol=1e-10, atol=1e-13)


@pytest.mark.slow  # float32 twin of test_values_and_gradients_equal_optax_float64
def test_values_and_gradients_equal_optax_float32():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    weights = jnp.asarray(POSSIBLE.astype(np.float32))

    @jax.jit
    def program(logits):
        return {
            "value": jaxloss.ctc_loss(
                logits, logit_paddings, labels, label_paddings, reduction="none"
            ),
            "optax_value": optax.ctc_loss(logits, logit_paddings, labels, label_paddings),
            "gradient": jax.grad(
                lambda z: jaxloss.ctc_loss(
                    z, logit_paddings, labels, label_paddings, reduction="sum", weights=weights
                )
            )(logits),
            "optax_gradient": jax.grad(
                lambda z: jnp.sum(
                    optax.ctc_loss(z, logit_paddings, labels, label_paddings) * weights
                )
            )(logits),
        }

    results = program(logits)
    np.testing.assert_allclose(
        results["value"][POSSIBLE], results["optax_value"][POSSIBLE], rtol=2e-6
    )
    np.testing.assert_allclose(results["gradient"], results["optax_gradient"], rtol=1e-4, atol=2e-6)


def test_forward_probs_equal_optax():
    """ctc_loss_with_forward_probs returns optax's (loss, log alpha blank, log alpha label)."""
    with jax.enable_x64(True):
        logits, logit_paddings, labels, label_paddings = _batch(np.float64)
        label_lengths = S - np.sum(label_paddings, axis=1).astype(int)
        # Compiled with (and cached from) test_values_and_gradients_equal_optax_float64.
        results = _optax_float64_program(logits, logit_paddings, labels, label_paddings, blank_id=0)
        (loss, blank, label), (optax_loss, optax_blank, optax_label), gradient, optax_gradient = (
            results["forward_probs"]
        )
        assert blank.shape == optax_blank.shape == (T, B, S + 1)
        assert label.shape == optax_label.shape == (T, B, S)
        np.testing.assert_allclose(loss[POSSIBLE], optax_loss[POSSIBLE], rtol=1e-12)
        # The states of each row's labels: reachable ones agree to rounding, unreachable
        # ones are both near log_epsilon (the log-0 stand-in, added in another order).
        # States past a row's labels differ: optax runs them on the padding's values.
        for ours, theirs, last in ((blank, optax_blank, 0), (label, optax_label, -1)):
            positions = np.arange(ours.shape[2])[None, None, :]
            within = positions <= label_lengths[None, :, None] + last
            reachable = np.asarray(theirs) > -1e4
            assert np.array_equal(reachable & within, (np.asarray(ours) > -1e4) & within)
            both = reachable & within
            np.testing.assert_allclose(ours[both], theirs[both], rtol=1e-11)
        np.testing.assert_allclose(gradient, optax_gradient, rtol=1e-9, atol=1e-12)


# Closed-form paths as a second opinion: test_value_gradient_and_hessian_equal_brute_force
# sums every alignment (repeats, exactly enough frames) by default.
@pytest.mark.slow
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
    lengths = np.array([3, 5, 4])
    paddings = _paddings(lengths, steps)
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
    repeat_logits = rng.standard_normal((5, 7, 5)).astype(np.float32)

    @jax.jit
    def program(logits, repeat_logits):
        return {
            "forward": jaxloss.ctc_loss_with_forward_probs(logits, no_padding, labels, no_padding),
            "gradient": jax.grad(
                lambda z: jaxloss.ctc_loss(z, paddings, labels, paddings, reduction="mean")
            )(logits),
            "repeats": jaxloss.ctc_loss(
                repeat_logits,
                _paddings(frames, 7),
                np.pad(repeat_labels, ((0, 0), (0, 2))),
                _paddings([4] * 5, 6),
                reduction="none",
            ),
        }

    results = program(logits, repeat_logits)
    loss, blank, label = results["forward"]
    log_probs = np.asarray(jax.nn.log_softmax(logits))
    path = -np.sum(np.take_along_axis(log_probs, labels[..., None], 2), (1, 2))
    np.testing.assert_allclose(loss, path, rtol=1e-6)
    np.testing.assert_allclose(blank[-1, :, 0], np.sum(log_probs[:, :, 0], 1), rtol=1e-6)
    np.testing.assert_allclose(label[-1, :, steps - 1], -loss, rtol=1e-6)
    np.testing.assert_allclose(blank[-1, :, steps], -loss, rtol=1e-6)
    # test_with_one_to_one_alignment_and_paddings: the gradient is softmax - onehot(y).
    expected = np.array(jax.nn.softmax(logits))
    for n in range(batch):
        expected[n, lengths[n] :] = 0
        expected[n, np.arange(lengths[n]), labels[n, : lengths[n]]] -= 1
    np.testing.assert_allclose(results["gradient"], expected / batch, rtol=1e-5, atol=1e-6)
    log_probs = np.asarray(jax.nn.log_softmax(repeat_logits))
    expected = [-sum(log_probs[n, t, k] for t, k in enumerate(a)) for n, a in enumerate(alignments)]
    np.testing.assert_allclose(results["repeats"], expected, rtol=1e-6)


def test_never_negative_in_float32():
    """A near-certain alignment: -log p rounds to about 0, and the loss stays >= 0."""
    labels = np.array([[1, 2, 3, 4]])
    logits = np.full((1, 4, 5), -30.0, np.float32)
    logits[0, np.arange(4), labels[0]] = 30.0
    logits = logits + np.linspace(0, 1e-3, 20, dtype=np.float32).reshape(1, 4, 5)
    zeros4 = np.zeros((1, 4), np.float32)

    @jax.jit
    def program(logits):
        return jaxloss.ctc_loss(logits, zeros4, labels, zeros4, reduction="none"), jax.grad(
            lambda z: jaxloss.ctc_loss(z, zeros4, labels, zeros4)
        )(logits)

    loss, gradient = program(logits)
    assert loss[0] >= 0
    assert loss[0] < 1e-6
    assert np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) < 1e-6


REDUCTION_WEIGHTS = np.linspace(0.5, 2.0, B).astype(np.float32)


@functools.cache
def _float32_results():
    """test_infinite_logits_and_bad_labels', test_reductions_weights_where_jit_and_vmap's
    and test_half_precision_and_empty's jaxloss results at the float32 batch's shape, in
    one compilation (each separate program would compile the recursion again)."""
    logits, masked, logit_paddings, masked_labels, label_paddings = _masked_class_batch()
    labels = _batch(np.float32)[2]
    bad = masked_labels.copy()
    bad[0, 0] = K

    @jax.jit
    def program(logits, masked, labels, masked_labels, bad, weights):
        def loss(z, labels=labels, **options):
            return jaxloss.ctc_loss(z, logit_paddings, labels, label_paddings, **options)

        # vmap over a leading axis: two copies of the batch, the second with shifted logits.
        stacked = jnp.stack([logits, logits + 1.0])  # a constant shift leaves softmax alone
        half = logits.astype(jnp.bfloat16)
        return {
            "infinite": {
                "loss": loss(masked, masked_labels, reduction="none"),
                "gradient": jax.grad(lambda z: loss(z, masked_labels, where=POSSIBLE))(masked),
                "bad": loss(logits, bad, reduction="none"),
            },
            "reductions": {
                "mean": loss(logits, reduction="mean", where=POSSIBLE),
                "sum": loss(logits, reduction="sum", where=POSSIBLE),
                "weighted": loss(logits, weights=weights, where=POSSIBLE),
                "jitted": loss(logits, reduction="none"),
                "mapped": jax.vmap(lambda z: loss(z, reduction="none"))(stacked),
            },
            "half": (
                loss(half, reduction="none"),
                loss(half, where=POSSIBLE),
                loss(half.astype(jnp.float32), where=POSSIBLE),
            ),
        }

    return program(logits, masked, labels, masked_labels, bad, REDUCTION_WEIGHTS)


def _masked_class_batch():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    masked = logits.copy()
    masked[:, :, K - 1] = -np.inf  # a class no row's first label uses...
    labels = labels.copy()
    labels[labels == K - 1] = 1  # ...and no label at all
    return logits, masked, logit_paddings, labels, label_paddings


@pytest.mark.slow  # optax's behaviour, the contrast to test_infinite_logits_and_bad_labels
def test_optax_gives_nan_for_an_infinite_logit():
    _, masked, logit_paddings, labels, label_paddings = _masked_class_batch()
    # Eagerly (compiled whole, XLA simplifies its NaN away for the empty label).
    assert np.all(np.isnan(optax.ctc_loss(masked, logit_paddings, labels, label_paddings)))


def test_infinite_logits_and_bad_labels():
    """A -inf logit is a class of probability 0 (optax: NaN, checked in the slow tier);
    a label outside [0, K) is NaN."""
    results = _float32_results()["infinite"]
    assert np.all(np.isfinite(results["loss"][POSSIBLE]))
    gradient = results["gradient"]
    assert np.all(np.isfinite(gradient))
    assert np.all(gradient[:, :, K - 1] == 0)
    loss = results["bad"]
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


@functools.partial(jax.jit, static_argnames="thorough")
def _brute_force_program(logits, logit_paddings, label_paddings, weights, vector, thorough):
    """The brute-force sum's value, gradient and Hessian-vector product (forward over
    reverse autodiff of the sum), and ours, in one compilation. ``thorough`` adds the
    exact log 0 and reverse over the rule (each compiles the recursion again)."""

    def brute_force(z):
        return jnp.sum(weights * _brute_force(z, TINY_FRAMES, TINY_LABELS, TINY_LABEL_LENGTHS))

    def ours(z, log_epsilon):
        return jaxloss.ctc_loss(
            z,
            logit_paddings,
            TINY_LABELS,
            label_paddings,
            log_epsilon=log_epsilon,
            reduction="sum",
            weights=weights,
        )

    default = functools.partial(ours, log_epsilon=-1e5)
    log_epsilons = (-math.inf, -1e5) if thorough else (-1e5,)
    results = {
        "expected": jax.value_and_grad(brute_force)(logits),
        "expected_product": jax.jvp(jax.grad(brute_force), (logits,), (vector,))[1],
        "ours": {
            log_epsilon: jax.value_and_grad(functools.partial(ours, log_epsilon=log_epsilon))(
                logits
            )
            for log_epsilon in log_epsilons
        },
        # Forward over the rule (the exact log 0's product is finite too, not checked
        # again here: each product compiles the rule's derivative anew).
        "products": [jax.jvp(jax.grad(default), (logits,), (vector,))[1]],
    }
    if thorough:
        # Reverse over the rule gives the same product.
        results["products"].append(
            jax.grad(lambda z: jnp.vdot(jax.grad(default)(z), vector))(logits)
        )
    return results


def _check_brute_force(thorough):
    with jax.enable_x64(True):
        logits, logit_paddings, label_paddings = _tiny()
        weights = jnp.array([1.0, 0.5, 2.0, 1.5])
        vector = np.random.default_rng(3).standard_normal(logits.shape)
        results = _brute_force_program(
            logits, logit_paddings, label_paddings, weights, vector, thorough=thorough
        )
        value, gradient = results["expected"]
        expected = results["expected_product"]
        for log_epsilon, (ours_value, ours_gradient) in results["ours"].items():
            np.testing.assert_allclose(ours_value, value, rtol=1e-12, err_msg=str(log_epsilon))
            np.testing.assert_allclose(ours_gradient, gradient, rtol=1e-10, atol=1e-13)
        for product in results["products"]:
            np.testing.assert_allclose(product, expected, rtol=1e-9, atol=1e-12)


def test_value_gradient_and_hessian_equal_brute_force():
    """Value, gradient (closed form) and Hessian-vector product (forward over the rule)
    equal jax.grad / jax.jvp of jax.grad of the sum over all alignments, in float64,
    with the default log_epsilon."""
    _check_brute_force(thorough=False)


@pytest.mark.slow  # exact log 0 is also torch_compat's, checked against torch by default
def test_exact_log_zero_and_reverse_over_the_rule_equal_brute_force():
    """The same with an exact log 0 (log_epsilon=-inf) too, and the Hessian-vector
    product also by reverse mode over the rule."""
    _check_brute_force(thorough=True)


def test_impossible_alignments_are_inf_never_nan():
    """Too few frames, counting a blank between repeats: +inf with gradient 0; masked
    or zero-weighted, it leaves the reduction finite."""
    logits, _, label_paddings = _tiny(np.float32)
    frames = np.array([4, 1, 5, 2])  # row 0: 1 1 2 needs 4 (fits); row 1 needs 2; row 3 needs 3
    logit_paddings = _paddings(frames, 5)
    possible = np.array([True, False, True, False])
    # int32, as an eager call would convert them (the brute-force test's float64 program
    # caches the inner compilation for int64 labels).
    labels = TINY_LABELS.astype(np.int32)

    @jax.jit
    def program(logits):
        def loss(z, **options):
            return jaxloss.ctc_loss(z, logit_paddings, labels, label_paddings, **options)

        return {
            "none": loss(logits, reduction="none"),
            "mean": loss(logits, reduction="mean"),
            "sum": loss(logits, reduction="sum"),
            "gradient": jax.grad(loss)(logits),
            "masked": loss(logits, where=possible),
            "weighted": loss(logits, weights=possible.astype(np.float32)),
        }

    results = program(logits)
    loss = results["none"]
    assert np.isfinite(loss[0]) and np.isfinite(loss[2])
    assert loss[1] == np.inf and loss[3] == np.inf
    assert results["mean"] == np.inf and results["sum"] == np.inf
    gradient = results["gradient"]
    assert np.all(np.isfinite(gradient)) and np.all(gradient[~possible] == 0)
    np.testing.assert_allclose(results["masked"], np.mean(loss[possible]), rtol=1e-6)
    np.testing.assert_allclose(results["weighted"], results["masked"], rtol=1e-6)


# --------------------------------------------------------------------------------------
# The reduction rule, transforms, dtypes and argument errors.


def test_reductions_weights_where_jit_and_vmap():
    logits, logit_paddings, labels, label_paddings = _batch(np.float32)
    where = POSSIBLE
    # Eager (concrete arguments); everything else under one jit, with traced arguments.
    per_sequence = jaxloss.ctc_loss(
        logits, logit_paddings, labels, label_paddings, reduction="none"
    )
    weights = REDUCTION_WEIGHTS
    results = _float32_results()["reductions"]
    kept = per_sequence[where]
    np.testing.assert_allclose(results["mean"], np.mean(kept), rtol=1e-6)
    np.testing.assert_allclose(results["sum"], np.sum(kept), rtol=1e-6)
    np.testing.assert_allclose(
        results["weighted"], np.sum(weights[where] * kept) / np.sum(weights[where]), rtol=1e-6
    )
    np.testing.assert_allclose(results["jitted"], per_sequence, rtol=1e-6)
    mapped = results["mapped"]
    np.testing.assert_allclose(mapped[0], per_sequence, rtol=1e-6)
    np.testing.assert_allclose(mapped[1][where], per_sequence[where], rtol=1e-5)


def test_half_precision_and_empty():
    none, mean, reference = _float32_results()["half"]
    assert none.dtype == jnp.bfloat16
    assert mean.dtype == jnp.float32
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


def _ours(logits, cases, input_lengths, target_lengths):
    """Values and gradients for each (targets, options) case, in one compilation."""

    def finite_sum(z, targets, options):
        loss = torch_compat.ctc_loss(
            jax.nn.log_softmax(z), targets, input_lengths, target_lengths, **options
        )
        return jnp.sum(jnp.where(jnp.isfinite(loss), loss, 0)), loss

    @jax.jit
    def program(z):
        return [
            jax.grad(functools.partial(finite_sum, targets=targets, options=options), has_aux=True)(
                z
            )
            for targets, options in cases
        ]

    return [(np.asarray(value), np.asarray(gradient)) for gradient, value in program(logits)]


# Every reduction with and without zero_infinity, each time in the other layout (every
# combination adds to the compilation). The default tier runs a covering subset: each reduction,
# each zero_infinity, each layout and each blank at least once; the slow tier all six
# combinations for blank 0.
TORCH_COMBINATIONS = [
    (reduction, zero_infinity, "concatenated" if zero_infinity else "padded")
    for reduction in ("none", "sum", "mean")
    for zero_infinity in (False, True)
]


def _torch_parity(blank, combinations):
    """Values and logit gradients equal torch's, float64, with repeats, an empty target
    and an impossible one."""
    with jax.enable_x64(True):
        logits, targets = _torch_inputs(blank)
        concatenated = np.concatenate(
            [row[:length] for row, length in zip(targets, TORCH_TARGET_LENGTHS, strict=True)]
        )
        cases = [
            (
                targets if layout == "padded" else concatenated,
                {"blank": blank, "reduction": reduction, "zero_infinity": zero_infinity},
            )
            for reduction, zero_infinity, layout in combinations
        ]
        ours = _ours(logits, cases, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS)
        for (chosen, options), (value, gradient) in zip(cases, ours, strict=True):
            expected, expected_gradient = _torch_loss(
                logits, chosen, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, **options
            )
            np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=str(options))
            # torch's gradient of an inf loss is NaN (zero_infinity=False); jaxloss's is 0.
            expected_gradient = np.nan_to_num(expected_gradient, nan=0.0)
            np.testing.assert_allclose(
                gradient, expected_gradient, rtol=1e-9, atol=1e-12, err_msg=str(options)
            )


@pytest.mark.parametrize(
    ("blank", "combinations"),
    [
        (0, [("none", False, "padded"), ("sum", True, "concatenated")]),
        (2, [("mean", True, "concatenated")]),
    ],
)
def test_torch_parity_every_reduction_and_layout(blank, combinations):
    """Each reduction, zero_infinity, layout and blank at least once (see above)."""
    _torch_parity(blank, combinations)


@pytest.mark.slow
def test_torch_parity_every_combination():
    """3 reductions x zero_infinity, alternating padded and concatenated targets."""
    _torch_parity(0, TORCH_COMBINATIONS)


def test_torch_parity_unbatched_float32_class_and_log_probs_gradient():
    logits, targets = _torch_inputs(0)
    logits32 = logits[:, 0].astype(np.float32)
    log_probs = torch.tensor(logits32).log_softmax(-1)
    reductions = ("none", "sum", "mean")
    values = jax.jit(
        lambda z: [
            torch_compat.CTCLoss(reduction=reduction)(jax.nn.log_softmax(z), targets[0], 8, 4)
            for reduction in reductions
        ]
    )(logits32)
    for reduction, value in zip(reductions, values, strict=True):
        expected = torch.nn.functional.ctc_loss(
            log_probs,
            torch.tensor(targets[0]),
            torch.tensor(8),
            torch.tensor(4),
            reduction=reduction,
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
        gradient = jax.jit(
            jax.grad(
                lambda x: jnp.sum(
                    torch_compat.ctc_loss(
                        x, targets, TORCH_INPUT_LENGTHS, TORCH_TARGET_LENGTHS, reduction="none"
                    )[possible]
                )
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
