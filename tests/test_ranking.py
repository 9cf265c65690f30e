"""Ranking losses against optax (ranking_softmax_loss) and rax's definitions (pairwise).

The default tier compares ranking_softmax_loss with optax on a covering subset of the
where x weights x reduction product (every pair of where and weights, every
reduction); the slow tier (``-m slow``) runs the whole product, and the
finite-difference checks (``check_grads``, second order) of the pairwise losses.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

import jaxloss
from tests.formulas import ranking as formulas

# Three lists of five items: graded labels, a padded item, a fully padded list; no
# score gap at the hinge's kink (1).
SCORES = np.array(
    [[0.3, -1.2, 2.0, 0.7, -0.4], [1.5, 0.2, -0.3, 0.9, 2.2], [0.1, 0.4, -0.8, 1.15, 0.6]]
)
LABELS = np.array([[2.0, 0.0, 1.0, 0.0, 3.0], [0.0, 1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 0.0, 2.0, 1.0]])
WHERE = np.array([[True, True, True, True, False], [True] * 5, [False] * 5])
WEIGHTS = np.array([[1.0, 2.0, 0.5, 1.0, 1.0], [0.3, 1.0, 1.0, 2.0, 1.0], [1.0] * 5])
OPTAX_REDUCE = {"none": None, "sum": jnp.sum, "mean": jnp.mean}


SOFTMAX_PRODUCT = list(itertools.product((None, WHERE), (None, WEIGHTS), OPTAX_REDUCE))
# Every (where, weights) pair and every reduction, and the reductions with both where
# and weights (whose gradients are compared).
SOFTMAX_COVERING = [
    (None, None, "none"),
    (None, WEIGHTS, "sum"),
    (WHERE, None, "mean"),
    (WHERE, WEIGHTS, "none"),
    (WHERE, WEIGHTS, "mean"),
]


@pytest.mark.parametrize(
    "cases, gradient_cases",
    [
        pytest.param(SOFTMAX_COVERING, 3, id="covering"),
        pytest.param(SOFTMAX_PRODUCT, 6, id="full", marks=pytest.mark.slow),
    ],
)
def test_ranking_softmax_loss_matches_optax(cases, gradient_cases):
    compared = 0
    with jax.enable_x64(True):
        for where, weights, reduction in cases:
            reduce_fn = OPTAX_REDUCE[reduction]

            def ours(scores, labels, weights, where=where, reduction=reduction):
                return jaxloss.ranking_softmax_loss(
                    scores, labels, where=where, weights=weights, reduction=reduction
                )

            def theirs(scores, labels, weights, where=where, reduce_fn=reduce_fn):
                return optax.losses.ranking_softmax_loss(
                    scores, labels, where=where, weights=weights, reduce_fn=reduce_fn
                )

            inputs = (SCORES, LABELS, WEIGHTS if weights is not None else np.ones((3, 5)))
            # The reductions' rule is shared: gradients for "none", and for every
            # reduction with both where and weights.
            with_gradients = reduction == "none" or (where is not None and weights is not None)

            def total(function):
                return lambda *a: jnp.sum(function(*a))

            @jax.jit
            def both(*inputs, with_gradients=with_gradients, ours=ours, theirs=theirs):
                # One compiled program: both values and (where compared) both gradients.
                values = (ours(*inputs), theirs(*inputs))
                if not with_gradients:
                    return values, None
                return values, (
                    jax.grad(total(ours), argnums=(0, 1, 2))(*inputs),
                    jax.grad(total(theirs), argnums=(0, 1, 2))(*inputs),
                )

            values, gradients = both(*inputs)
            np.testing.assert_allclose(*values, rtol=1e-12)
            if gradients is None:
                continue
            # Gradients for the scores, the labels and the weights (optax's by
            # autodiff). At a masked item optax's label and weight gradients are
            # 0 * log softmax(-inf) = NaN (or 0); here they are 0.
            ours_grads, their_grads = gradients
            valid = np.ones((3, 5), bool) if where is None else where
            np.testing.assert_allclose(ours_grads[0], their_grads[0], rtol=1e-10, atol=1e-14)
            for ours_grad, their_grad in zip(ours_grads[1:], their_grads[1:], strict=True):
                np.testing.assert_allclose(
                    ours_grad[valid], their_grad[valid], rtol=1e-10, atol=1e-14
                )
                assert np.all(ours_grad[~valid] == 0)
                masked = their_grad[~valid]
            assert np.all(np.isnan(masked) | (masked == 0))
            compared += 1
    assert compared == gradient_cases


def test_ranking_softmax_loss_optax_edge_cases():
    # optax/losses/_ranking_test.py's cases and expected values.
    scores = jnp.asarray([0.0, 3.0, 1.0, 2.0])
    labels = jnp.asarray([0.0, 0.0, 1.0, 1.0])
    log_softmax = jax.nn.log_softmax(scores)
    np.testing.assert_allclose(
        jaxloss.ranking_softmax_loss(scores, labels, reduction="sum"),
        -(log_softmax[2] + log_softmax[3]),
        rtol=1e-6,
    )
    # Extreme scores: finite, optax's expected value.
    extreme = jaxloss.ranking_softmax_loss(
        jnp.asarray([0.0, -2.1e26, 3.4e37, 42.0]),
        jnp.asarray([0.0, 1.0, 1.0, 0.0]),
        reduction="sum",
    )
    np.testing.assert_allclose(
        extreme, -((-2.1e26 - (0.0 + -2.1e26 + 3.4e37 + 42.0)) + (3.4e37 - 3.4e37)), rtol=1e-3
    )
    assert jaxloss.ranking_softmax_loss(scores, jnp.zeros(4), reduction="sum") == 0
    everything_masked = jnp.zeros(4, bool)
    assert jaxloss.ranking_softmax_loss(scores, labels, where=everything_masked) == 0
    gradient = jax.grad(lambda s: jaxloss.ranking_softmax_loss(s, labels, where=everything_masked))
    assert np.all(gradient(scores) == 0)
    # where equals leaving the item out.
    where = jnp.asarray([True, True, True, False])
    np.testing.assert_allclose(
        jaxloss.ranking_softmax_loss(scores, jnp.asarray([0.0, 0.0, 2.0, 1.0]), where=where),
        jaxloss.ranking_softmax_loss(scores[:3], jnp.asarray([0.0, 0.0, 2.0])),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="same shape"):
        jaxloss.ranking_softmax_loss(scores, labels[:3])
    with pytest.raises(ValueError, match="weights"):
        jaxloss.ranking_softmax_loss(scores, labels, weights=-jnp.ones(4))


@pytest.mark.parametrize("kind", ["hinge", "logistic"])
def test_pairwise_losses_match_the_rax_definition(kind):
    loss = {"hinge": jaxloss.pairwise_hinge_loss, "logistic": jaxloss.pairwise_logistic_loss}[kind]
    with jax.enable_x64(True):
        for where, weights in ((None, None), (WHERE, WEIGHTS)):
            valid = np.ones((3, 5), bool) if where is None else where
            item_weights = np.ones((3, 5)) if weights is None else weights

            def reference(scores, valid=valid, item_weights=item_weights):
                return jnp.stack(
                    [
                        formulas.pairwise(
                            scores[b], LABELS[b], valid[b], item_weights[b], kind=kind, xp=jnp
                        )
                        for b in range(3)
                    ]
                )

            ours = functools.partial(loss, labels=LABELS, where=where, weights=weights)

            @jax.jit
            def everything(scores, ours=ours, reference=reference):
                # One compiled program: every reduction, the reference and both gradients.
                values = [ours(scores, reduction=r) for r in ("none", "sum", "mean")]
                gradients = (
                    jax.grad(lambda s: ours(s, reduction="sum"))(scores),
                    jax.grad(lambda s: jnp.sum(reference(s)))(scores),
                )
                return values, reference(scores), gradients

            (none, total, mean), expected, gradients = everything(SCORES)
            np.testing.assert_allclose(none, expected, rtol=1e-12)
            np.testing.assert_allclose(total, expected.sum(), rtol=1e-12)
            has_pairs = np.array([True, True, where is None])
            np.testing.assert_allclose(mean, expected[has_pairs].mean(), rtol=1e-12)
            np.testing.assert_allclose(*gradients, rtol=1e-10, atol=1e-14)

        # The item weights' derivative.
        @jax.jit
        def weight_gradients(w):
            def reference(w):
                return sum(
                    formulas.pairwise(SCORES[b], LABELS[b], [True] * 5, w[b], kind=kind, xp=jnp)
                    for b in range(3)
                )

            ours = jax.grad(lambda w: loss(SCORES, LABELS, weights=w, reduction="sum"))(w)
            return ours, jax.grad(reference)(w)

        np.testing.assert_allclose(*weight_gradients(WEIGHTS), rtol=1e-10)


@pytest.mark.slow
def test_pairwise_logistic_loss_finite_differences():
    # A second opinion on the gradients test_pairwise_losses_match_the_rax_definition
    # checks against autodiff of rax's definition: finite differences, second order
    # included (the loss is smooth).
    with jax.enable_x64(True):
        check_grads(
            lambda s: jaxloss.pairwise_logistic_loss(s, LABELS, where=WHERE, weights=WEIGHTS),
            (SCORES,),
            order=2,
            modes=("fwd", "rev"),
            eps=1e-6,
        )


def test_pairwise_losses_rax_docstring_values():
    # rax's docstrings: pairwise_hinge_loss 2.0 and [2.0, 0.5]; pairwise_logistic_loss
    # 1.6265235 and [1.6265235, 0.7873387]; with where and jnp.mean (over the pairs)
    # 0.16666667 and 0.3668668, which is the sum over the pairs / the pair count (3).
    scores = jnp.array([[2.0, 1.0, 3.0], [1.0, 0.5, 1.5]])
    labels = jnp.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(
        jaxloss.pairwise_hinge_loss(scores, labels, reduction="none"), [2.0, 0.5], rtol=1e-6
    )
    np.testing.assert_allclose(
        jaxloss.pairwise_logistic_loss(scores, labels, reduction="none"),
        [1.6265235, 0.7873387],
        rtol=1e-6,
    )
    scores = jnp.array([[2.0, 1.0, 0.0], [1.0, 0.5, 1.5]])
    where = jnp.array([[True, True, False], [True, True, True]])
    for loss, expected in (
        (jaxloss.pairwise_hinge_loss, 0.16666667),
        (jaxloss.pairwise_logistic_loss, 0.3668668),
    ):
        np.testing.assert_allclose(
            loss(scores, labels, where=where, reduction="sum") / 3, expected, rtol=1e-6
        )
    # A weight constant over a list weighs the list.
    np.testing.assert_allclose(
        jaxloss.pairwise_logistic_loss(
            scores, labels, weights=jnp.array([[2.0], [1.0]]), reduction="none"
        ),
        jaxloss.pairwise_logistic_loss(scores, labels, reduction="none") * jnp.array([2.0, 1.0]),
        rtol=1e-6,
    )
    # Extreme score gaps stay finite.
    assert np.isfinite(
        jaxloss.pairwise_logistic_loss(jnp.array([-1e30, 1e30]), jnp.array([1.0, 0.0]))
    )
