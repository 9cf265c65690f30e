"""Generic checks run on every row of ``jaxloss.registry.LOSSES``.

A loss defined in a family module is checked here by construction: jit, vmap, the
closed-form gradient, Hessian, Hessian-vector product and every other partial (with
respect to targets and hyper-parameters) against autodiff of the independent textbook
formula in ``tests/reference.py`` (float64), finiteness at extremes, masking, the
dtype policy, and that the loss, its gradient and its Hessian share one signature and
one set of range checks.

The loss's own derivative rule *is* its closed form (a ``custom_jvp`` built from the
definition's partials), so "closed form equals ``jax.grad`` of the loss" would compare
the code with itself: every derivative here is compared with the reference instead.
"""

from __future__ import annotations

import functools
import inspect
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxloss
from jaxloss.registry import LOSSES, LossSpec
from tests import reference

SPECS = list(LOSSES.values())
REDUCTIONS = ("mean", "sum", "none")
# Class losses read the last entry of a shape as the number of classes.
SHAPES = ((5,), (3, 4), (2, 3, 4))


def by_name(function):
    return pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])(function)


def make_inputs(spec: LossSpec, shape, dtype=np.float32, seed=0):
    """All of the loss's positional inputs: first, second, then any more."""
    return tuple(
        jnp.asarray(array) for array in spec.sample(np.random.default_rng(seed), shape, dtype)
    )


def loss_shape(spec: LossSpec, shape):
    return shape[:-1] if spec.per_example else shape


def weights_and_mask(spec: LossSpec, shape, dtype, seed=1):
    rng = np.random.default_rng(seed)
    unreduced_shape = loss_shape(spec, shape)
    weights = jnp.asarray(rng.uniform(0.1, 2.0, size=unreduced_shape).astype(dtype))
    kept = (rng.uniform(size=unreduced_shape) < 0.7).reshape(-1)
    # At least one entry kept, and one masked where there are two: a variant that
    # masks everything would compare 0 with 0.
    kept[0] = True
    if kept.size > 1:
        kept[-1] = False
    return weights, jnp.asarray(kept.reshape(unreduced_shape))


VARIANTS = ("plain", "weighted_options", "masked", "weighted_masked_options")


def variant_kwargs(spec: LossSpec, variant: str, shape, dtype):
    weights, where = weights_and_mask(spec, shape, dtype)
    kwargs = {
        "plain": {},
        "weighted_options": {"weights": weights, **spec.options},
        "masked": {"where": where},
        "weighted_masked_options": {"weights": weights, "where": where, **spec.options},
    }[variant]
    return kwargs


@by_name
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_jit_equals_no_jit(spec, reduction):
    inputs = make_inputs(spec, (3, 4))
    call = functools.partial(spec.loss, reduction=reduction, **spec.options)
    jitted = jax.jit(call)(*inputs)
    with jax.disable_jit():
        eager = call(*inputs)
    chex.assert_shape(jitted, loss_shape(spec, (3, 4)) if reduction == "none" else ())
    chex.assert_trees_all_close(jitted, eager, rtol=1e-6, atol=1e-7)


@by_name
def test_vmap_equals_python_loop(spec):
    inputs = make_inputs(spec, (6, 3, 4))
    call = functools.partial(spec.loss, **spec.options)
    mapped = jax.vmap(call)(*inputs)
    looped = jnp.stack([call(*(array[i] for array in inputs)) for i in range(6)])
    chex.assert_shape(mapped, (6,))
    chex.assert_trees_all_close(mapped, looped, rtol=1e-6)


@by_name
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_value_and_gradient_match_the_textbook_formula_in_float64(spec, reduction):
    with jax.enable_x64(True):
        # Each variant runs on one of the shapes in turn: every shape, variant and
        # reduction is covered without compiling all their combinations.
        for seed, variant in enumerate(VARIANTS):
            shape = SHAPES[(seed + REDUCTIONS.index(reduction)) % len(SHAPES)]
            first, *others = make_inputs(spec, shape, np.float64, seed=seed)
            kwargs = {"reduction": reduction, **variant_kwargs(spec, variant, shape, np.float64)}
            expected_value = reference.loss(spec.name, first, *others, **kwargs)
            expected_gradient = reference.gradient(spec.name, first, *others, **kwargs)

            value = spec.loss(first, *others, **kwargs)
            closed_form = spec.gradient(first, *others, **kwargs)
            autodiff = jax.grad(
                lambda x, rest=others, kw=kwargs: jnp.sum(spec.loss(x, *rest, **kw))
            )(first)

            assert value.dtype == jnp.float64
            np.testing.assert_allclose(value, expected_value, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(closed_form, expected_gradient, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(autodiff, expected_gradient, rtol=1e-10, atol=1e-14)


@by_name
def test_second_order_gradients_by_finite_differences(spec):
    with jax.enable_x64(True):
        first, second, *more = make_inputs(spec, (2, 3), np.float64)
        weights, where = weights_and_mask(spec, (2, 3), np.float64)

        def of_first(x):
            return spec.loss(x, second, *more, weights=weights, where=where, **spec.options)

        check_grads(of_first, (first,), order=2, modes=("fwd", "rev"), eps=1e-6)
        if spec.target_kind != "labels":

            def of_all(*inputs):
                return spec.loss(*inputs, **spec.options)

            check_grads(of_all, (first, second, *more), order=2, modes=("fwd", "rev"), eps=1e-6)


@by_name
def test_forward_mode_and_hessian_match_the_textbook_formula(spec):
    with jax.enable_x64(True):
        first, *others = make_inputs(spec, (2, 3), np.float64)

        def ours(x):
            return spec.loss(x, *others, **spec.options)

        def theirs(x):
            return reference.loss(spec.name, x, *others, **spec.options)

        np.testing.assert_allclose(jax.jacfwd(ours)(first), jax.grad(theirs)(first), rtol=1e-10)
        np.testing.assert_allclose(
            jax.hessian(ours)(first), jax.hessian(theirs)(first), rtol=1e-9, atol=1e-12
        )


def extreme_inputs(spec: LossSpec, value: float):
    """A first argument holding ``value`` (in each label's class for class losses)."""
    shape = (3, 4)
    first, second, *more = make_inputs(spec, shape)
    if spec.target_kind == "labels":
        rows = jnp.zeros(shape, jnp.float32)
        first = jnp.where(jax.nn.one_hot(second, shape[-1]) > 0, jnp.float32(value), rows)
    elif spec.has_classes or spec.per_example:
        first = jnp.zeros(shape, jnp.float32).at[:, 0].set(value)
    else:
        first = jnp.full(shape, value, jnp.float32)
        if spec.target_kind in ("real", "probability"):
            # Targets at both ends and inside, where the extreme hurts most.
            second = jnp.broadcast_to(jnp.asarray([0.0, 1.0, 0.3, 1.0], jnp.float32), shape)
    return first, second, *more


@by_name
def test_value_is_never_nan_and_gradient_is_finite_at_documented_extremes(spec):
    for value in spec.extremes:
        first, *others = extreme_inputs(spec, value)
        loss = spec.loss(first, *others, **spec.options)
        autodiff = jax.grad(lambda x, rest=others: spec.loss(x, *rest, **spec.options))(first)
        closed_form = spec.gradient(first, *others, **spec.options)
        # The value may be +inf where the mathematics is (sigmoid BCE at (-inf, 1)).
        assert not jnp.isnan(loss), (spec.name, value, loss)
        assert jnp.all(jnp.isfinite(autodiff)), (spec.name, value, autodiff)
        assert jnp.all(jnp.isfinite(closed_form)), (spec.name, value, closed_form)


@by_name
def test_masked_entries_add_nothing_even_when_they_hold_nan(spec):
    first, *others = make_inputs(spec, (4, 3))
    where = jnp.asarray([True, False, True, True])
    if not spec.per_example:
        where = jnp.broadcast_to(where[:, None], (4, 3))
    poisoned = first.at[1].set(jnp.nan)
    kept = jnp.asarray([0, 2, 3])

    masked = spec.loss(poisoned, *others, where=where, **spec.options)
    filtered = spec.loss(first[kept], *(array[kept] for array in others), **spec.options)
    gradient = jax.grad(lambda x: spec.loss(x, *others, where=where, **spec.options))(poisoned)
    closed_form = spec.gradient(poisoned, *others, where=where, **spec.options)

    np.testing.assert_allclose(masked, filtered, rtol=1e-6)
    for candidate in (gradient, closed_form):
        assert jnp.all(candidate[1] == 0)
        assert jnp.all(jnp.isfinite(candidate))


@by_name
@pytest.mark.parametrize("reduction", ("mean", "sum"))
def test_everything_masked_or_empty_gives_zero_with_zero_gradient(spec, reduction):
    first, *others = make_inputs(spec, (3, 4))
    nothing = jnp.zeros(loss_shape(spec, (3, 4)), bool)
    value, gradient = jax.value_and_grad(
        lambda x: spec.loss(x, *others, where=nothing, reduction=reduction, **spec.options)
    )(first)
    assert value == 0
    assert jnp.all(gradient == 0)

    empty_first, *empty_others = make_inputs(spec, (0, 4))
    value, gradient = jax.value_and_grad(
        lambda x: spec.loss(x, *empty_others, reduction=reduction, **spec.options)
    )(empty_first)
    assert value == 0
    assert gradient.shape == (0, 4)


@by_name
@pytest.mark.parametrize("dtype", (jnp.float16, jnp.bfloat16, jnp.float32))
def test_dtype_policy(spec, dtype):
    first, second, *more = make_inputs(spec, (3, 4))
    first = first.astype(dtype)
    if spec.target_kind != "labels":
        second = second.astype(dtype)
    others = (second, *(array.astype(dtype) for array in more))
    reduced_dtype = jnp.float32
    assert spec.loss(first, *others, **spec.options).dtype == reduced_dtype
    assert spec.loss(first, *others, reduction="sum", **spec.options).dtype == reduced_dtype
    assert spec.loss(first, *others, reduction="none", **spec.options).dtype == dtype
    assert spec.gradient(first, *others, **spec.options).dtype == dtype
    assert jax.grad(lambda x: spec.loss(x, *others, **spec.options))(first).dtype == dtype


@by_name
def test_float64_stays_float64(spec):
    with jax.enable_x64(True):
        inputs = make_inputs(spec, (3, 4), np.float64)
        assert spec.loss(*inputs).dtype == jnp.float64
        assert spec.loss(*inputs, reduction="none").dtype == jnp.float64
        assert spec.gradient(*inputs).dtype == jnp.float64


@by_name
def test_sum_is_mean_times_count_and_unit_weights_change_nothing(spec):
    inputs = make_inputs(spec, (5, 4))
    count = int(np.prod(loss_shape(spec, (5, 4))))
    mean = spec.loss(*inputs, **spec.options)
    total = spec.loss(*inputs, reduction="sum", **spec.options)
    ones = jnp.ones(loss_shape(spec, (5, 4)), jnp.float32)
    np.testing.assert_allclose(total, mean * count, rtol=1e-6)
    # sum(1 * l) / sum(1) and sum(l) / N may round differently in the last place.
    np.testing.assert_allclose(spec.loss(*inputs, weights=ones, **spec.options), mean, rtol=2e-7)


def dense_from_closed_form(spec: LossSpec, closed_form, shape):
    """The full Hessian that the diagonal or per-example blocks describe."""
    size = int(np.prod(shape))
    if not spec.per_example:
        return jnp.diag(closed_form.reshape(size)).reshape(shape + shape)
    num_classes = shape[-1]
    examples = size // num_classes
    blocks = closed_form.reshape(examples, num_classes, num_classes)
    dense = jnp.zeros((examples, num_classes, examples, num_classes), closed_form.dtype)
    for example in range(examples):
        dense = dense.at[example, :, example, :].set(blocks[example])
    return dense.reshape(shape + shape)


@by_name
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_closed_form_hessian_matches_jax_hessian_in_float64(spec, reduction):
    with jax.enable_x64(True):
        for seed, variant in enumerate(("plain", "weighted_masked_options")):
            shape = SHAPES[1 + seed]
            first, *others = make_inputs(spec, shape, np.float64, seed=seed)
            kwargs = {"reduction": reduction, **variant_kwargs(spec, variant, shape, np.float64)}
            closed_form = spec.hessian(first, *others, **kwargs)
            expected = jax.hessian(
                lambda x, rest=others, kw=kwargs: jnp.sum(reference.loss(spec.name, x, *rest, **kw))
            )(first)
            np.testing.assert_allclose(
                dense_from_closed_form(spec, closed_form, shape),
                expected,
                rtol=1e-10,
                atol=1e-13,
            )


@by_name
def test_loss_gradient_and_hessian_share_one_signature(spec):
    signature = inspect.signature(spec.loss)
    assert spec.loss is getattr(jaxloss, spec.name)
    assert spec.gradient is getattr(jaxloss.gradients, spec.name)
    assert spec.hessian is getattr(jaxloss.hessians, spec.name)
    for twin, module in ((spec.gradient, "jaxloss.gradients"), (spec.hessian, "jaxloss.hessians")):
        assert inspect.signature(twin) == signature
        assert (twin.__name__, twin.__module__) == (spec.name, module)
        assert twin.__doc__ and ">>>" in twin.__doc__
    # Hyper-parameters are keyword-only and declared, with their defaults, in order.
    keyword_only = [
        name
        for name, parameter in signature.parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    declared = [parameter.name for parameter in spec.parameters]
    assert [name for name in keyword_only if name in declared] == declared
    assert {"reduction", "weights", "where"} <= set(keyword_only)


def _out_of_range(parameter) -> list[float]:
    values = [math.nan]
    if parameter.low > -math.inf:
        values.append(parameter.low if parameter.low_open else parameter.low - 0.5)
    if parameter.high < math.inf:
        values.append(parameter.high + 0.5)
    else:
        values.append(math.inf)
    return values


@by_name
def test_every_range_check_applies_to_the_loss_its_gradient_and_its_hessian(spec):
    inputs = make_inputs(spec, (3, 4))
    functions = (spec.loss, spec.gradient, spec.hessian)
    for parameter in spec.parameters:
        for bad in _out_of_range(parameter):
            for value in (bad, np.asarray(bad, np.float32)):
                for function in functions:
                    with pytest.raises(ValueError, match=parameter.name):
                        function(*inputs, **{**spec.options, parameter.name: value})
    negative = -jnp.ones(loss_shape(spec, (3, 4)), jnp.float32)
    for function in functions:
        with pytest.raises(ValueError, match=r"weights.*finite and non-negative"):
            function(*inputs, weights=negative)


@by_name
def test_partials_for_targets_and_hyper_parameters_match_the_textbook_formula(spec):
    """The derivative rule's other partials, each against the independent reference."""
    with jax.enable_x64(True):
        first, second, *more = make_inputs(spec, (3, 4), np.float64, seed=3)
        weights, where = weights_and_mask(spec, (3, 4), np.float64)
        options = {name: jnp.float64(value) for name, value in spec.options.items()}
        for reduction in REDUCTIONS:
            kwargs = {"reduction": reduction, "weights": weights, "where": where}

            def ours(y, rest, hyper, kw=kwargs):
                return jnp.sum(spec.loss(first, y, *rest, **hyper, **kw))

            def theirs(y, rest, hyper, kw=kwargs):
                return jnp.sum(reference.loss(spec.name, first, y, *rest, **hyper, **kw))

            arguments = (1, 2) if spec.target_kind == "labels" else (0, 1, 2)
            at = (second, more, options)
            ours_grads = jax.grad(ours, argnums=arguments, allow_int=True)(*at)
            theirs_grads = jax.grad(theirs, argnums=arguments, allow_int=True)(*at)
            chex.assert_trees_all_close(ours_grads, theirs_grads, rtol=1e-10, atol=1e-13)


@by_name
def test_hessian_vector_product_matches_forward_over_reverse_of_the_textbook_formula(spec):
    with jax.enable_x64(True):
        first, second, *more = make_inputs(spec, (3, 4), np.float64, seed=4)
        weights, where = weights_and_mask(spec, (3, 4), np.float64)
        vector = jnp.asarray(np.random.default_rng(5).standard_normal((3, 4)))
        kwargs = {"weights": weights, "where": where, **spec.options}
        ours = spec.hessian_vector_product(first, second, vector, *more, **kwargs)

        def gradient(x):
            return jax.grad(
                lambda z: jnp.sum(reference.loss(spec.name, z, second, *more, **kwargs))
            )(x)

        expected = jax.jvp(gradient, (first,), (vector,))[1]
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-13)
