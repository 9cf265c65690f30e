"""The margin losses against optax 0.2.8, Keras's documented numbers and torch 2.13.

* optax: ``hinge_loss``, ``perceptron_loss``, ``multiclass_hinge_loss`` and
  ``multiclass_perceptron_loss`` in float64: ``reduction="none"`` equals optax's output
  and the gradients equal ``jax.grad`` of optax's code, at random inputs, on optax's own
  test inputs, and exactly at the kinks and ties (where both take JAX's subgradient).
* Keras (not installed): the numbers in Keras's docstrings for ``Hinge``,
  ``SquaredHinge`` and ``CategoricalHinge``.
* torch: every functional form and class of ``jaxloss.torch_compat``'s margin losses,
  values and gradients of every differentiable input, every reduction, the legacy
  switches, class weights, margins and ``p``, unbatched and empty inputs, kinks and
  ties, and the documented argument errors. Values agree within rtol 1e-6 and
  gradients within rtol 1e-5 (atol 1e-6), float32 on both sides. The default tier
  runs a covering subset of each loss's sweep (every reduction, option value, input
  kind and legacy switch at least once) and the empty inputs; the slow tier
  (``-m slow``) runs the full product of options and every legacy pair.

The last section pins the documented differences from torch and optax.
"""

from __future__ import annotations

import collections
import functools
import itertools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss
from jaxloss import torch_compat
from tests import reference
from tests.sweeps import TIERS, sweep

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")
functional = torch.nn.functional

REDUCTIONS = ("mean", "sum", "none")
# (size_average, reduce) pairs with at least one given, and torch's reduction for each.
LEGACY = [
    (size_average, reduce)
    for size_average, reduce in itertools.product((None, True, False), repeat=2)
    if (size_average, reduce) != (None, None)
]

# The legacy pairs the default tier runs: every value of each switch at least once
# (torch's reductions "none", "mean" and "mean").
LEGACY_COVERING = [(False, False), (None, True), (True, None)]
# Parity cases run, per loss: the count is checked at the end of the module, and the
# report quotes it.
CASES: collections.Counter[str] = collections.Counter()


def rng(seed):
    return np.random.default_rng(seed)


def normal(shape, seed, scale=2.0, dtype=np.float32):
    return (rng(seed).standard_normal(shape) * scale).astype(dtype)


def signs(shape, seed, dtype=np.float32):
    return np.where(rng(seed).uniform(size=shape) < 0.5, -1.0, 1.0).astype(dtype)


def grid(shape, seed, dtype=np.float32):
    """Integers -2..2 as floats: many margins land exactly on a kink or a tie."""
    return rng(seed).integers(-2, 3, size=shape).astype(dtype)


# --------------------------------------------------------------------------------------
# optax, float64.

OPTAX_BINARY = {
    "hinge_loss": (jaxloss.hinge_loss, optax.losses.hinge_loss),
    "perceptron_loss": (jaxloss.perceptron_loss, optax.losses.perceptron_loss),
}
OPTAX_MULTICLASS = {
    "multiclass_hinge_loss": (jaxloss.multiclass_hinge_loss, optax.losses.multiclass_hinge_loss),
    "multiclass_perceptron_loss": (
        jaxloss.multiclass_perceptron_loss,
        optax.losses.multiclass_perceptron_loss,
    ),
}


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def optax_comparison(ours, theirs, argnums, first, second):
    """Both values and, for "sum" and "mean", both gradients: one compiled program."""
    value = ours(first, second, reduction="none")
    expected = theirs(first, second)
    got, want = [], []
    for reduction, reduce in (("sum", jnp.sum), ("mean", jnp.mean)):
        got.append(jax.grad(lambda *a, r=reduction: ours(*a, reduction=r), argnums)(first, second))
        want.append(jax.grad(lambda *a, f=reduce: f(theirs(*a)), argnums)(first, second))
    return value, expected, got, want


def assert_same_as_optax(name, ours, theirs, first, second, argnums):
    value, expected, got, want = optax_comparison(ours, theirs, argnums, first, second)
    assert value.shape == expected.shape and value.dtype == expected.dtype
    np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-15)
    for ours_grad, their_grad in zip(got, want, strict=True):
        np.testing.assert_allclose(ours_grad, their_grad, rtol=1e-13, atol=1e-15)
    CASES[name] += 1


@pytest.mark.parametrize("name", list(OPTAX_BINARY))
def test_binary_losses_equal_optax_in_float64(name):
    ours, theirs = OPTAX_BINARY[name]
    with jax.enable_x64(True):
        scores = jnp.asarray(normal((6, 5), seed=1, dtype=np.float64))
        targets = jnp.asarray(signs((6, 5), seed=2, dtype=np.float64))
        # Scores at the kinks: y s = 1 for the hinge, s = 0 for the perceptron, where
        # both take JAX's slope 1/2 of maximum(0, m).
        kinks = jnp.asarray(signs((2, 5), seed=3, dtype=np.float64))
        kink_scores = kinks if name == "hinge_loss" else jnp.zeros_like(kinks)
        cases = [
            (scores, targets),
            (scores * 20, targets),
            (kink_scores, kinks),
            # optax's own tests: test_binary and test_batched_binary.
            (jnp.asarray(10.0), jnp.asarray(1.0)),
            (jnp.asarray([10.0, 20.0]), jnp.asarray([1.0, -1.0])),
        ]
        for first, second in cases:
            assert_same_as_optax(name, ours, theirs, first, second, argnums=(0, 1))


@pytest.mark.parametrize("name", list(OPTAX_MULTICLASS))
def test_multiclass_losses_equal_optax_in_float64(name):
    ours, theirs = OPTAX_MULTICLASS[name]
    with jax.enable_x64(True):
        labels = jnp.asarray(rng(4).integers(0, 5, size=6))
        cases = [
            (jnp.asarray(normal((6, 5), seed=5, dtype=np.float64)), labels),
            # Ties and margins met exactly: optax's jnp.max splits the slope among ties.
            (jnp.asarray(grid((6, 5), seed=6, dtype=np.float64)), labels),
            # optax's own tests: test_multi_class and test_batched_multi_class.
            (jnp.asarray([10.0, 3.0]), jnp.asarray(1)),
            (jnp.asarray([[10.0, 3.0], [11.0, -2.0]]), jnp.asarray([1, 0])),
        ]
        for first, second in cases:
            assert_same_as_optax(name, ours, theirs, first, second, argnums=0)


# --------------------------------------------------------------------------------------
# Keras: the numbers in its docstrings (keras.losses.Hinge, SquaredHinge and
# CategoricalHinge, Keras 3): y_true = [[0, 1], [0, 0]], y_pred = [[0.6, 0.4], [0.4, 0.6]].

KERAS_TRUE = jnp.asarray([[0.0, 1.0], [0.0, 0.0]])
KERAS_PRED = jnp.asarray([[0.6, 0.4], [0.4, 0.6]])


def test_keras_docstring_numbers():
    # Keras maps 0/1 labels to -1/1 first; its mean over the last axis, then over the
    # batch, is the mean over every element for equal rows.
    signed = 2 * KERAS_TRUE - 1
    np.testing.assert_allclose(jaxloss.hinge_loss(KERAS_PRED, signed), 1.3, rtol=1e-6)
    np.testing.assert_allclose(jaxloss.squared_hinge(KERAS_PRED, signed), 1.86, rtol=1e-6)
    np.testing.assert_allclose(jaxloss.categorical_hinge(KERAS_PRED, KERAS_TRUE), 1.4, rtol=1e-6)
    # Keras's sample_weight [1, 0] gives 0.6: its "sum_over_batch_size" divides the
    # weighted sum by the batch size, where jaxloss's weighted mean divides by sum(w).
    weights = jnp.asarray([1.0, 0.0])
    weighted_sum = jaxloss.categorical_hinge(
        KERAS_PRED, KERAS_TRUE, weights=weights, reduction="sum"
    )
    np.testing.assert_allclose(weighted_sum / 2, 0.6, rtol=1e-6)
    np.testing.assert_allclose(
        jaxloss.categorical_hinge(KERAS_PRED, KERAS_TRUE, weights=weights), 1.2, rtol=1e-6
    )


def test_categorical_hinge_keeps_keras_zero_for_negative_wrong_scores():
    # Keras's neg = max((1 - t) s) includes the label's own 0: with every wrong score
    # negative the loss is max(0, 1 - s_y), where the Crammer-Singer hinge is
    # max(0, 1 + max_{c != y} s_c - s_y).
    scores = jnp.asarray([[0.5, -3.0, -2.0]])
    np.testing.assert_allclose(
        jaxloss.categorical_hinge(scores, jnp.asarray([[1.0, 0.0, 0.0]])), 0.5, rtol=1e-6
    )
    np.testing.assert_allclose(jaxloss.multiclass_hinge_loss(scores, jnp.asarray([0])), 0.0, atol=0)


def test_multi_margin_with_a_non_torch_exponent_matches_the_formula():
    # p = 1.5 (torch allows 1 and 2 only): value, gradient and Hessian against the
    # textbook formula in float64, every partial included.
    with jax.enable_x64(True):
        scores = jnp.asarray(normal((4, 5), seed=7, dtype=np.float64))
        labels = jnp.asarray(rng(8).integers(0, 5, size=4))
        p, margin = jnp.float64(1.5), jnp.float64(0.8)

        def ours(x, p, margin):
            return jaxloss.multi_margin(x, labels, p=p, margin=margin)

        def theirs(x, p, margin):
            return jnp.mean(reference.unreduced("multi_margin", x, labels, p=p, margin=margin))

        @jax.jit
        def both(scores, p, margin):
            # One compiled program: the values, every partial and the Hessians.
            everything = (0, 1, 2)
            return (
                (ours(scores, p, margin), theirs(scores, p, margin)),
                (
                    jax.grad(ours, everything)(scores, p, margin),
                    jax.grad(theirs, everything)(scores, p, margin),
                ),
                (
                    jaxloss.hessians.multi_margin(scores, labels, p=p, margin=margin),
                    reference_blocks(jax.hessian(theirs)(scores, p, margin)),
                ),
            )

        values, gradients, hessians = both(scores, p, margin)
        np.testing.assert_allclose(*values, rtol=1e-12)
        for got, want in zip(*gradients, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-11)
        np.testing.assert_allclose(*hessians, rtol=1e-10, atol=1e-14)


def reference_blocks(full):
    rows = full.shape[0]
    return jnp.stack([full[row, :, row, :] for row in range(rows)])


# --------------------------------------------------------------------------------------
# torch: running both sides.


def to_torch(value, requires_grad=False):
    if isinstance(value, np.generic):
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return value
    if np.issubdtype(value.dtype, np.integer):
        return torch.tensor(value.astype(np.int64))
    return torch.tensor(value, requires_grad=requires_grad)


def to_jax(value):
    return jnp.asarray(value) if isinstance(value, np.ndarray | np.generic) else value


def run_torch(function, inputs, differentiable):
    tensors = [to_torch(x, i in differentiable) for i, x in enumerate(inputs)]
    value = function(*tensors)
    grads = torch.autograd.grad(value.sum(), [tensors[i] for i in differentiable])
    return value.detach().numpy(), [grad.numpy() for grad in grads]


def run_ours(function, inputs, differentiable):
    arrays = [to_jax(x) for x in inputs]

    def total(*chosen):
        full = list(arrays)
        for i, x in zip(differentiable, chosen, strict=True):
            full[i] = x
        return jnp.sum(function(*full))

    value = function(*arrays)
    grads = jax.grad(total, tuple(range(len(differentiable))))(*(arrays[i] for i in differentiable))
    return value, grads


def assert_parity(name, ours, theirs, inputs, differentiable=(0,)):
    our_value, our_grads = run_ours(ours, inputs, differentiable)
    their_value, their_grads = run_torch(theirs, inputs, differentiable)
    assert isinstance(our_value, jax.Array)
    assert our_value.shape == their_value.shape, (our_value.shape, their_value.shape)
    np.testing.assert_allclose(our_value, their_value, rtol=1e-6, atol=1e-6)
    for got, want in zip(our_grads, their_grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    CASES[name] += 1


def both_forms(name, options, inputs, differentiable=(0,)):
    """The functional form and the class, with the same options, against torch's."""
    ours, our_class, theirs, their_class = TORCH[name]
    our_options = {key: to_jax(value) for key, value in options.items()}
    their_options = {key: to_torch(value) for key, value in options.items()}
    assert_parity(
        name,
        functools.partial(ours, **our_options),
        functools.partial(theirs, **their_options),
        inputs,
        differentiable,
    )
    assert_parity(
        name, our_class(**our_options), their_class(**their_options), inputs, differentiable
    )


TORCH = {
    "soft_margin_loss": (
        torch_compat.soft_margin_loss,
        torch_compat.SoftMarginLoss,
        functional.soft_margin_loss,
        torch.nn.SoftMarginLoss,
    ),
    "hinge_embedding_loss": (
        torch_compat.hinge_embedding_loss,
        torch_compat.HingeEmbeddingLoss,
        functional.hinge_embedding_loss,
        torch.nn.HingeEmbeddingLoss,
    ),
    "margin_ranking_loss": (
        torch_compat.margin_ranking_loss,
        torch_compat.MarginRankingLoss,
        functional.margin_ranking_loss,
        torch.nn.MarginRankingLoss,
    ),
    "multi_margin_loss": (
        torch_compat.multi_margin_loss,
        torch_compat.MultiMarginLoss,
        functional.multi_margin_loss,
        torch.nn.MultiMarginLoss,
    ),
    "multilabel_margin_loss": (
        torch_compat.multilabel_margin_loss,
        torch_compat.MultiLabelMarginLoss,
        functional.multilabel_margin_loss,
        torch.nn.MultiLabelMarginLoss,
    ),
    "multilabel_soft_margin_loss": (
        torch_compat.multilabel_soft_margin_loss,
        torch_compat.MultiLabelSoftMarginLoss,
        functional.multilabel_soft_margin_loss,
        torch.nn.MultiLabelSoftMarginLoss,
    ),
}


def legacy_parity(name, inputs, differentiable=(0,), *, full, **options):
    """Every size_average/reduce pair (``full``; else ``LEGACY_COVERING``): the same
    warning and numbers as torch."""
    ours, our_class, theirs, their_class = TORCH[name]
    for size_average, reduce in LEGACY if full else LEGACY_COVERING:
        switches = {"size_average": size_average, "reduce": reduce}
        legacy = {**switches, **{key: to_jax(value) for key, value in options.items()}}
        their_legacy = {**switches, **{key: to_torch(value) for key, value in options.items()}}
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            our_loss = our_class(**legacy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            their_loss = their_class(**their_legacy)
        assert our_loss.reduction == their_loss.reduction
        assert_parity(name, our_loss, their_loss, inputs, differentiable)
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
            ours(*map(to_jax, inputs), **legacy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            assert_parity(
                name,
                functools.partial(ours, **legacy),
                functools.partial(theirs, **their_legacy),
                inputs,
                differentiable,
            )


def empty_parity(
    name, inputs, differentiable=(0,), torch_mean_is_nan=True, torch_sum=True, **options
):
    """Empty inputs: "none" (and "sum") as torch; "mean" is 0 with gradient 0.

    torch's "mean" is NaN (``torch_mean_is_nan``) or 0. Its multi-class margin
    kernels' "sum" over an empty batch returns uninitialised memory in torch 2.13
    (-1e34, -2e15 in two runs); with ``torch_sum=False`` ours is checked to be 0.
    Their "mean" is uninitialised memory too (0, 4.7e-38, and NaN after other tests
    ran), so with ``torch_sum=False`` torch's "mean" is not compared.
    """
    ours, _, theirs, _ = TORCH[name]
    our_options = {key: to_jax(value) for key, value in options.items()}
    their_options = {key: to_torch(value) for key, value in options.items()}
    if not torch_sum:
        assert ours(*map(to_jax, inputs), reduction="sum", **our_options) == 0
    for reduction in ("sum", "none") if torch_sum else ("none",):
        assert_parity(
            name,
            functools.partial(ours, reduction=reduction, **our_options),
            functools.partial(theirs, reduction=reduction, **their_options),
            inputs,
            differentiable,
        )
    value, grads = run_ours(functools.partial(ours, **our_options), inputs, differentiable)
    assert value == 0 and all(grad.size == 0 for grad in grads)
    if torch_sum:
        their_value = theirs(*(to_torch(x) for x in inputs), **their_options)
        assert bool(torch.isnan(their_value)) == torch_mean_is_nan


# --------------------------------------------------------------------------------------
# torch: elementwise margins.

SHAPE = (4, 5)


@pytest.mark.parametrize("full", TIERS)
def test_soft_margin_loss_matches_torch(full):
    scores = normal(SHAPE, seed=10)
    targets = signs(SHAPE, seed=11)
    # Non-±1 targets: torch's formula log(1 + exp(-y x)) takes any real y.
    real_targets = normal(SHAPE, seed=12, scale=0.5)
    inputs = (
        (scores, targets),
        (scores * 10, targets),
        (scores, real_targets),
        (scores[0], targets[0]),  # unbatched
    )
    for reduction, (x, y) in sweep(full, REDUCTIONS, inputs):
        both_forms("soft_margin_loss", {"reduction": reduction}, (x, y))
    legacy_parity("soft_margin_loss", (scores, targets), full=full)
    if not full:
        empty_parity("soft_margin_loss", (np.zeros(0, np.float32), np.zeros(0, np.float32)))


@pytest.mark.parametrize("full", TIERS)
def test_hinge_embedding_loss_matches_torch(full):
    distances = np.abs(normal(SHAPE, seed=13))
    targets = signs(SHAPE, seed=14)
    # Distances exactly at the margin with y = -1: torch's slope there is -1.
    at_kink = np.where(targets < 0, 1.0, distances).astype(np.float32)
    cases = (
        ({}, (distances, targets)),
        ({"margin": 0.5}, (distances, targets)),
        ({"margin": 2.0}, (distances, targets)),
        ({}, (at_kink, targets)),
        ({}, (distances[1], targets[1])),  # unbatched
    )
    for reduction, (margin, inputs) in sweep(full, REDUCTIONS, cases):
        both_forms("hinge_embedding_loss", {"reduction": reduction, **margin}, inputs)
    legacy_parity("hinge_embedding_loss", (distances, targets), margin=1.5, full=full)
    if not full:
        empty_parity("hinge_embedding_loss", (np.zeros(0, np.float32), np.zeros(0, np.float32)))


@pytest.mark.parametrize("full", TIERS)
def test_margin_ranking_loss_matches_torch(full):
    first, second = normal(SHAPE, seed=15), normal(SHAPE, seed=16)
    targets = signs(SHAPE, seed=17)
    # Integer scores with margin 1: many pairs exactly at the kink, where torch keeps the slope.
    first_grid, second_grid = grid(SHAPE, seed=18), grid(SHAPE, seed=19)
    everything = (0, 1, 2)
    cases = (
        ({}, (first, second, targets)),
        ({"margin": 0.5}, (first, second, targets)),
        ({"margin": -0.3}, (first, second, targets)),
        ({"margin": 1.0}, (first_grid, second_grid, targets)),
        ({}, (first[0], second[0], targets[0])),  # unbatched
    )
    for reduction, (margin, inputs) in sweep(full, REDUCTIONS, cases):
        both_forms("margin_ranking_loss", {"reduction": reduction, **margin}, inputs, everything)
    legacy_parity(
        "margin_ranking_loss", (first, second, targets), everything, margin=0.2, full=full
    )
    if not full:
        empty = np.zeros(0, np.float32)
        empty_parity("margin_ranking_loss", (empty, empty, empty), everything)


# --------------------------------------------------------------------------------------
# torch: multi-class and multi-label margins.

CLASS_WEIGHT = np.asarray([0.2, 1.0, 2.5, 0.0, 4.0], np.float32)  # a zero weight included


@pytest.mark.parametrize("full", TIERS)
def test_multi_margin_loss_matches_torch(full):
    labels = rng(20).integers(0, 5, size=4).astype(np.int64)
    for reduction, p, weight, kind in sweep(
        full, REDUCTIONS, (1, 2), (None, CLASS_WEIGHT), ("normal", "grid")
    ):
        scores = normal(SHAPE, seed=21) if kind == "normal" else grid(SHAPE, seed=22)
        options = {"reduction": reduction, "p": p, "weight": weight}
        both_forms("multi_margin_loss", options, (scores, labels))
        # The default tier runs the margin and the unbatched input once, with "mean".
        if kind == "normal" and (full or reduction == "mean"):
            both_forms("multi_margin_loss", {**options, "margin": 0.3}, (scores, labels))
            # Unbatched: input (C,) and a 0-d target.
            both_forms("multi_margin_loss", options, (scores[2], labels[2]))
    legacy_parity("multi_margin_loss", (normal(SHAPE, seed=23), labels), p=2, margin=2.0, full=full)
    if full:
        return
    empty_parity(
        "multi_margin_loss",
        (np.zeros((0, 5), np.float32), np.zeros(0, np.int64)),
        torch_sum=False,
    )


def padded_targets(seed):
    """torch's target lists: indices, a -1, then junk that must be ignored."""
    generator = rng(seed)
    rows = []
    for count in (0, 1, 3, 5):
        listed = generator.permutation(5)[:count]
        junk = generator.integers(0, 5, size=5 - count - 1) if count < 5 else []
        rows.append([*listed, *([-1] if count < 5 else []), *junk])
    return np.asarray(rows, np.int64)


@pytest.mark.parametrize("full", TIERS)
def test_multilabel_margin_loss_matches_torch(full):
    targets = padded_targets(seed=24)
    # Unbatched second: the covering subset runs "mean" and "none" on (N, C) inputs,
    # the reductions of the legacy pairs it runs.
    inputs = (
        (normal(SHAPE, seed=25), targets),
        (normal((5,), 27), targets[2]),  # unbatched
        (grid(SHAPE, seed=26), targets),
    )
    for reduction, case in sweep(full, REDUCTIONS, inputs):
        both_forms("multilabel_margin_loss", {"reduction": reduction}, case)
    legacy_parity("multilabel_margin_loss", (normal(SHAPE, seed=28), targets), full=full)
    if full:
        return
    empty_parity(
        "multilabel_margin_loss",
        (np.zeros((0, 5), np.float32), np.zeros((0, 5), np.int64)),
        torch_sum=False,
    )


@pytest.mark.parametrize("full", TIERS)
def test_multilabel_soft_margin_loss_matches_torch(full):
    logits = normal(SHAPE, seed=29)
    binary = (rng(30).uniform(size=SHAPE) < 0.5).astype(np.float32)
    soft = rng(31).uniform(size=SHAPE).astype(np.float32)
    weights = (None, CLASS_WEIGHT, rng(32).uniform(0, 2, size=SHAPE).astype(np.float32))
    # The unbatched case second: the covering subset pairs it with the (C,) weight.
    inputs = ((logits, binary), (logits[0], soft[0]), (logits * 20, soft))
    for reduction, weight, (x, y) in sweep(full, REDUCTIONS, weights, inputs):
        if x.ndim == 1 and weight is not None and weight.ndim > 1:
            continue  # an (N, C) weight has no unbatched form
        options = {"reduction": reduction, "weight": weight}
        both_forms("multilabel_soft_margin_loss", options, (x, y), (0, 1))
    legacy_parity(
        "multilabel_soft_margin_loss", (logits, soft), (0, 1), weight=CLASS_WEIGHT, full=full
    )
    if full:
        return
    empty = np.zeros((0, 5), np.float32)
    empty_parity("multilabel_soft_margin_loss", (empty, empty), (0, 1))
    empty_parity("multilabel_soft_margin_loss", (empty, empty), (0, 1), weight=CLASS_WEIGHT)


# --------------------------------------------------------------------------------------
# torch: argument errors. torch raises ValueError where these do, RuntimeError for a bad
# shape or value (ValueError here) and for a bad dtype (TypeError here).


def raises_like_torch(name, inputs, options, our_error, match, their_error=RuntimeError):
    ours, _, theirs, _ = TORCH[name]
    with pytest.raises(our_error, match=match):
        ours(*map(to_jax, inputs), **options)
    with pytest.raises(their_error):
        theirs(*map(to_torch, inputs), **{k: to_torch(v) for k, v in options.items()})
    CASES[name] += 1


def test_documented_argument_errors():
    scores, labels = normal(SHAPE, seed=33), np.zeros(4, np.int64)
    signed = signs(SHAPE, seed=34)
    for name in TORCH:
        inputs = {
            "multi_margin_loss": (scores, labels),
            "multilabel_margin_loss": (scores, padded_targets(seed=35)),
            "margin_ranking_loss": (scores, scores, signed),
        }.get(name, (scores, signed))
        raises_like_torch(
            name, inputs, {"reduction": "avg"}, ValueError, "avg is not a valid", ValueError
        )
    raises_like_torch(
        "multi_margin_loss",
        (scores, labels),
        {"p": 3},
        ValueError,
        "only p == 1 and p == 2",
        ValueError,
    )
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        torch_compat.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="one-dimensional"):
        torch_compat.MultiMarginLoss(weight=jnp.ones((1, 5)))
    raises_like_torch(
        "multi_margin_loss",
        (scores, labels),
        {"weight": np.ones((1, 5), np.float32)},
        ValueError,
        "one-dimensional",
        ValueError,
    )
    raises_like_torch(
        "multi_margin_loss",
        (scores, labels),
        {"weight": np.ones(4, np.float32)},
        ValueError,
        "weight must have shape",
    )
    raises_like_torch(
        "multi_margin_loss",
        (normal((2, 3, 5), seed=36), labels[:2]),
        {},
        ValueError,
        r"shape \(C,\) or \(N, C\)",
    )
    raises_like_torch(
        "multi_margin_loss", (scores, labels.astype(np.float32)), {}, TypeError, "target"
    )
    raises_like_torch(
        "multilabel_margin_loss",
        (scores, padded_targets(seed=37)[:2]),
        {},
        ValueError,
        "same shape",
    )
    raises_like_torch(
        "multilabel_soft_margin_loss",
        (scores, signed),
        {"reduction": "elementwise_mean"},
        ValueError,
        "elementwise_mean",
        ValueError,
    )
    for name in ("soft_margin_loss", "hinge_embedding_loss"):
        with pytest.raises(ValueError, match="same shape"):
            TORCH[name][0](jnp.asarray(scores), jnp.asarray(signed[0]))
    with pytest.raises(ValueError, match="margin"):
        torch_compat.hinge_embedding_loss(jnp.asarray(scores), jnp.asarray(signed), margin=np.inf)
    with pytest.raises(ValueError, match="weight"):
        torch_compat.multi_margin_loss(
            jnp.asarray(scores), jnp.asarray(labels), weight=-jnp.asarray(CLASS_WEIGHT)
        )
    with pytest.raises(ValueError, match="same shape"):
        torch_compat.margin_ranking_loss(
            jnp.asarray(scores), jnp.asarray(scores[0]), jnp.asarray(signed)
        )


def test_elementwise_mean_warns_and_means_mean_as_in_torch():
    scores, signed = normal(SHAPE, seed=38), signs(SHAPE, seed=39)
    with pytest.warns(UserWarning, match="elementwise_mean"):
        ours = torch_compat.soft_margin_loss(
            jnp.asarray(scores), jnp.asarray(signed), reduction="elementwise_mean"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = functional.soft_margin_loss(
            torch.tensor(scores), torch.tensor(signed), reduction="elementwise_mean"
        )
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6)
    CASES["soft_margin_loss"] += 1


# --------------------------------------------------------------------------------------
# Where jaxloss differs on purpose.


def test_soft_margin_is_exact_where_torch_overflows():
    scores, targets = np.asarray([100.0, -1e4], np.float32), np.asarray([-1.0, 1.0], np.float32)
    theirs = functional.soft_margin_loss(
        torch.tensor(scores), torch.tensor(targets), reduction="none"
    )
    assert torch.all(torch.isinf(theirs))  # log1p(exp(100)) overflows float32
    ours = torch_compat.soft_margin_loss(
        jnp.asarray(scores), jnp.asarray(targets), reduction="none"
    )
    np.testing.assert_allclose(ours, [100.0, 1e4], rtol=1e-7)
    gradient = jax.grad(lambda x: jnp.sum(jaxloss.soft_margin(x, jnp.asarray(targets))))(
        jnp.asarray(scores)
    )
    np.testing.assert_allclose(gradient, [0.5, -0.5])  # -y sigmoid(-y x) / N


def test_hinge_embedding_reads_a_target_by_its_sign():
    distances = jnp.asarray([0.25, 0.25])
    # torch adds both terms for a target that is neither 1 nor -1: x + max(0, 1 - x).
    theirs = functional.hinge_embedding_loss(
        torch.tensor([0.25, 0.25]), torch.tensor([0.5, -0.5]), reduction="none"
    )
    np.testing.assert_allclose(theirs.numpy(), [1.0, 1.0])
    ours = jaxloss.hinge_embedding(distances, jnp.asarray([0.5, -0.5]), reduction="none")
    np.testing.assert_allclose(ours, [0.25, 0.75])


def test_multilabel_margin_counts_a_class_listed_twice_once():
    scores = np.asarray([[0.1, 0.9, 0.3, 0.5]], np.float32)
    twice, once = np.asarray([[1, 1, -1, 0]]), np.asarray([[1, -1, 0, 0]])
    ours_twice = torch_compat.multilabel_margin_loss(jnp.asarray(scores), jnp.asarray(twice))
    ours_once = torch_compat.multilabel_margin_loss(jnp.asarray(scores), jnp.asarray(once))
    theirs_twice = functional.multilabel_margin_loss(torch.tensor(scores), torch.tensor(twice))
    theirs_once = functional.multilabel_margin_loss(torch.tensor(scores), torch.tensor(once))
    np.testing.assert_allclose(ours_twice, ours_once)
    np.testing.assert_allclose(ours_once, theirs_once.numpy(), rtol=1e-6)
    np.testing.assert_allclose(theirs_twice.numpy(), 2 * theirs_once.numpy(), rtol=1e-6)


def test_out_of_range_classes_give_nan_where_torch_raises_and_optax_returns_a_number():
    scores = jnp.asarray(normal((2, 3), seed=40))
    labels = jnp.asarray([0, 3])
    for loss in (
        jaxloss.multiclass_hinge_loss,
        jaxloss.multiclass_perceptron_loss,
        jaxloss.multi_margin,
    ):
        values = loss(scores, labels, reduction="none")
        assert not jnp.isnan(values[0]) and jnp.isnan(values[1]), loss
    assert jnp.isfinite(optax.losses.multiclass_hinge_loss(scores, labels)[1])
    values = torch_compat.multilabel_margin_loss(
        scores, jnp.asarray([[0, -1, 0], [1, 3, -1]]), reduction="none"
    )
    assert not jnp.isnan(values[0]) and jnp.isnan(values[1])
    with pytest.raises(RuntimeError):
        functional.multi_margin_loss(torch.tensor(np.asarray(scores)), torch.tensor([0, 3]))


def test_multi_margin_weighted_mean_native_divides_by_the_weights_torch_by_the_count():
    scores = jnp.asarray(normal(SHAPE, seed=41))
    labels = jnp.asarray(rng(42).integers(0, 5, size=4))
    weight = jnp.asarray(CLASS_WEIGHT)
    per_example = jaxloss.multi_margin(scores, labels, reduction="none")
    label_weights = weight[labels]
    np.testing.assert_allclose(
        jaxloss.multi_margin(scores, labels, class_weights=weight),
        jnp.sum(label_weights * per_example) / jnp.sum(label_weights),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        torch_compat.multi_margin_loss(scores, labels, weight=weight),
        jnp.sum(label_weights * per_example) / 4,
        rtol=1e-6,
    )


def test_parity_cases_per_loss():
    # Runs last in the module (pytest keeps the file's order): every loss was compared.
    if len(CASES) < len(TORCH) + len(OPTAX_BINARY) + len(OPTAX_MULTICLASS):
        pytest.skip("run with the whole module to count the parity cases")
    print("parity cases:", dict(sorted(CASES.items())))
    assert all(CASES[name] > 0 for name in (*TORCH, *OPTAX_BINARY, *OPTAX_MULTICLASS))


def test_infinite_label_scores_give_the_limit_where_optax_and_keras_give_nan():
    # s_y = +inf: every margin is met, the loss is 0 with gradient 0. optax's
    # max(s + 1 - onehot) - s_y (and max(s) - s_y) is inf - inf = NaN there, and Keras's
    # categorical_hinge has 0 * inf = NaN in (1 - y_true) * y_pred.
    scores = jnp.asarray([[jnp.inf, 2.0, -1.0], [0.5, 3.0, 1.0]])
    labels = jnp.asarray([0, 1])
    one_hot = jax.nn.one_hot(labels, 3)
    for ours, theirs, targets in (
        (jaxloss.multiclass_hinge_loss, optax.losses.multiclass_hinge_loss, labels),
        (jaxloss.multiclass_perceptron_loss, optax.losses.multiclass_perceptron_loss, labels),
        (jaxloss.categorical_hinge, None, one_hot),
    ):
        values = ours(scores, targets, reduction="none")
        np.testing.assert_array_equal(values[0], 0.0)
        gradient = jax.grad(lambda x, f=ours, t=targets: f(x, t, reduction="sum"))(scores)
        np.testing.assert_array_equal(gradient[0], 0.0)
        if theirs is not None:
            assert jnp.isnan(theirs(scores, labels)[0])
