"""Sparsemax and Fenchel-Young losses: parity with optax, the paper's forms, the factory.

Parity cases use optax's own test inputs (``optax/losses/_classification_test.py``
``SparsemaxTest``, ``optax/losses/_fenchel_young_test.py``) and random ones, in
float64: ``reduction="none"`` equals optax's values, and the gradients equal those of
optax's function. The registry tests compare both sparsemax losses with the
formulas of ``tests/formulas/sparse.py`` (Martins & Astudillo's closed form).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.scipy.special import logsumexp
from optax import projections

import jaxloss
from tests.formulas.sparse import _sparsemax_threshold


def _standard_promotion(function):
    """``function`` traced under standard dtype promotion.

    optax's simplex projection divides by an integer range, which the suite's strict
    promotion (tests/conftest.py) refuses; jaxloss itself stays under the strict rule.
    """

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with jax.numpy_dtype_promotion("standard"):
            return function(*args, **kwargs)

    return wrapped


projection_simplex = _standard_promotion(projections.projection_simplex)
optax_multiclass_sparsemax_loss = _standard_promotion(optax.losses.multiclass_sparsemax_loss)
# Compiled where called directly: op by op, optax's functions would compile each of
# their many small steps. (A transformation of a jitted function would trace optax's
# derivative rules outside the standard promotion; these are transformed inside.)
optax_multiclass_sparsemax_loss_compiled = jax.jit(optax_multiclass_sparsemax_loss)

RNG = np.random.default_rng(0)
SCORES = 1.5 * RNG.standard_normal((6, 5))
LABELS = RNG.integers(0, 5, size=6).astype(np.int32)
BINARY_LOGITS = 1.5 * RNG.standard_normal(12)
BINARY_LABELS = (RNG.uniform(size=12) < 0.5).astype(np.float64)
# optax's SparsemaxTest.test_multi_class_zero_loss / test_multi_class_gradient.
OPTAX_SCORES = np.asarray([[0.0, 1e5, 0.0], [1e5, 0.0, 0.0], [0.0, 0.0, 1e5]])
OPTAX_LABELS = np.asarray([1, 0, 2], np.int32)


def _optax_binary_reference(label, logit):
    # optax's SparsemaxTest.reference_impl.
    scores = -(2 * label - 1) * logit
    if scores <= -1.0:
        return 0.0
    if scores >= 1.0:
        return scores
    return (scores + 1.0) ** 2 / 4


def _value_and_gradients(function, argnums, first, second):
    """The per-example values and the gradients of their sum."""
    gradients = jax.grad(lambda x, y: jnp.sum(function(x, y)), argnums=argnums)(first, second)
    return function(first, second), gradients


def _assert_parity(ours, theirs, first, second, argnums):
    # One compiled program for both sides.
    (our_value, our_gradients), (their_value, their_gradients) = jax.jit(
        lambda x, y: (
            _value_and_gradients(ours, argnums, x, y),
            _value_and_gradients(theirs, argnums, x, y),
        )
    )(first, second)
    np.testing.assert_allclose(our_value, their_value, rtol=1e-12, atol=1e-15)
    for mine, optaxs in zip(our_gradients, their_gradients, strict=True):
        np.testing.assert_allclose(mine, optaxs, rtol=1e-10, atol=1e-14)


# (first, second) for each loss; the count is quoted in the report.
BINARY_CASES = [
    (np.asarray([10.0]), np.asarray([1.0])),  # optax's test_binary
    (np.asarray([10.0, 20.0]), np.asarray([1.0, 0.0])),  # optax's test_batched_binary
    (BINARY_LOGITS, BINARY_LABELS),
    (np.asarray([-1.5, -0.5, 0.5, 1.5, -0.25, 0.75]), np.asarray([1.0, 1, 1, 0, 0, 0])),
]
MULTICLASS_CASES = [
    (OPTAX_SCORES, OPTAX_LABELS),  # optax's zero-loss and gradient tests
    (SCORES, LABELS),
    (np.asarray([[1.0, 1.0, 1.0], [0.2, 0.1, 0.0], [3.0, 2.5, -4.0]]), np.asarray([0, 2, 1])),
]


@pytest.mark.parametrize("case", range(len(BINARY_CASES)))
def test_sparsemax_loss_equals_optax_on_binary_labels(case):
    logits, labels = BINARY_CASES[case]
    with jax.enable_x64(True):
        logits, labels = jnp.asarray(logits), jnp.asarray(labels)

        def ours(x, y):
            return jaxloss.sparsemax_loss(x, y, reduction="none")

        _assert_parity(ours, optax.losses.sparsemax_loss, logits, labels, (0,))
        expected = [
            _optax_binary_reference(float(y), float(x)) for x, y in zip(logits, labels, strict=True)
        ]
        np.testing.assert_allclose(ours(logits, labels), expected, rtol=1e-12)


@pytest.mark.parametrize("case", range(len(MULTICLASS_CASES)))
def test_multiclass_sparsemax_loss_equals_optax(case):
    scores, labels = MULTICLASS_CASES[case]
    with jax.enable_x64(True):
        scores, labels = jnp.asarray(scores), jnp.asarray(labels)

        def ours(x, y):
            return jaxloss.multiclass_sparsemax_loss(x, y, reduction="none")

        _assert_parity(ours, optax_multiclass_sparsemax_loss, scores, labels, (0,))
        # optax's test_multi_class_gradient: sparsemax(z) - onehot(y), the mean's 1/N.
        one_hot = jax.nn.one_hot(labels, scores.shape[-1], dtype=scores.dtype)
        expected = jax.jit(jax.vmap(projection_simplex))(scores) - one_hot
        np.testing.assert_allclose(
            jaxloss.gradients.multiclass_sparsemax_loss(scores, labels),
            expected / scores.shape[0],
            rtol=1e-10,
            atol=1e-14,
        )


def test_parity_case_counts():
    assert (len(BINARY_CASES), len(MULTICLASS_CASES)) == (4, 3)


def test_sparsemax_loss_zero_exactly_where_sparse_sigmoid_equals_the_label():
    logits = jnp.asarray([-np.inf, -3.0, -1.0, 0.4, 1.0, 7.0, np.inf])
    labels = jnp.asarray([0.0, 0.0, 0.0, 0.7, 1.0, 1.0, 1.0])
    values = jaxloss.sparsemax_loss(logits, labels, reduction="none")
    np.testing.assert_array_equal(values, 0.0)
    np.testing.assert_array_equal(jaxloss.gradients.sparsemax_loss(logits, labels), 0.0)
    # The wrong side costs |z| (optax: sparse_plus(inf) = inf), with gradient -+1.
    wrong = jaxloss.sparsemax_loss(logits[::6], 1 - labels[::6], reduction="none")
    np.testing.assert_array_equal(wrong, [np.inf, np.inf])
    gradient = jaxloss.gradients.sparsemax_loss(logits[::6], 1 - labels[::6], reduction="sum")
    np.testing.assert_array_equal(gradient, [-1.0, 1.0])


def test_sparsemax_loss_on_soft_labels_is_the_fenchel_young_loss_not_optax():
    # Blondel et al. (2020), sec. 4.4: sparse_plus(z) + (y^2 - y) - y z, zero at z = 2y - 1;
    # optax's jnp.where(labels, -z, z) treats any soft label as 1.
    with jax.enable_x64(True):
        labels = jnp.asarray([0.3, 0.5, 0.9])
        at_minimum = 2 * labels - 1
        np.testing.assert_allclose(
            jaxloss.sparsemax_loss(at_minimum, labels, reduction="none"), 0.0, atol=1e-16
        )
        assert jnp.all(optax.losses.sparsemax_loss(at_minimum, labels) > 0)
        logits = jnp.asarray(BINARY_LOGITS[:3])
        expected = jax.nn.sparse_plus(logits) + labels**2 - labels - logits * labels
        np.testing.assert_allclose(
            jaxloss.sparsemax_loss(logits, labels, reduction="none"), expected, rtol=1e-12
        )


def test_multiclass_sparsemax_hessian_is_the_jacobian_of_the_projection():
    with jax.enable_x64(True):
        scores, labels = jnp.asarray(SCORES), jnp.asarray(LABELS)
        blocks = jaxloss.hessians.multiclass_sparsemax_loss(scores, labels, reduction="sum")
        expected = jax.jit(jax.vmap(jax.jacobian(projection_simplex)))(scores)
        np.testing.assert_allclose(blocks, expected, atol=1e-12)


def test_multiclass_sparsemax_leading_axes_masked_classes_and_limits():
    with jax.enable_x64(True):
        scores = jnp.asarray(SCORES).reshape(2, 3, 5)
        labels = jnp.asarray(LABELS).reshape(2, 3)
        flat = optax_multiclass_sparsemax_loss_compiled(scores.reshape(6, 5), labels.reshape(6))
        np.testing.assert_allclose(
            jaxloss.multiclass_sparsemax_loss(scores, labels, reduction="none"),
            flat.reshape(2, 3),
            rtol=1e-12,
        )
        # A -inf score leaves its class out: the loss over the other classes.
        row = jnp.asarray([[0.5, -np.inf, 0.2, -0.4]])
        kept = jnp.asarray([[0.5, 0.2, -0.4]])
        np.testing.assert_allclose(
            jaxloss.multiclass_sparsemax_loss(row, jnp.asarray([2])),
            optax_multiclass_sparsemax_loss_compiled(kept, jnp.asarray([1]))[0],
            rtol=1e-12,
        )
        gradient = jaxloss.gradients.multiclass_sparsemax_loss(row, jnp.asarray([2]))
        assert gradient[0, 1] == 0 and jnp.all(jnp.isfinite(gradient))
        # A +inf score: 0 on the label's class, +inf on another, NaN for two (no limit).
        inf = np.inf
        limits = jaxloss.multiclass_sparsemax_loss(
            jnp.asarray([[inf, 0.0, 1.0], [inf, 0.0, 1.0], [inf, inf, 1.0]]),
            jnp.asarray([0, 1, 0]),
            reduction="none",
        )
        assert limits[0] == 0 and limits[1] == inf and jnp.isnan(limits[2])


# --------------------------------------------------------------------------------------
# make_fenchel_young_loss


def _sparsemax(scores):
    # Martins & Astudillo's sort-based sparsemax, max(z - tau, 0), from the test formulas.
    threshold, _ = _sparsemax_threshold(scores, jnp)
    return jnp.maximum(scores - threshold, 0.0)


def _sparsemax_max(scores):
    # The conjugate of the Gini negentropy: Omega*(z) = p . z - |p|^2 / 2 + 1/2 with
    # p = sparsemax(z) (Blondel et al. 2020, sec. 4.3).
    p = _sparsemax(scores)
    return jnp.dot(p, scores) - jnp.dot(p, p) / 2 + 0.5


def test_fenchel_young_equals_optax_on_its_test_inputs():
    # optax's FenchelYoungTest.test_fenchel_young_reg, in float64.
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(0), 2)
        theta_true = jax.random.uniform(keys[0], (8, 5), jnp.float64)
        theta_random = jax.random.uniform(keys[1], (8, 5), jnp.float64)
        y_true = jax.nn.softmax(theta_true, axis=-1)
        ours = jaxloss.make_fenchel_young_loss(logsumexp)
        theirs = optax.losses.make_fenchel_young_loss(logsumexp)

        def ours_none(x, y):
            return ours(x, y, reduction="none")

        _assert_parity(ours_none, theirs, theta_random, y_true, (0, 1))
        # The gradient is the argmax (softmax) minus the target.
        gradient = jax.grad(lambda x: ours(x, y_true, reduction="sum"))(theta_random)
        np.testing.assert_allclose(
            gradient, jax.nn.softmax(theta_random, axis=-1) - y_true, rtol=1e-12
        )
        # With one-hot targets it is the softmax cross-entropy.
        labels = jnp.argmax(theta_true, axis=-1)
        one_hot = jax.nn.one_hot(labels, 5, dtype=jnp.float64)
        np.testing.assert_allclose(
            ours_none(theta_random, one_hot),
            jaxloss.softmax_cross_entropy_with_integer_labels(
                theta_random, labels, reduction="none"
            ),
            rtol=1e-12,
        )
        # Leading axes: the same per-example values.
        np.testing.assert_allclose(
            ours_none(theta_random.reshape(2, 4, 5), y_true.reshape(2, 4, 5)),
            jax.jit(theirs)(theta_random, y_true).reshape(2, 4),
            rtol=1e-12,
        )


def test_fenchel_young_from_sparsemax_is_the_multiclass_sparsemax_loss():
    with jax.enable_x64(True):
        scores, labels = jnp.asarray(SCORES), jnp.asarray(LABELS)
        one_hot = jax.nn.one_hot(labels, 5, dtype=jnp.float64)
        expected = jaxloss.multiclass_sparsemax_loss(scores, labels, reduction="none")
        closed_form = jaxloss.make_fenchel_young_loss(_sparsemax_max, argmax_fun=_sparsemax)
        autodiff = jaxloss.make_fenchel_young_loss(_sparsemax_max)
        gradient = jaxloss.gradients.multiclass_sparsemax_loss(scores, labels)
        for loss in (closed_form, autodiff):
            # One compiled program: the values and the gradient.
            values, gradients = jax.jit(
                lambda z, f=loss: (f(z, one_hot, reduction="none"), jax.grad(f)(z, one_hot))
            )(scores)
            np.testing.assert_allclose(values, expected, 1e-12)
            np.testing.assert_allclose(gradients, gradient, rtol=1e-10, atol=1e-14)
        # Second order differentiates the argmax: the sparsemax Jacobian per example.
        hessian = jax.hessian(lambda z: closed_form(z[None], one_hot[:1], reduction="sum"))(
            scores[0]
        )
        np.testing.assert_allclose(
            hessian,
            jaxloss.hessians.multiclass_sparsemax_loss(scores[:1], labels[:1], reduction="sum")[0],
            atol=1e-12,
        )


def test_fenchel_young_reduction_weights_mask_extra_arguments_and_errors():
    loss = jaxloss.make_fenchel_young_loss(logsumexp)
    scores = jnp.asarray(SCORES, jnp.float32)
    targets = jax.nn.softmax(jnp.asarray(RNG.standard_normal((6, 5)), jnp.float32), axis=-1)
    weights = jnp.asarray(RNG.uniform(0.5, 2.0, size=6), jnp.float32)
    where = jnp.asarray([True, False, True, True, False, True])
    values = loss(scores, targets, reduction="none")
    poisoned = scores.at[1].set(jnp.nan)
    masked = loss(poisoned, targets, weights=weights, where=where)
    expected = np.sum((weights * values)[where]) / np.sum(weights[where])
    np.testing.assert_allclose(masked, expected, rtol=1e-6)
    np.testing.assert_allclose(loss(scores, targets, reduction="sum"), np.sum(values), 1e-6)
    gradient = jax.grad(lambda z: loss(z, targets, weights=weights, where=where))(poisoned)
    assert jnp.all(jnp.isfinite(gradient)) and jnp.all(gradient[~where] == 0)
    # Extra arguments reach the max-function: a temperature t, t logsumexp(z / t).
    tempered = jaxloss.make_fenchel_young_loss(lambda z, t: t * logsumexp(z / t))
    np.testing.assert_allclose(tempered(scores, targets, 1.0, reduction="none"), values, rtol=1e-6)
    assert tempered(scores, targets, 0.5).shape == ()
    # Half precision is computed in float32; "none" comes back in the input dtype.
    assert loss(scores.astype(jnp.bfloat16), targets).dtype == jnp.float32
    assert loss(scores.astype(jnp.bfloat16), targets, reduction="none").dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="targets"):
        loss(scores, targets[:, :3])
    with pytest.raises(ValueError, match="weights"):
        loss(scores, targets, weights=-weights)
    with pytest.raises(ValueError, match="reduction"):
        loss(scores, targets, reduction="average")
    with pytest.raises(TypeError, match="floating"):
        loss(jnp.asarray(LABELS), targets[:, 0])
