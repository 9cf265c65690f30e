"""Metric-learning losses against torch 2.13, optax and Keras's formula.

Parity cases are counted in the report: each ``compare`` call checks one value and the
gradients of every differentiable input.

The torch sweeps (options x reductions) run a covering subset in the default tier, in
which every option value and reduction appears at least once, and the full product in
the slow tier (``-m slow``). Finite-difference checks (``check_grads``) run in the slow
tier; the default tier compares the same gradients with autodiff of the formulas.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from jax.test_util import check_grads

import jaxloss
from jaxloss import torch_compat
from tests.formulas import metric as formulas
from tests.sweeps import TIERS, sweep

REDUCTIONS = ("none", "sum", "mean")


def _torch(*arrays):
    return [torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True) for a in arrays]


def _torch_value_and_grads(function, arrays, reduction):
    tensors = _torch(*arrays)
    value = function(*tensors)
    (value if reduction != "none" else value.sum()).backward()
    grads = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in tensors]
    return value.detach().numpy(), grads


def _jax_value_and_grads(function, arrays, reduction):
    def total(*inputs):
        result = function(*inputs)
        return (result if reduction != "none" else jnp.sum(result)), result

    # One compiled program for the value and every gradient.
    grads, value = jax.jit(jax.grad(total, argnums=tuple(range(len(arrays))), has_aux=True))(
        *arrays
    )
    return np.asarray(value), [np.asarray(g) for g in grads]


def compare(ours, theirs, arrays, reduction, rtol=1e-10, atol=1e-12):
    value, grads = _jax_value_and_grads(ours, arrays, reduction)
    expected, expected_grads = theirs
    np.testing.assert_allclose(value, expected, rtol=rtol, atol=atol)
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=atol)


@pytest.mark.parametrize("full", TIERS)
def test_cosine_embedding_loss_matches_torch(full):
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 6, 4))
    x1[0] = 0.0  # torch's epsilon: a zero vector has cosine 0
    target = np.array([1.0, -1.0, 1.0, -1.0, -1.0, 0.0])  # 0: torch's loss 0
    with jax.enable_x64(True):
        for margin, reduction in sweep(full, (0.0, 0.3, -0.4), REDUCTIONS):
            options = dict(margin=margin, reduction=reduction)
            theirs = _torch_value_and_grads(
                functools.partial(_torch_cosine, target=torch.tensor(target), options=options),
                (x1, x2),
                reduction,
            )
            # The zero vector's gradient is ~1e6 (torch's epsilon): 1e-9 relative.
            compare(
                functools.partial(_cosine_functional, target=target, options=options),
                theirs,
                (x1, x2),
                reduction,
                rtol=1e-8,
            )
            compare(
                functools.partial(_cosine_module, target=target, options=options),
                theirs,
                (x1, x2),
                reduction,
                rtol=1e-8,
            )
        if full:
            return
        # Unbatched: (D,) inputs with a scalar target.
        for label in (1.0, -1.0):
            options = dict(margin=-0.5)
            theirs = _torch_value_and_grads(
                functools.partial(_torch_cosine, target=torch.tensor(label), options=options),
                (x1[1], x2[1]),
                "mean",
            )
            compare(
                functools.partial(_cosine_functional, target=label, options=options),
                theirs,
                (x1[1], x2[1]),
                "mean",
            )


def _torch_cosine(a, b, *, target, options):
    return torch.nn.functional.cosine_embedding_loss(a, b, target, **options)


def _cosine_functional(a, b, *, target, options):
    return torch_compat.cosine_embedding_loss(a, b, target, **options)


def _cosine_module(a, b, *, target, options):
    return torch_compat.CosineEmbeddingLoss(**options)(a, b, target)


def test_cosine_embedding_loss_legacy_empty_and_errors():
    x1 = np.ones((3, 2))
    x2 = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5]])
    target = np.array([1.0, -1.0, -1.0])
    expected = torch.nn.functional.cosine_embedding_loss(
        torch.tensor(x1), torch.tensor(x2), torch.tensor(target), reduction="sum"
    ).numpy()
    # torch's legacy mapping: size_average=False means "sum", with torch's warning.
    with pytest.warns(UserWarning, match="size_average and reduce"):
        legacy = torch_compat.CosineEmbeddingLoss(size_average=False)
    np.testing.assert_allclose(legacy(x1, x2, target), expected, rtol=1e-6)
    with pytest.warns(UserWarning, match="reduction='none'"):
        unreduced = torch_compat.cosine_embedding_loss(x1, x2, target, reduce=False)
    assert unreduced.shape == (3,)
    # An empty batch: torch's mean is NaN, the documented jaxloss rule is 0.
    empty = np.zeros((0, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_mean = torch.nn.functional.cosine_embedding_loss(
            torch.tensor(empty), torch.tensor(empty), torch.zeros(0)
        )
    assert torch.isnan(torch_mean)
    assert torch_compat.cosine_embedding_loss(empty, empty, np.zeros(0)) == 0
    assert torch_compat.cosine_embedding_loss(empty, empty, np.zeros(0), reduction="sum") == 0
    with pytest.raises(ValueError, match="1D target tensor expects 2D input"):
        torch_compat.cosine_embedding_loss(x1[0], x2[0], target)
    with pytest.raises(ValueError, match="same shape"):
        torch_compat.cosine_embedding_loss(x1, x2[:, :1], target)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        torch_compat.cosine_embedding_loss(x1, x2, target, reduction="max")
    with pytest.raises(ValueError, match="margin"):
        jaxloss.cosine_embedding(x1, x2, target, margin=2.0)


TRIPLET_CASES = (
    # (p, eps, swap, margin)
    (2.0, 1e-6, False, 1.0),
    (1.0, 0.1, True, 0.5),
    (3.0, 1e-6, True, 2.0),
    (1.5, 0.0, False, 1.0),
)


@pytest.mark.parametrize("full", TIERS)
def test_triplet_margin_loss_matches_torch(full):
    rng = np.random.default_rng(1)
    anchor, positive, negative = rng.standard_normal((3, 5, 4))
    with jax.enable_x64(True):
        for (p, eps, swap, margin), reduction in sweep(full, TRIPLET_CASES, REDUCTIONS):
            options = dict(margin=margin, p=p, eps=eps, swap=swap, reduction=reduction)
            theirs = _torch_value_and_grads(
                functools.partial(torch.nn.functional.triplet_margin_loss, **options),
                (anchor, positive, negative),
                reduction,
            )
            compare(
                functools.partial(torch_compat.triplet_margin_loss, **options),
                theirs,
                (anchor, positive, negative),
                reduction,
            )
        # The class: every case in the slow tier, the one the sweep ran with "mean" here.
        for p, eps, swap, margin in TRIPLET_CASES if full else TRIPLET_CASES[2:3]:
            module_options = dict(margin=margin, p=p, eps=eps, swap=swap)
            theirs = _torch_value_and_grads(
                torch.nn.TripletMarginLoss(**module_options), (anchor, positive, negative), "mean"
            )
            compare(
                torch_compat.TripletMarginLoss(**module_options),
                theirs,
                (anchor, positive, negative),
                "mean",
            )
        if full:
            return
        # Unbatched (D,) triplets.
        theirs = _torch_value_and_grads(
            torch.nn.TripletMarginLoss(margin=3.0), (anchor[0], positive[0], negative[0]), "mean"
        )
        compare(
            torch_compat.TripletMarginLoss(margin=3.0),
            theirs,
            (anchor[0], positive[0], negative[0]),
            "mean",
        )


def test_triplet_margin_loss_legacy_empty_and_errors():
    anchor, positive, negative = np.random.default_rng(2).standard_normal((3, 4, 3))
    expected = torch.nn.functional.triplet_margin_loss(
        *(torch.tensor(a) for a in (anchor, positive, negative)), reduction="none"
    ).numpy()
    with pytest.warns(UserWarning, match="reduction='none'"):
        legacy = torch_compat.TripletMarginLoss(reduce=False)
    np.testing.assert_allclose(legacy(anchor, positive, negative), expected, rtol=1e-6)
    empty = np.zeros((0, 3))
    assert torch_compat.triplet_margin_loss(empty, empty, empty) == 0  # torch: NaN
    with pytest.raises(ValueError, match="margin"):
        torch_compat.triplet_margin_loss(anchor, positive, negative, margin=0.0)
    with pytest.raises(ValueError, match="same number of dimensions"):
        torch_compat.triplet_margin_loss(anchor, positive[0], negative)
    with pytest.raises(ValueError, match="p must be"):
        torch_compat.triplet_margin_loss(anchor, positive, negative, p=float("inf"))
    with pytest.raises(TypeError, match="floating"):
        torch_compat.triplet_margin_loss(anchor.astype(int), positive, negative)


@pytest.mark.parametrize("full", TIERS)
def test_triplet_margin_with_distance_loss_matches_torch(full):
    rng = np.random.default_rng(3)
    anchor, positive, negative = rng.standard_normal((3, 5, 4))

    def jax_cosine_distance(x, y):
        return 1 - jnp.sum(x * y, -1) / jnp.sqrt(jnp.sum(x * x, -1) * jnp.sum(y * y, -1))

    def torch_cosine_distance(x, y):
        return 1 - torch.nn.functional.cosine_similarity(x, y, eps=0.0)

    distances = (
        (None, None),
        (
            lambda x, y: jnp.sum(jnp.abs(x - y), axis=-1),
            lambda x, y: torch.sum(torch.abs(x - y), dim=-1),
        ),
        (jax_cosine_distance, torch_cosine_distance),
        (
            functools.partial(torch_compat.pairwise_distance, p=3.0, eps=0.0),
            functools.partial(torch.nn.functional.pairwise_distance, p=3.0, eps=0.0),
        ),
    )
    with jax.enable_x64(True):
        for (ours_distance, their_distance), swap, reduction in sweep(
            full, distances, (False, True), REDUCTIONS
        ):
            theirs = _torch_value_and_grads(
                torch.nn.TripletMarginWithDistanceLoss(
                    distance_function=their_distance,
                    margin=0.7,
                    swap=swap,
                    reduction=reduction,
                ),
                (anchor, positive, negative),
                reduction,
            )
            compare(
                torch_compat.TripletMarginWithDistanceLoss(
                    distance_function=ours_distance,
                    margin=0.7,
                    swap=swap,
                    reduction=reduction,
                ),
                theirs,
                (anchor, positive, negative),
                reduction,
            )
        if full:
            return
        x1, x2 = rng.standard_normal((2, 3, 4))
        expected = torch.nn.functional.pairwise_distance(
            torch.tensor(x1), torch.tensor(x2), p=1.5, keepdim=True
        )
        np.testing.assert_allclose(
            torch_compat.pairwise_distance(x1, x2, p=1.5, keepdim=True), expected, rtol=1e-12
        )
    with pytest.raises(ValueError, match="margin"):
        torch_compat.triplet_margin_with_distance_loss(anchor, positive, negative, margin=-1.0)


def test_triplet_margin_loss_matches_optax():
    rng = np.random.default_rng(4)
    anchors, positives, negatives = rng.standard_normal((3, 6, 5))
    with jax.enable_x64(True):
        for norm_degree, margin, eps in ((2, 1.0, 1e-6), (4, 0.3, 0.5), (2, -0.2, 0.0)):
            options = dict(norm_degree=norm_degree, margin=margin, eps=eps)
            theirs = _jax_value_and_grads(
                functools.partial(optax.losses.triplet_margin_loss, **options),
                (anchors, positives, negatives),
                "none",
            )
            compare(
                functools.partial(jaxloss.triplet_margin_loss, reduction="none", **options),
                theirs,
                (anchors, positives, negatives),
                "none",
            )
        # optax's axis: the features first.
        transposed = tuple(a.T for a in (anchors, positives, negatives))
        theirs = _jax_value_and_grads(
            functools.partial(optax.losses.triplet_margin_loss, axis=0), transposed, "none"
        )
        compare(
            functools.partial(jaxloss.triplet_margin_loss, axis=0, reduction="none"),
            theirs,
            transposed,
            "none",
        )
    # optax's own test cases: ones/zeros/twos triplets, its hand-made reference.
    for anchor, positive in (
        (np.ones((2, 2)), np.zeros((2, 2))),
        (np.zeros((2, 2)), np.ones((2, 2))),
    ):
        negative = 2 * np.ones((2, 2))
        np.testing.assert_allclose(
            jaxloss.triplet_margin_loss(anchor, positive, negative, reduction="none"),
            optax.losses.triplet_margin_loss(anchor, positive, negative),
            rtol=1e-6,
        )
    # Odd p: optax raises the signed difference to p (NaN or a signed sum); here |x|.
    x, y, z = np.array([[0.0, 0.0]]), np.array([[1.0, -2.0]]), np.array([[3.0, 0.0]])
    np.testing.assert_allclose(
        jaxloss.triplet_margin_loss(x, y, z, norm_degree=1, eps=0.0, reduction="none"), [1.0]
    )


def test_ntxent_matches_optax():
    # optax's test case and its expected numbers (optax/losses/_self_supervised_test.py).
    ys = jnp.array([[-1.9540, 1.0780], [0.2380, -0.5703], [1.8745, -0.0195], [-0.6719, -1.9210]])
    ys_2 = ys.at[0].set(0.0)
    for embeddings, labels, expected in (
        (ys, jnp.array([0, 0, 1, 1]), 14.01032),
        (ys, jnp.array([0, 0, 0, 1]), 8.968544),
        (ys_2, jnp.array([0, 0, 1, 1]), 9.2889),
    ):
        np.testing.assert_allclose(jaxloss.ntxent(embeddings, labels), expected, atol=1e-4)
    rng = np.random.default_rng(5)
    embeddings = rng.standard_normal((6, 3))
    labels = np.array([0, 1, 0, 2, 1, 0])
    with jax.enable_x64(True):
        for temperature in (0.07, 0.5):
            # optax's ntxent mixes bool and int (matches ^ 1): standard promotion for it.
            with jax.numpy_dtype_promotion("standard"):
                theirs = _jax_value_and_grads(
                    lambda e, t=temperature: optax.ntxent(e, labels, t), (embeddings,), "mean"
                )
            compare(
                lambda e, t=temperature: jaxloss.ntxent(e, labels, temperature=t),
                theirs,
                (embeddings,),
                "mean",
                rtol=1e-9,
            )


def test_ntxent_against_the_formula_and_its_reductions():
    rng = np.random.default_rng(6)
    embeddings = rng.standard_normal((6, 3))
    labels = np.array([0, 1, 0, 2, 1, 0])
    epsilon = np.finfo(np.float64).eps
    with jax.enable_x64(True):
        pairs = jaxloss.ntxent(embeddings, labels, temperature=0.3, reduction="none")
        expected = formulas.ntxent_pairs(embeddings, labels, 0.3, epsilon=epsilon)
        np.testing.assert_allclose(pairs, expected, rtol=1e-12, atol=1e-14)
        positive = (labels[:, None] == labels[None, :]) & ~np.eye(6, dtype=bool)
        np.testing.assert_allclose(
            jaxloss.ntxent(embeddings, labels, temperature=0.3, reduction="sum"), expected.sum()
        )
        # Weights per anchor: the weighted mean over the positive pairs.
        anchor_weights = np.arange(1.0, 7.0)[:, None]
        weighted = np.broadcast_to(anchor_weights, (6, 6)) * positive
        np.testing.assert_allclose(
            jaxloss.ntxent(embeddings, labels, temperature=0.3, weights=anchor_weights),
            (expected * weighted).sum() / weighted.sum(),
        )
        # where: a masked embedding is padding, the same as leaving it out.
        keep = np.array([True, True, True, False, True, True])
        np.testing.assert_allclose(
            jaxloss.ntxent(embeddings, labels, temperature=0.3, where=keep),
            jaxloss.ntxent(embeddings[keep], labels[keep], temperature=0.3),
            rtol=1e-12,
        )

        def reference(e):
            pairs = formulas.ntxent_pairs(e, labels, 0.3, xp=jnp, epsilon=epsilon)
            return jnp.sum(pairs) / float(positive.sum())

        def ours(e):
            return jaxloss.ntxent(e, labels, temperature=0.3)

        @jax.jit
        def derivatives(e):
            # One compiled program: both gradients and both Hessians.
            return (jax.grad(ours)(e), jax.grad(reference)(e)), (
                jax.hessian(ours)(e),
                jax.hessian(reference)(e),
            )

        gradients, hessians = derivatives(embeddings)
        np.testing.assert_allclose(*gradients, rtol=1e-10)
        np.testing.assert_allclose(*hessians, rtol=1e-8, atol=1e-12)
        # An anchor without negatives (one label) has loss 0, not NaN.
        assert jaxloss.ntxent(embeddings, np.zeros(6, int)) == 0
        assert np.all(
            np.isfinite(jax.grad(lambda e: jaxloss.ntxent(e, np.zeros(6, int)))(embeddings))
        )
    with pytest.raises(ValueError, match="temperature"):
        jaxloss.ntxent(embeddings, labels, temperature=0.0)
    with pytest.raises(ValueError, match="labels"):
        jaxloss.ntxent(embeddings, labels[:3])


def _unit(rows):
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def test_circle_loss_matches_the_keras_formula():
    rng = np.random.default_rng(7)
    embeddings = _unit(rng.standard_normal((7, 3)))
    labels = np.array([0, 1, 0, 2, 1, 0, 3])  # label 3: no positive, left out of the mean
    with jax.enable_x64(True):
        for gamma, margin, remove_diagonal in ((80.0, 0.4, True), (2.0, 0.1, False)):
            options = dict(gamma=gamma, margin=margin, remove_diagonal=remove_diagonal)
            rows = formulas.circle_rows(embeddings, labels, **options)
            np.testing.assert_allclose(
                jaxloss.circle_loss(embeddings, labels, reduction="none", **options),
                rows,
                rtol=1e-10,
                atol=1e-12,
            )
            # Keras's mean: over the anchors with a loss (its mask, loss > 0).
            counted = rows > 0
            np.testing.assert_allclose(
                jaxloss.circle_loss(embeddings, labels, **options),
                rows[counted].mean(),
                rtol=1e-10,
            )

            def ours(e, options=options):
                return jaxloss.circle_loss(e, labels, reduction="sum", **options)

            def reference(e, options=options):
                return jnp.sum(formulas.circle_rows(e, labels, xp=jnp, **options))

            np.testing.assert_allclose(
                *jax.jit(lambda e, f=ours, g=reference: (jax.grad(f)(e), jax.grad(g)(e)))(
                    embeddings
                ),
                rtol=1e-9,
                atol=1e-11,
            )
        # A reference set that is the batch itself gives the batch's loss.
        np.testing.assert_allclose(
            jaxloss.circle_loss(embeddings, labels, ref_embeddings=embeddings, ref_labels=labels),
            jaxloss.circle_loss(embeddings, labels),
            rtol=1e-12,
        )
    with pytest.raises(ValueError, match="together"):
        jaxloss.circle_loss(embeddings, labels, ref_embeddings=embeddings)
    with pytest.raises(TypeError, match="integer"):
        jaxloss.circle_loss(embeddings, labels.astype(float))


@pytest.mark.slow
def test_circle_loss_finite_differences():
    # A second opinion on the gradients test_circle_loss_matches_the_keras_formula checks
    # against autodiff of the formula: finite differences, second order included.
    rng = np.random.default_rng(7)
    embeddings = _unit(rng.standard_normal((7, 3)))
    labels = np.array([0, 1, 0, 2, 1, 0, 3])
    with jax.enable_x64(True):
        check_grads(
            lambda e: jaxloss.circle_loss(e, labels, gamma=4.0),
            (embeddings,),
            order=2,
            modes=("fwd", "rev"),
            eps=1e-6,
        )


def test_triplet_margin_with_distance_loss_native_options():
    rng = np.random.default_rng(8)
    anchors, positives, negatives = rng.standard_normal((3, 4, 3))
    losses = jaxloss.triplet_margin_with_distance_loss(
        anchors, positives, negatives, reduction="none"
    )
    keep = np.array([True, False, True, True])
    np.testing.assert_allclose(
        jaxloss.triplet_margin_with_distance_loss(anchors, positives, negatives, where=keep),
        losses[keep].mean(),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="weights"):
        jaxloss.triplet_margin_with_distance_loss(
            anchors, positives, negatives, weights=-np.ones(4)
        )
