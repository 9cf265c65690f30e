"""Parity with torch.nn.functional and optax on the same inputs.

Expected values come from the other library, computed in the same test. torch is
part of the ``dev`` extra that ``.ci/run`` installs, so these run in CI.

Each loss runs against torch with every reduction in the tier marked slow
(``pytest -m slow``); the default tier runs each loss with one reduction (two for the
label-smoothing sweep), chosen so that every reduction appears for several losses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxloss

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")
functional = torch.nn.functional
optax = pytest.importorskip("optax", reason="optax is not installed (pip install -e '.[dev]')")

REDUCTIONS = ("mean", "sum", "none")
RNG_SEED = 0


def reductions(default):
    """Every reduction, those but ``default`` marked slow."""
    return [
        pytest.param(reduction, marks=() if reduction == default else pytest.mark.slow)
        for reduction in REDUCTIONS
    ]


def arrays(*shape, low=None, high=None, seed=RNG_SEED):
    rng = np.random.default_rng(seed)
    if low is None:
        return (rng.standard_normal(shape) * 2).astype(np.float32)
    return rng.uniform(low, high, size=shape).astype(np.float32)


def check(ours, theirs, rtol=1e-6, atol=1e-7):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=rtol, atol=atol)


def torch_value_and_grad(function, first, *rest):
    first_tensor = torch.tensor(first, requires_grad=True)
    value = function(first_tensor, *rest)
    value.sum().backward()
    assert first_tensor.grad is not None
    return value, first_tensor.grad


def jax_value_and_grad(function, first, *rest):
    def summed(x):
        value = function(x, *rest)
        return jnp.sum(value), value

    # One pass for the value and the gradient.
    (_, value), gradient = jax.value_and_grad(summed, has_aux=True)(jnp.asarray(first))
    return value, gradient


ELEMENTWISE = [
    ("mse", jaxloss.mse, functional.mse_loss, {}, {}),
    ("mae", jaxloss.mae, functional.l1_loss, {}, {}),
    ("huber", jaxloss.huber, functional.huber_loss, {"delta": 0.8}, {"delta": 0.8}),
    ("smooth_l1", jaxloss.smooth_l1, functional.smooth_l1_loss, {"beta": 0.5}, {"beta": 0.5}),
]


@pytest.mark.parametrize(
    ("reduction", "name", "ours", "theirs", "our_options", "their_options"),
    [
        # The default tier: each loss once, the reductions rotating over the losses.
        pytest.param(
            reduction,
            *row,
            id=f"{reduction}-{row[0]}",
            marks=() if reduction == REDUCTIONS[index % 3] else pytest.mark.slow,
        )
        for index, row in enumerate(ELEMENTWISE)
        for reduction in REDUCTIONS
    ],
)
def test_regression_losses_match_torch(reduction, name, ours, theirs, our_options, their_options):
    predictions, targets = arrays(4, 5), arrays(4, 5, seed=1)
    value, gradient = jax_value_and_grad(
        lambda p, t: ours(p, t, reduction=reduction, **our_options),
        predictions,
        jnp.asarray(targets),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda p, t: theirs(p, t, reduction=reduction, **their_options),
        predictions,
        torch.tensor(targets),
    )
    check(value, their_value)
    check(gradient, their_gradient, rtol=1e-5)


@pytest.mark.parametrize("reduction", reductions("sum"))
def test_sigmoid_mse_matches_torch_mse_after_sigmoid(reduction):
    logits, targets = arrays(6, 3), arrays(6, 3, low=0, high=1)
    value, gradient = jax_value_and_grad(
        lambda z, t: jaxloss.sigmoid_mse(z, t, reduction=reduction), logits, jnp.asarray(targets)
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda z, t: functional.mse_loss(torch.sigmoid(z), t, reduction=reduction),
        logits,
        torch.tensor(targets),
    )
    check(value, their_value)
    check(gradient, their_gradient, rtol=1e-5)


@pytest.mark.parametrize("reduction", reductions("mean"))
def test_binary_cross_entropy_matches_torch_including_the_clamp(reduction):
    probabilities = arrays(3, 4, low=0.0, high=1.0)
    probabilities[0, :2] = [0.0, 1.0]  # where torch clamps the log at -100
    targets = arrays(3, 4, low=0, high=1, seed=1)
    weights = arrays(3, 4, low=0.5, high=2.0, seed=2)
    value, gradient = jax_value_and_grad(
        lambda p, t: (
            jaxloss.binary_cross_entropy(p, t, reduction=reduction, weights=jnp.asarray(weights))
            if reduction != "mean"
            else jaxloss.binary_cross_entropy(p, t, reduction="sum", weights=jnp.asarray(weights))
            / p.size
        ),
        probabilities,
        jnp.asarray(targets),
    )
    # torch's weight rescales each element and its mean divides by the element count;
    # jaxloss's weighted mean divides by sum(w), so "mean" is compared as sum / N.
    their_value, their_gradient = torch_value_and_grad(
        lambda p, t: functional.binary_cross_entropy(
            p, t, weight=torch.tensor(weights), reduction=reduction
        ),
        probabilities,
        torch.tensor(targets),
    )
    check(value, their_value, rtol=1e-5)
    check(gradient, their_gradient, rtol=1e-5)


@pytest.mark.parametrize("reduction", reductions("none"))
def test_sigmoid_binary_cross_entropy_matches_torch_with_pos_weight(reduction):
    logits = arrays(5, 3) * 10
    logits[0] = [1e4, -1e4, 30.0]
    targets = arrays(5, 3, low=0, high=1, seed=1)
    pos_weight = np.asarray([0.5, 1.0, 3.0], np.float32)
    value, gradient = jax_value_and_grad(
        lambda z, t: jaxloss.sigmoid_binary_cross_entropy(
            z, t, pos_weight=jnp.asarray(pos_weight), reduction=reduction
        ),
        logits,
        jnp.asarray(targets),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda z, t: functional.binary_cross_entropy_with_logits(
            z, t, pos_weight=torch.tensor(pos_weight), reduction=reduction
        ),
        logits,
        torch.tensor(targets),
    )
    check(value, their_value, rtol=1e-5)
    check(gradient, their_gradient, rtol=1e-5)


DEFAULT_SMOOTHING = {("sum", 0.0), ("mean", 0.2)}


@pytest.mark.parametrize(
    ("reduction", "label_smoothing"),
    [
        pytest.param(
            reduction,
            label_smoothing,
            marks=() if (reduction, label_smoothing) in DEFAULT_SMOOTHING else pytest.mark.slow,
        )
        for label_smoothing in (0.0, 0.2)
        for reduction in REDUCTIONS
    ],
)
def test_integer_label_cross_entropy_matches_torch(reduction, label_smoothing):
    logits = arrays(8, 5)
    labels = np.random.default_rng(3).integers(0, 5, size=8)
    value, gradient = jax_value_and_grad(
        lambda z, y: jaxloss.softmax_cross_entropy_with_integer_labels(
            z, y, reduction=reduction, label_smoothing=label_smoothing
        ),
        logits,
        jnp.asarray(labels, jnp.int32),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda z, y: functional.cross_entropy(
            z, y, reduction=reduction, label_smoothing=label_smoothing
        ),
        logits,
        torch.tensor(labels),
    )
    check(value, their_value, rtol=1e-5)
    check(gradient, their_gradient, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", reductions("mean"))
def test_class_weights_match_torch_weighted_mean(reduction):
    logits = arrays(10, 4)
    labels = np.random.default_rng(4).integers(0, 4, size=10)
    class_weights = np.asarray([0.2, 1.0, 2.5, 4.0], np.float32)
    value, gradient = jax_value_and_grad(
        lambda z, y: jaxloss.softmax_cross_entropy_with_integer_labels(
            z, y, reduction=reduction, class_weights=jnp.asarray(class_weights)
        ),
        logits,
        jnp.asarray(labels, jnp.int32),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda z, y: functional.cross_entropy(
            z, y, reduction=reduction, weight=torch.tensor(class_weights)
        ),
        logits,
        torch.tensor(labels),
    )
    check(value, their_value, rtol=1e-5)
    check(gradient, their_gradient, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", reductions("none"))
def test_probability_target_cross_entropy_matches_torch_on_class_axis_one(reduction):
    logits = arrays(4, 6, 3)  # torch's (N, C, d1) layout
    scores = arrays(4, 6, 3, seed=5)
    targets = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    value, gradient = jax_value_and_grad(
        lambda z, t: jaxloss.softmax_cross_entropy(
            z, t, axis=1, reduction=reduction, label_smoothing=0.1
        ),
        logits,
        jnp.asarray(targets),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda z, t: functional.cross_entropy(z, t, reduction=reduction, label_smoothing=0.1),
        logits,
        torch.tensor(targets),
    )
    check(value, their_value, rtol=1e-5)
    check(gradient, their_gradient, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", reductions("sum"))
def test_one_hot_mse_matches_torch_mse_on_one_hot_targets(reduction):
    predictions = arrays(7, 4, low=0, high=1)
    labels = np.random.default_rng(6).integers(0, 4, size=7)
    value, gradient = jax_value_and_grad(
        lambda p, y: jaxloss.one_hot_mse(p, y, reduction=reduction),
        predictions,
        jnp.asarray(labels, jnp.int32),
    )
    their_value, their_gradient = torch_value_and_grad(
        lambda p, y: functional.mse_loss(
            p, functional.one_hot(y, 4).to(torch.float32), reduction=reduction
        ),
        predictions,
        torch.tensor(labels),
    )
    check(value, their_value)
    check(gradient, their_gradient, rtol=1e-5)


def test_rescaled_square_loss_with_unit_k_and_m_is_one_hot_mse_on_logits():
    logits = jnp.asarray(arrays(7, 4))
    labels = jnp.asarray(np.random.default_rng(6).integers(0, 4, size=7), jnp.int32)
    np.testing.assert_allclose(
        jaxloss.rescaled_square_loss(logits, labels), jaxloss.one_hot_mse(logits, labels), rtol=1e-6
    )


# ---------------------------------------------------------------------------------------
# optax, where it has a counterpart (its losses are unreduced).


def test_unreduced_values_match_optax():
    logits, targets = jnp.asarray(arrays(6, 4)), jnp.asarray(arrays(6, 4, low=0, high=1))
    labels = jnp.asarray(np.random.default_rng(7).integers(0, 4, size=6), jnp.int32)
    # One compiled program for every pair (optax's losses are not jitted: eagerly, each
    # of their operations would compile on its own).
    pairs = jax.jit(unreduced_pairs)(logits, targets, labels)
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def unreduced_pairs(logits, targets, labels):
    probabilities = jax.nn.softmax(logits)
    return [
        (
            jaxloss.mse(logits, targets, reduction="none"),
            optax.losses.squared_error(logits, targets),
        ),
        (
            jaxloss.huber(logits, targets, delta=0.5, reduction="none"),
            optax.losses.huber_loss(logits, targets, delta=0.5),
        ),
        (
            jaxloss.sigmoid_binary_cross_entropy(logits, targets, reduction="none"),
            optax.losses.sigmoid_binary_cross_entropy(logits, targets),
        ),
        (
            jaxloss.softmax_cross_entropy(logits, probabilities, reduction="none"),
            optax.losses.softmax_cross_entropy(logits, probabilities),
        ),
        (
            jaxloss.softmax_cross_entropy_with_integer_labels(logits, labels, reduction="none"),
            optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels),
        ),
        (jaxloss.smooth_labels(probabilities, 0.1), optax.smooth_labels(probabilities, 0.1)),
    ]
