"""``jaxloss.checked``: value checks under jit and vmap, driven by the registry.

Every bad-input case below is derived from a registry row (its domain, target kind
and the hyper-parameters in its signature), so a loss added to the registry gets
these tests by construction. Each case is tried as a plain (jitted) call and under
``jax.vmap``; the message must name the argument, the offending index and value.
All calls of one loss share one argument structure, so each loss compiles its
checked version once per transformation, not once per case.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import jax
import jax.extend as jax_extend
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jaxloss
from jaxloss.checked import checked
from jaxloss.registry import LOSSES, LossSpec

SPECS = list(LOSSES.values())
SHAPE = (3, 4)  # (examples, classes) for class losses
NUM_CLASSES = SHAPE[-1]
# Valid values of optional array arguments that have no registry option (None default).
ARRAY_OPTIONS = {
    "class_weights": np.asarray([0.5, 1.0, 2.0, 1.5], np.float32),
    "pos_weight": np.float32(2.5),
}
SKIPPED_OPTIONS = ("reduction", "axis", "weights", "where")


def by_name(function):
    return pytest.mark.parametrize("spec", SPECS, ids=[spec.name for spec in SPECS])(function)


def argument_names(spec: LossSpec) -> tuple[str, ...]:
    """The positional inputs' names: first, second and any more."""
    return tuple(inspect.signature(spec.loss).parameters)[: 2 + len(spec.more_inputs)]


def loss_shape(spec: LossSpec) -> tuple[int, ...]:
    return SHAPE[:-1] if spec.per_example else SHAPE


def valid_arguments(spec: LossSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Every argument of the loss with a valid value, hyper-parameters as float32 arrays."""
    rng = np.random.default_rng(seed)
    arguments = dict(zip(argument_names(spec), spec.sample(rng, SHAPE), strict=True))
    arguments = {
        **arguments,
        "weights": rng.uniform(0.5, 2.0, size=loss_shape(spec)).astype(np.float32),
    }
    for name, parameter in inspect.signature(spec.loss).parameters.items():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY or name in SKIPPED_OPTIONS:
            continue
        value = spec.options.get(name, parameter.default)
        if value is None:
            value = ARRAY_OPTIONS[name]
        arguments[name] = np.asarray(value, np.float32)
    return arguments


@dataclasses.dataclass(frozen=True)
class BadCase:
    argument: str
    index: tuple[int, ...]  # () for a scalar hyper-parameter
    value: float
    shown: str  # how the message prints the value

    @property
    def id(self) -> str:
        return f"{self.argument}={self.shown}"

    def expected_message(self) -> str:
        if self.index:
            location = f"{self.argument}[{', '.join(map(str, self.index))}]"
        else:
            location = self.argument
        return re.escape(f"{location} = {self.shown}")


def bad_cases(spec: LossSpec) -> list[BadCase]:
    """One case per rule that applies to the row, placed off the first entry."""
    first_name, second_name, *more_names = argument_names(spec)
    element = (2, 1)
    cases = [BadCase(first_name, element, v, s) for v, s in _BAD_VALUES[spec.domain]]
    if spec.target_kind == "labels":
        cases += [
            BadCase(second_name, (1,), NUM_CLASSES, str(NUM_CLASSES)),
            BadCase(second_name, (1,), -1, "-1"),
        ]
    else:
        cases += [BadCase(second_name, element, v, s) for v, s in _BAD_VALUES[spec.target_kind]]
    for name, input in zip(more_names, spec.more_inputs, strict=True):
        index = element if input.shape == "first" else (1,) * len(loss_shape(spec))
        cases += [BadCase(name, index, v, s) for v, s in _BAD_VALUES[input.kind]]
    weight_index = tuple(size - 1 for size in loss_shape(spec))
    cases += [
        BadCase("weights", weight_index, -1.0, "-1.0"),
        BadCase("weights", weight_index, np.nan, "nan"),
    ]
    options = valid_arguments(spec)
    for name in options:
        if name in (first_name, second_name, *more_names, "weights"):
            continue
        index = (2,) if options[name].ndim else ()
        for value, shown in _OPTION_BAD_VALUES.get(name, ((np.nan, "nan"), (np.inf, "inf"))):
            cases.append(BadCase(name, index, value, shown))
    return cases


_NONFINITE = ((np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"))
_OUTSIDE_UNIT = ((1.5, "1.5"), (-0.25, "-0.25"), (np.nan, "nan"))
_NEGATIVE_OR_NONFINITE = ((-0.25, "-0.25"), (np.nan, "nan"), (np.inf, "inf"))
# Values each kind of input rejects (jaxloss.checked's rule for that kind).
_BAD_VALUES = {
    "real": _NONFINITE,
    "probability": _OUTSIDE_UNIT,
    "logit": ((np.nan, "nan"),),
    "class_probabilities": _NEGATIVE_OR_NONFINITE,
    "positive": _NEGATIVE_OR_NONFINITE,
    "count": _NEGATIVE_OR_NONFINITE,
    "sign": ((0.0, "0.0"), (0.5, "0.5"), (np.nan, "nan")),
    "log_probability": ((0.5, "0.5"), (np.nan, "nan")),
}
_OPTION_BAD_VALUES = {
    "class_weights": ((-0.5, "-0.5"), (np.inf, "inf")),
    "pos_weight": ((-1.0, "-1.0"), (np.nan, "nan")),
    "label_smoothing": ((1.5, "1.5"), (-0.25, "-0.25")),
    "delta": ((0.0, "0.0"), (-1.0, "-1.0")),
    "beta": ((-0.5, "-0.5"), (np.nan, "nan")),
}

BAD_CASES = [(spec, case) for spec in SPECS for case in bad_cases(spec)]
BAD_IDS = [f"{spec.name}-{case.id}" for spec, case in BAD_CASES]


def with_bad_value(arguments: dict[str, np.ndarray], case: BadCase) -> dict[str, np.ndarray]:
    bad = dict(arguments)
    array = np.array(arguments[case.argument])
    array[case.index] = case.value
    bad[case.argument] = array
    return bad


def split(spec: LossSpec, arguments: dict[str, np.ndarray]):
    """The positional inputs (first, second, then a tuple of any more) and the options."""
    names = argument_names(spec)
    options = {k: v for k, v in arguments.items() if k not in names}
    first, second, *more = (arguments[name] for name in names)
    return first, second, tuple(more), options


@pytest.mark.parametrize(("spec", "case"), BAD_CASES, ids=BAD_IDS)
def test_bad_input_raises_naming_argument_index_and_value(spec, case):
    first, second, more, options = split(spec, with_bad_value(valid_arguments(spec), case))
    with pytest.raises(checkify.JaxRuntimeError, match=case.expected_message()) as raised:
        checked(spec.loss)(first, second, *more, **options)
    assert f"jaxloss.checked({spec.name}): {case.argument} " in str(raised.value)


@pytest.mark.slow  # the same rules as the unmapped test, one more compilation per loss
@pytest.mark.parametrize(("spec", "case"), BAD_CASES, ids=BAD_IDS)
def test_bad_input_raises_under_vmap(spec, case):
    # Slice 0 is valid, slice 1 holds the bad value; the index is into one slice.
    good = valid_arguments(spec)
    bad = with_bad_value(good, case)
    stacked = {name: np.stack([good[name], bad[name]]) for name in good}
    first, second, more, options = split(spec, stacked)
    with pytest.raises(checkify.JaxRuntimeError, match=case.expected_message()):
        jax.vmap(checked(spec.loss))(first, second, *more, **options)


@pytest.mark.default_xla  # bitwise equal as compiled with XLA's defaults
@pytest.mark.slow  # valid values pass unchanged: the bad-value tests call the same compiled checks
@by_name
def test_valid_inputs_give_exactly_the_unchecked_value(spec):
    first, second, more, options = split(spec, valid_arguments(spec))
    where = np.random.default_rng(1).uniform(size=loss_shape(spec)) < 0.7
    checked_loss = checked(spec.loss)
    # Each combination compiles once; the first two are shared with other tests.
    for reduction, mask in (("mean", {}), ("mean", {"where": where}), ("none", {})):
        kwargs = {**options, **mask, "reduction": reduction}
        np.testing.assert_array_equal(
            checked_loss(first, second, *more, **kwargs), spec.loss(first, second, *more, **kwargs)
        )
    # Defaults only: Python-float defaults become traced values, with the same result.
    np.testing.assert_array_equal(
        checked_loss(first, second, *more), spec.loss(first, second, *more)
    )


@pytest.mark.slow  # vmap of the checked loss; the bad-value rules are tested unmapped
@by_name
def test_valid_inputs_under_vmap_match_the_unchecked_loss(spec):
    # Two slices, as in the bad-input test, so the compiled function is shared.
    arguments = [valid_arguments(spec, seed) for seed in range(2)]
    stacked = {name: np.stack([a[name] for a in arguments]) for name in arguments[0]}
    first, second, more, options = split(spec, stacked)
    np.testing.assert_array_equal(
        jax.vmap(checked(spec.loss))(first, second, *more, **options),
        jax.vmap(spec.loss)(first, second, *more, **options),
    )


@pytest.mark.default_xla  # bitwise equal as compiled with XLA's defaults
@pytest.mark.slow  # the gradient twin shares the loss's rules and checks
@by_name
def test_checked_closed_form_gradient_equals_unchecked_and_rejects_bad_values(spec):
    first, second, more, options = split(spec, valid_arguments(spec))
    checked_gradient = checked(spec.gradient)
    np.testing.assert_array_equal(
        checked_gradient(first, second, *more, **options),
        spec.gradient(first, second, *more, **options),
    )
    case = bad_cases(spec)[0]
    bad_first, bad_second, bad_more, bad_options = split(
        spec, with_bad_value(valid_arguments(spec), case)
    )
    with pytest.raises(checkify.JaxRuntimeError, match=case.expected_message()):
        checked_gradient(bad_first, bad_second, *bad_more, **bad_options)


@pytest.mark.parametrize("name", ["mse", "softmax_cross_entropy_with_integer_labels"])
def test_jax_grad_of_a_checked_loss(name):
    spec = LOSSES[name]
    first, second, more, options = split(spec, valid_arguments(spec))
    np.testing.assert_array_equal(
        jax.grad(checked(spec.loss))(first, second, *more, **options),
        jax.grad(spec.loss)(first, second, *more, **options),
    )
    first[0, 0] = np.nan
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("[0, 0] = nan")):
        jax.grad(checked(spec.loss))(first, second, *more, **options)


@by_name
def test_masked_entries_are_not_checked(spec):
    # where promises masked entries add nothing, NaN included, so checked mode accepts them.
    first, second, more, options = split(spec, valid_arguments(spec))
    poisoned = first.copy()
    poisoned[1] = np.nan
    labels_or_targets = second.copy()
    labels_or_targets[1] = NUM_CLASSES if spec.target_kind == "labels" else np.nan
    where = np.ones(loss_shape(spec), bool)
    where[1] = False
    expected = spec.loss(poisoned, labels_or_targets, *more, where=where, **options)
    assert np.isfinite(expected)
    value = checked(spec.loss)(poisoned, labels_or_targets, *more, where=where, **options)
    np.testing.assert_array_equal(value, expected)
    where[1] = True
    with pytest.raises(checkify.JaxRuntimeError, match=r"\[1, 0\] = nan"):
        checked(spec.loss)(poisoned, labels_or_targets, *more, where=where, **options)


@pytest.mark.parametrize("name", ["sigmoid_mse", "sigmoid_binary_cross_entropy"])
def test_sigmoid_losses_accept_infinite_logits(name):
    loss = getattr(jaxloss, name)
    logits = jnp.asarray([np.inf, -np.inf, np.inf, -np.inf, 0.5])
    targets = jnp.asarray([1.0, 1.0, 0.0, 0.0, 0.3])
    expected = loss(logits, targets, reduction="none")
    # sigmoid BCE at (-inf, 1) is +inf, the mathematical value; every other entry is finite.
    assert not jnp.any(jnp.isnan(expected))
    np.testing.assert_array_equal(checked(loss)(logits, targets, reduction="none"), expected)


@pytest.mark.parametrize(
    "name", ["softmax_cross_entropy", "softmax_cross_entropy_with_integer_labels"]
)
def test_softmax_accepts_minus_inf_at_masked_classes_and_rejects_plus_inf(name):
    loss = getattr(jaxloss, name)
    logits = jnp.asarray([[2.0, -np.inf, 0.5], [-np.inf, 1.0, -1.0]])
    labels = jnp.asarray([0, 2])
    targets = labels if name.endswith("labels") else jaxloss.one_hot(labels, 3)
    expected = loss(logits, targets)
    assert jnp.isfinite(expected)
    np.testing.assert_array_equal(checked(loss)(logits, targets), expected)
    # One +inf logit, on the label's class: the loss has its limit, 0 for that example.
    one_plus_inf = checked(loss)(logits.at[1, 2].set(np.inf), targets, reduction="none")
    assert one_plus_inf[1] == 0
    # Two +inf logits in one example: no limit, so checked mode refuses them.
    with pytest.raises(
        checkify.JaxRuntimeError,
        match=re.escape(
            "logits may be infinite only where the loss is defined; got logits[1, 1] = inf"
        ),
    ):
        checked(loss)(logits.at[1, 1:].set(np.inf), targets)
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("logits[1, 0] = -inf")):
        # A row with every logit at -inf has no softmax.
        checked(loss)(logits.at[1].set(-np.inf), targets)


def test_class_axis_other_than_last_is_checked_in_the_callers_layout():
    logits = jnp.zeros((4, 3))  # classes first
    labels = jnp.asarray([0, 3, 1])
    loss = checked(jaxloss.softmax_cross_entropy_with_integer_labels)
    # log 4 for uniform logits over 4 classes.
    np.testing.assert_allclose(loss(logits, labels, axis=0), np.log(4.0), rtol=1e-6)
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("labels[1] = 4")):
        loss(logits, labels.at[1].set(4), axis=0)
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("logits[3, 1] = nan")):
        loss(logits.at[3, 1].set(np.nan), labels, axis=0)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_half_precision_values_are_shown_exactly(dtype):
    probabilities = jnp.asarray([[0.25, 2.0]], dtype)
    loss = checked(jaxloss.binary_cross_entropy)
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("probabilities[0, 1] = 2.0")):
        loss(probabilities, jnp.zeros((1, 2), dtype))


def test_the_first_failing_argument_in_signature_order_is_reported():
    loss = checked(jaxloss.mse)
    with pytest.raises(checkify.JaxRuntimeError, match=re.escape("predictions[1] = nan")):
        loss(jnp.asarray([0.0, np.nan]), jnp.asarray([np.inf, 0.0]))


def test_composes_with_checkify_around_a_users_jit():
    loss = checked(jaxloss.mse)

    @jax.jit
    def twice(predictions, targets):
        return 2 * loss(predictions, targets)

    error, value = checkify.checkify(twice)(jnp.asarray([1.0, 3.0]), jnp.zeros(2))
    assert error.get() is None
    assert value == 10.0  # 2 * (1 + 9) / 2
    error, _ = checkify.checkify(twice)(jnp.asarray([1.0, np.nan]), jnp.zeros(2))
    assert "predictions[1] = nan" in (error.get() or "")


def test_unknown_functions_raise_value_error():
    with pytest.raises(ValueError, match="valid losses: mse"):
        checked(jnp.square)
    with pytest.raises(ValueError, match="got mse"):
        checked(checked(jaxloss.mse))


def test_gradients_and_hessians_are_checked_too():
    # checked(jaxloss.hessians.mse) used to be refused as "not a loss of the registry".
    predictions = jnp.asarray([1.0, 2.0])
    for twin in (jaxloss.gradients.mse, jaxloss.hessians.mse):
        np.testing.assert_array_equal(
            checked(twin)(predictions, jnp.zeros(2)), twin(predictions, jnp.zeros(2))
        )
        with pytest.raises(checkify.JaxRuntimeError, match=re.escape("predictions[1] = nan")):
            checked(twin)(jnp.asarray([1.0, np.nan]), jnp.zeros(2))


def test_signature_is_the_losses():
    for spec in SPECS:
        assert inspect.signature(checked(spec.loss)) == inspect.signature(spec.loss)


def _primitive_names(jaxpr) -> set[str]:
    names = set()
    for equation in jaxpr.eqns:
        names.add(equation.primitive.name)
        for sub in jax_extend.core.jaxprs_in_params(equation.params):
            names |= _primitive_names(sub)
    return names


def test_unchecked_losses_compile_no_checks():
    predictions, targets = jnp.ones(3), jnp.zeros(3)
    unchecked = jax.make_jaxpr(jaxloss.mse)(predictions, targets).jaxpr
    with_checks = jax.make_jaxpr(checked(jaxloss.mse))(predictions, targets).jaxpr
    assert "check" not in _primitive_names(unchecked)
    assert "check" in _primitive_names(with_checks)


def test_float64_inputs_are_checked_and_keep_their_dtype():
    with jax.enable_x64(True):
        for name in ("mse", "softmax_cross_entropy_with_integer_labels"):
            spec = LOSSES[name]
            first, second = spec.sample(np.random.default_rng(0), SHAPE, np.float64)
            value = checked(spec.loss)(first, second, **spec.options)
            assert value.dtype == jnp.float64
            assert value == spec.loss(first, second, **spec.options)
            first[1, 2] = np.nan
            with pytest.raises(checkify.JaxRuntimeError, match=re.escape("[1, 2] = nan")):
                checked(spec.loss)(first, second, **spec.options)


def test_trace_time_errors_are_the_losses_own():
    with pytest.raises(ValueError, match=r"same shape, got predictions.shape=\(3,\)"):
        checked(jaxloss.mse)(jnp.ones(3), jnp.ones(4))
    with pytest.raises(ValueError, match="must have a class axis"):
        checked(jaxloss.softmax_cross_entropy)(jnp.float32(1.0), jnp.float32(1.0))
