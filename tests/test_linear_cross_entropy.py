"""linear_softmax_cross_entropy: the dense formula's value and derivatives, without the logits.

The reference is the textbook formula on materialised logits: optax's
``softmax_cross_entropy_with_integer_labels`` for the plain loss, and with the language
model options written out from their sources (label smoothing, Szegedy et al. 2016:
target ``(1 - a) onehot(y) + a / V``; z-loss, PaLM (Chowdhery et al. 2022):
``+ lambda logsumexp(z)^2``; soft cap, Gemma 2: ``s = c tanh(z / c)`` before the
softmax), differentiated by JAX. Shapes are small and few: every new shape or option
compiles again. The slow tier (``pytest -m slow``) adds the plain float64 case (its
chunks are checked by default with every option on), the reverse-over-reverse
Hessian-vector product (forward over reverse runs by default) and every torch option
case (by default a subset covering each option value).
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import jaxloss
from jaxloss import torch_compat
from jaxloss._linear_cross_entropy import TILE_ELEMENTS, default_chunk_size

# N = 12 tokens, D = 5 features, V = 37 classes: 37 is prime, so every chunk size but 1
# and 37 leaves a ragged last chunk.
N, D, V = 12, 5, 37
LANGUAGE_MODEL_OPTIONS = {"label_smoothing": 0.1, "z_loss": 1e-2, "logit_soft_cap": 3.0}


def inputs(rng: np.random.Generator, shape=(N,), features=D, classes=V, dtype=np.float64):
    hidden = rng.standard_normal((*shape, features)).astype(dtype)
    weight = rng.standard_normal((features, classes)).astype(dtype)
    bias = (0.5 * rng.standard_normal(classes)).astype(dtype)
    labels = rng.integers(0, classes, size=shape).astype(np.int32)
    return jnp.asarray(hidden), jnp.asarray(weight), jnp.asarray(bias), jnp.asarray(labels)


def dense(
    hidden,
    weight,
    labels,
    bias=None,
    *,
    weights=None,
    where=None,
    reduction="mean",
    label_smoothing=0.0,
    z_loss=0.0,
    logit_soft_cap=None,
):
    """The textbook formula on the [..., V] logits (see the module docstring)."""
    logits = hidden @ weight
    if bias is not None:
        logits = logits + bias.reshape((1,) * (logits.ndim - 1) + bias.shape)
    if logit_soft_cap is not None:
        logits = logit_soft_cap * jnp.tanh(logits / logit_soft_cap)
    logsumexp = jax.nn.logsumexp(logits, axis=-1)
    label_logit = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    loss = (
        logsumexp
        - (1 - label_smoothing) * label_logit
        - label_smoothing * jnp.mean(logits, axis=-1)
        + z_loss * logsumexp**2
    )
    scale = jnp.ones_like(loss)
    if weights is not None:
        scale = scale * weights
    if where is not None:
        scale = jnp.where(where, scale, 0)
        loss = jnp.where(where, loss, 0)
    if reduction == "none":
        return scale * loss
    if reduction == "sum":
        return jnp.sum(scale * loss)
    return jnp.sum(scale * loss) / jnp.sum(scale)


def max_relative_error(ours, reference) -> float:
    # In NumPy: each jnp call on a new shape would compile a program.
    errors = [
        float(np.max(np.abs(a - b)) / np.maximum(np.max(np.abs(b)), 1e-30))
        for a, b in zip(
            map(np.asarray, jax.tree.leaves(ours)),
            map(np.asarray, jax.tree.leaves(reference)),
            strict=True,
        )
    ]
    return max(errors)


def test_the_reference_formula_is_optax_and_jaxloss_on_the_logits():
    # The reference itself, checked once against the libraries' integer-label losses.
    hidden, weight, bias, labels = inputs(np.random.default_rng(0), dtype=np.float32)

    @jax.jit
    def program(hidden, weight, bias, labels):
        logits = hidden @ weight + bias[None]
        return (
            dense(hidden, weight, labels, bias),
            jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels)),
            dense(hidden, weight, labels, bias, label_smoothing=0.2),
            jaxloss.softmax_cross_entropy_with_integer_labels(logits, labels, label_smoothing=0.2),
        )

    plain, optax_plain, smoothed, jaxloss_smoothed = program(hidden, weight, bias, labels)
    np.testing.assert_allclose(plain, optax_plain, rtol=1e-6)
    np.testing.assert_allclose(smoothed, jaxloss_smoothed, rtol=1e-6)


# Each case: options, the chunk size (None: automatic, a single chunk at this size), the
# leading shape of hidden. Ragged chunks: 8 (4 x 8 + 5), 5 (7 x 5 + 2). One chunk and "sum"
# are covered by the torch parity test (automatic chunk size, V = 13).
FLOAT64_CASES = {
    "plain, ragged chunks": ({}, 8, (N,)),
    "every option, ragged chunks": (
        {**LANGUAGE_MODEL_OPTIONS, "bias": True, "weights": True, "where": True},
        8,
        (N,),
    ),
    "none, leading axes": (
        {**LANGUAGE_MODEL_OPTIONS, "bias": True, "reduction": "none"},
        5,
        (3, 4),
    ),
}


def _case_arguments(rng, options, shape):
    hidden, weight, bias, labels = inputs(rng, shape)
    options = dict(options)
    bias = bias if options.pop("bias", False) else None
    if options.pop("weights", False):
        options["weights"] = jnp.asarray(rng.uniform(0.0, 2.0, size=shape))
    if options.pop("where", False):
        mask = rng.uniform(size=shape) > 0.3
        options["where"] = jnp.asarray(mask)
    return hidden, weight, bias, labels, options


@pytest.mark.parametrize(
    "case",
    [
        # The same ragged chunks with every option on run by default.
        pytest.param("plain, ragged chunks", marks=pytest.mark.slow),
        "every option, ragged chunks",
        "none, leading axes",
    ],
)
def test_value_and_three_gradients_equal_the_dense_formula_in_float64(case):
    options, chunk_size, shape = FLOAT64_CASES[case]
    with jax.enable_x64(True):
        hidden, weight, bias, labels, options = _case_arguments(
            np.random.default_rng(1), options, shape
        )

        def ours(hidden, weight, bias):
            return jaxloss.linear_softmax_cross_entropy(
                hidden, weight, labels, bias=bias, chunk_size=chunk_size, **options
            )

        def reference(hidden, weight, bias):
            return dense(hidden, weight, labels, bias, **options)

        # Both sides and their pullbacks in one compiled program.
        @jax.jit
        def program(hidden, weight, bias, cotangent):
            value, pullback = jax.vjp(ours, hidden, weight, bias)
            expected, reference_pullback = jax.vjp(reference, hidden, weight, bias)
            return value, expected, pullback(cotangent), reference_pullback(cotangent)

        # A random cotangent makes the per-token case ("none") a full vector-Jacobian test.
        loss_shape = shape if options.get("reduction") == "none" else ()
        cotangent = jnp.asarray(np.random.default_rng(2).standard_normal(loss_shape))
        value, expected, gradients, expected_gradients = program(hidden, weight, bias, cotangent)
        assert value.dtype == jnp.float64
        assert value.shape == loss_shape
        np.testing.assert_allclose(value, expected, rtol=1e-10, atol=1e-12)
        for ours_gradient, expected_gradient in zip(gradients, expected_gradients, strict=True):
            if expected_gradient is None:
                continue
            np.testing.assert_allclose(ours_gradient, expected_gradient, rtol=1e-10, atol=1e-12)


@jax.jit
def float32_program(hidden, weight, bias, labels):
    """Ours (in chunks of 128) and optax's value and three gradients, one compilation."""

    def ours(hidden, weight, bias):
        return jaxloss.linear_softmax_cross_entropy(
            hidden, weight, labels, bias=bias, chunk_size=128
        )

    def reference(hidden, weight, bias):
        logits = hidden @ weight + bias[None]
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    argnums = (0, 1, 2)
    return (
        jax.value_and_grad(ours, argnums)(hidden, weight, bias),
        jax.value_and_grad(reference, argnums)(hidden, weight, bias),
    )


def test_value_and_gradients_equal_optax_in_float32():
    # V = 1000 in chunks of 128: seven full chunks and a ragged one of 104.
    rng = np.random.default_rng(3)
    hidden, weight, bias, labels = inputs(rng, (64,), 32, 1000, np.float32)
    hidden = hidden / math.sqrt(32)
    (value, gradients), (expected, expected_gradients) = float32_program(
        hidden, weight, bias, labels
    )
    assert value.dtype == jnp.float32
    assert max_relative_error(value, expected) < 1e-5
    assert max_relative_error(gradients, expected_gradients) < 1e-5


@pytest.mark.parametrize(
    "modes",
    [
        ("forward", "forward over reverse"),
        # A second Hessian-vector product: forward over reverse runs by default.
        pytest.param(("reverse over reverse",), marks=pytest.mark.slow),
    ],
)
def test_jvp_and_hessian_vector_products_equal_the_dense_formula(modes):
    # Forward mode, forward-over-reverse (jax.jvp of jax.grad: the gradient is its
    # primal output) and reverse-over-reverse, with every option on, ragged chunks, and
    # the hyper-parameters as differentiable arrays.
    with jax.enable_x64(True):
        rng = np.random.default_rng(4)
        hidden, weight, bias, labels = inputs(rng)
        mask = jnp.asarray(rng.uniform(size=N) > 0.2)
        primals = (hidden, weight, bias, jnp.asarray(0.1), jnp.asarray(0.01))
        tangents = tuple(jnp.asarray(rng.standard_normal(jnp.shape(x))) for x in primals)

        def ours(hidden, weight, bias, smoothing, z_loss):
            return jaxloss.linear_softmax_cross_entropy(
                hidden,
                weight,
                labels,
                bias=bias,
                where=mask,
                label_smoothing=smoothing,
                z_loss=z_loss,
                logit_soft_cap=3.0,
                chunk_size=8,
            )

        def reference(hidden, weight, bias, smoothing, z_loss):
            return dense(
                hidden,
                weight,
                labels,
                bias,
                where=mask,
                label_smoothing=smoothing,
                z_loss=z_loss,
                logit_soft_cap=3.0,
            )

        argnums = tuple(range(5))

        def results(function, mode, primals, tangents):
            if mode == "forward":
                return jax.jvp(function, primals, tangents)
            if mode == "forward over reverse":
                return jax.jvp(jax.grad(function, argnums), primals, tangents)[1]
            return jax.grad(lambda h: jnp.vdot(jax.grad(function)(h, *primals[1:]), tangents[0]))(
                primals[0]
            )

        # The modes for both functions in one compiled program.
        @jax.jit
        def program(primals, tangents):
            return [
                [results(function, mode, primals, tangents) for mode in modes]
                for function in (ours, reference)
            ]

        ours_results, reference_results = program(primals, tangents)
        for ours_result, reference_result in zip(ours_results, reference_results, strict=True):
            for a, b in zip(
                jax.tree.leaves(ours_result), jax.tree.leaves(reference_result), strict=True
            ):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_vmap_of_grad_equals_a_loop():
    # torch's chunked path refuses vmap(grad(...)); this one batches like any jax function.
    hidden, weight, _, labels = inputs(np.random.default_rng(5), (2, N), dtype=np.float32)

    @jax.jit
    def gradient(hidden, labels):
        return jax.grad(jaxloss.linear_softmax_cross_entropy, argnums=(0, 1))(
            hidden, weight, labels, chunk_size=8
        )

    batched = jax.vmap(gradient)(hidden, labels)
    for index in range(2):
        single = gradient(hidden[index], labels[index])
        for a, b in zip(batched, single, strict=True):
            np.testing.assert_allclose(a[index], b, rtol=1e-6, atol=1e-7)


def temporary_bytes(function, *args) -> int:
    analysis = jax.jit(function).lower(*args).compile().memory_analysis()
    if analysis is None:
        pytest.skip("this backend gives no memory analysis")
    return analysis.temp_size_in_bytes


@pytest.mark.default_xla  # memory as users' compiled programs have it (test_default_xla.py)
def test_no_logits_sized_temporary_in_value_and_grad_vjp_or_hessian_vector_product():
    # Compiled, not run: N x V = 2048 x 65536 logits are 512 MiB in float32. XLA's memory
    # analysis counts temporaries only; the gradients are outputs.
    tokens, features, classes = 2048, 64, 65536
    logits_bytes = tokens * classes * 4
    hidden = jax.ShapeDtypeStruct((tokens, features), jnp.float32)
    weight = jax.ShapeDtypeStruct((features, classes), jnp.float32)
    labels = jax.ShapeDtypeStruct((tokens,), jnp.int32)

    def loss(hidden, weight, labels, reduction="mean"):
        return jaxloss.linear_softmax_cross_entropy(hidden, weight, labels, reduction=reduction)

    def reference(hidden, weight, labels):
        logits = hidden @ weight
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    def per_token_vjp(hidden, weight, labels):
        values, pullback = jax.vjp(lambda h, w: loss(h, w, labels, "none"), hidden, weight)
        return pullback(values)

    def hessian_vector_product(hidden, weight, labels):
        gradient = jax.grad(loss, argnums=(0, 1))
        return jax.jvp(lambda h, w: gradient(h, w, labels), (hidden, weight), (hidden, weight))

    value_and_grad = jax.value_and_grad(loss, argnums=(0, 1))
    dense_bytes = temporary_bytes(
        jax.value_and_grad(reference, argnums=(0, 1)), hidden, weight, labels
    )
    # The measurement sees the logits where they exist: the dense version holds two copies.
    assert dense_bytes >= logits_bytes
    # Measured (jax 0.10.2, XLA:CPU): 1/8 of the logits for the first two (four tiles of
    # 2**22 float32 values), 1/10.5 for the Hessian-vector product.
    for function in (value_and_grad, per_token_vjp, hessian_vector_product):
        ours = temporary_bytes(function, hidden, weight, labels)
        assert ours < logits_bytes / 6, (function, ours / logits_bytes)


def test_extreme_logits_are_finite_and_exact():
    # Logits of order 1e4 without the soft cap: float32 exp overflows at 88, so only a
    # max-shifted computation survives. The shapes and options are the float32 test's,
    # so its compiled program is reused (optax's half of it is not checked here). float32
    # resolves such logits to 1e-3, so any two ways of summing them differ by that much in
    # the exponent: the gradients are held to the float64 formula on the same inputs at
    # 1e-2 (the value, a logit gap, at 1e-5).
    rng = np.random.default_rng(6)
    hidden, weight, bias, labels = inputs(rng, (64,), 32, 1000, np.float32)
    hidden = 500 * hidden
    assert float(jnp.max(jnp.abs(hidden @ weight + bias[None]))) > 1e4

    (value, gradients), _ = float32_program(hidden, weight, bias, labels)
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in (value, *gradients))
    with jax.enable_x64(True):
        wide = tuple(x.astype(jnp.float64) for x in (hidden, weight, bias))
        expected, expected_gradients = jax.jit(jax.value_and_grad(dense, (0, 1, 3)))(
            wide[0], wide[1], labels, wide[2]
        )
        assert max_relative_error(value.astype(jnp.float64), expected) < 1e-5
        gradients = tuple(x.astype(jnp.float64) for x in gradients)
        assert max_relative_error(gradients, expected_gradients) < 1e-2


_dense_value_and_grad = jax.jit(jax.value_and_grad(dense, argnums=(0, 1)))


@pytest.mark.parametrize("dtype_name", ["bfloat16", "float16"])
def test_half_precision_accumulates_in_float32(dtype_name):
    # Against float64 on the same (rounded) inputs: float32 accumulation leaves about
    # float32's error in the value; the gradients are rounded once to the input dtype.
    dtype = jnp.dtype(dtype_name)
    hidden, weight, _, labels = inputs(np.random.default_rng(7), (64,), 32, 1000, np.float32)
    hidden, weight = hidden.astype(dtype), (weight / math.sqrt(32)).astype(dtype)
    gradient = jax.value_and_grad(jaxloss.linear_softmax_cross_entropy, argnums=(0, 1))

    @jax.jit
    def program(hidden, weight, labels):
        return (
            gradient(hidden, weight, labels, chunk_size=128),
            jaxloss.linear_softmax_cross_entropy(hidden, weight, labels, reduction="none"),
        )

    (value, (d_hidden, d_weight)), per_token = program(hidden, weight, labels)
    assert value.dtype == jnp.float32
    assert per_token.dtype == dtype
    assert d_hidden.dtype == d_weight.dtype == dtype
    with jax.enable_x64(True):
        # The same float64 shapes for both dtypes: one compilation of the reference.
        wide = (hidden.astype(jnp.float64), weight.astype(jnp.float64))
        expected, expected_gradients = _dense_value_and_grad(*wide, labels)
        assert max_relative_error(value.astype(jnp.float64), expected) < 1e-6
        half_spacing = float(jnp.finfo(dtype).eps)
        for ours_gradient, expected_gradient in zip(
            (d_hidden, d_weight), expected_gradients, strict=True
        ):
            error = max_relative_error(ours_gradient.astype(jnp.float64), expected_gradient)
            assert error < half_spacing, (dtype_name, error)


def test_masks_padding_labels_and_out_of_range_labels():
    rng = np.random.default_rng(8)
    hidden, weight, _, labels = inputs(rng, dtype=np.float32)
    keep = jnp.arange(N) % 3 != 0
    # Padding: a -100 label and an infinite hidden state under the mask change nothing.
    padded_labels = jnp.where(keep, labels, -100)
    padded_hidden = jnp.where(keep[:, None], hidden, jnp.inf)

    def masked(hidden, weight):
        return jaxloss.linear_softmax_cross_entropy(
            hidden, weight, padded_labels, where=keep, chunk_size=8
        )

    def kept_only(hidden, weight):
        return jaxloss.linear_softmax_cross_entropy(
            hidden[np.asarray(keep)], weight, labels[np.asarray(keep)], chunk_size=8
        )

    # Unmasked, an out-of-range label gives NaN for its token only, as the integer-label
    # cross-entropy does.
    wrong = labels.at[1].set(V).at[2].set(-1)

    @jax.jit
    def program(padded_hidden, hidden, weight):
        return (
            jax.value_and_grad(masked, (0, 1))(padded_hidden, weight),
            jax.value_and_grad(kept_only, (0, 1))(hidden, weight),
            jaxloss.linear_softmax_cross_entropy(hidden, weight, wrong, reduction="none"),
            # An empty batch has mean 0, the reduction rule.
            jaxloss.linear_softmax_cross_entropy(hidden[:0], weight, labels[:0]),
        )

    (value, (d_hidden, d_weight)), (expected, (d_kept, d_weight_expected)), per_token, empty = (
        program(padded_hidden, hidden, weight)
    )
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(d_weight, d_weight_expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(d_hidden[~np.asarray(keep)], 0)
    np.testing.assert_allclose(
        d_hidden[np.asarray(keep)], d_kept[np.asarray(keep)], rtol=1e-5, atol=1e-7
    )
    assert np.isnan(np.asarray(per_token[1:3])).all()
    assert np.isfinite(np.asarray(per_token[3:])).all()
    assert float(empty) == 0.0


def test_automatic_chunk_size_rule():
    assert default_chunk_size(12, 37) == 37
    assert default_chunk_size(2048, 65536) == TILE_ELEMENTS // 2048
    assert default_chunk_size(8192, 131072) == 512
    assert default_chunk_size(3000, 100_000) == 1280  # 4194304 // 3000 = 1398, down to 128s
    assert default_chunk_size(10**6, 10**6) == 128  # never below 128 columns
    assert default_chunk_size(10**6, 100) == 100  # nor above the vocabulary


def test_invalid_arguments_raise_before_anything_runs():
    hidden, weight, bias, labels = inputs(np.random.default_rng(9), dtype=np.float32)
    loss = jaxloss.linear_softmax_cross_entropy
    cases = [
        (ValueError, "weight must be", lambda: loss(hidden, weight.T, labels)),
        (ValueError, "labels must have shape", lambda: loss(hidden, weight, labels[:-1])),
        (TypeError, "integer", lambda: loss(hidden, weight, labels.astype(jnp.float32))),
        (TypeError, "same dtype", lambda: loss(hidden, weight.astype(jnp.bfloat16), labels)),
        (ValueError, "bias must have shape", lambda: loss(hidden, weight, labels, bias=bias[:-1])),
        (ValueError, "label_smoothing", lambda: loss(hidden, weight, labels, label_smoothing=2)),
        (ValueError, "z_loss", lambda: loss(hidden, weight, labels, z_loss=-1.0)),
        (ValueError, "logit_soft_cap", lambda: loss(hidden, weight, labels, logit_soft_cap=0.0)),
        (ValueError, "chunk_size", lambda: loss(hidden, weight, labels, chunk_size=0)),
        (ValueError, "weights", lambda: loss(hidden, weight, labels, weights=-jnp.ones(N))),
        (ValueError, "reduction", lambda: loss(hidden, weight, labels, reduction="max")),
        (ValueError, "vocab_axis", lambda: loss(hidden, weight, labels, vocab_axis="model")),
    ]
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()


# --------------------------------------------------------------------------------------
# torch parity: torch.nn.functional.linear_cross_entropy and nn.LinearCrossEntropyLoss.


def test_torch_signature_and_defaults_are_torchs():
    # torch 2.13: the functional form's keyword-only options and the class's constructor.
    ours = inspect.signature(torch_compat.linear_cross_entropy).parameters
    theirs = inspect.signature(torch.nn.functional.linear_cross_entropy).parameters
    for name in ("linear_bias", "weight", "reduction", "ignore_index", "label_smoothing"):
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind == inspect.Parameter.KEYWORD_ONLY
    ours = inspect.signature(torch_compat.LinearCrossEntropyLoss).parameters
    theirs = inspect.signature(torch.nn.LinearCrossEntropyLoss).parameters
    for name in ("bias", "reduction", "weight", "ignore_index", "label_smoothing"):
        assert ours[name].default == theirs[name].default, name


# (class weights, label smoothing, reduction). Every reduction for the plain loss and for
# torch's weighted smoothing (the adapter's composed formula); "mean" for the two
# one-call paths between. Each case compiles anew: the default tier runs a covering
# subset (each class-weight setting, smoothing and reduction at least once, and the
# weighted smoothing), the slow tier every case.
TORCH_CASES = [
    *((False, 0.0, reduction) for reduction in ("mean", "sum", "none")),
    (True, 0.0, "mean"),
    (False, 0.3, "mean"),
    *((True, 0.3, reduction) for reduction in ("mean", "sum", "none")),
]
TORCH_DEFAULT_TIER_CASES = [(False, 0.0, "sum"), (True, 0.3, "none"), (True, 0.3, "mean")]


def test_value_and_gradients_equal_torch():
    """The covering subset of TORCH_CASES, a custom ignore_index and an unbatched input."""
    _torch_parity(TORCH_DEFAULT_TIER_CASES, custom_ignore_index=True)


@pytest.mark.slow
def test_value_and_gradients_equal_torch_every_case():
    _torch_parity(TORCH_CASES, custom_ignore_index=False)


def _torch_parity(cases, custom_ignore_index):
    # float64 on both sides; target -100 (torch's default ignore_index) on two examples,
    # and (custom_ignore_index) once a custom ignore_index and an unbatched input.
    rng = np.random.default_rng(10)
    tokens, features, classes = 9, 4, 13
    input = rng.standard_normal((tokens, features))
    linear_weight = rng.standard_normal((classes, features))
    linear_bias = rng.standard_normal(classes)
    target = rng.integers(0, classes, tokens)
    target[[2, 5]] = -100
    class_weights = rng.uniform(0.1, 2.0, classes)
    calls = [
        ({"weight": class_weights if weight else None, "label_smoothing": smoothing}, reduction)
        for weight, smoothing, reduction in cases
    ]
    if custom_ignore_index:
        # torch raises for -100 once another index is ignored: those become the ignored one.
        calls.append(({"ignore_index": 3}, "mean"))
    with jax.enable_x64(True):
        torch_results, functions = [], []
        for options, reduction in calls:
            tensors = [
                torch.tensor(array, requires_grad=True)
                for array in (input, linear_weight, linear_bias)
            ]
            torch_options = {
                name: torch.tensor(value) if isinstance(value, np.ndarray) else value
                for name, value in options.items()
            }
            labels = np.where(target == -100, options.get("ignore_index", -100), target)
            expected = torch.nn.functional.linear_cross_entropy(
                tensors[0],
                tensors[1],
                torch.tensor(labels),
                linear_bias=tensors[2],
                reduction=reduction,
                **torch_options,
            )
            expected.sum().backward()
            jax_options = {
                name: jnp.asarray(value) if isinstance(value, np.ndarray) else value
                for name, value in options.items()
            }

            def ours(
                input,
                linear_weight,
                linear_bias,
                jax_options=jax_options,
                reduction=reduction,
                labels=labels,
            ):
                return torch_compat.linear_cross_entropy(
                    input,
                    linear_weight,
                    jnp.asarray(labels),
                    linear_bias=linear_bias,
                    reduction=reduction,
                    **jax_options,
                )

            torch_results.append((expected, tensors))
            functions.append(ours)

        # Every call's value and pullback (and the unbatched value) in one compilation.
        @jax.jit
        def program(input, linear_weight, linear_bias):
            results = []
            for ours in functions:
                value, pullback = jax.vjp(ours, input, linear_weight, linear_bias)
                results.append((value, pullback(jnp.ones_like(value))))
            unbatched = torch_compat.linear_cross_entropy(
                input[0], linear_weight, jnp.asarray(target[0])
            )
            return results, unbatched

        results, unbatched = program(*(jnp.asarray(x) for x in (input, linear_weight, linear_bias)))
        for (value, gradients), (expected, tensors) in zip(results, torch_results, strict=True):
            np.testing.assert_allclose(value, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
            for gradient, tensor in zip(gradients, tensors, strict=True):
                assert tensor.grad is not None
                np.testing.assert_allclose(gradient, tensor.grad.numpy(), rtol=1e-12, atol=1e-14)
        if not custom_ignore_index:
            return
        expected = torch.nn.functional.linear_cross_entropy(
            torch.tensor(input[0]), torch.tensor(linear_weight), torch.tensor(target[0])
        )
        np.testing.assert_allclose(unbatched, expected.numpy(), rtol=1e-12)


def test_linear_cross_entropy_loss_module_is_torchs():
    loss = torch_compat.LinearCrossEntropyLoss(16, 10, bias=True, label_smoothing=0.1)
    reference = torch.nn.LinearCrossEntropyLoss(16, 10, bias=True, label_smoothing=0.1)
    # torch's nn.Linear initialisation: U(-1/sqrt(in_features), 1/sqrt(in_features)).
    assert loss.linear_weight.shape == tuple(reference.linear.weight.shape) == (10, 16)
    assert loss.linear_bias is not None and loss.linear_bias.shape == (10,)
    bound = 1 / math.sqrt(16)
    assert float(jnp.max(jnp.abs(loss.linear_weight))) <= bound
    assert float(jnp.max(jnp.abs(loss.linear_weight))) > 0.8 * bound
    assert reference.ignore_index is None and loss.ignore_index is None
    # With the module's parameters copied in, torch's module gives our number.
    with torch.no_grad():
        reference.linear.weight.copy_(torch.tensor(np.asarray(loss.linear_weight)))
        assert reference.linear.bias is not None
        reference.linear.bias.copy_(torch.tensor(np.asarray(loss.linear_bias)))
    input = np.random.default_rng(11).standard_normal((5, 16)).astype(np.float32)
    target = np.array([1, 2, -100, 9, 0])
    expected = reference(torch.tensor(input), torch.tensor(target)).detach().numpy()
    np.testing.assert_allclose(loss(jnp.asarray(input), jnp.asarray(target)), expected, rtol=1e-6)
    assert torch_compat.LinearCrossEntropyLoss(4, 3).linear_bias is None
    with pytest.raises(ValueError, match="out_features"):
        torch_compat.LinearCrossEntropyLoss(4, 3, out_features=(2,))
    with pytest.raises(ValueError, match="class-probability"):
        torch_compat.linear_cross_entropy(
            jnp.ones((2, 4)), jnp.ones((3, 4)), jnp.full((2, 3), 1 / 3)
        )
