"""Parity of ``jaxloss.torch_compat`` with torch 2.13 on the CPU, value and gradient.

Every expected number comes from the torch callable of the same name, run in the same
test on the same float32 inputs: values agree within rtol 1e-6 and gradients (of the
summed output with respect to ``input``) within rtol 1e-5, both with atol 1e-6 for
entries near 0. The last section pins the documented differences from torch.

The parity tables (rows of options x form x reduction x input kind x shape, and the
legacy switches) run a covering subset in the default tier: every row (of the class
index table, the rows covering every pair of its options), every loss in both forms,
and every value of every axis in some row (see ``table``); the full product runs with
``pytest -m slow``. So does the traced label_smoothing's sweep of target kind x weight
x reduction, whose default tier covers every value of each.
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify

import jaxloss
from jaxloss import torch_compat

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")
functional = torch.nn.functional

REDUCTIONS = ("mean", "sum", "none")
FORMS = ("functional", "module")
LEGACY_VALUES = (None, True, False)

# name: (our functional, our class, torch functional, torch class)
LOSSES = {
    "mse_loss": (
        torch_compat.mse_loss,
        torch_compat.MSELoss,
        functional.mse_loss,
        torch.nn.MSELoss,
    ),
    "l1_loss": (torch_compat.l1_loss, torch_compat.L1Loss, functional.l1_loss, torch.nn.L1Loss),
    "huber_loss": (
        torch_compat.huber_loss,
        torch_compat.HuberLoss,
        functional.huber_loss,
        torch.nn.HuberLoss,
    ),
    "smooth_l1_loss": (
        torch_compat.smooth_l1_loss,
        torch_compat.SmoothL1Loss,
        functional.smooth_l1_loss,
        torch.nn.SmoothL1Loss,
    ),
    "binary_cross_entropy": (
        torch_compat.binary_cross_entropy,
        torch_compat.BCELoss,
        functional.binary_cross_entropy,
        torch.nn.BCELoss,
    ),
    "binary_cross_entropy_with_logits": (
        torch_compat.binary_cross_entropy_with_logits,
        torch_compat.BCEWithLogitsLoss,
        functional.binary_cross_entropy_with_logits,
        torch.nn.BCEWithLogitsLoss,
    ),
    "cross_entropy": (
        torch_compat.cross_entropy,
        torch_compat.CrossEntropyLoss,
        functional.cross_entropy,
        torch.nn.CrossEntropyLoss,
    ),
    "nll_loss": (
        torch_compat.nll_loss,
        torch_compat.NLLLoss,
        functional.nll_loss,
        torch.nn.NLLLoss,
    ),
}
LEGACY_LOSSES = [name for name in LOSSES if name != "huber_loss"]  # torch's has none

NUM_CLASSES = 5
# Class index shapes: torch's unbatched (C,), batched (N, C) and K-dimensional (N, C, d1).
CLASS_SHAPES = {"unbatched": (NUM_CLASSES,), "batched": (6, NUM_CLASSES), "spatial": (3, 5, 4)}
CLASS_WEIGHT = np.asarray([0.2, 1.0, 2.5, 0.0, 4.0], np.float32)  # a zero weight included
EXTREMES = np.asarray([-1e4, -30.0, 30.0, 1e4], np.float32)


# --------------------------------------------------------------------------------------
# Inputs, seeded.


def normal(shape, seed, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def uniform(shape, seed, low=0.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)


def extreme(shape, seed):
    """Half the entries ±1e4 or ±30, the rest standard normal."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(np.float32)
    chosen = rng.random(shape) < 0.5
    return np.where(chosen, rng.choice(EXTREMES, size=shape), values).astype(np.float32)


def scores(kind, shape, seed):
    return extreme(shape, seed) if kind == "extreme" else normal(shape, seed)


def class_axis(shape):
    return 0 if len(shape) == 1 else 1


def softmax(values, axis):
    shifted = np.exp(values - values.max(axis=axis, keepdims=True))
    return (shifted / shifted.sum(axis=axis, keepdims=True)).astype(np.float32)


def labels_for(shape, seed, ignore=None):
    """Class indices for logits of ``shape``; about a third set to ``ignore``.

    An unbatched target is a single kept label, so that no "mean" runs over nothing.
    """
    if len(shape) == 1:
        return np.asarray(2, np.int32)
    label_shape = (shape[0], *shape[2:])
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, shape[1], size=label_shape).astype(np.int32)
    if ignore is not None:
        labels = np.where(rng.random(label_shape) < 0.33, ignore, labels).astype(np.int32)
        labels.flat[0] = 0 if ignore != 0 else 2  # at least one kept
    return labels


# --------------------------------------------------------------------------------------
# Running both libraries.


def torch_array(value):
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.integer):
        return torch.tensor(value.astype(np.int64))  # torch's class indices are int64
    return torch.tensor(value) if isinstance(value, np.ndarray) else value


def jax_array(value):
    return jnp.asarray(value) if isinstance(value, np.ndarray) else value


def build(name, form, options) -> tuple[Callable, Callable]:
    """Our and torch's loss as ``(input, target) -> value`` callables."""
    ours, our_class, theirs, their_class = LOSSES[name]
    our_options = {key: jax_array(value) for key, value in options.items()}
    their_options = {key: torch_array(value) for key, value in options.items()}
    if form == "functional":
        return functools.partial(ours, **our_options), functools.partial(theirs, **their_options)
    return our_class(**our_options), their_class(**their_options)


def assert_parity(ours, theirs, input, target):
    """Values and gradients of ``sum(loss)`` with respect to ``input`` agree."""
    our_target = jnp.asarray(target)

    def summed(x):
        value = ours(x, our_target)
        return jnp.sum(value), value

    # One pass for the value and the gradient: the loss's compiled programs are shared.
    (_, our_value), our_gradient = jax.value_and_grad(summed, has_aux=True)(jnp.asarray(input))
    their_input = torch.tensor(input, requires_grad=True)
    their_value = theirs(their_input, torch_array(np.asarray(target)))
    their_value.sum().backward()
    assert isinstance(our_value, jax.Array)
    assert our_value.shape == tuple(their_value.shape)
    np.testing.assert_allclose(our_value, their_value.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(our_gradient, their_input.grad.numpy(), rtol=1e-5, atol=1e-6)


def options_id(options):
    if not options:
        return "defaults"
    return ",".join(
        f"{key}={'x'.join(map(str, value.shape))}"
        if isinstance(value, np.ndarray)
        else f"{key}={value}"
        for key, value in options.items()
    )


# torch's MSELoss, L1Loss and HuberLoss take no weight; their functional forms do.
WEIGHT_ONLY_IN_FUNCTIONAL = ("huber_loss", "l1_loss", "mse_loss")


def forms_for(name, options):
    return ("functional",) if name in WEIGHT_ONLY_IN_FUNCTIONAL and "weight" in options else FORMS


# The module form stores its arguments and calls the functional form, so it runs on the
# plain inputs only: every reduction, but not every shape and input kind again.
MODULE_AXIS_VALUES = {"batched", "normal", "uniform", *REDUCTIONS, *LEGACY_VALUES}


def row_combination(axes, row):
    """The ``row``-th row's combination of the axes' values: over consecutive rows each
    axis runs through its values, and the pairings shift every ``longest`` rows."""
    longest = max((len(axis) for axis in axes), default=1)
    return tuple(
        axis[(row + (row // longest) * position) % len(axis)] for position, axis in enumerate(axes)
    )


def table(rows, *axes, default_rows=None):
    """``pytest.param(name, options, form, *axis values)`` for every row and form.

    The default tier runs the rows of ``default_rows`` (indices; all rows if None),
    with one combination of the axes' values for each (in the module form: for each
    loss's first default row, and every third), rotating over the rows so that every
    value of every axis appears in some default row of the table (every table has at
    least as many default rows as its longest axis has values). The rest of the
    product is marked slow (``pytest -m slow``).
    """
    params = []
    if default_rows is None:
        default_rows = range(len(rows))
    default_rows = sorted(default_rows)
    first_rows = {rows[row][0]: row for row in reversed(default_rows)}
    for row, (name, options) in enumerate(rows):
        # The rank among the default rows (past them for the others: all slow).
        rank = default_rows.index(row) if row in default_rows else None
        for form in forms_for(name, options):
            # The module form stores its options and calls the functional form: the
            # default tier runs it on each loss's first row and on every third row.
            module_default = rank is not None and (row == first_rows[name] or rank % 3 == 0)
            form_axes = [
                tuple(v for v in axis if form == "functional" or v in MODULE_AXIS_VALUES)
                for axis in axes
            ]
            default = None if rank is None else row_combination(form_axes, rank)
            for values in itertools.product(*axes):
                if form == "module" and not MODULE_AXIS_VALUES.issuperset(values):
                    continue
                ident = "-".join([name, options_id(options), form, *map(str, values)])
                in_default = values == default and (form == "functional" or module_default)
                marks = () if in_default else pytest.mark.slow
                params.append(pytest.param(name, options, form, *values, id=ident, marks=marks))
    return params


# --------------------------------------------------------------------------------------
# Regression.

ELEMENT_WEIGHT = uniform((4, 5), seed=10, low=0.0, high=2.0)
REGRESSION_ROWS = [
    ("mse_loss", {}),
    ("mse_loss", {"weight": ELEMENT_WEIGHT}),
    ("l1_loss", {}),
    ("l1_loss", {"weight": ELEMENT_WEIGHT}),
    ("huber_loss", {}),
    ("huber_loss", {"delta": 0.5}),
    ("huber_loss", {"delta": 2.0, "weight": ELEMENT_WEIGHT}),
    ("smooth_l1_loss", {}),
    ("smooth_l1_loss", {"beta": 0.5}),
    ("smooth_l1_loss", {"beta": 0.0}),
]


@pytest.mark.parametrize(
    ("name", "options", "form", "reduction", "kind"),
    table(REGRESSION_ROWS, REDUCTIONS, ("normal", "extreme")),
)
def test_regression_matches_torch(name, options, form, reduction, kind):
    ours, theirs = build(name, form, {**options, "reduction": reduction})
    assert_parity(ours, theirs, scores(kind, (4, 5), seed=1), normal((4, 5), seed=2))


# --------------------------------------------------------------------------------------
# Binary cross-entropies.

BCE_ROWS = [
    ("binary_cross_entropy", {}),
    ("binary_cross_entropy", {"weight": ELEMENT_WEIGHT}),
    ("binary_cross_entropy", {"weight": uniform((5,), seed=11, low=0.0, high=2.0)}),
]


def probabilities(kind, shape, seed):
    if kind == "uniform":
        return uniform(shape, seed, low=0.02, high=0.98)
    # 0 and 1 exactly (torch clamps the log at -100) and sigmoid(±30) in float32.
    ends = np.asarray([0.0, 1.0, 1 / (1 + np.exp(30.0)), 1 / (1 + np.exp(-30.0))], np.float32)
    return np.random.default_rng(seed).choice(ends, size=shape).astype(np.float32)


@pytest.mark.parametrize(
    ("name", "options", "form", "reduction", "kind"),
    table(BCE_ROWS, REDUCTIONS, ("uniform", "ends")),
)
def test_binary_cross_entropy_matches_torch(name, options, form, reduction, kind):
    ours, theirs = build(name, form, {**options, "reduction": reduction})
    assert_parity(ours, theirs, probabilities(kind, (4, 5), seed=3), uniform((4, 5), seed=4))


ROW_WEIGHT = uniform((5,), seed=12, low=0.0, high=2.0)
POS_WEIGHT = np.asarray([0.5, 1.0, 3.0, 0.0, 10.0], np.float32)
BCE_WITH_LOGITS_ROWS = [
    ("binary_cross_entropy_with_logits", {}),
    ("binary_cross_entropy_with_logits", {"weight": ROW_WEIGHT}),
    ("binary_cross_entropy_with_logits", {"pos_weight": POS_WEIGHT}),
    ("binary_cross_entropy_with_logits", {"weight": ROW_WEIGHT, "pos_weight": POS_WEIGHT}),
]


@pytest.mark.parametrize(
    ("name", "options", "form", "reduction", "kind"),
    table(BCE_WITH_LOGITS_ROWS, REDUCTIONS, ("normal", "extreme")),
)
def test_binary_cross_entropy_with_logits_matches_torch(name, options, form, reduction, kind):
    ours, theirs = build(name, form, {**options, "reduction": reduction})
    assert_parity(ours, theirs, scores(kind, (4, 5), seed=5), uniform((4, 5), seed=6))


# --------------------------------------------------------------------------------------
# Cross-entropy and NLL with class indices, torch's class axis 1.

INDEX_ROWS = [
    (name, {**weight, **ignore, **smoothing})
    for name in ("cross_entropy", "nll_loss")
    for weight in ({}, {"weight": CLASS_WEIGHT})
    for ignore in ({}, {"ignore_index": 1})
    for smoothing in ({}, {"label_smoothing": 0.2})
    if name == "cross_entropy" or not smoothing
]
# The default tier's rows: for cross_entropy every pair of weight, ignore_index and
# label_smoothing values (none; ignore_index and smoothing; weight and smoothing; weight
# and ignore_index), for nll_loss neither option and both.
DEFAULT_INDEX_ROWS = (0, 3, 5, 6, 8, 11)


@pytest.mark.parametrize(
    ("name", "options", "form", "shape", "reduction", "kind"),
    table(
        INDEX_ROWS, CLASS_SHAPES, REDUCTIONS, ("normal", "extreme"), default_rows=DEFAULT_INDEX_ROWS
    ),
)
def test_class_index_losses_match_torch(name, options, form, shape, reduction, kind):
    shape = CLASS_SHAPES[shape]
    logits = scores(kind, shape, seed=7)
    # nll_loss takes log-probabilities; the "extreme" rows feed it raw, unnormalised scores.
    if name == "nll_loss" and kind == "normal":
        logits = np.log(softmax(logits, class_axis(shape)))
    # Without ignore_index, some targets hold torch's default -100 and are ignored.
    ignore = options.get("ignore_index", -100)
    labels = labels_for(shape, seed=8, ignore=ignore)
    ours, theirs = build(name, form, {**options, "reduction": reduction})
    assert_parity(ours, theirs, logits, labels)


# --------------------------------------------------------------------------------------
# Cross-entropy with class-probability targets.

PROBABILITY_ROWS = [
    ("cross_entropy", {**weight, **smoothing})
    for weight in ({}, {"weight": CLASS_WEIGHT})
    for smoothing in ({}, {"label_smoothing": 0.3})
]


@pytest.mark.parametrize(
    ("name", "options", "form", "shape", "reduction", "kind"),
    table(PROBABILITY_ROWS, CLASS_SHAPES, REDUCTIONS, ("normal", "extreme")),
)
def test_probability_targets_match_torch(name, options, form, shape, reduction, kind):
    shape = CLASS_SHAPES[shape]
    targets = softmax(normal(shape, seed=9), class_axis(shape))
    ours, theirs = build(name, form, {**options, "reduction": reduction})
    assert_parity(ours, theirs, scores(kind, shape, seed=7), targets)


# --------------------------------------------------------------------------------------
# Legacy arguments, "elementwise_mean" and invalid reductions.


def sample(name):
    """A representative ``(input, target)`` for each loss."""
    if name == "binary_cross_entropy":
        return probabilities("uniform", (4, 5), seed=3), uniform((4, 5), seed=4)
    if name == "binary_cross_entropy_with_logits":
        return normal((4, 5), seed=5), uniform((4, 5), seed=6)
    if name in ("cross_entropy", "nll_loss"):
        shape = CLASS_SHAPES["batched"]
        return np.log(softmax(normal(shape, seed=7), 1)), labels_for(shape, seed=8)
    return normal((4, 5), seed=1), normal((4, 5), seed=2)


def recorded(action):
    """``action()``'s result and the ``(category, message)`` of each warning it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [(warning.category, str(warning.message)) for warning in caught]


def build_and_call(name, form, options, input, target, *, library):
    ours, theirs = build(name, form, options)
    if library == "ours":
        return ours(jnp.asarray(input), jnp.asarray(target))
    return theirs(torch.tensor(input), torch_array(np.asarray(target)))


def assert_same_warnings_and_values(name, form, options):
    """Same warnings (category and message) from building and calling; same values."""
    input, target = sample(name)
    our_value, our_warnings = recorded(
        lambda: build_and_call(name, form, options, input, target, library="ours")
    )
    their_value, their_warnings = recorded(
        lambda: build_and_call(name, form, options, input, target, library="torch")
    )
    assert our_warnings == their_warnings
    assert all(category is UserWarning for category, _ in their_warnings)
    np.testing.assert_allclose(our_value, their_value.numpy(), rtol=1e-6, atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # checked above
        ours, theirs = build(name, form, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert_parity(ours, theirs, input, target)


@pytest.mark.parametrize(
    ("name", "options", "form", "size_average", "reduce"),
    table([(name, {}) for name in LEGACY_LOSSES], LEGACY_VALUES, LEGACY_VALUES),
)
def test_legacy_arguments_match_torch(name, options, form, size_average, reduce):
    # "sum" is overridden whenever either legacy argument is given, as in torch.
    legacy = {"size_average": size_average, "reduce": reduce, "reduction": "sum"}
    assert_same_warnings_and_values(name, form, {**options, **legacy})


@pytest.mark.parametrize(
    ("size_average", "reduce"), list(itertools.product(LEGACY_VALUES, repeat=2))
)
def test_legacy_mapping_is_torchs(size_average, reduce):
    if size_average is None and reduce is None:
        assert torch_compat._legacy_or(None, None, "sum") == "sum"
        return
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = torch_compat._legacy_or(size_average, reduce, "sum")
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        theirs = torch.nn._reduction.legacy_get_string(size_average, reduce)
    assert ours == theirs


@pytest.mark.parametrize(("name", "options", "form"), table([(name, {}) for name in LOSSES]))
def test_elementwise_mean_warns_and_means_mean_as_in_torch(name, options, form):
    assert_same_warnings_and_values(name, form, {**options, "reduction": "elementwise_mean"})


@pytest.mark.parametrize("name", WEIGHT_ONLY_IN_FUNCTIONAL)
def test_elementwise_mean_with_weight_raises_as_in_torch(name):
    # torch's Python-side weighted path never calls get_enum, so it rejects the alias.
    input, target = sample(name)
    options = {"weight": ELEMENT_WEIGHT, "reduction": "elementwise_mean"}
    ours, theirs = build(name, "functional", options)
    with pytest.raises(ValueError):
        theirs(torch.tensor(input), torch.tensor(target))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        ours(jnp.asarray(input), jnp.asarray(target))


@pytest.mark.parametrize(("name", "options", "form"), table([(name, {}) for name in LOSSES]))
def test_invalid_reduction_raises_value_error_as_in_torch(name, options, form):
    input, target = sample(name)
    # Both build a module with a bad reduction and raise when it is called.
    ours, theirs = build(name, form, {**options, "reduction": "average"})
    with pytest.raises(ValueError):
        theirs(torch.tensor(input), torch_array(np.asarray(target)))
    with pytest.raises(ValueError, match="average is not a valid value for reduction"):
        ours(jnp.asarray(input), jnp.asarray(target))


# --------------------------------------------------------------------------------------
# Documented differences from torch, each checked against torch itself.


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss"])
def test_mismatched_shapes_raise_where_torch_warns_and_broadcasts(name):
    input, target = normal((3, 1), seed=1), normal((3,), seed=2)
    ours, theirs = build(name, "functional", {})
    with pytest.warns(UserWarning, match="different to the input size"):
        assert theirs(torch.tensor(input), torch.tensor(target)).shape == ()  # over (3, 3)
    with pytest.raises(ValueError, match="must have the same shape"):
        ours(jnp.asarray(input), jnp.asarray(target))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_mean_over_only_ignored_targets_is_zero_where_torch_gives_nan(name):
    logits, labels = normal((3, 4), seed=1), np.full((3,), -100, np.int32)
    ours, theirs = build(name, "functional", {"weight": np.ones(4, np.float32)})
    assert np.isnan(theirs(torch.tensor(logits), torch_array(labels)).item())
    assert float(ours(jnp.asarray(logits), jnp.asarray(labels))) == 0.0
    gradient = jax.grad(lambda x: ours(x, jnp.asarray(labels)))(jnp.asarray(logits))
    assert not np.any(gradient)


def test_mean_over_an_empty_input_is_zero_where_torch_gives_nan():
    empty = np.zeros((0,), np.float32)
    assert np.isnan(functional.mse_loss(torch.tensor(empty), torch.tensor(empty)).item())
    assert float(torch_compat.mse_loss(jnp.asarray(empty), jnp.asarray(empty))) == 0.0


def test_out_of_range_class_index_is_nan_where_torch_raises():
    logits, labels = normal((2, 3), seed=1), np.asarray([0, 3], np.int32)
    with pytest.raises(IndexError):
        functional.cross_entropy(torch.tensor(logits), torch_array(labels))
    value = torch_compat.cross_entropy(jnp.asarray(logits), jnp.asarray(labels), reduction="none")
    assert np.isfinite(value[0]) and np.isnan(value[1])


def test_ignore_index_with_probability_targets_raises_as_torch_does():
    logits, targets = normal((2, 3), seed=1), softmax(normal((2, 3), seed=2), 1)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        functional.cross_entropy(torch.tensor(logits), torch.tensor(targets), ignore_index=0)
    with pytest.raises(ValueError, match="ignore_index is not supported"):
        torch_compat.cross_entropy(jnp.asarray(logits), jnp.asarray(targets), ignore_index=0)


def test_nll_loss_is_a_gather_not_a_second_log_softmax():
    # On log-probabilities the values agree, but torch's gradient is -onehot(y) (not
    # softmax(x) - onehot(y)), which only a gather reproduces.
    log_probabilities = jnp.log(jax.nn.softmax(jnp.asarray(normal((4, 3), seed=1))))
    labels = jnp.asarray([0, 2, 1, 1], jnp.int32)
    gradient = jax.grad(lambda x: torch_compat.nll_loss(x, labels, reduction="sum"))(
        log_probabilities
    )
    np.testing.assert_array_equal(gradient, -jax.nn.one_hot(labels, 3))


def test_modules_store_their_arguments():
    loss = torch_compat.CrossEntropyLoss(ignore_index=3, label_smoothing=0.1)
    assert (loss.ignore_index, loss.label_smoothing, loss.reduction) == (3, 0.1, "mean")
    assert repr(loss).startswith("CrossEntropyLoss(reduction='mean'")


def test_adapters_trace_under_jit():
    # Every translation is static (shapes, Python options), so the adapters jit whole.
    logits = jnp.asarray(normal((6, 5), seed=1))
    labels = jnp.asarray(labels_for((6, 5), seed=2, ignore=-100))
    loss = torch_compat.CrossEntropyLoss(weight=jnp.asarray(CLASS_WEIGHT), label_smoothing=0.2)
    np.testing.assert_allclose(jax.jit(loss)(logits, labels), loss(logits, labels), rtol=1e-6)
    nll = jax.jit(torch_compat.nll_loss, static_argnames="reduction")
    np.testing.assert_allclose(
        nll(logits, labels, reduction="sum"), torch_compat.nll_loss(logits, labels, reduction="sum")
    )


# --------------------------------------------------------------------------------------
# A traced label_smoothing (issue 11, item 8).

SMOOTHING_SWEEP = np.asarray([0.0, 0.1, 0.4], np.float32)


def smoothing_inputs(kind):
    shape = CLASS_SHAPES["batched"]
    logits = normal(shape, seed=7)
    if kind == "indices":
        return logits, labels_for(shape, seed=8, ignore=-100)
    return logits, softmax(normal(shape, seed=9), 1)


@pytest.mark.parametrize(
    ("kind", "weight", "reduction"),
    [
        pytest.param(
            kind,
            weight,
            reduction,
            id=f"{kind}-{weight_id}-{reduction}",
            # The default tier: every kind, weighting and reduction once.
            marks=()
            if (kind, weight_id, reduction)
            in {("indices", "weighted", "mean"), ("probabilities", "unweighted", "none")}
            else pytest.mark.slow,
        )
        for kind in ("indices", "probabilities")
        for weight_id, weight in (("unweighted", None), ("weighted", CLASS_WEIGHT))
        for reduction in ("mean", "none")
    ],
)
def test_traced_label_smoothing_matches_torch_and_the_concrete_path(kind, weight, reduction):
    logits, target = smoothing_inputs(kind)
    our_weight = None if weight is None else jnp.asarray(weight)

    def ours(smoothing):
        return torch_compat.cross_entropy(
            jnp.asarray(logits),
            jnp.asarray(target),
            weight=our_weight,
            reduction=reduction,
            label_smoothing=smoothing,
        )

    swept = jax.vmap(ours)(jnp.asarray(SMOOTHING_SWEEP))
    jitted = jax.jit(ours)
    for index, smoothing in enumerate(SMOOTHING_SWEEP.tolist()):
        theirs = functional.cross_entropy(
            torch.tensor(logits),
            torch_array(target),
            weight=None if weight is None else torch.tensor(weight),
            reduction=reduction,
            label_smoothing=smoothing,
        ).numpy()
        concrete = ours(smoothing)  # a Python float: the concrete path
        np.testing.assert_allclose(swept[index], theirs, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(swept[index], concrete, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(jitted(jnp.float32(smoothing)), concrete, rtol=1e-6, atol=1e-7)


def test_gradient_under_a_traced_label_smoothing_matches_torch():
    logits, labels = smoothing_inputs("indices")

    def ours(x, smoothing):
        return torch_compat.cross_entropy(
            x, jnp.asarray(labels), weight=jnp.asarray(CLASS_WEIGHT), label_smoothing=smoothing
        )

    gradients = jax.vmap(jax.grad(ours), in_axes=(None, 0))(
        jnp.asarray(logits), jnp.asarray(SMOOTHING_SWEEP)
    )
    for index, smoothing in enumerate(SMOOTHING_SWEEP.tolist()):
        their_input = torch.tensor(logits, requires_grad=True)
        functional.cross_entropy(
            their_input,
            torch_array(labels),
            weight=torch.tensor(CLASS_WEIGHT),
            label_smoothing=smoothing,
        ).backward()
        np.testing.assert_allclose(gradients[index], their_input.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_label_smoothing_must_be_a_scalar():
    logits, labels = smoothing_inputs("indices")
    with pytest.raises(
        ValueError, match=re.escape("label_smoothing must be a scalar, got shape (2,)")
    ):
        torch_compat.cross_entropy(
            jnp.asarray(logits), jnp.asarray(labels), label_smoothing=jnp.asarray([0.1, 0.2])
        )


# --------------------------------------------------------------------------------------
# Errors in torch's names, with the shapes as passed (issue 11, item 8). torch raises
# on every one of these inputs too (its own types and words); the native names must
# not appear, nor the native class-last layout.

# "probabilities" is binary_cross_entropy's native first argument; "class
# probabilities" is what a target of input's shape holds, torch's own phrase.
NATIVE_NAMES = re.compile(
    r"\b(logits|labels|class_weights|predictions|(?<!class )probabilities|targets|weights)\b"
)
FOUR_BY_THREE = normal((4, 3), seed=1)
SPATIAL = normal((2, 3, 4), seed=2)  # class axis 1; the native layout would be (2, 4, 3)
INDICES = np.asarray([0, 1, 2, 1], np.int32)
SPATIAL_INDICES = np.zeros((2, 4), np.int32)

ERROR_CASES = {
    "class indices of the wrong length": (
        "cross_entropy",
        FOUR_BY_THREE,
        INDICES[:2],
        {},
        ValueError,
        "target must have shape (4,) (class indices: input.shape=(4, 3) without its class "
        "axis 1) or (4, 3) (class probabilities), got (2,)",
    ),
    "spatial class indices of the wrong shape": (
        "cross_entropy",
        SPATIAL,
        np.zeros((2, 3), np.int32),
        {},
        ValueError,
        "target must have shape (2, 4) (class indices: input.shape=(2, 3, 4) without its "
        "class axis 1) or (2, 3, 4) (class probabilities), got (2, 3)",
    ),
    "nll_loss spatial class indices of the wrong shape": (
        "nll_loss",
        SPATIAL,
        np.zeros((2, 3), np.int32),
        {},
        ValueError,
        "target must have shape (2, 4) (class indices: input.shape=(2, 3, 4) without its "
        "class axis 1), got (2, 3)",
    ),
    "a float target of neither shape": (
        "cross_entropy",
        FOUR_BY_THREE,
        uniform((4, 2), seed=3),
        {},
        ValueError,
        "target must have shape (4,) (class indices: input.shape=(4, 3) without its class "
        "axis 1) or (4, 3) (class probabilities), got (4, 2)",
    ),
    "float class indices": (
        "nll_loss",
        FOUR_BY_THREE,
        INDICES.astype(np.float32),
        {},
        TypeError,
        "target must have an integer dtype (class indices), got float32",
    ),
    "a weight of the wrong length": (
        "cross_entropy",
        FOUR_BY_THREE,
        INDICES,
        {"weight": np.ones(4, np.float32)},
        ValueError,
        "weight must have shape (3,) (one weight per class of input.shape=(4, 3), class "
        "axis 1), got (4,)",
    ),
    "a weight of the wrong length, smoothed": (
        "cross_entropy",
        SPATIAL,
        SPATIAL_INDICES,
        {"weight": np.ones(4, np.float32), "label_smoothing": 0.1},
        ValueError,
        "weight must have shape (3,) (one weight per class of input.shape=(2, 3, 4), class "
        "axis 1), got (4,)",
    ),
    "a weight of the wrong length for probabilities": (
        "cross_entropy",
        FOUR_BY_THREE,
        softmax(FOUR_BY_THREE, 1),
        {"weight": np.ones(4, np.float32)},
        ValueError,
        "weight must have shape (3,) (one weight per class of input.shape=(4, 3), class "
        "axis 1), got (4,)",
    ),
    "nll_loss weight of the wrong length": (
        "nll_loss",
        SPATIAL,
        SPATIAL_INDICES,
        {"weight": np.ones(4, np.float32)},
        ValueError,
        "weight must have shape (3,) (one weight per class of input.shape=(2, 3, 4), class "
        "axis 1), got (4,)",
    ),
    "non-float cross_entropy input": (
        "cross_entropy",
        np.ones((4, 3), np.int32),
        INDICES,
        {},
        TypeError,
        "input must have a floating dtype, got int32",
    ),
    "non-float nll_loss input": (
        "nll_loss",
        np.ones((4, 3), np.int32),
        INDICES,
        {},
        TypeError,
        "input must have a floating dtype, got int32",
    ),
    "non-float mse_loss input": (
        "mse_loss",
        np.ones((4, 3), np.int32),
        np.ones((4, 3), np.int32),
        {},
        TypeError,
        "input must have a floating dtype, got int32",
    ),
    "mse_loss target of another shape": (
        "mse_loss",
        FOUR_BY_THREE,
        FOUR_BY_THREE[:2],
        {},
        ValueError,
        "input and target must have the same shape, got input.shape=(4, 3) and target.shape=(2, 3)",
    ),
    "binary_cross_entropy weight that does not broadcast": (
        "binary_cross_entropy",
        uniform((4, 3), seed=4),
        uniform((4, 3), seed=5),
        {"weight": np.ones(5, np.float32)},
        ValueError,
        "weight of shape (5,) does not broadcast to input of shape (4, 3)",
    ),
    "pos_weight that does not broadcast": (
        "binary_cross_entropy_with_logits",
        FOUR_BY_THREE,
        uniform((4, 3), seed=5),
        {"pos_weight": np.ones(5, np.float32)},
        ValueError,
        "pos_weight of shape (5,) does not broadcast to input of shape (4, 3)",
    ),
}


def call_both(name, input, target, options):
    """Our call and torch's, each as a thunk, with the same arguments."""
    ours, _, theirs, _ = LOSSES[name]
    our_options = {key: jax_array(value) for key, value in options.items()}
    their_options = {key: torch_array(value) for key, value in options.items()}
    their_input = torch.tensor(input) if input.dtype == np.float32 else torch_array(input)
    return (
        lambda: ours(jnp.asarray(input), jnp.asarray(target), **our_options),
        lambda: theirs(their_input, torch_array(target), **their_options),
    )


@pytest.mark.parametrize(
    ("name", "input", "target", "options", "error", "message"),
    list(ERROR_CASES.values()),
    ids=list(ERROR_CASES),
)
def test_errors_name_torchs_arguments_and_the_shapes_passed(
    name, input, target, options, error, message
):
    ours, theirs = call_both(name, input, target, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # mse_loss warns before it raises
        with pytest.raises((RuntimeError, ValueError, NotImplementedError)):
            theirs()
    with pytest.raises(error) as raised:
        ours()
    assert str(raised.value) == message
    assert not NATIVE_NAMES.search(str(raised.value))


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [((4, 3), np.int32), ((4, 3), np.uint8), ((3,), np.int32), ((4, 3), np.bool_)],
    ids=["int32", "uint8", "unbatched", "bool"],
)
def test_integer_targets_of_the_inputs_shape_are_refused_with_torchs_message(shape, dtype):
    # torch reads a target of input's shape as class probabilities and refuses an
    # integer one ("Expected floating point type for target with class probabilities,
    # got Long"). Ours says the same, with jax's dtype name; TypeError, the house rule
    # for a dtype (non-float input, float class indices), where torch raises RuntimeError.
    logits = normal(shape, seed=1)
    target = np.ones(shape, dtype)
    their_target = torch.tensor(target)
    with pytest.raises(RuntimeError) as theirs:
        functional.cross_entropy(torch.tensor(logits), their_target)
    with pytest.raises(TypeError) as ours:
        torch_compat.cross_entropy(jnp.asarray(logits), jnp.asarray(target))
    their_words, their_dtype = str(theirs.value).rsplit(" got ", 1)
    our_words, our_dtype = str(ours.value).rsplit(" got ", 1)
    assert our_words == their_words
    # The same dtype, in each library's spelling.
    torch_spelling = {"int32": "Int", "uint8": "Byte", "bool": "Bool"}[np.dtype(dtype).name]
    assert (their_dtype, our_dtype) == (torch_spelling, np.dtype(dtype).name)
    # The module form says the same.
    with pytest.raises(TypeError, match="for target with class probabilities"):
        torch_compat.CrossEntropyLoss()(jnp.asarray(logits), jnp.asarray(target))


# --------------------------------------------------------------------------------------
# "mean" when the kept targets' weights sum to 0 (issue 11, item 8).

ZERO_WEIGHT_LABELS = np.asarray([0, 0, 1, -100], np.int32)  # kept labels 0, 0, 1
ZERO_WEIGHT = np.asarray([0.0, 0.0, 1.5], np.float32)  # both kept classes weigh 0


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("cross_entropy", {}),
        ("cross_entropy", {"label_smoothing": 0.2}),
        ("nll_loss", {}),
    ],
    ids=["cross_entropy", "cross_entropy-smoothed", "nll_loss"],
)
def test_mean_over_zero_weight_targets_is_zero_where_torch_gives_nan(name, options):
    logits = normal((4, 3), seed=1)
    ours, theirs = build(name, "functional", {**options, "weight": ZERO_WEIGHT})
    assert np.isnan(theirs(torch.tensor(logits), torch_array(ZERO_WEIGHT_LABELS)).item())
    labels = jnp.asarray(ZERO_WEIGHT_LABELS)
    # With smoothing the numerator is not 0 (the smoothing term reaches class 2, whose
    # weight is not 0): the 0 is the rule "a mean over zero total weight is 0".
    value, gradient = jax.value_and_grad(lambda x: ours(x, labels))(jnp.asarray(logits))
    assert float(value) == 0.0
    assert not np.any(gradient)
    if options:  # the same under a traced smoothing
        swept = jax.vmap(
            lambda smoothing: torch_compat.cross_entropy(
                jnp.asarray(logits), labels, jnp.asarray(ZERO_WEIGHT), label_smoothing=smoothing
            )
        )(jnp.asarray(SMOOTHING_SWEEP))
        assert not np.any(swept)
    # "sum" has no denominator and agrees with torch.
    ours_sum, theirs_sum = build(
        name, "functional", {**options, "weight": ZERO_WEIGHT, "reduction": "sum"}
    )
    assert_parity(ours_sum, theirs_sum, logits, ZERO_WEIGHT_LABELS)


# --------------------------------------------------------------------------------------
# Hyper-parameters range-checked under torch's names when concrete (issue 11, item 7).

RANGE_CASES = {
    "huber_loss delta": (
        "huber_loss",
        {"delta": 0.0},
        "delta must lie in (0.0, inf), got 0.0",
        "non-positive values for delta",
    ),
    "smooth_l1_loss beta": (
        "smooth_l1_loss",
        {"beta": -0.5},
        "beta must lie in [0.0, inf), got -0.5",
        "negative values for beta",
    ),
    "label_smoothing above 1": (
        "cross_entropy",
        {"label_smoothing": 1.5},
        "label_smoothing must lie in [0.0, 1.0], got 1.5",
        "label_smoothing must be between 0.0 and 1.0",
    ),
    "label_smoothing below 0": (
        "cross_entropy",
        {"label_smoothing": -0.1},
        "label_smoothing must lie in [0.0, 1.0], got -0.1",
        None,
    ),
    "pos_weight": (
        "binary_cross_entropy_with_logits",
        {"pos_weight": np.asarray([1.0, -2.0, 0.5], np.float32)},
        "pos_weight must lie in [0.0, inf); got pos_weight[1] = -2.0",
        None,
    ),
    "cross_entropy weight": (
        "cross_entropy",
        {"weight": np.asarray([1.0, np.nan, 0.5], np.float32)},
        "weight must lie in [0.0, inf); got weight[1] = nan",
        None,
    ),
    "nll_loss weight": (
        "nll_loss",
        {"weight": np.asarray([1.0, 1.0, -0.5], np.float32)},
        "weight must lie in [0.0, inf); got weight[2] = -0.5",
        None,
    ),
    "binary_cross_entropy weight": (
        "binary_cross_entropy",
        {"weight": np.asarray([1.0, -1.0, 0.5], np.float32)},
        "weight must lie in [0.0, inf); got weight[1] = -1.0",
        None,
    ),
    "mse_loss weight": (
        "mse_loss",
        {"weight": -np.ones((4, 3), np.float32)},
        "weight must lie in [0.0, inf); got weight[0, 0] = -1.0",
        None,
    ),
}


def range_inputs(name):
    if name in ("cross_entropy", "nll_loss"):
        return FOUR_BY_THREE, INDICES
    if name == "binary_cross_entropy":
        return uniform((4, 3), seed=4), uniform((4, 3), seed=5)
    return FOUR_BY_THREE, uniform((4, 3), seed=5)


@pytest.mark.parametrize(
    ("name", "options", "message", "torch_message"),
    list(RANGE_CASES.values()),
    ids=list(RANGE_CASES),
)
def test_concrete_hyper_parameters_are_range_checked_under_torchs_names(
    name, options, message, torch_message
):
    input, target = range_inputs(name)
    ours, theirs = call_both(name, input, target, options)
    if torch_message is None:  # torch accepts the value; jaxloss refuses it, as documented
        theirs()
    else:
        with pytest.raises(RuntimeError, match=torch_message):
            theirs()
    with pytest.raises(ValueError) as raised:
        ours()
    assert str(raised.value) == message
    assert not NATIVE_NAMES.search(str(raised.value))


def test_module_forms_check_hyper_parameters_when_called():
    with pytest.raises(ValueError, match=re.escape("delta must lie in (0.0, inf), got -1.0")):
        torch_compat.HuberLoss(delta=-1.0)(jnp.zeros(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=re.escape("label_smoothing must lie in [0.0, 1.0]")):
        torch_compat.CrossEntropyLoss(label_smoothing=2.0)(
            jnp.asarray(FOUR_BY_THREE), jnp.asarray(INDICES)
        )


def test_traced_hyper_parameters_are_not_checked_but_checked_catches_them():
    # As the docstrings say: under jit the value cannot be inspected, so an invalid
    # delta goes through; jaxloss.checked on the native loss raises at run time.
    input, target = jnp.asarray(FOUR_BY_THREE), jnp.asarray(uniform((4, 3), seed=5))
    traced = jax.jit(lambda delta: torch_compat.huber_loss(input, target, delta=delta))
    assert traced(jnp.float32(-1.0)).shape == ()
    with pytest.raises(checkify.JaxRuntimeError, match="delta"):
        jaxloss.checked(jaxloss.huber)(input, target, delta=jnp.float32(-1.0))
