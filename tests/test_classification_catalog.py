"""The classification catalog beyond cross-entropy: parity with optax, paper formulas, limits.

* Parity with optax (``optax.losses``) in float64: ``reduction="none"`` equals optax's
  per-example values, and the gradients (with respect to the logits, and the targets
  where they are real) equal those of optax's function, on random inputs and on the
  inputs of optax's own tests (``optax/losses/_classification_test.py``): masks, the
  ``-inf`` logits of ``safe_softmax_cross_entropy``, the focal loss's extreme logits.
  Where jaxloss is finite and optax gives NaN (infinite logits), a test says so. Six
  parity cases that repeat what others check run only with ``pytest -m slow``
  (``SLOW_PARITY``), as does the softmax focal losses' dense-against-sparse check.
* The losses optax does not have (the softmax focal losses, Keras's
  ``CategoricalFocalCrossentropy``; the generalized cross-entropy; squentropy;
  ``z_loss``) against their paper's formula and its limits; the registry tests
  (``tests/test_registry.py``) compare all of them with ``tests/formulas``.
* The ``+inf`` logit: the softmax losses give the limit, with finite gradients.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss

RNG = np.random.default_rng(0)
LOGITS = 2.0 * RNG.standard_normal((6, 5))
SOFT_TARGETS = RNG.dirichlet(np.ones(5), size=6)
LABELS = RNG.integers(0, 5, size=6).astype(np.int32)
BINARY_SOFT = RNG.uniform(size=(6, 5))
BINARY_HARD = (RNG.uniform(size=(6, 5)) < 0.5).astype(np.float64)
MASK = np.asarray([True, False, True, True, False, True])

# optax's SoftmaxCrossEntropyTest, SafeSoftmaxCrossEntropyTest and SigmoidFocalLossTest.
OPTAX_YS = np.asarray([[10.0, 1.0, -2.0], [1.0, 4.0, 0.2]])
OPTAX_TS = np.asarray([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
OPTAX_SAFE_YS = np.asarray(
    [
        [10.0, 1.0, -2.0],
        [1.0, 4.0, 0.2],
        [-np.inf, 0.0, 0.0],
        [-np.inf, 0.0, 0.0],
        [-np.inf, 0.0, -np.inf],
    ]
)
OPTAX_SAFE_TS = np.asarray(
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.4, 0.3, 0.3], [0.0, 1.0, 0.0]]
)
OPTAX_FOCAL_YS = np.asarray([[2.0, 0.1, -2.0], [0.3, -0.1, 1.2]])
OPTAX_FOCAL_TS = np.asarray([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def _logit(p):
    return np.log(p / (1 - p))


# optax's large_ys / small_ys (probabilities 0.9 ... 0.15 as logits), with label 1.
OPTAX_FOCAL_LARGE = _logit(np.asarray([0.9, 0.98, 0.3, 0.99]))
OPTAX_FOCAL_SMALL = _logit(np.asarray([0.1, 0.02, 0.09, 0.15]))
# optax's test_extreme_logits_finite_gradients.
OPTAX_EXTREME_LOGITS = np.asarray([100.0, -100.0, 75.0, -75.0, 50.0, -50.0])
OPTAX_EXTREME_LABELS = np.asarray([0.9, 0.1, 0.8, 0.2, 1.0, 0.0])
# optax's PolyLossTest.
OPTAX_POLY_LOGITS = np.asarray([0.14, 1.456, 2.356, -0.124, -2.47])
OPTAX_POLY_LABELS = np.asarray([0.1, 0.15, 0.2, 0.25, 0.3])
OPTAX_POLY_BATCHED_LOGITS = np.asarray([[4.0, 2.0, 1.0], [0.0, 5.0, 1.0]])
OPTAX_POLY_BATCHED_LABELS = np.asarray([[1.0, 0.0, 0.0], [0.0, 0.8, 0.2]])


def _ours(name, **options):
    function = getattr(jaxloss, name)
    return lambda first, second: function(first, second, reduction="none", **options)


def _theirs(function, **options):
    return lambda first, second: function(first, second, **options)


# Each case: (loss name, jaxloss options, optax function, optax options, first, second).
# The gradient is compared with respect to the first input, and the second where it
# holds real targets.
PARITY = [
    # sigmoid_focal_loss
    ("sigmoid_focal_loss", {}, optax.losses.sigmoid_focal_loss, {}, LOGITS, BINARY_SOFT),
    *(
        ("sigmoid_focal_loss", options, optax.losses.sigmoid_focal_loss, options, LOGITS, targets)
        for options, targets in (
            ({"alpha": 0.25, "gamma": 0.5}, BINARY_SOFT),
            ({"alpha": 0.0, "gamma": 2.0}, BINARY_HARD),
            ({"alpha": 1.0, "gamma": 0.0}, BINARY_HARD),
        )
    ),
    *(
        ("sigmoid_focal_loss", options, optax.losses.sigmoid_focal_loss, options, ys, ts)
        for options, ys, ts in (
            ({"gamma": 0.0}, OPTAX_FOCAL_YS, OPTAX_FOCAL_TS),
            ({"gamma": 2.0}, OPTAX_FOCAL_YS, OPTAX_FOCAL_TS),
            ({"gamma": 2.0, "alpha": 0.5}, OPTAX_FOCAL_LARGE, np.ones(4)),
            ({"gamma": 2.0}, OPTAX_FOCAL_SMALL, np.ones(4)),
            ({"gamma": 0.5}, OPTAX_EXTREME_LOGITS, OPTAX_EXTREME_LABELS),
        )
    ),
    # softmax_cross_entropy, z_loss and label smoothing at 0
    ("softmax_cross_entropy", {}, optax.losses.softmax_cross_entropy, {}, LOGITS, SOFT_TARGETS),
    ("softmax_cross_entropy", {}, optax.losses.softmax_cross_entropy, {}, OPTAX_YS, OPTAX_TS),
    (
        "softmax_cross_entropy_with_integer_labels",
        {},
        optax.losses.softmax_cross_entropy_with_integer_labels,
        {},
        LOGITS,
        LABELS,
    ),
    (
        "softmax_cross_entropy_with_integer_labels",
        {},
        optax.losses.softmax_cross_entropy_with_integer_labels,
        {},
        OPTAX_YS,
        np.asarray([1, 0], np.int32),
    ),
    # safe_softmax_cross_entropy: optax's rows with -inf logits, and random ones
    (
        "safe_softmax_cross_entropy",
        {},
        optax.losses.safe_softmax_cross_entropy,
        {},
        LOGITS,
        SOFT_TARGETS,
    ),
    (
        "safe_softmax_cross_entropy",
        {},
        optax.losses.safe_softmax_cross_entropy,
        {},
        OPTAX_SAFE_YS,
        OPTAX_SAFE_TS,
    ),
    # poly_loss_cross_entropy: optax's scalar and batched inputs, random ones
    *(
        (
            "poly_loss_cross_entropy",
            {"epsilon": epsilon},
            optax.losses.poly_loss_cross_entropy,
            {"epsilon": epsilon},
            logits,
            labels,
        )
        for epsilon, logits, labels in (
            (2.0, OPTAX_POLY_LOGITS[None], OPTAX_POLY_LABELS[None]),
            (-0.5, OPTAX_POLY_LOGITS[None], OPTAX_POLY_LABELS[None]),
            (1.214, OPTAX_POLY_BATCHED_LOGITS, OPTAX_POLY_BATCHED_LABELS),
            (0.0, OPTAX_POLY_BATCHED_LOGITS, OPTAX_POLY_BATCHED_LABELS),
            (2.0, LOGITS, SOFT_TARGETS),
            (-1.0, LOGITS, SOFT_TARGETS),
        )
    ),
]


def _parity_id(case) -> str:
    name, options, *_ = case
    return name + "".join(f"-{key}={value}" for key, value in options.items())


def _value_and_gradients(function, real_targets):
    """One compiled program: the per-example values and the gradients of their sum."""
    arguments = (0, 1) if real_targets else (0,)

    def both(first, second):
        gradients = jax.grad(lambda x, y: jnp.sum(function(x, y)), argnums=arguments)(first, second)
        return function(first, second), gradients

    return jax.jit(both)


# Cases that repeat what default-tier cases check, run in the tier marked slow: random
# soft targets at gamma 0.5 (optax's extreme logits case has gamma 0.5), hard labels
# with alpha 1 (alpha 0 and hard labels are a default case; alpha 1's effect is
# test_sigmoid_focal_alpha_weighs_positives_and_negatives), optax's ys at gamma 2 (at
# gamma 0 they are a default case, gamma 2 is the large_ys case), optax's small_ys
# (its large_ys are a default case), the poly loss's scalar case at epsilon -0.5 (at 2
# it is a default case; a negative epsilon is the random case's -1) and its random
# inputs at epsilon 2 (at -1 they are a default case; epsilon 2 is the scalar case's).
SLOW_PARITY = (1, 3, 5, 7, 16, 19)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(case, marks=pytest.mark.slow if index in SLOW_PARITY else ())
        for index, case in enumerate(PARITY)
    ],
    ids=[_parity_id(case) for case in PARITY],
)
def test_values_and_gradients_equal_optax_in_float64(case):
    name, options, optax_function, optax_options, first, second = case
    with jax.enable_x64(True):
        first = jnp.asarray(first, jnp.float64)
        real_targets = second.dtype.kind == "f"
        second = jnp.asarray(second, jnp.float64 if real_targets else jnp.int32)
        ours, theirs = _ours(name, **options), _theirs(optax_function, **optax_options)
        our_value, ours_gradients = _value_and_gradients(ours, real_targets)(first, second)
        their_value, theirs_gradients = _value_and_gradients(theirs, real_targets)(first, second)
        np.testing.assert_allclose(our_value, their_value, rtol=1e-12)
        for argument, (mine, optaxs) in enumerate(
            zip(ours_gradients, theirs_gradients, strict=True)
        ):
            # optax's gradient is NaN at some -inf logits (safe_softmax_cross_entropy's
            # rows); the targets' gradient there is +inf (-log 0) in both.
            defined = ~np.isnan(optaxs)
            if name == "sigmoid_focal_loss" and argument == 1:
                # optax's label gradient is wrong at labels of exactly 0 or 1: see
                # test_sigmoid_focal_label_gradient_at_hard_labels_is_the_formulas.
                defined &= (second > 0) & (second < 1)
            np.testing.assert_allclose(mine[defined], optaxs[defined], rtol=1e-10, atol=1e-14)
            assert not jnp.any(jnp.isnan(mine))
            assert jnp.all(jnp.isfinite(ours_gradients[0]))


def test_parity_case_counts():
    # The counts the report quotes; a case added or removed shows up here.
    counts: dict[str, int] = {}
    for name, *_ in PARITY:
        counts[name] = counts.get(name, 0) + 1
    assert counts == {
        "sigmoid_focal_loss": 9,
        "softmax_cross_entropy": 2,
        "softmax_cross_entropy_with_integer_labels": 2,
        "safe_softmax_cross_entropy": 2,
        "poly_loss_cross_entropy": 6,
    }


def _masked_values(logits, targets, labels):
    """jaxloss's and optax's values under the masks of the test below, in one program."""
    where = jnp.asarray(MASK)
    # optax's `where` masking whole examples (their value is 0), as ours does;
    # optax's poly loss takes it only in the logits' shape.
    whole_rows = jnp.broadcast_to(where[:, None], logits.shape)
    examples = {
        name: (
            getattr(jaxloss, name)(logits, targets, where=where, reduction="none"),
            getattr(optax.losses, name)(logits, targets, where=whole_rows),
        )
        for name in ("softmax_cross_entropy", "poly_loss_cross_entropy")
    }
    integer_labels = (
        jaxloss.softmax_cross_entropy_with_integer_labels(
            logits, labels, where=where, reduction="none"
        ),
        optax.losses.softmax_cross_entropy_with_integer_labels(logits, labels, where=where),
    )
    # optax's per-class mask (PolyLossTest.test_mask): the masked classes left out.
    # Here a -inf logit with target 0 leaves a class out.
    classes = np.asarray([True, False, True, True, False])
    masked_logits = jnp.where(classes, logits, -jnp.inf)
    masked_targets = jnp.where(classes, targets, 0.0)
    classes_left_out = {}
    for name in ("softmax_cross_entropy", "poly_loss_cross_entropy"):
        loss = getattr(jaxloss, name)
        classes_left_out[name] = (
            loss(masked_logits, masked_targets, reduction="none"),
            getattr(optax.losses, name)(
                logits, targets, where=jnp.broadcast_to(classes, logits.shape)
            ),
            jax.grad(lambda z, f=loss: f(z, masked_targets))(masked_logits),
        )
    return examples, integer_labels, classes, classes_left_out


def test_optax_masks_give_the_same_per_example_values():
    with jax.enable_x64(True):
        logits, targets = jnp.asarray(LOGITS), jnp.asarray(SOFT_TARGETS)
        examples, integer_labels, classes, classes_left_out = jax.jit(_masked_values)(
            logits, targets, jnp.asarray(LABELS)
        )
        for ours, theirs in examples.values():
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)
            assert jnp.all(ours[~MASK] == 0)
        np.testing.assert_allclose(*integer_labels, rtol=1e-12)
        classes = np.asarray(classes)
        for ours, theirs, gradient in classes_left_out.values():
            np.testing.assert_allclose(ours, theirs, rtol=1e-12)
            assert jnp.all(gradient[:, ~classes] == 0)


def test_where_optax_gives_nan_jaxloss_gives_the_limit():
    inf = np.inf
    with jax.enable_x64(True):
        # sigmoid_focal_loss at the matching infinite logits: 0 with gradient 0; optax
        # computes 0 * log 0 in its cross-entropy: NaN, and a NaN gradient.
        logits, labels = jnp.asarray([inf, -inf, inf, -inf]), jnp.asarray([1.0, 0.0, 0.0, 1.0])
        theirs, ours, gradient = jax.jit(
            lambda z, y: (
                optax.losses.sigmoid_focal_loss(z, y, gamma=0.5),
                jaxloss.sigmoid_focal_loss(z, y, gamma=0.5, reduction="none"),
                jaxloss.gradients.sigmoid_focal_loss(z, y, gamma=0.5),
            )
        )(logits, labels)
        assert jnp.all(jnp.isnan(theirs[:2]))
        np.testing.assert_array_equal(ours, [0.0, 0.0, inf, inf])
        np.testing.assert_array_equal(gradient, [0.0, 0.0, 0.25, -0.25])
        # A +inf logit on the label's class: optax's softmax losses give NaN, jaxloss 0.
        row, one_hot, label = (
            jnp.asarray([[inf, 0.0, -1.0]]),
            jnp.asarray([[1.0, 0.0, 0.0]]),
            jnp.asarray([0]),
        )
        names_and_targets = (
            ("softmax_cross_entropy", "one_hot"),
            ("safe_softmax_cross_entropy", "one_hot"),
            ("softmax_cross_entropy_with_integer_labels", "label"),
            ("poly_loss_cross_entropy", "one_hot"),
            ("multiclass_sparsemax_loss", "label"),
        )

        def at_plus_inf(row, targets):
            # Every loss's optax value, jaxloss value and jaxloss gradient, in one program.
            results = {}
            for name, kind in names_and_targets:
                target = targets[kind]
                # optax's simplex projection divides by an integer range.
                with jax.numpy_dtype_promotion("standard"):
                    theirs = getattr(optax.losses, name)(row, target)[0]
                results[name] = (
                    theirs,
                    getattr(jaxloss, name)(row, target),
                    getattr(jaxloss.gradients, name)(row, target),
                )
            return results

        results = jax.jit(at_plus_inf)(row, {"one_hot": one_hot, "label": label})
        for name, (theirs, ours, gradient) in results.items():
            assert jnp.isnan(theirs), name
            assert ours == 0, name
            np.testing.assert_array_equal(gradient, 0)
        # A -inf logit with target 0: optax's softmax_cross_entropy gives NaN (0 * -inf).
        masked = jnp.asarray([[-inf, 0.0, -1.0]])
        target = jnp.asarray([[0.0, 1.0, 0.0]])
        theirs, ours, safe = jax.jit(
            lambda z, t: (
                optax.losses.softmax_cross_entropy(z, t)[0],
                jaxloss.softmax_cross_entropy(z, t),
                optax.losses.safe_softmax_cross_entropy(z, t)[0],
            )
        )(masked, target)
        assert jnp.isnan(theirs)
        np.testing.assert_allclose(ours, safe, rtol=1e-15)


# --------------------------------------------------------------------------------------
# The +inf logit in every softmax loss of this family.

PLUS_INF_LOSSES = (
    ("softmax_cross_entropy", "targets"),
    ("safe_softmax_cross_entropy", "targets"),
    ("softmax_cross_entropy_with_integer_labels", "labels"),
    ("softmax_focal_loss", "targets"),
    ("softmax_focal_loss_with_integer_labels", "labels"),
    ("poly_loss_cross_entropy", "targets"),
    ("generalized_cross_entropy", "labels"),
    ("squentropy", "labels"),
)


@pytest.mark.parametrize(("name", "kind"), PLUS_INF_LOSSES)
def test_plus_inf_logit_gives_the_limit_and_two_give_nan(name, kind):
    # Rows: +inf on the label's class (limit: the cross-entropy part 0), +inf on
    # another class (limit +inf; the generalized cross-entropy is bounded by 1/q),
    # two +inf logits (no limit: NaN), a -inf logit on another class (a masked class,
    # but for squentropy, whose square loss on it is +inf).
    inf = np.inf
    logits = jnp.asarray(
        [[inf, 0.0, -1.0], [0.0, inf, 1.0], [inf, inf, 0.0], [2.0, -inf, 0.5]], jnp.float32
    )
    labels = np.zeros(4, np.int32)
    targets = labels if kind == "labels" else np.eye(3, dtype=np.float32)[labels]
    loss, gradient = getattr(jaxloss, name), getattr(jaxloss.gradients, name)
    finite_rows = jnp.asarray([True, False, False, name != "squentropy"])

    def everything(logits, targets):
        # One compiled program for every value checked below.
        return (
            loss(logits, targets, reduction="none"),
            gradient(logits, targets, where=finite_rows),
            jax.grad(lambda z: loss(z, targets, where=finite_rows))(logits),
            gradient(logits[:1], targets[:1]),
            getattr(jaxloss.hessians, name)(logits[:1], targets[:1]),
        )

    values, closed_form, autodiff, row_gradient, row_hessian = jax.jit(everything)(
        logits, jnp.asarray(targets)
    )
    # squentropy's square term is finite at the other classes' finite logits: 1/2 (0 + 1).
    expected_first = 0.5 if name == "squentropy" else 0.0
    np.testing.assert_allclose(values[0], expected_first)
    expected_second = 1 / 0.7 if name == "generalized_cross_entropy" else inf
    np.testing.assert_allclose(values[1], expected_second, rtol=1e-6)
    assert jnp.isnan(values[2])
    assert values[3] == inf if name == "squentropy" else jnp.isfinite(values[3])
    for candidate in (closed_form, autodiff):
        assert jnp.all(jnp.isfinite(candidate)), (name, candidate)
    # At the label's +inf logit the gradient is 0 but for squentropy's square term.
    expected = np.asarray([[0.0, 0.0, -1.0]]) if name == "squentropy" else np.zeros((1, 3))
    np.testing.assert_allclose(row_gradient, expected, atol=0)
    assert jnp.all(jnp.isfinite(row_hessian))


# --------------------------------------------------------------------------------------
# sigmoid_focal_loss


def test_sigmoid_focal_with_gamma_zero_is_sigmoid_cross_entropy_even_at_infinite_logits():
    logits = jnp.asarray([-np.inf, -30.0, -2.0, 0.0, 0.5, 3.0, 40.0, np.inf] * 2)
    labels = jnp.asarray([0.0] * 8 + [1.0] * 8)
    focal = jaxloss.sigmoid_focal_loss(logits, labels, gamma=0.0, reduction="none")
    cross_entropy = jaxloss.sigmoid_binary_cross_entropy(logits, labels, reduction="none")
    np.testing.assert_array_equal(focal, cross_entropy)
    np.testing.assert_allclose(
        jaxloss.gradients.sigmoid_focal_loss(logits, labels, gamma=0.0),
        jaxloss.gradients.sigmoid_binary_cross_entropy(logits, labels),
        rtol=1e-6,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        jaxloss.hessians.sigmoid_focal_loss(logits, labels, gamma=0.0),
        jaxloss.hessians.sigmoid_binary_cross_entropy(logits, labels),
        rtol=1e-6,
        atol=1e-12,
    )


def test_sigmoid_focal_label_gradient_at_hard_labels_is_the_formulas():
    # optax computes (1 - p_t)^gamma as exp(gamma logsumexp([log p, log(1-p)], b=[1-y, y]))
    # and logsumexp's derivative with respect to a b of exactly 0 is dropped: at y = 0
    # or 1 its label gradient misses d(1 - p_t)/dy. Ours is the textbook formula's
    # (tests/formulas/classification.py), which central differences confirm.
    from tests.formulas.classification import FORMULAS

    with jax.enable_x64(True):
        logits = jnp.asarray([0.7, -1.2, 2.0, -0.3])
        labels = jnp.asarray([1.0, 0.0, 0.0, 1.0])
        options = {"alpha": 0.25, "gamma": 2.0}

        def textbook(y):
            return jnp.sum(FORMULAS["sigmoid_focal_loss"](logits, y, xp=jnp, **options))

        expected = jax.jit(jax.grad(textbook))(labels)
        step = 1e-6
        # Both shifted copies of the labels of every entry, evaluated in one program.
        shifts = step * np.concatenate([np.eye(4), -np.eye(4)])
        shifted = np.asarray(jax.jit(jax.vmap(textbook))(labels[None] + shifts))
        differences = (shifted[:4] - shifted[4:]) / (2 * step)
        np.testing.assert_allclose(expected, differences, rtol=1e-7)
        ours = jax.grad(
            lambda y: jaxloss.sigmoid_focal_loss(logits, y, reduction="sum", **options)
        )(labels)
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
        theirs = jax.jit(
            jax.grad(lambda y: jnp.sum(optax.losses.sigmoid_focal_loss(logits, y, **options)))
        )(labels)
        assert not np.allclose(theirs, expected, rtol=1e-3)


def test_sigmoid_focal_is_finite_to_second_order_at_optax_extreme_logits():
    # optax's test_extreme_logits_finite_gradients, with gamma < 1 where (1 - p_t)^(gamma-1)
    # is unbounded; here also the closed-form Hessian, and float32.
    logits = jnp.asarray(OPTAX_EXTREME_LOGITS, jnp.float32)
    labels = jnp.asarray(OPTAX_EXTREME_LABELS, jnp.float32)
    # Arrays, not Python numbers: one compilation for the three exponents.
    autodiff_hessian = jax.jit(
        jax.hessian(lambda z, g: jaxloss.sigmoid_focal_loss(z, labels, gamma=g))
    )
    for gamma in (jnp.float32(0.25), jnp.float32(0.5), jnp.float32(2.0)):
        value = jaxloss.sigmoid_focal_loss(logits, labels, gamma=gamma, reduction="sum")
        gradient = jaxloss.gradients.sigmoid_focal_loss(logits, labels, gamma=gamma)
        hessian = jaxloss.hessians.sigmoid_focal_loss(logits, labels, gamma=gamma)
        autodiff = autodiff_hessian(logits, gamma)
        for array in (value, gradient, hessian, autodiff):
            assert jnp.all(jnp.isfinite(array)), (gamma, array)


def test_sigmoid_focal_alpha_weighs_positives_and_negatives():
    # optax's test_ignore_positive / test_ignore_negative: alpha = 0 drops y = 1 terms,
    # alpha = 1 drops y = 0 terms, even at the infinite logit where the dropped term is +inf.
    logits = jnp.asarray([-np.inf, -1.0, 2.0, np.inf])
    labels = jnp.asarray([1.0, 1.0, 0.0, 0.0])
    without_positives = jaxloss.sigmoid_focal_loss(logits, labels, alpha=0.0, reduction="none")
    without_negatives = jaxloss.sigmoid_focal_loss(logits, labels, alpha=1.0, reduction="none")
    np.testing.assert_array_equal(without_positives[:2], 0.0)
    np.testing.assert_array_equal(without_negatives[2:], 0.0)
    assert jnp.all(without_positives[2:] > 0) and jnp.all(without_negatives[:2] > 0)


# --------------------------------------------------------------------------------------
# The softmax focal losses (Keras's CategoricalFocalCrossentropy)


def _keras_categorical_focal(probabilities, targets, alpha, gamma):
    # Keras 3's categorical_focal_crossentropy on probabilities (from_logits=False),
    # its code written out in NumPy: normalise, clip to [1e-7, 1 - 1e-7], then
    # sum(alpha (1 - p)^gamma (-y log p)) over the last axis.
    output = probabilities / probabilities.sum(axis=-1, keepdims=True)
    output = np.clip(output, 1e-7, 1 - 1e-7)
    return np.sum(alpha * (1 - output) ** gamma * (-targets * np.log(output)), axis=-1)


def test_softmax_focal_equals_keras_on_unclipped_probabilities():
    with jax.enable_x64(True):
        probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=-1, keepdims=True)
        for alpha, gamma in ((0.25, 2.0), (1.0, 0.5), (0.7, 0.0)):
            expected = _keras_categorical_focal(probabilities, SOFT_TARGETS, alpha, gamma)
            ours = jaxloss.softmax_focal_loss(
                jnp.asarray(LOGITS),
                jnp.asarray(SOFT_TARGETS),
                alpha=jnp.float64(alpha),
                gamma=jnp.float64(gamma),
                reduction="none",
            )
            np.testing.assert_allclose(ours, expected, rtol=1e-12)
            one_hot = np.eye(5)[LABELS]
            expected = _keras_categorical_focal(probabilities, one_hot, alpha, gamma)
            ours = jaxloss.softmax_focal_loss_with_integer_labels(
                jnp.asarray(LOGITS),
                jnp.asarray(LABELS),
                alpha=jnp.float64(alpha),
                gamma=jnp.float64(gamma),
                reduction="none",
            )
            np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_softmax_focal_with_gamma_zero_is_alpha_times_cross_entropy():
    logits, targets, labels = (jnp.asarray(a) for a in (LOGITS, SOFT_TARGETS, LABELS))
    focal = jaxloss.softmax_focal_loss(logits, targets, alpha=0.5, gamma=0.0)
    np.testing.assert_allclose(focal, 0.5 * jaxloss.softmax_cross_entropy(logits, targets), 1e-6)
    np.testing.assert_allclose(
        jaxloss.gradients.softmax_focal_loss(logits, targets, alpha=0.5, gamma=0.0),
        0.5 * jaxloss.gradients.softmax_cross_entropy(logits, targets),
        rtol=1e-5,
        atol=1e-8,
    )
    focal = jaxloss.softmax_focal_loss_with_integer_labels(logits, labels, alpha=1.0, gamma=0.0)
    expected = jaxloss.softmax_cross_entropy_with_integer_labels(logits, labels)
    np.testing.assert_allclose(focal, expected, rtol=1e-6)


def test_softmax_focal_class_weights_are_keras_per_class_alpha():
    # Keras's list alpha weighs each class's term; with integer labels it is the label's
    # class weight (sum for "sum"; torch's class-weighted "mean" for "mean").
    with jax.enable_x64(True):
        class_alpha = np.asarray([0.1, 0.5, 1.0, 2.0, 0.25])
        probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=-1, keepdims=True)
        one_hot = np.eye(5)[LABELS]
        expected = _keras_categorical_focal(probabilities, one_hot, class_alpha, 2.0).sum()
        ours = jaxloss.softmax_focal_loss_with_integer_labels(
            jnp.asarray(LOGITS),
            jnp.asarray(LABELS),
            alpha=1.0,
            class_weights=jnp.asarray(class_alpha),
            reduction="sum",
        )
        np.testing.assert_allclose(ours, expected, rtol=1e-12)


# A second opinion: in test_registry.py's default tier,
# test_value_and_gradient_match_the_textbook_formula_in_float64 and
# test_closed_form_hessian_matches_the_textbook_formula_in_float64 check both losses'
# loss, gradient and Hessian against the textbook formula.
@pytest.mark.slow
def test_softmax_focal_integer_labels_equal_one_hot_targets():
    with jax.enable_x64(True):
        logits = jnp.asarray(LOGITS)
        one_hot = jnp.asarray(np.eye(5)[LABELS])
        labels = jnp.asarray(LABELS)
        options = {"alpha": jnp.float64(0.8), "gamma": jnp.float64(1.5)}
        for twin in ("loss", "gradient", "hessian"):
            dense = getattr(jaxloss.registry.LOSSES["softmax_focal_loss"], twin)
            sparse = getattr(
                jaxloss.registry.LOSSES["softmax_focal_loss_with_integer_labels"], twin
            )
            np.testing.assert_allclose(
                sparse(logits, labels, **options), dense(logits, one_hot, **options), rtol=1e-12
            )


# --------------------------------------------------------------------------------------
# generalized_cross_entropy


def test_generalized_cross_entropy_tends_to_cross_entropy_as_q_goes_to_zero():
    with jax.enable_x64(True):
        logits, labels = jnp.asarray(LOGITS), jnp.asarray(LABELS)
        cross_entropy = jaxloss.softmax_cross_entropy_with_integer_labels(
            logits, labels, reduction="none"
        )
        previous = np.inf
        for q in (1e-2, 1e-4, 1e-6, 1e-9):
            ours = jaxloss.generalized_cross_entropy(
                logits, labels, q=jnp.float64(q), reduction="none"
            )
            # (1 - e^(-q l)) / q = l - q l^2 / 2 + O(q^2): the gap shrinks like q.
            gap = float(jnp.max(jnp.abs(ours - cross_entropy) / cross_entropy))
            assert gap < previous and gap < 2 * q * float(jnp.max(cross_entropy))
            previous = gap
        gradient = jaxloss.gradients.generalized_cross_entropy(logits, labels, q=jnp.float64(1e-9))
        np.testing.assert_allclose(
            gradient,
            jaxloss.gradients.softmax_cross_entropy_with_integer_labels(logits, labels),
            rtol=1e-7,
        )


def test_generalized_cross_entropy_at_q_one_is_half_the_mae_of_the_softmax():
    # Zhang & Sabuncu, section 3: L_q at q = 1 is 1 - p_y = ||p - e_y||_1 / 2.
    with jax.enable_x64(True):
        probabilities = np.exp(LOGITS) / np.exp(LOGITS).sum(axis=-1, keepdims=True)
        expected = np.abs(probabilities - np.eye(5)[LABELS]).sum(axis=-1) / 2
        ours = jaxloss.generalized_cross_entropy(
            jnp.asarray(LOGITS), jnp.asarray(LABELS), q=1.0, reduction="none"
        )
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
        # Bounded by 1/q where the label's logit is -inf.
        row = jnp.asarray([[-np.inf, 0.0, 1.0]])
        bounded = jaxloss.generalized_cross_entropy(row, jnp.asarray([0]), q=0.25)
        assert bounded == 4.0
        assert jnp.all(jaxloss.gradients.generalized_cross_entropy(row, jnp.asarray([0])) == 0)


# --------------------------------------------------------------------------------------
# squentropy


def test_squentropy_is_cross_entropy_plus_the_incorrect_classes_mean_square():
    with jax.enable_x64(True):
        logits, labels = jnp.asarray(LOGITS), jnp.asarray(LABELS)
        one_hot = np.eye(5)[LABELS]
        # Hui, Belkin & Wright (2023), eq. (2), written with NumPy's log-sum-exp.
        log_softmax = LOGITS - np.log(np.exp(LOGITS).sum(axis=-1, keepdims=True))
        expected = -(one_hot * log_softmax).sum(-1) + ((1 - one_hot) * LOGITS**2).sum(-1) / 4
        np.testing.assert_allclose(
            jaxloss.squentropy(logits, labels, reduction="none"), expected, rtol=1e-12
        )
        # One class: no incorrect class, the cross-entropy (0).
        single = jaxloss.squentropy(jnp.asarray([[3.0]]), jnp.asarray([0]), reduction="none")
        np.testing.assert_array_equal(single, [0.0])
        # A large label logit does not cancel the other squares away (float32).
        large = jnp.asarray([[1e4, 1.0, 1.0]], jnp.float32)
        np.testing.assert_allclose(jaxloss.squentropy(large, jnp.asarray([0])), 1.0, rtol=1e-6)


# --------------------------------------------------------------------------------------
# z_loss, and the z_loss option of the softmax cross-entropies


def _log_sum_exp(logits):
    maximum = logits.max(axis=-1, keepdims=True)
    return (maximum + np.log(np.exp(logits - maximum).sum(axis=-1, keepdims=True)))[..., 0]


def test_z_loss_value_gradient_and_hessian():
    with jax.enable_x64(True):
        logits = jnp.asarray(LOGITS)
        coefficient = 1e-2
        # PaLM (Chowdhery et al. 2022), section 5: z_loss = 1e-4 log^2 Z, Z = sum exp(z).
        expected = coefficient * _log_sum_exp(LOGITS) ** 2
        values = jaxloss.z_loss(logits, coefficient=coefficient, reduction="none")
        np.testing.assert_allclose(values, expected, rtol=1e-12)
        np.testing.assert_allclose(
            jaxloss.z_loss(logits), 1e-4 * np.mean(_log_sum_exp(LOGITS) ** 2), rtol=1e-12
        )

        def textbook(z):
            return jnp.sum(coefficient * jax.nn.logsumexp(z, axis=-1) ** 2)

        def ours(z):
            return jaxloss.z_loss(z, coefficient=coefficient, reduction="sum")

        # The closed form 2 c logsumexp(z) softmax(z).
        softmax = jax.nn.softmax(logits, axis=-1)
        expected_gradient = 2 * coefficient * _log_sum_exp(LOGITS)[:, None] * softmax
        np.testing.assert_allclose(jax.grad(ours)(logits), expected_gradient, rtol=1e-12)
        np.testing.assert_allclose(
            jax.jit(jax.hessian(ours))(logits),
            jax.jit(jax.hessian(textbook))(logits),
            rtol=1e-10,
            atol=1e-14,
        )
        # The coefficient's derivative, and the other class axis.
        np.testing.assert_allclose(
            jax.grad(lambda c: jaxloss.z_loss(logits, coefficient=c, reduction="sum"))(
                jnp.float64(coefficient)
            ),
            np.sum(_log_sum_exp(LOGITS) ** 2),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            jaxloss.z_loss(logits.T, coefficient=coefficient, axis=0, reduction="none"),
            expected,
            rtol=1e-12,
        )


def test_z_loss_reduction_weights_mask_and_range():
    logits = jnp.asarray(LOGITS, jnp.float32)
    weights = jnp.asarray(np.random.default_rng(1).uniform(0.5, 2.0, size=6), jnp.float32)
    poisoned = logits.at[1].set(jnp.nan)
    where = jnp.asarray(MASK)
    values = jaxloss.z_loss(logits, coefficient=1.0, reduction="none")
    masked_mean = jaxloss.z_loss(poisoned, coefficient=1.0, weights=weights, where=where)
    expected = np.sum((weights * values)[MASK]) / np.sum(weights[MASK])
    np.testing.assert_allclose(masked_mean, expected, rtol=1e-6)
    gradient = jax.grad(lambda z: jaxloss.z_loss(z, coefficient=1.0, weights=weights, where=where))(
        poisoned
    )
    assert jnp.all(jnp.isfinite(gradient)) and jnp.all(gradient[~MASK] == 0)
    half = jaxloss.z_loss(logits.astype(jnp.bfloat16), reduction="none")
    assert half.dtype == jnp.bfloat16
    assert jaxloss.z_loss(logits.astype(jnp.bfloat16)).dtype == jnp.float32
    with pytest.raises(ValueError, match="coefficient"):
        jaxloss.z_loss(logits, coefficient=-1.0)
    with pytest.raises(ValueError, match="weights"):
        jaxloss.z_loss(logits, weights=-weights)
    with pytest.raises(ValueError, match="class axis"):
        jaxloss.z_loss(jnp.float32(1.0))


@pytest.mark.parametrize(
    "name", ("softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels")
)
def test_z_loss_option_adds_the_penalty_to_the_cross_entropy(name):
    with jax.enable_x64(True):
        logits = jnp.asarray(LOGITS)
        second = jnp.asarray(LABELS if name.endswith("labels") else SOFT_TARGETS)
        loss = getattr(jaxloss, name)
        definition = jaxloss.registry.LOSSES[name]
        coefficient = jnp.float64(0.05)
        weights = jnp.asarray(np.random.default_rng(1).uniform(0.5, 2.0, size=6))
        options = {"label_smoothing": jnp.float64(0.1), "weights": weights}

        def combined(z, c=coefficient):
            return loss(z, second, z_loss=c, **options)

        def separate(z, c=coefficient):
            # The weights and the mean apply to the sum of the two per-example terms.
            cross_entropy = loss(z, second, label_smoothing=0.1, reduction="none")
            penalty = jaxloss.z_loss(z, coefficient=c, reduction="none")
            return jnp.sum(weights * (cross_entropy + penalty)) / jnp.sum(weights)

        np.testing.assert_allclose(combined(logits), jax.jit(separate)(logits), rtol=1e-12)
        np.testing.assert_allclose(
            definition.gradient(logits, second, z_loss=coefficient, **options),
            jax.jit(jax.grad(separate))(logits),
            rtol=1e-10,
        )
        vector = jnp.asarray(np.random.default_rng(2).standard_normal(LOGITS.shape))
        np.testing.assert_allclose(
            definition.hessian_vector_product(
                logits, second, vector, z_loss=coefficient, **options
            ),
            jax.jit(lambda z, v: jax.jvp(jax.grad(separate), (z,), (v,))[1])(logits, vector),
            rtol=1e-10,
        )
        np.testing.assert_allclose(
            jax.jit(jax.grad(lambda c: combined(logits, c)))(coefficient),
            jax.jit(jax.grad(lambda c: separate(logits, c)))(coefficient),
            rtol=1e-12,
        )
        # The default adds exactly nothing.
        np.testing.assert_array_equal(
            loss(logits, second, reduction="none"),
            loss(logits, second, z_loss=0.0, reduction="none"),
        )
        with pytest.raises(ValueError, match="z_loss"):
            loss(logits, second, z_loss=-1.0)
