"""Segmentation losses against optax (dice, binary and generalized Dice) and the formula.

The finite-difference checks (``check_grads``, second order) run in the slow tier
(``-m slow``); the default tier compares the gradients with optax's and the formula's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

import jaxloss
from tests.formulas import segmentation as formulas

RNG = np.random.default_rng(0)
LOGITS = RNG.standard_normal((2, 3, 4, 3))
TARGETS = np.eye(3)[RNG.integers(0, 3, size=(2, 3, 4))]
BINARY_LOGITS = RNG.standard_normal((2, 3, 4, 1))
BINARY_TARGETS = (RNG.uniform(size=(2, 3, 4, 1)) < 0.4).astype(np.float64)


def _value_and_grads(function, *inputs):
    # optax's class weights multiply [B, C] by [C]: rank promotion allowed for it.
    with jax.numpy_rank_promotion("allow"):
        return function(*inputs), jax.grad(lambda *a: jnp.sum(function(*a)), argnums=(0, 1))(
            *inputs
        )


def _assert_all_same(cases, rtol=1e-10, jit=True):
    """Each case's (ours, theirs, inputs): the same values and gradients.

    One compiled program for every case's both sides (``jit=False`` for optax's
    apply_softmax=False, which checks its probabilities' values in Python).
    """

    def everything(inputs):
        return [
            (_value_and_grads(ours, *a), _value_and_grads(theirs, *a))
            for (ours, theirs, _), a in zip(cases, inputs, strict=True)
        ]

    with jax.numpy_rank_promotion("allow"):
        results = (jax.jit(everything) if jit else everything)([c[2] for c in cases])
    for (value, grads), (expected, expected_grads) in results:
        np.testing.assert_allclose(value, expected, rtol=rtol, atol=1e-14)
        for grad, expected_grad in zip(grads, expected_grads, strict=True):
            np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=1e-14)


DICE_OPTIONS = (
    {},
    {"smooth": 0.5, "alpha": 0.3, "beta": 0.7},
    {"class_weights": np.array([1.0, 2.0, 0.5]), "ignore_background": True},
    {"smooth": 0.0},
)


def test_dice_loss_matches_optax():
    with jax.enable_x64(True):
        # reduction="none" is optax's [batch, C] output, values and gradients for the
        # logits and the targets.
        cases = [
            (
                functools.partial(jaxloss.dice_loss, reduction="none", **options),
                functools.partial(optax.losses.dice_loss, reduction="none", **options),
                (LOGITS, TARGETS),
            )
            for options in DICE_OPTIONS
        ]
        # "mean" is over examples and classes: the mean of optax's per-example means.
        np.testing.assert_allclose(
            jaxloss.dice_loss(LOGITS, TARGETS), optax.losses.dice_loss(LOGITS, TARGETS).mean()
        )
        # Probabilities (apply_softmax=False) and the binary sigmoid path.
        probabilities = jax.nn.softmax(LOGITS)
        _assert_all_same(
            [
                (
                    functools.partial(jaxloss.dice_loss, apply_softmax=False, reduction="none"),
                    functools.partial(
                        optax.losses.dice_loss, apply_softmax=False, reduction="none"
                    ),
                    (probabilities, TARGETS),
                )
            ],
            jit=False,
        )
        cases.append(
            (
                functools.partial(jaxloss.dice_loss, reduction="none", axis=(1,)),
                functools.partial(optax.losses.dice_loss, reduction="none", axis=(1,)),
                (BINARY_LOGITS, BINARY_TARGETS),
            )
        )
        for squeeze in (False, True):
            inputs = (
                (BINARY_LOGITS[..., 0], BINARY_TARGETS[..., 0])
                if squeeze
                else (
                    BINARY_LOGITS,
                    BINARY_TARGETS,
                )
            )
            cases.append(
                (
                    functools.partial(jaxloss.binary_dice_loss, reduction="none"),
                    optax.losses.binary_dice_loss,
                    inputs,
                )
            )
        for ignore_background in (False, True):
            cases.append(
                (
                    functools.partial(
                        jaxloss.multiclass_generalized_dice_loss,
                        ignore_background=ignore_background,
                    ),
                    functools.partial(
                        optax.losses.multiclass_generalized_dice_loss,
                        ignore_background=ignore_background,
                    ),
                    (LOGITS, TARGETS),
                )
            )
        _assert_all_same(cases)


def test_tversky_loss_matches_the_formula_and_keras():
    with jax.enable_x64(True):
        probabilities = jax.nn.softmax(LOGITS)
        cases = []
        for alpha, beta, smooth in ((0.5, 0.5, 1.0), (0.3, 0.7, 1.0), (0.9, 0.2, 0.0)):

            def ours(p, t, alpha=alpha, beta=beta, smooth=smooth):
                return jaxloss.tversky_loss(
                    p, t, alpha=alpha, beta=beta, smooth=smooth, apply_softmax=False,
                    reduction="none",
                )  # fmt: skip

            def reference(p, t, alpha=alpha, beta=beta, smooth=smooth):
                return formulas.tversky(p, t, alpha=alpha, beta=beta, smooth=smooth, xp=jnp)

            cases.append((ours, reference, (probabilities, TARGETS)))
        _assert_all_same(cases)
        # alpha = beta = 1/2 is Dice.
        np.testing.assert_allclose(
            jaxloss.tversky_loss(LOGITS, TARGETS), jaxloss.dice_loss(LOGITS, TARGETS), rtol=1e-12
        )
        # Keras's tversky (keras/src/losses/losses.py), written out: its alpha multiplies
        # sum(t (1 - p)) and its beta sum(p (1 - t)), with an epsilon of 1e-7 and no
        # smoothing, over every axis.
        p, t = probabilities[..., 1], TARGETS[..., 1]
        intersection = np.sum(p * t)
        keras = 1 - intersection / (
            intersection + 0.3 * np.sum(t * (1 - p)) + 0.7 * np.sum(p * (1 - t)) + 1e-7
        )
        ours = jaxloss.tversky_loss(
            p.reshape(1, -1, 1), t.reshape(1, -1, 1), alpha=0.7, beta=0.3, smooth=0.0,
            apply_softmax=False,
        )  # fmt: skip
        np.testing.assert_allclose(ours, keras, rtol=1e-6)


@pytest.mark.slow
def test_segmentation_finite_differences():
    # A second opinion on the gradients test_dice_loss_matches_optax compares with
    # optax's autodiff: finite differences, second order included.
    with jax.enable_x64(True):
        check_grads(
            lambda z, t: jaxloss.dice_loss(z, t, alpha=0.3, beta=0.6),
            (LOGITS[:1, :2, :2], TARGETS[:1, :2, :2]),
            order=2,
            modes=("fwd", "rev"),
            eps=1e-6,
        )
        check_grads(
            lambda z: jaxloss.binary_dice_loss(z, BINARY_TARGETS[:, :2, :2]),
            (BINARY_LOGITS[:, :2, :2],),
            order=2,
            modes=("fwd", "rev"),
            eps=1e-6,
        )


def test_segmentation_parameter_gradients_and_empty_masks():
    with jax.enable_x64(True):
        # Gradients for smooth, alpha and beta: the closed form against the formula's.
        probabilities = jax.nn.softmax(LOGITS)

        def ours(smooth, alpha, beta):
            return jaxloss.tversky_loss(
                probabilities, TARGETS, alpha=alpha, beta=beta, smooth=smooth,
                apply_softmax=False, reduction="sum",
            )  # fmt: skip

        def reference(smooth, alpha, beta):
            return jnp.sum(
                formulas.tversky(
                    probabilities, TARGETS, smooth=smooth, alpha=alpha, beta=beta, xp=jnp
                )
            )

        arguments = (jnp.asarray(0.7), jnp.asarray(0.4), jnp.asarray(0.6))
        np.testing.assert_allclose(
            *jax.jit(
                lambda *a: (
                    jax.grad(ours, argnums=(0, 1, 2))(*a),
                    jax.grad(reference, argnums=(0, 1, 2))(*a),
                )
            )(*arguments),
            rtol=1e-10,
        )
    # The empty-mask convention: nothing there, nothing predicted (a -inf logit), no
    # smoothing. optax returns NaN (0 / 0); jaxloss's coefficient is 1, so the loss and
    # the gradient are 0.
    empty = jnp.zeros((1, 4, 1))
    nothing = jnp.full((1, 4, 1), -jnp.inf)
    assert jnp.isnan(optax.losses.dice_loss(nothing, empty, smooth=0.0))
    assert jaxloss.dice_loss(nothing, empty, smooth=0.0) == 0
    assert jaxloss.dice_loss(empty, empty, smooth=0.0, apply_softmax=False) == 0
    gradient = jax.grad(lambda p: jaxloss.dice_loss(p, empty, smooth=0.0, apply_softmax=False))
    assert jnp.all(gradient(empty) == 0)
    # With smoothing an empty target predicted empty is a perfect match too (s / s).
    assert jaxloss.dice_loss(empty, empty, apply_softmax=False) == 0
    # Extreme logits stay finite (optax's own numerical-stability case).
    for value in (100.0, -100.0, 1e30):
        big = jnp.full((1, 4, 4, 1), value)
        assert jnp.isfinite(jaxloss.dice_loss(big, jnp.ones((1, 4, 4, 1))))
        assert jnp.all(
            jnp.isfinite(jax.grad(lambda z: jaxloss.dice_loss(z, jnp.ones((1, 4, 4, 1))))(big))
        )


def test_segmentation_reductions_weights_and_errors():
    losses = jaxloss.dice_loss(LOGITS, TARGETS, reduction="none")
    weights = np.array([[1.0], [3.0]])
    np.testing.assert_allclose(
        jaxloss.dice_loss(LOGITS, TARGETS, weights=weights),
        np.sum(losses * weights) / np.sum(np.broadcast_to(weights, losses.shape)),
        rtol=1e-6,
    )
    where = np.array([[True, False, True], [True, True, False]])
    np.testing.assert_allclose(
        jaxloss.dice_loss(LOGITS, TARGETS, where=where),
        np.mean(np.asarray(losses)[where]),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="same shape"):
        jaxloss.dice_loss(LOGITS, TARGETS[..., :2])
    with pytest.raises(ValueError, match="class_weights"):
        jaxloss.dice_loss(LOGITS, TARGETS, class_weights=np.ones(2))
    with pytest.raises(ValueError, match="alpha"):
        jaxloss.tversky_loss(LOGITS, TARGETS, alpha=-0.1)
    with pytest.raises(ValueError, match="class axis"):
        jaxloss.dice_loss(LOGITS, TARGETS, axis=-1)
