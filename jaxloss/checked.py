"""Value checks under ``jit``: a checked version of any loss in the registry.

The losses check shapes and dtypes at trace time only, so they cost nothing under
``jit``; a NaN, an out-of-range label or a negative weight goes through silently
(an out-of-range label gives a NaN loss). ``checked(loss)`` is the same loss with
run-time value checks added by ``jax.experimental.checkify``. The rules come from
the loss's definition in ``jaxloss.registry.LOSSES`` (its ``domain``, its
``target_kind`` and its hyper-parameters' ranges), so a loss added to the registry
is checked by construction. The unchecked losses are untouched: their compiled code
holds no check.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import checkify

from jaxloss import registry
from jaxloss._definition import LossDefinition, Output

# Options that select code paths rather than values; they stay Python values (static).
_STATIC_OPTIONS = ("reduction", "axis")
_HALF_DTYPES = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))
_OUTPUTS: tuple[Output, ...] = ("loss", "gradient", "hessian")

Rule = tuple[Callable[[jax.Array], jax.Array], str]

_NON_NEGATIVE: Rule = (lambda w: jnp.isfinite(w) & (w >= 0), "must be finite and non-negative")
_FINITE: Rule = (jnp.isfinite, "must be finite")
_UNIT_INTERVAL: Rule = (lambda p: (p >= 0) & (p <= 1), "must lie in [0, 1]")
_LOG_PROBABILITY: Rule = (lambda x: x <= 0, "must be a log-probability (<= 0, not NaN)")
# The admissible values of each kind of input (a domain or a target kind).
_KIND_RULES: dict[str, Rule] = {
    "real": _FINITE,
    "probability": _UNIT_INTERVAL,
    "class_probabilities": _NON_NEGATIVE,
    "positive": _NON_NEGATIVE,
    "count": _NON_NEGATIVE,
    "sign": (lambda y: (y == 1) | (y == -1), "must be -1 or 1"),
    "log_probability": _LOG_PROBABILITY,
}


def _option_rules(definition: LossDefinition) -> dict[str, Rule]:
    """The rule of every option: the weights' and each hyper-parameter's own range."""
    rules: dict[str, Rule] = {"weights": _NON_NEGATIVE, "class_weights": _NON_NEGATIVE}
    for parameter in definition.parameters:
        rules[parameter.name] = (parameter.admits, f"must lie in {parameter.interval}")
    return rules


def checked(loss_fn: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
    """The loss ``loss_fn`` with run-time checks of its input values.

    ``loss_fn`` is a loss of the registry (``jaxloss.mse``, ...), its closed-form
    derivative (``jaxloss.gradients.mse``, ...) or second derivative
    (``jaxloss.hessians.mse``, ...). The result takes the same arguments
    and returns exactly what ``loss_fn`` returns on valid inputs. It compiles once per
    input signature with ``jax.jit`` (``reduction`` and ``axis`` static) and can be
    mapped with ``jax.vmap`` and differentiated with ``jax.grad``.

    On an invalid input it raises ``jax.experimental.checkify.JaxRuntimeError`` (a
    ``ValueError``) whose message names the argument, the first offending index
    (the multi-dimensional index into that argument as passed, or into one mapped
    slice under ``vmap``) and its value. Entries hidden by ``where`` are not
    checked. The rules:

    * first argument: ``"real"`` domain, finite; ``"probability"``, in ``[0, 1]``;
      ``"positive"``, finite and non-negative; ``"log_probability"``, at most 0;
      ``"logit"``, not NaN, and ``±inf`` only where the loss is defined, i.e. where
      its unreduced value is not NaN (the sigmoid losses at any target, a softmax
      cross-entropy at a ``-inf`` logit of a class with target 0 or at a single
      ``+inf`` logit);
    * second argument and any after it: ``"real"`` targets finite; ``"probability"``
      targets in ``[0, 1]``; ``"class_probabilities"``, ``"positive"`` and ``"count"``
      finite and non-negative; ``"sign"`` -1 or 1; ``"labels"`` in ``[0, C)`` for
      ``C`` classes;
    * ``weights`` and ``class_weights`` finite and non-negative; each
      hyper-parameter in the interval its loss's definition gives (``pos_weight`` in
      ``[0, inf)``, ``label_smoothing`` in ``[0, 1]``, ``delta`` in ``(0, inf)``, ...),
      which the eager call checks too when the value is concrete.

    Inside a function you ``jax.jit`` yourself, the check must be functionalized:
    wrap that function in ``checkify.checkify`` and throw the error it returns.

    Raises:
      ValueError: ``loss_fn`` is not a loss of ``jaxloss.registry.LOSSES``, its
        gradient or its Hessian.

    Example:
      >>> import jax.numpy as jnp, jaxloss
      >>> checked_mse = jaxloss.checked(jaxloss.mse)
      >>> checked_mse(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]))
      Array(2., dtype=float32)
      >>> checked_mse(jnp.array([[1.0, 2.0], [jnp.inf, 0.0]]), jnp.zeros((2, 2)))
      Traceback (most recent call last):
        ...
      jax._src.checkify.JaxRuntimeError: jaxloss.checked(mse): predictions must be finite;
      got predictions[1, 0] = inf (`check` failed)
    """
    spec, output = _definition_of(loss_fn)
    signature = inspect.signature(loss_fn)

    @functools.wraps(loss_fn)
    def checked_loss(*args: Any, **kwargs: Any) -> jax.Array:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        static = tuple(
            (name, value) for name, value in bound.arguments.items() if name in _STATIC_OPTIONS
        )
        arguments = {
            name: _as_argument(value)
            for name, value in bound.arguments.items()
            if name not in _STATIC_OPTIONS
        }
        error, result = _checked_call(arguments, name=spec.name, output=output, static=static)
        checkify.check_error(error)
        return result

    return checked_loss


def _definition_of(loss_fn: Callable[..., jax.Array]) -> tuple[LossDefinition, Output]:
    name = getattr(loss_fn, "__name__", repr(loss_fn))
    definition = registry.LOSSES.get(name)
    if definition is not None:
        for output, function in zip(
            _OUTPUTS, (definition.loss, definition.gradient, definition.hessian), strict=True
        ):
            if loss_fn is function:
                return definition, output
    raise ValueError(
        f"jaxloss.checked takes a loss of jaxloss.registry.LOSSES, its gradient "
        f"(jaxloss.gradients) or its Hessian (jaxloss.hessians), got {name}; "
        f"valid losses: {', '.join(registry.LOSSES)}"
    )


def _as_argument(value: Any) -> Any:
    """Lists and tuples become arrays: ``jit`` would otherwise trace them as pytrees."""
    if value is None or isinstance(value, jax.Array | np.ndarray | np.generic | int | float):
        return value
    return np.asarray(value)


@functools.partial(jax.jit, static_argnames=("name", "output", "static"))
def _checked_call(
    arguments: dict[str, Any], *, name: str, output: Output, static: tuple[tuple[str, Any], ...]
) -> tuple[checkify.Error, jax.Array]:
    spec = registry.LOSSES[name]
    function = {"loss": spec.loss, "gradient": spec.gradient, "hessian": spec.hessian}[output]
    options = dict(static)
    # The loss is traced first, so its own trace-time shape and dtype errors come first.
    value = function(**arguments, **options)
    reports = _first_offending(spec.name, _findings(spec, arguments, options))

    def check_reports() -> None:
        for message, failed, payload in reports:
            checkify.check(~failed, message, *payload)

    # Only the checks themselves are checkified: the rules and the loss are plain code,
    # so checkify has nothing to rewrite there and the compiled program stays small.
    error, _ = checkify.checkify(check_reports)()
    return error, value


# One rule's outcome: argument name, its array, which entries offend, what is required.
_Finding = tuple[str, jax.Array, jax.Array, str]


def _findings(
    spec: LossDefinition, arguments: dict[str, Any], options: dict[str, Any]
) -> list[_Finding]:
    """Applies every rule of ``spec``'s row to the arguments, in the order they are reported."""
    first_name, second_name, *more_names = spec.argument_names
    option_rules = _option_rules(spec)
    first = jnp.asarray(arguments[first_name])
    second = jnp.asarray(arguments[second_name])
    class_axis = int(options.get("axis", -1)) % max(first.ndim, 1)
    loss_shape = _loss_shape(spec, first.shape, class_axis)
    where = arguments.get("where")
    unmasked = None if where is None else jnp.broadcast_to(jnp.asarray(where), loss_shape)
    findings: list[_Finding] = []

    def require(name: str, array: jax.Array, rule: Rule, relevant: jax.Array | None) -> None:
        if array.size == 0 or array.dtype == jnp.bool_:
            return
        valid, requirement = rule
        offending = ~valid(array)
        if relevant is not None:
            offending = offending & relevant
        findings.append((name, array, offending, requirement))

    def over_first(mask: jax.Array) -> jax.Array:
        """A mask over the unreduced loss, laid out over the first argument."""
        if not spec.per_example:
            return mask
        return jnp.broadcast_to(jnp.expand_dims(mask, class_axis), first.shape)

    first_unmasked = None if unmasked is None else over_first(unmasked)
    if spec.domain == "logit":
        require(first_name, first, (lambda z: ~jnp.isnan(z), "must not be NaN"), first_unmasked)
    else:
        require(first_name, first, _KIND_RULES[spec.domain], first_unmasked)

    if spec.target_kind == "labels":
        num_classes = first.shape[class_axis] if first.ndim else 0
        labels_unmasked = unmasked
        if unmasked is not None and not spec.per_example:
            labels_unmasked = jnp.any(unmasked, axis=class_axis)
        in_range = (lambda y: (y >= 0) & (y < num_classes), f"must lie in [0, {num_classes})")
        require(second_name, second, in_range, labels_unmasked)
    else:
        require(second_name, second, _KIND_RULES[spec.target_kind], first_unmasked)
    for name, input in zip(more_names, spec.more_inputs, strict=True):
        relevant = first_unmasked if input.shape == "first" else unmasked
        require(name, jnp.asarray(arguments[name]), _KIND_RULES[input.kind], relevant)

    for name, value in arguments.items():
        if name in (first_name, second_name, *more_names, "where") or value is None:
            continue
        array = jnp.asarray(value)
        relevant = None
        # Weights, and the hyper-parameters of an elementwise loss, lie over the
        # unreduced loss: their masked entries add nothing, so they are not checked.
        over_loss = name == "weights" or (name != "class_weights" and not spec.per_example)
        if over_loss and unmasked is not None:
            relevant = _reduce_to_shape(unmasked, array.shape)
        require(name, array, option_rules.get(name, _FINITE), relevant)

    if spec.domain == "logit":
        # An infinite logit is fine where the loss has a value (say +inf) there; the
        # unreduced, unweighted loss is NaN exactly where it has none.
        unweighted = {
            name: None if name in ("weights", "class_weights") else value
            for name, value in arguments.items()
        }
        unreduced = spec.loss(**unweighted, **{**options, "reduction": "none"})
        undefined = over_first(jnp.isnan(unreduced))
        culprit = jnp.isinf(first)
        if spec.per_example:
            # In an undefined example the +inf logits are to blame (a softmax with
            # one is NaN), or, without any, the -inf ones (a row of only -inf).
            has_plus_inf = jnp.any(first == jnp.inf, axis=class_axis, keepdims=True)
            culprit = jnp.where(has_plus_inf, first == jnp.inf, culprit)
        rule = (lambda _: ~(culprit & undefined), "may be infinite only where the loss is defined")
        require(first_name, first, rule, None)
    return findings


def _first_offending(
    loss_name: str, findings: list[_Finding]
) -> list[tuple[str, jax.Array, tuple[jax.Array, ...]]]:
    """A message, a "failed" flag and the message's values for each finding.

    Only the first offending entry over all findings is flagged, found by one
    reduction: XLA's compile time grows with every separate one.
    """
    if not findings:
        return []
    flags = jnp.concatenate([offending.ravel() for _, _, offending, _ in findings])
    positions = lax.iota(np.int32, flags.size)
    first_bad = jnp.min(lax.select(flags, positions, jnp.full_like(positions, flags.size)))
    reports = []
    offset = 0
    for name, array, _, requirement in findings:
        local = first_bad - offset
        offset += array.size
        failed = (local >= 0) & (local < array.size)
        local = lax.clamp(np.int32(0), local, np.int32(array.size - 1))
        value = lax.dynamic_index_in_dim(array.ravel(), local, keepdims=False)
        if value.dtype in _HALF_DTYPES:
            value = value.astype(jnp.float32)
        prefix = f"jaxloss.checked({loss_name}): {name} {requirement}; got {name}"
        if array.ndim == 0:
            reports.append((f"{prefix} = {{}}", failed, (value,)))
            continue
        # The multi-dimensional index, row-major; non-negative, so div and rem suffice.
        index = []
        for stride in np.cumprod((*array.shape[1:], 1)[::-1])[::-1]:
            index.append(lax.div(local, np.int32(stride)))
            local = lax.rem(local, np.int32(stride))
        placeholders = ", ".join(["{}"] * array.ndim)
        reports.append((f"{prefix}[{placeholders}] = {{}}", failed, (*index, value)))
    return reports


def _loss_shape(
    spec: LossDefinition, first_shape: tuple[int, ...], class_axis: int
) -> tuple[int, ...]:
    if spec.per_example and first_shape:
        return first_shape[:class_axis] + first_shape[class_axis + 1 :]
    return first_shape


def _reduce_to_shape(mask: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Which entries of an argument of ``shape`` broadcast onto an unmasked entry."""
    leading = mask.ndim - len(shape)
    if leading > 0:
        mask = jnp.any(mask, axis=tuple(range(leading)))
    stretched = tuple(
        axis for axis, size in enumerate(shape) if size == 1 and mask.shape[axis] != 1
    )
    if stretched:
        mask = jnp.any(mask, axis=stretched, keepdims=True)
    return mask
