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

Compilation is the cost that grows with the catalog, so every float64 comparison with
the reference for one loss (values and gradients for each reduction and both input
variants; forward mode, Hessians, other partials and Hessian-vector products under
"mean") is computed by one ``jax.jit`` program, once per loss (:func:`float64_battery`),
and the named tests below read their part of it. The slow tier's full battery repeats
forward mode at every reduction and second order under "none" too. Run eagerly, the
same work costs about five times the CPU time. The tests of one loss share an xdist
group, so one worker computes it.
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


def by_name(function):
    # One xdist group per loss: its tests run on one worker, which computes the loss's
    # float64 battery once (the suite runs with --dist loadgroup).
    params = [
        pytest.param(spec, id=spec.name, marks=pytest.mark.xdist_group(spec.name)) for spec in SPECS
    ]
    return pytest.mark.parametrize("spec", params)(function)


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


@pytest.mark.slow  # eager op-by-op execution: the costliest call per loss, jit is the path
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


# --------------------------------------------------------------------------------------
# float32 behaviour: one compiled battery per loss (vmap, masks, empty, reductions, extremes).


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


# vmap over three examples against a loop of three: each looped call is traced and
# compiled into the battery, so the loop's length is its cost.
BATCH = 3


def _float32_checks(spec: LossSpec, arrays):
    call = functools.partial(spec.loss, **spec.options)
    results = {}

    # vmap against a Python loop.
    batched = arrays["batched"]
    results["vmap"] = (
        jax.vmap(call)(*batched),
        jnp.stack([call(*(array[i] for array in batched)) for i in range(BATCH)]),
    )

    # Masked entries add nothing, even when they hold NaN.
    first, *others = arrays["masking"]
    where = arrays["masking_where"]
    kept = jnp.asarray([0, 2, 3])
    poisoned = first.at[1].set(jnp.nan)
    results["masked"] = {
        "masked": call(poisoned, *others, where=where),
        "filtered": call(first[kept], *(array[kept] for array in others)),
        "jax.grad": jax.grad(lambda x: call(x, *others, where=where))(poisoned),
        "closed form": spec.gradient(poisoned, *others, where=where, **spec.options),
    }

    # Everything masked, or no entries at all: 0, with a zero gradient.
    first, *others = arrays["plain"]
    empty_first, *empty_others = arrays["empty"]
    nothing = jnp.zeros(loss_shape(spec, first.shape), bool)
    for reduction in ("mean", "sum"):
        results[f"nothing {reduction}"] = jax.value_and_grad(
            lambda x, r=reduction: call(x, *others, where=nothing, reduction=r)
        )(first)
        results[f"empty {reduction}"] = jax.value_and_grad(
            lambda x, r=reduction: call(x, *empty_others, reduction=r)
        )(empty_first)

    # Sum against mean times count; unit weights against none.
    ones = jnp.ones(loss_shape(spec, first.shape), jnp.float32)
    results["mean"] = call(first, *others)
    results["sum"] = call(first, *others, reduction="sum")
    results["unit weights"] = call(first, *others, weights=ones)

    # The documented extremes, all at once.
    if spec.extremes:
        first, *others = arrays["extremes"]

        def at_extreme(x, *rest):
            return (
                call(x, *rest),
                jax.grad(lambda z: call(z, *rest))(x),
                spec.gradient(x, *rest, **spec.options),
            )

        results["extremes"] = jax.vmap(at_extreme)(first, *others)
    return results


@functools.cache
def float32_battery(spec: LossSpec) -> dict:
    where = jnp.asarray([True, False, True, True])
    arrays = {
        "batched": make_inputs(spec, (BATCH, 3, 4)),
        "masking": make_inputs(spec, (4, 3)),
        "masking_where": where if spec.per_example else jnp.broadcast_to(where[:, None], (4, 3)),
        "plain": make_inputs(spec, (5, 4)),
        "empty": make_inputs(spec, (0, 4)),
    }
    if spec.extremes:
        per_value = [extreme_inputs(spec, value) for value in spec.extremes]
        arrays["extremes"] = tuple(jnp.stack(column) for column in zip(*per_value, strict=True))
    results = jax.jit(functools.partial(_float32_checks, spec))(arrays)
    return jax.tree.map(np.asarray, results)


@by_name
def test_vmap_equals_python_loop(spec):
    mapped, looped = float32_battery(spec)["vmap"]
    chex.assert_shape(mapped, (BATCH,))
    chex.assert_trees_all_close(mapped, looped, rtol=1e-6)


@by_name
def test_value_is_never_nan_and_gradient_is_finite_at_documented_extremes(spec):
    losses, autodiff, closed_form = float32_battery(spec).get("extremes", ((), (), ()))
    assert len(losses) == len(spec.extremes)
    for index, value in enumerate(spec.extremes):
        # The value may be +inf where the mathematics is (sigmoid BCE at (-inf, 1)).
        assert not np.isnan(losses[index]), (spec.name, value, losses[index])
        assert np.all(np.isfinite(autodiff[index])), (spec.name, value, autodiff[index])
        assert np.all(np.isfinite(closed_form[index])), (spec.name, value, closed_form[index])


@by_name
def test_masked_entries_add_nothing_even_when_they_hold_nan(spec):
    results = float32_battery(spec)["masked"]
    np.testing.assert_allclose(results["masked"], results["filtered"], rtol=1e-6)
    for candidate in (results["jax.grad"], results["closed form"]):
        assert np.all(candidate[1] == 0)
        assert np.all(np.isfinite(candidate))


@by_name
@pytest.mark.parametrize("reduction", ("mean", "sum"))
def test_everything_masked_or_empty_gives_zero_with_zero_gradient(spec, reduction):
    results = float32_battery(spec)
    value, gradient = results[f"nothing {reduction}"]
    assert value == 0
    assert np.all(gradient == 0)
    value, gradient = results[f"empty {reduction}"]
    assert value == 0
    assert gradient.shape == (0, 4)


@by_name
def test_sum_is_mean_times_count_and_unit_weights_change_nothing(spec):
    results = float32_battery(spec)
    count = int(np.prod(loss_shape(spec, (5, 4))))
    # Losses of both signs (a cosine similarity) can cancel to a small mean: an atol too.
    np.testing.assert_allclose(results["sum"], results["mean"] * count, rtol=1e-6, atol=1e-6)
    # sum(1 * l) / sum(1) and sum(l) / N may round differently in the last place.
    np.testing.assert_allclose(results["unit weights"], results["mean"], rtol=2e-7)


# --------------------------------------------------------------------------------------
# float64 against the reference: one compiled battery per loss.

# The battery's input variants, each on its own shape (ranks 3 and 2).
BATTERY_VARIANTS = (("plain", (2, 3, 4)), ("weighted_masked_options", (3, 4)))
# Second derivatives on the weighted, masked variant only: the plain variant (no weights,
# no mask) differs by the factors the weighted one has. "sum" differs from "mean" by the
# scale that its value and first derivatives already check.
SECOND_ORDER_REDUCTIONS = ("mean", "none")
# Two batteries per loss. The default tier's checks every quantity once: values and
# first derivatives at every reduction, forward mode and second order at "mean". The
# slow tier's full battery adds forward mode at every reduction and second order at
# "none" (a quarter more compile time, for what "mean" already shows).
BATTERY_REDUCTIONS = {
    False: {"forward": ("mean",), "second order": ("mean",)},
    True: {"forward": REDUCTIONS, "second order": SECOND_ORDER_REDUCTIONS},
}
FIRST_ORDER = ("value", "closed-form gradient", "jax.grad")
SECOND_ORDER = ("closed-form Hessian", "Hessian-vector product", "other partials")
RTOL, ATOL = 1e-10, 1e-13


def _sum(value):
    return jnp.sum(value)


def _battery_case(spec: LossSpec, inputs, weights, where, vector, variant: str, full: bool):
    """Every quantity of one input variant, ours beside the reference's, per reduction."""
    first, second, *more = inputs
    options = spec.options if variant != "plain" else {}
    masking = {"weights": weights, "where": where} if variant != "plain" else {}
    reductions = BATTERY_REDUCTIONS[full]
    results = {}
    for reduction in REDUCTIONS:
        kwargs = {"reduction": reduction, **masking, **options}

        def ours(x, y=second, rest=more, hyper=options, kw=kwargs):
            return _sum(spec.loss(x, y, *rest, **{**kw, **hyper}))

        def theirs(x, y=second, rest=more, hyper=options, kw=kwargs):
            return _sum(reference.loss(spec.name, x, y, *rest, **{**kw, **hyper}))

        reference_gradient = jax.grad(theirs)(first)
        results[reduction] = {
            "value": (
                spec.loss(first, second, *more, **kwargs),
                reference.loss(spec.name, first, second, *more, **kwargs),
            ),
            "closed-form gradient": (
                spec.gradient(first, second, *more, **kwargs),
                reference_gradient,
            ),
            "jax.grad": (jax.grad(ours)(first), reference_gradient),
        }
        if reduction in reductions["forward"]:
            results[reduction]["jax.jacfwd"] = (jax.jacfwd(ours)(first), reference_gradient)
        if reduction not in reductions["second order"] or variant == "plain":
            continue
        reference_hessian = jax.hessian(theirs)(first)
        # Partials for the other inputs and for hyper-parameters passed as arrays.
        hyper = {name: jnp.float64(value) for name, value in options.items()}
        arguments = (2, 3) if spec.target_kind == "labels" else (1, 2, 3)
        at = (first, second, tuple(more), hyper)
        results[reduction] |= {
            "closed-form Hessian": (
                dense_from_closed_form(
                    spec, spec.hessian(first, second, *more, **kwargs), first.shape
                ),
                reference_hessian,
            ),
            "jax.hessian": (jax.hessian(ours)(first), reference_hessian),
            "Hessian-vector product": (
                spec.hessian_vector_product(first, second, vector, *more, **kwargs),
                jax.jvp(jax.grad(theirs), (first,), (vector,))[1],
            ),
            "other partials": (
                jax.grad(ours, argnums=arguments, allow_int=True)(*at),
                jax.grad(theirs, argnums=arguments, allow_int=True)(*at),
            ),
        }
    return results


def float64_battery(spec: LossSpec, full: bool = False) -> dict:
    """``{variant: {reduction: {quantity: (ours, reference)}}}``, NumPy arrays, float64."""
    # One cache key per (loss, battery), however the call spells its arguments.
    return _float64_battery(spec, full)


@functools.cache
def _float64_battery(spec: LossSpec, full: bool) -> dict:
    with jax.enable_x64(True):
        cases = {}
        for seed, (variant, shape) in enumerate(BATTERY_VARIANTS):
            inputs = make_inputs(spec, shape, np.float64, seed=seed)
            weights, where = weights_and_mask(spec, shape, np.float64)
            vector = jnp.asarray(np.random.default_rng(5).standard_normal(shape))
            cases[variant] = (inputs, weights, where, vector)

        def battery(cases):
            return {
                variant: _battery_case(spec, *case, variant=variant, full=full)
                for variant, case in cases.items()
            }

        return jax.tree.map(np.asarray, jax.jit(battery)(cases))


def assert_battery(
    spec: LossSpec, quantities, reductions=("mean",), rtol=RTOL, atol=ATOL, full=False
):
    compared = set()
    for variant, by_reduction in float64_battery(spec, full).items():
        for reduction in reductions:
            for quantity in quantities:
                if quantity not in by_reduction[reduction]:
                    continue  # a second-order quantity of the plain variant
                compared.add(quantity)
                ours, theirs = by_reduction[reduction][quantity]
                chex.assert_trees_all_close(
                    ours,
                    theirs,
                    rtol=rtol,
                    atol=atol,
                    custom_message=f"{spec.name}: {quantity}, {variant}, reduction={reduction}",
                )
    assert compared == set(quantities), (quantities, compared)


@by_name
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_value_and_gradient_match_the_textbook_formula_in_float64(spec, reduction):
    assert_battery(spec, FIRST_ORDER, (reduction,), atol=1e-14)
    assert float64_battery(spec)["plain"][reduction]["value"][0].dtype == np.float64


@pytest.mark.slow  # the default tier's battery checks forward mode and second order at "mean"
@by_name
def test_the_full_float64_battery_matches_the_textbook_formula(spec):
    everywhere = {"full": True}
    assert_battery(spec, FIRST_ORDER, REDUCTIONS, atol=1e-14, **everywhere)
    assert_battery(spec, ("jax.jacfwd",), REDUCTIONS, **everywhere)
    assert_battery(spec, SECOND_ORDER, SECOND_ORDER_REDUCTIONS, **everywhere)
    hessian_tolerance = {"rtol": 1e-9, "atol": 1e-12}
    assert_battery(
        spec, ("jax.hessian",), SECOND_ORDER_REDUCTIONS, **hessian_tolerance, **everywhere
    )


@pytest.mark.slow  # the float64 battery checks second order against the reference exactly
@by_name
def test_second_order_gradients_by_finite_differences(spec):
    with jax.enable_x64(True):
        first, second, *more = make_inputs(spec, (2, 3), np.float64)
        weights, where = weights_and_mask(spec, (2, 3), np.float64)

        # One function of every floating input, jitted so that each derivative
        # check_grads takes compiles once.
        @jax.jit
        def of_inputs(x, *rest):
            inputs = (x, second, *rest) if spec.target_kind == "labels" else (x, *rest)
            return spec.loss(*inputs, weights=weights, where=where, **spec.options)

        floating = (first, *more) if spec.target_kind == "labels" else (first, second, *more)
        # Reverse mode only: forward mode and forward-over-reverse are compared exactly
        # with the reference in the float64 battery.
        check_grads(of_inputs, floating, order=2, modes=("rev",), eps=1e-6)


@by_name
def test_forward_mode_and_hessian_match_the_textbook_formula(spec):
    # Forward mode and second order through the loss's own custom_jvp rule.
    assert_battery(spec, ("jax.jacfwd",))
    assert_battery(spec, ("jax.hessian",), rtol=1e-9, atol=1e-12)


@by_name
@pytest.mark.parametrize("dtype", (jnp.float16, jnp.bfloat16, jnp.float32))
def test_dtype_policy(spec, dtype):
    # Output dtypes are fixed when a call is traced: jax.eval_shape traces without compiling.
    first, second, *more = make_inputs(spec, (3, 4))
    first = first.astype(dtype)
    if spec.target_kind != "labels":
        second = second.astype(dtype)
    others = (second, *(array.astype(dtype) for array in more))

    def outputs(x, *rest):
        return {
            "mean": spec.loss(x, *rest, **spec.options),
            "sum": spec.loss(x, *rest, reduction="sum", **spec.options),
            "none": spec.loss(x, *rest, reduction="none", **spec.options),
            "gradient": spec.gradient(x, *rest, **spec.options),
            "jax.grad": jax.grad(lambda z: spec.loss(z, *rest, **spec.options))(x),
        }

    dtypes = {name: out.dtype for name, out in jax.eval_shape(outputs, first, *others).items()}
    reduced_dtype = jnp.float32
    assert dtypes == {
        "mean": reduced_dtype,
        "sum": reduced_dtype,
        "none": dtype,
        "gradient": dtype,
        "jax.grad": dtype,
    }


@by_name
def test_float64_stays_float64(spec):
    with jax.enable_x64(True):
        inputs = make_inputs(spec, (3, 4), np.float64)
        shapes = jax.eval_shape(
            lambda *x: (spec.loss(*x), spec.loss(*x, reduction="none"), spec.gradient(*x)),
            *inputs,
        )
        assert [shape.dtype for shape in shapes] == [jnp.float64] * 3


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
def test_closed_form_hessian_matches_the_textbook_formula_in_float64(spec):
    assert_battery(spec, ("closed-form Hessian",))


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
    assert_battery(spec, ("other partials",))


@by_name
def test_hessian_vector_product_matches_forward_over_reverse_of_the_textbook_formula(spec):
    assert_battery(spec, ("Hessian-vector product",))
