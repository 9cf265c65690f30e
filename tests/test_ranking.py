"""Ranking losses against optax (ranking_softmax_loss) and rax's definitions (pairwise)."""

from __future__ import annotations

import functools

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


def test_ranking_softmax_loss_matches_optax():
    cases = 0
    with jax.enable_x64(True):
        for where in (None, WHERE):
            for weights in (None, WEIGHTS):
                for reduction, reduce_fn in OPTAX_REDUCE.items():

                    def ours(scores, labels, weights, where=where, reduction=reduction):
                        return jaxloss.ranking_softmax_loss(
                            scores, labels, where=where, weights=weights, reduction=reduction
                        )

                    def theirs(scores, labels, weights, where=where, reduce_fn=reduce_fn):
                        return optax.losses.ranking_softmax_loss(
                            scores, labels, where=where, weights=weights, reduce_fn=reduce_fn
                        )

                    inputs = (SCORES, LABELS, WEIGHTS if weights is not None else np.ones((3, 5)))
                    np.testing.assert_allclose(ours(*inputs), theirs(*inputs), rtol=1e-12)

                    def total(function):
                        return lambda *a: jnp.sum(function(*a))

                    if reduction != "none" and (where is None or weights is None):
                        continue  # the reductions' rule is shared: one case each suffices
                    # Gradients for the scores, the labels and the weights (optax's by
                    # autodiff). At a masked item optax's label and weight gradients are
                    # 0 * log softmax(-inf) = NaN (or 0); here they are 0.
                    ours_grads = jax.grad(total(ours), argnums=(0, 1, 2))(*inputs)
                    their_grads = jax.grad(total(theirs), argnums=(0, 1, 2))(*inputs)
                    valid = np.ones((3, 5), bool) if where is None else where
                    np.testing.assert_allclose(
                        ours_grads[0], their_grads[0], rtol=1e-10, atol=1e-14
                    )
                    for ours_grad, their_grad in zip(ours_grads[1:], their_grads[1:], strict=True):
                        np.testing.assert_allclose(
                            ours_grad[valid], their_grad[valid], rtol=1e-10, atol=1e-14
                        )
                        assert np.all(ours_grad[~valid] == 0)
                        masked = their_grad[~valid]
                    assert np.all(np.isnan(masked) | (masked == 0))
                    cases += 1
    assert cases == 6


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
            expected = reference(SCORES)
            np.testing.assert_allclose(ours(SCORES, reduction="none"), expected, rtol=1e-12)
            np.testing.assert_allclose(ours(SCORES, reduction="sum"), expected.sum(), rtol=1e-12)
            has_pairs = np.array([True, True, where is None])
            np.testing.assert_allclose(ours(SCORES), expected[has_pairs].mean(), rtol=1e-12)
            np.testing.assert_allclose(
                jax.grad(lambda s, ours=ours: ours(s, reduction="sum"))(SCORES),
                jax.jit(jax.grad(lambda s, reference=reference: jnp.sum(reference(s))))(SCORES),
                rtol=1e-10,
                atol=1e-14,
            )
        # The item weights' derivative, and second order where the loss is smooth.
        np.testing.assert_allclose(
            jax.grad(lambda w: loss(SCORES, LABELS, weights=w, reduction="sum"))(WEIGHTS),
            jax.grad(
                lambda w: sum(
                    formulas.pairwise(SCORES[b], LABELS[b], [True] * 5, w[b], kind=kind, xp=jnp)
                    for b in range(3)
                )
            )(WEIGHTS),
            rtol=1e-10,
        )
        if kind == "logistic":
            check_grads(
                lambda s: loss(s, LABELS, where=WHERE, weights=WEIGHTS),
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
