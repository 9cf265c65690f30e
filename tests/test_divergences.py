"""The divergences and likelihood losses against optax and torch 2.13.

* Native KL divergences: values and gradients (in both inputs) equal optax's on random
  log-softmax rows and on optax's own edge cases, in float64; where optax gives NaN (a
  zero target against a ``-inf`` log-prediction) the test says what jaxloss gives.
* torch adapters (``kl_div``/``KLDivLoss``, ``poisson_nll_loss``/``PoissonNLLLoss``,
  ``gaussian_nll_loss``/``GaussianNLLLoss``): every expected number comes from the torch
  callable of the same name run on the same float64 inputs in the same test; values
  and gradients of the summed output (in ``input``, ``target`` and ``var``) agree to
  rtol 1e-10. Every reduction, the legacy switches, ``log_target``, ``log_input``,
  ``full``, ``eps``, torch's ``var`` shapes, and the documented differences.

Each parity case is one loss call compared with its reference; the counts are in the
module's ``PARITY_CASES`` comments. The default tier runs every option value of each
adapter (a covering subset of the products of options, and of the legacy switches);
the tests marked slow (``pytest -m slow``) run the full products.
"""

from __future__ import annotations

import itertools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxloss
from jaxloss import torch_compat
from tests.sweeps import traceable_value_and_gradients

torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")
functional = torch.nn.functional

SHAPE = (4, 5)
RTOL = 1e-10
ATOL = 1e-12


def log_softmax_rows(shape, seed):
    scores = np.random.default_rng(seed).standard_normal(shape) * 2.0
    shifted = scores - scores.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def probability_rows(shape, seed, zeros=False):
    rows = np.exp(log_softmax_rows(shape, seed))
    if zeros:
        # Two zero targets in each row, renormalised: torch's and optax's edge case.
        rows[..., 1] = 0.0
        rows[..., 3] = 0.0
        rows /= rows.sum(axis=-1, keepdims=True)
    return rows


def value_and_gradients(loss, *inputs):
    """jaxloss's value and the gradients of its sum in every input, in float64."""
    arrays = tuple(jnp.asarray(array, jnp.float64) for array in inputs)
    value, gradients = traceable_value_and_gradients(loss, *arrays)
    return np.asarray(value), [np.asarray(gradient) for gradient in gradients]


def torch_value_and_gradients(loss, *inputs, differentiable=None):
    tensors = [
        torch.tensor(
            np.asarray(array, np.float64),
            requires_grad=differentiable is None or i in differentiable,
        )
        for i, array in enumerate(inputs)
    ]
    value = loss(*tensors)
    value.sum().backward()
    return value.detach().numpy(), [
        tensor.grad.numpy() if tensor.grad is not None else None for tensor in tensors
    ]


def assert_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def assert_parity(ours, theirs, *inputs, differentiable=None, torch_nan_at_zero_target=False):
    """One parity case: value and gradients in each input of ``differentiable``.

    With ``torch_nan_at_zero_target``, torch's target gradient is NaN where the target
    is 0 (``0 * log 0`` in its backward pass); jaxloss's is finite there, and equal
    elsewhere.
    """
    with jax.enable_x64(True), warnings.catch_warnings():
        # torch's and the adapters' deprecation warnings are tested on their own below.
        warnings.simplefilter("ignore")
        our_value, our_gradients = value_and_gradients(ours, *inputs)
        their_value, their_gradients = torch_value_and_gradients(
            theirs, *inputs, differentiable=differentiable
        )
    assert our_value.shape == their_value.shape
    assert_close(our_value, their_value)
    for index, (our_gradient, their_gradient) in enumerate(
        zip(our_gradients, their_gradients, strict=True)
    ):
        if differentiable is not None and index not in differentiable:
            continue
        if torch_nan_at_zero_target and index == 1:
            zero = np.asarray(inputs[1]) == 0
            assert np.all(np.isnan(their_gradient[zero]))
            assert np.all(np.isfinite(our_gradient))
            our_gradient, their_gradient = our_gradient[~zero], their_gradient[~zero]
        assert_close(our_gradient, their_gradient)


# --------------------------------------------------------------------------------------
# Native KL divergences against optax (float64).

KL_FUNCTIONS = {
    "kl_divergence": (jaxloss.kl_divergence, optax.losses.kl_divergence),
    "kl_divergence_with_log_targets": (
        jaxloss.kl_divergence_with_log_targets,
        optax.losses.kl_divergence_with_log_targets,
    ),
    "generalized_kl_divergence": (
        jaxloss.generalized_kl_divergence,
        optax.losses.generalized_kl_divergence,
    ),
    "convex_kl_divergence": (
        jaxloss.convex_kl_divergence,
        optax.losses.generalized_kl_divergence,  # optax's convex_kl_divergence warns, then calls it
    ),
}


def kl_inputs(name, seed, zeros=False):
    log_predictions = log_softmax_rows(SHAPE, seed)
    targets = probability_rows(SHAPE, seed + 1, zeros=zeros)
    if name == "kl_divergence_with_log_targets":
        targets = np.log(targets)
    elif name in ("generalized_kl_divergence", "convex_kl_divergence"):
        # Unnormalised measures on both sides.
        log_predictions = log_predictions + 0.7
        targets = targets * 1.9
    return log_predictions, targets


# PARITY_CASES kl native vs optax: 4 losses x (2 random seeds + zero targets) x 2 layouts.
@pytest.mark.parametrize("name", list(KL_FUNCTIONS))
def test_kl_divergences_equal_optax_values_and_gradients(name):
    ours, theirs = KL_FUNCTIONS[name]
    with jax.enable_x64(True):
        for seed, zeros in ((0, False), (10, False), (20, True)):
            if zeros and name == "kl_divergence_with_log_targets":
                continue  # log 0 = -inf, where optax gives NaN: tested below
            log_predictions, targets = kl_inputs(name, seed, zeros)
            for axis in (-1, 0):
                # Both sides in one compiled program (optax's losses are not jitted:
                # eagerly, each of their operations would compile on its own).
                (our_value, our_gradients), (their_value, their_gradients) = jax.jit(
                    lambda q, t, axis=axis: (
                        traceable_value_and_gradients(
                            lambda q, t: ours(q, t, axis=axis, reduction="none"), q, t
                        ),
                        traceable_value_and_gradients(lambda q, t: theirs(q, t, axis=axis), q, t),
                    )
                )(jnp.asarray(log_predictions), jnp.asarray(targets))
                assert_close(our_value, their_value)
                assert_close(our_gradients[0], their_gradients[0])
                if not zeros:
                    # At t = 0 optax's reverse mode gives NaN for d/dt (0 * d log t); see below.
                    assert_close(our_gradients[1], their_gradients[1])


def test_kl_zero_targets_add_exactly_zero_where_optax_and_torch_give_nan():
    with jax.enable_x64(True):
        log_predictions = jnp.asarray([[-jnp.inf, -0.1, -3.0], [-2.0, -jnp.inf, -0.2]])
        targets = jnp.asarray([[0.0, 0.6, 0.4], [0.3, 0.0, 0.7]])
        # optax: 0 * (0 - (-inf)) = NaN for the whole example.
        assert np.all(np.isnan(optax.losses.kl_divergence(log_predictions, targets)))
        expected = np.sum(
            np.where(
                targets > 0,
                targets
                * (
                    np.log(np.where(targets > 0, targets, 1))
                    - np.where(targets > 0, log_predictions, 0)
                ),
                0,
            ),
            axis=-1,
        )
        ours = jaxloss.kl_divergence(log_predictions, targets, reduction="none")
        assert_close(ours, expected)
        gradient = jax.grad(lambda q: jnp.sum(jaxloss.kl_divergence(q, targets, reduction="sum")))(
            log_predictions
        )
        assert_close(gradient, -targets)  # exactly 0 at the zero targets
        with_log_targets = jaxloss.kl_divergence_with_log_targets(
            log_predictions, jnp.log(targets), reduction="none"
        )
        assert_close(with_log_targets, expected)
        # The target's gradient at t = 0 is -q, optax's forward-mode value (the t log t
        # term's -inf is left out); optax's reverse mode gives NaN there.
        log_q = jnp.asarray([[-0.5, -1.0]])
        zero_target = jnp.asarray([[0.0, 0.5]])
        d_targets = jax.grad(lambda t: jaxloss.kl_divergence(log_q, t, reduction="sum"))(
            zero_target
        )
        assert_close(d_targets, [[0.5, math.log(0.5) + 1 + 1.0]])
        _, optax_forward = jax.jvp(
            lambda t: optax.losses.kl_divergence(log_q, t)[0],
            (zero_target,),
            (jnp.asarray([[1.0, 0.0]]),),
        )
        assert_close(optax_forward, 0.5)


def test_kl_where_masks_examples_and_weights_scale_them():
    # optax's `where` masks classes; jaxloss's masks examples, like every jaxloss loss.
    with jax.enable_x64(True):
        log_predictions, targets = kl_inputs("kl_divergence", 3)
        keep = jnp.asarray([True, False, True, True])
        weights = jnp.asarray([1.0, 2.0, 0.5, 3.0])
        per_example = optax.losses.kl_divergence(log_predictions, targets)
        masked = jaxloss.kl_divergence(log_predictions, targets, where=keep)
        assert_close(masked, np.mean(np.asarray(per_example)[np.asarray(keep)]))
        weighted = jaxloss.kl_divergence(log_predictions, targets, weights=weights, reduction="sum")
        assert_close(weighted, np.sum(np.asarray(per_example) * np.asarray(weights)))


# --------------------------------------------------------------------------------------
# kl_div / KLDivLoss against torch.

KL_REDUCTIONS = ("none", "sum", "mean", "batchmean")
LEGACY_PAIRS = [
    pair for pair in itertools.product((None, True, False), repeat=2) if pair != (None, None)
]
# The default tier's legacy pairs: every value of size_average and of reduce once. The
# tests marked slow run all of LEGACY_PAIRS.
DEFAULT_LEGACY_PAIRS = [(None, False), (True, True), (False, None)]


def covering(axes, shift=0):
    """Combinations of the axes' values in which every value of every axis appears (as
    many as the longest axis has values); ``shift`` rotates the pairings."""
    count = max(len(axis) for axis in axes)
    return [
        tuple(
            axis[(index + shift * (1 + position)) % len(axis)] for position, axis in enumerate(axes)
        )
        for index in range(count)
    ]


def kl_div_inputs(log_target, seed=0):
    log_predictions = log_softmax_rows(SHAPE, seed)
    targets = probability_rows(SHAPE, seed + 1)
    return log_predictions, (np.log(targets) if log_target else targets)


# PARITY_CASES kl_div: 2 log_target x 4 reductions x 2 forms = 16.
@pytest.mark.parametrize("log_target", (False, True))
def test_kl_div_equals_torch_for_every_reduction_and_form(log_target):
    input, target = kl_div_inputs(log_target)
    for reduction in KL_REDUCTIONS:
        assert_parity(
            lambda x, t, r=reduction: torch_compat.kl_div(x, t, reduction=r, log_target=log_target),
            lambda x, t, r=reduction: functional.kl_div(x, t, reduction=r, log_target=log_target),
            input,
            target,
        )
        assert_parity(
            torch_compat.KLDivLoss(reduction=reduction, log_target=log_target),
            torch.nn.KLDivLoss(reduction=reduction, log_target=log_target),
            input,
            target,
        )


# PARITY_CASES kl_div legacy: 8 pairs x 2 reductions (functional) + 8 (class) = 24 in the
# slow tier; the default tier runs 3 of the pairs (DEFAULT_LEGACY_PAIRS): 9.
def check_kl_div_legacy_switches(pairs):
    input, target = kl_div_inputs(False, seed=5)
    for size_average, reduce in pairs:
        for reduction in ("mean", "batchmean"):
            # torch resolves the legacy pair, then still divides by the batch size when
            # reduction="batchmean" was passed beside it.
            assert_parity(
                lambda x, t, r=reduction, s=size_average, d=reduce: torch_compat.kl_div(
                    x, t, size_average=s, reduce=d, reduction=r
                ),
                lambda x, t, r=reduction, s=size_average, d=reduce: functional.kl_div(
                    x, t, size_average=s, reduce=d, reduction=r
                ),
                input,
                target,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, theirs = (
                torch_compat.KLDivLoss(size_average, reduce),
                torch.nn.KLDivLoss(size_average, reduce),
            )
        assert ours.reduction == theirs.reduction
        assert_parity(ours, theirs, input, target)


def test_kl_div_legacy_switches_equal_torch_batchmean_quirk_included():
    check_kl_div_legacy_switches(DEFAULT_LEGACY_PAIRS)


@pytest.mark.slow
def test_kl_div_legacy_switches_equal_torch_for_every_pair():
    check_kl_div_legacy_switches(LEGACY_PAIRS)


def test_kl_div_warnings_are_torchs():
    input, target = (jnp.asarray(array, jnp.float32) for array in kl_div_inputs(False))
    mean_message = "reduction: 'mean' divides the total loss by both the batch size"
    for call in (
        lambda: torch_compat.kl_div(input, target),
        lambda: torch_compat.KLDivLoss()(input, target),
    ):
        with pytest.warns(UserWarning, match=mean_message) as record:
            call()
        assert len(record) == 1
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        functional.kl_div(torch.tensor(np.asarray(input)), torch.tensor(np.asarray(target)))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        torch_compat.kl_div(input, target)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert [w.category for w in ours] == [w.category for w in theirs] == [UserWarning]
    # No 'mean' warning for the other reductions or with legacy arguments (torch's rule).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for reduction in ("sum", "none", "batchmean"):
            torch_compat.kl_div(input, target, reduction=reduction)
    with pytest.warns(
        UserWarning, match="size_average and reduce args will be deprecated"
    ) as record:
        torch_compat.kl_div(input, target, size_average=True)
    assert len(record) == 1
    with pytest.warns(UserWarning, match="elementwise_mean"):
        torch_compat.kl_div(input, target, reduction="elementwise_mean")
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        torch_compat.kl_div(input, target, reduction="bogus")


# PARITY_CASES kl_div shapes: scalar x 3 reductions + 1-D x 4 = 7.
def test_kl_div_scalar_and_one_dimensional_inputs_equal_torch():
    scalar_input, scalar_target = np.asarray(-0.7), np.asarray(0.4)
    for reduction in ("none", "sum", "batchmean"):
        assert_parity(
            lambda x, t, r=reduction: torch_compat.kl_div(x, t, reduction=r),
            lambda x, t, r=reduction: functional.kl_div(x, t, reduction=r),
            scalar_input,
            scalar_target,
        )
    input, target = log_softmax_rows((6,), 7), probability_rows((6,), 8)
    for reduction in KL_REDUCTIONS:
        assert_parity(
            lambda x, t, r=reduction: torch_compat.kl_div(x, t, reduction=r),
            lambda x, t, r=reduction: functional.kl_div(x, t, reduction=r),
            input,
            target,
        )


def test_kl_div_differences_from_torch_empty_batch_and_zero_targets():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty = jnp.zeros((0, 5))
        # torch: sum 0 over a batch of 0 is NaN for "batchmean" and "mean"; jaxloss: 0.
        assert torch.isnan(
            functional.kl_div(torch.zeros(0, 5), torch.zeros(0, 5), reduction="batchmean")
        )
        for reduction in ("batchmean", "mean", "sum"):
            value, gradient = jax.value_and_grad(
                lambda x, r=reduction: torch_compat.kl_div(x, empty, reduction=r)
            )(empty)
            assert value == 0 and gradient.shape == (0, 5)
        assert torch_compat.kl_div(empty, empty, reduction="none").shape == (0, 5)
        # A zero target against a -inf input: torch gives NaN, jaxloss exactly 0.
        input = np.asarray([[-np.inf, -0.5]])
        target = np.asarray([[0.0, 1.0]])
        their = functional.kl_div(torch.tensor(input), torch.tensor(target), reduction="none")
        assert torch.isnan(their[0, 0])
        ours = torch_compat.kl_div(jnp.asarray(input), jnp.asarray(target), reduction="none")
        np.testing.assert_array_equal(ours, [[0.0, 0.5]])
        log_ours = torch_compat.kl_div(
            jnp.asarray(input), jnp.log(jnp.asarray(target)), reduction="none", log_target=True
        )
        np.testing.assert_array_equal(log_ours, [[0.0, 0.5]])
    with pytest.raises(ValueError, match="input and target must have the same shape"):
        torch_compat.kl_div(jnp.zeros((2, 3)), jnp.zeros((3,)), reduction="sum")


# --------------------------------------------------------------------------------------
# poisson_nll_loss / PoissonNLLLoss against torch.

COUNTS = np.asarray(
    [
        [0.0, 1.0, 2.0, 5.0, 3.0],
        [1.0, 0.0, 4.0, 2.0, 7.0],
        [0.0, 0.0, 1.0, 9.0, 2.0],
        [3.0, 1.0, 0.0, 6.0, 1.5],
    ]
)


def poisson_input(log_input, seed=0):
    rng = np.random.default_rng(seed)
    if log_input:
        return rng.standard_normal(SHAPE)
    return rng.uniform(0.05, 4.0, size=SHAPE)


POISSON_OPTIONS = ((False, True), (1e-8, 0.5), ("none", "sum", "mean"))  # full, eps, reduction


# PARITY_CASES poisson_nll_loss: 2 log_input x 2 full x 2 eps x 3 reductions x 2 forms = 48
# in the slow tier; the default tier runs, for each log_input, 3 combinations covering
# every full, eps and reduction (``covering``), in both forms: 12.
def check_poisson_nll_loss(log_input, combinations):
    input = poisson_input(log_input)
    for full, eps, reduction in combinations:
        options = {"log_input": log_input, "full": full, "eps": eps, "reduction": reduction}
        # The target's gradient too. torch's full term is masked where t <= 1, but its
        # backward pass still computes 0 * log 0 = NaN at t = 0; jaxloss's is finite.
        assert_parity(
            lambda x, t, o=options: torch_compat.poisson_nll_loss(x, t, **o),
            lambda x, t, o=options: functional.poisson_nll_loss(x, t, **o),
            input,
            COUNTS,
            torch_nan_at_zero_target=full,
        )
        assert_parity(
            torch_compat.PoissonNLLLoss(**options),
            torch.nn.PoissonNLLLoss(**options),
            input,
            COUNTS,
            torch_nan_at_zero_target=full,
        )


@pytest.mark.parametrize("log_input", (True, False))
def test_poisson_nll_loss_equals_torch_values_and_gradients(log_input):
    check_poisson_nll_loss(log_input, covering(POISSON_OPTIONS, shift=int(log_input)))


@pytest.mark.slow
@pytest.mark.parametrize("log_input", (True, False))
def test_poisson_nll_loss_equals_torch_for_every_option(log_input):
    check_poisson_nll_loss(log_input, itertools.product(*POISSON_OPTIONS))


# PARITY_CASES poisson_nll_loss legacy: 8 pairs x 2 forms = 16 in the slow tier; the
# default tier runs DEFAULT_LEGACY_PAIRS: 6.
def check_poisson_nll_loss_legacy_switches(pairs):
    input = poisson_input(True, seed=3)
    for size_average, reduce in pairs:
        assert_parity(
            lambda x, t, s=size_average, d=reduce: torch_compat.poisson_nll_loss(
                x, t, full=True, size_average=s, reduce=d
            ),
            lambda x, t, s=size_average, d=reduce: functional.poisson_nll_loss(
                x, t, full=True, size_average=s, reduce=d
            ),
            input,
            COUNTS,
            torch_nan_at_zero_target=True,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = torch_compat.PoissonNLLLoss(size_average=size_average, reduce=reduce)
            theirs = torch.nn.PoissonNLLLoss(size_average=size_average, reduce=reduce)
        assert ours.reduction == theirs.reduction
        assert_parity(ours, theirs, input, COUNTS)


def test_poisson_nll_loss_legacy_switches_equal_torch():
    check_poisson_nll_loss_legacy_switches(DEFAULT_LEGACY_PAIRS)


@pytest.mark.slow
def test_poisson_nll_loss_legacy_switches_equal_torch_for_every_pair():
    check_poisson_nll_loss_legacy_switches(LEGACY_PAIRS)


def test_poisson_nll_loss_errors_and_differences_from_torch():
    input = jnp.asarray(poisson_input(True), jnp.float32)
    counts = jnp.asarray(COUNTS, jnp.float32)
    # torch checks the reduction itself and refuses "elementwise_mean", with this message.
    for reduction in ("elementwise_mean", "batchmean"):
        with pytest.raises(ValueError, match=f"{reduction} is not a valid value for reduction"):
            torch_compat.poisson_nll_loss(input, counts, reduction=reduction)
        with pytest.raises(ValueError, match=f"{reduction} is not a valid value for reduction"):
            functional.poisson_nll_loss(torch.zeros(2), torch.zeros(2), reduction=reduction)
    with pytest.raises(ValueError, match="eps must lie in"):
        torch_compat.poisson_nll_loss(input, counts, log_input=False, eps=-1.0)
    # eps is unused with log_input, as in torch: not checked either.
    torch_compat.poisson_nll_loss(input, counts, eps=-1.0)
    # A zero count at a -inf log-rate: torch 0 * -inf = NaN; jaxloss the limit 0.
    log_rates = jnp.asarray([-jnp.inf, 0.0])
    zero_counts = jnp.asarray([0.0, 2.0])
    torch_value = functional.poisson_nll_loss(
        torch.tensor([-math.inf, 0.0]), torch.tensor([0.0, 2.0]), reduction="none"
    )
    assert torch.isnan(torch_value[0])
    np.testing.assert_array_equal(
        torch_compat.poisson_nll_loss(log_rates, zero_counts, reduction="none"), [0.0, 1.0]
    )
    empty = jnp.zeros((0,))
    assert torch_compat.poisson_nll_loss(empty, empty, full=True) == 0  # torch: NaN
    assert torch.isnan(functional.poisson_nll_loss(torch.zeros(0), torch.zeros(0), full=True))


# --------------------------------------------------------------------------------------
# gaussian_nll_loss / GaussianNLLLoss against torch.

GAUSSIAN_INPUT_SHAPE = (4, 3)


def gaussian_inputs(seed=0):
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(GAUSSIAN_INPUT_SHAPE)
    target = rng.standard_normal(GAUSSIAN_INPUT_SHAPE)
    return mean, target


# torch's var shapes for an input of shape (4, 3): the same, one dimension fewer, and
# one dimension of size 1 (the last, or another).
VAR_SHAPES = {"same": (4, 3), "one_fewer": (4,), "last_one": (4, 1), "first_one": (1, 3)}


def variances(shape, seed, clamped=False):
    values = np.random.default_rng(seed).uniform(0.2, 2.0, size=shape)
    if clamped:
        # Below eps = 0.3 here: torch clamps, and its gradient passes the clamp.
        values.flat[0] = 0.0
        values.flat[-1] = 0.05
    return values


# full, reduction, clamped
GAUSSIAN_OPTIONS = ((False, True), ("none", "sum", "mean"), (False, True))


# PARITY_CASES gaussian_nll_loss: 4 var shapes x 2 full x 3 reductions x (clamped or not) x
# 2 forms = 96 in the slow tier, each with the gradients in input, target and var; the
# default tier runs, for each var shape, 2 combinations (GAUSSIAN_DEFAULT: each full and
# clamping for each var shape, every pair of them and every reduction over the var
# shapes), in both forms: 16.
GAUSSIAN_DEFAULT = {
    "same": [(False, "none", False), (True, "sum", True)],
    "one_fewer": [(True, "mean", False), (False, "none", True)],
    "last_one": [(False, "sum", True), (True, "none", False)],
    "first_one": [(True, "mean", True), (False, "sum", False)],
}


def check_gaussian_nll_loss(var_shape, combinations):
    mean, target = gaussian_inputs()
    for full, reduction, clamped in combinations:
        var = variances(VAR_SHAPES[var_shape], seed=1, clamped=clamped)
        options = {"full": full, "eps": 0.3 if clamped else 1e-6, "reduction": reduction}
        assert_parity(
            lambda x, t, v, o=options: torch_compat.gaussian_nll_loss(x, t, v, **o),
            lambda x, t, v, o=options: functional.gaussian_nll_loss(x, t, v, **o),
            mean,
            target,
            var,
        )
        assert_parity(
            torch_compat.GaussianNLLLoss(**options),
            torch.nn.GaussianNLLLoss(**options),
            mean,
            target,
            var,
        )


@pytest.mark.parametrize("var_shape", list(VAR_SHAPES))
def test_gaussian_nll_loss_equals_torch_for_every_var_shape(var_shape):
    check_gaussian_nll_loss(var_shape, GAUSSIAN_DEFAULT[var_shape])


@pytest.mark.slow
@pytest.mark.parametrize("var_shape", list(VAR_SHAPES))
def test_gaussian_nll_loss_equals_torch_for_every_var_shape_and_option(var_shape):
    check_gaussian_nll_loss(var_shape, itertools.product(*GAUSSIAN_OPTIONS))


# PARITY_CASES gaussian_nll_loss: a float var x 2 full x 3 reductions = 6; 1-D input
# with a 0-d var (one fewer dimension) = 1.
def test_gaussian_nll_loss_number_variance_and_one_dimensional_input_equal_torch():
    mean, target = gaussian_inputs(seed=4)
    for full, reduction in itertools.product((False, True), ("none", "sum", "mean")):
        assert_parity(
            lambda x, t, f=full, r=reduction: torch_compat.gaussian_nll_loss(
                x, t, 0.7, full=f, reduction=r
            ),
            lambda x, t, f=full, r=reduction: functional.gaussian_nll_loss(
                x, t, 0.7, full=f, reduction=r
            ),
            mean,
            target,
        )
    assert_parity(
        torch_compat.gaussian_nll_loss,
        functional.gaussian_nll_loss,
        mean[0],
        target[0],
        np.asarray(1.3),
    )


def test_gaussian_nll_loss_errors_are_torchs():
    mean = jnp.zeros((4, 3))
    target = jnp.ones((4, 3))
    for var in (-1.0, jnp.asarray([[1.0, -0.5, 1.0]] * 4)):
        with pytest.raises(ValueError, match="var has negative entry/entries"):
            torch_compat.gaussian_nll_loss(mean, target, var)
        with pytest.raises(ValueError, match="var has negative entry/entries"):
            functional.gaussian_nll_loss(
                torch.zeros(4, 3),
                torch.ones(4, 3),
                var if isinstance(var, float) else torch.tensor(np.asarray(var)),
            )
    for shape in ((3,), (4, 2), (2, 3), (4, 3, 1), (1, 1)):
        with pytest.raises(ValueError, match="var is of incorrect size"):
            torch_compat.gaussian_nll_loss(mean, target, jnp.ones(shape))
        with pytest.raises(ValueError, match="var is of incorrect size"):
            functional.gaussian_nll_loss(torch.zeros(4, 3), torch.ones(4, 3), torch.ones(shape))
    with pytest.raises(ValueError, match="batchmean is not valid"):
        torch_compat.gaussian_nll_loss(mean, target, 1.0, reduction="batchmean")
    with pytest.raises(ValueError, match="eps must lie in"):
        torch_compat.gaussian_nll_loss(mean, target, 1.0, eps=-1.0)
    # The native loss: a concrete negative variance is refused, naming the entry.
    with pytest.raises(ValueError, match=r"variance must be non-negative; got variance\[0, 1\]"):
        jaxloss.gaussian_nll(mean, target, jnp.asarray([[1.0, -0.5, 1.0]] * 4))
    with pytest.raises(ValueError, match="input and target must have the same shape"):
        torch_compat.gaussian_nll_loss(mean, jnp.ones((3,)), 1.0)


def test_gaussian_nll_loss_empty_batch_is_zero_where_torch_gives_nan():
    empty = jnp.zeros((0, 3))
    assert torch.isnan(
        functional.gaussian_nll_loss(torch.zeros(0, 3), torch.zeros(0, 3), torch.ones(0, 3))
    )
    for full in (False, True):
        value, gradient = jax.value_and_grad(
            lambda x, f=full: torch_compat.gaussian_nll_loss(x, empty, jnp.ones((0, 3)), full=f)
        )(empty)
        assert value == 0 and gradient.shape == (0, 3)


def test_gaussian_nll_gradient_passes_the_variance_clamp_as_torchs_does():
    # torch clamps var in place under no_grad: d/dvar is 0.5 (1/v - d^2/v^2) at the
    # clamped v = eps, not 0 (the clamp's own derivative).
    with jax.enable_x64(True):
        mean, target, variance = jnp.asarray([0.5]), jnp.asarray([0.0]), jnp.asarray([1e-8])
        d_variance = jax.grad(
            lambda v: jaxloss.gaussian_nll(mean, target, v, reduction="sum"), argnums=0
        )(variance)
        eps = 1e-6
        assert_close(d_variance, 0.5 * (1 / eps - 0.25 / eps**2))
        assert_close(
            jaxloss.hessians.gaussian_nll(mean, target, variance, reduction="sum"), 1 / eps
        )
