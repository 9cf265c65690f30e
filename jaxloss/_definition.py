r"""One definition per loss: everything about a loss in one place, the rest derived.

A :class:`LossDefinition` holds, for one loss:

* ``value_and_partials``: the unreduced loss *and* its closed-form partial
  derivatives with respect to each argument, from one function, so that the value
  and its derivative share their work;
* ``curvature``: the closed-form second derivative with respect to the first
  argument: the diagonal for an elementwise loss, a Hessian-vector product for a
  per-example loss (whose Hessian is a ``C x C`` block per example);
* its hyper-parameters with their ranges, what its two inputs are, its link, and
  what the tests sample.

From it come the loss's derivative rule (a ``jax.custom_jvp`` built from the
closed-form partials, so ``jax.grad`` of the loss *is* the closed form),
``jaxloss.gradients.<name>``, ``jaxloss.hessians.<name>``, the registry row (the
definition itself), the eager range check of every hyper-parameter and the rules of
``jaxloss.checked``. The public loss stays a real ``def`` in its family module,
decorated with ``@DEFINITION.public``; its body is one call of the definition.

Example:
  >>> import jax.numpy as jnp, jaxloss
  >>> from jaxloss.registry import LOSSES
  >>> LOSSES["huber"].parameters[0]
  Parameter(name='delta', low=0.0, high=inf, low_open=True, optional=False)
  >>> LOSSES["huber"].gradient is jaxloss.gradients.huber
  True
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxloss import _frontend
from jaxloss._checks import Domain as Domain
from jaxloss._checks import Input as Input
from jaxloss._checks import Output as Output
from jaxloss._checks import Parameter as Parameter
from jaxloss._checks import TargetKind as TargetKind

Link = Literal["identity", "sigmoid", "softmax", "log_softmax"]

ValueAndPartials = Callable[..., tuple[jax.Array, Sequence[jax.Array | None]]]


def _closed_form_core(value_and_partials: ValueAndPartials) -> Callable[..., jax.Array]:
    """The unreduced loss, differentiated by its own closed-form partials.

    ``value_and_partials(*args)`` returns the value and one partial per argument
    (``None`` where an argument has none, e.g. integer labels). A partial shaped like
    the value multiplies its argument's tangent entry by entry; one with trailing axes
    beyond the value's (a per-example loss's class axis) is contracted over them. The
    rule is written in jnp operations, so forward mode and higher derivatives work.
    """

    @jax.custom_jvp
    def core(*args: Any) -> jax.Array:
        return value_and_partials(*args)[0]

    def rule(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[jax.Array, jax.Array]:
        value, partials = value_and_partials(*primals)
        tangent_out = jnp.zeros_like(value)
        for partial, tangent in zip(partials, tangents, strict=True):
            # Skipping symbolic zeros keeps an infinite partial (say d/dtarget at an
            # infinite logit) from turning into 0 * inf = NaN when it is not asked for.
            if partial is None or tangent is None or isinstance(tangent, SymbolicZero):
                continue
            product = partial * tangent
            extra_axes = tuple(range(value.ndim, product.ndim))
            if extra_axes:
                product = jnp.sum(product, axis=extra_axes)
            tangent_out = tangent_out + product
        return value, tangent_out

    core.defjvp(rule, symbolic_zeros=True)
    return core


@dataclasses.dataclass(eq=False)
class LossDefinition:
    """Everything about one loss; see the module docstring.

    Attributes:
      name: the public name, the same in ``jaxloss``, ``jaxloss.gradients`` and
        ``jaxloss.hessians``.
      value_and_partials: ``(first, second, *more_inputs, *parameters) -> (value,
        partials)`` on inputs already cast, masked and with the class axis last;
        ``partials`` has one entry per argument. The first partial is the
        closed-form gradient.
      curvature: for an elementwise loss ``(first, second, *more_inputs,
        *parameters)`` returning the second derivative of each entry with respect
        to the first argument; for a per-example loss ``(first, second,
        *more_inputs, *parameters, vector)`` returning the Hessian of each
        example's loss times ``vector`` (both ``[..., C]``).
      domain: what the first argument is: ``"real"`` predictions, ``"logit"``
        scores, ``"probability"`` values in ``[0, 1]``, ``"positive"`` values
        (rates, variances) or ``"log_probability"`` values (log-softmax rows).
      target_kind: what the second argument is; ``"labels"`` are integer class
        indices shaped like the first argument without its last axis, ``"sign"``
        targets are -1 or +1, ``"count"`` targets non-negative counts.
      more_inputs: the positional inputs after the second (a third for
        ``margin_ranking`` or ``triplet_margin_loss``), each an :class:`Input`.
      link: the output link the loss expects its first argument to come through when
        used for training: ``"identity"`` (it takes logits or raw outputs),
        ``"sigmoid"`` or ``"softmax"`` (it takes probabilities) or ``"log_softmax"``
        (it takes log-probabilities).
      per_example: whether the unreduced loss drops the last (class) axis.
      parameters: the hyper-parameters, in signature order, with their ranges.
      class_axis: whether the loss takes an ``axis`` option naming the class axis.
      class_weights: whether the loss takes a ``class_weights`` option (one weight per
        class, multiplied into each example's weight by its label).
      options: non-default hyper-parameters the generic tests also run with.
      extremes: values of the first argument at which value and gradient must be
        finite (for class losses, placed in the label's class).
      gradient_doc, hessian_doc: docstrings of the derived twins: the derivation and
        a doctested example.
    """

    name: str
    value_and_partials: ValueAndPartials
    curvature: Callable[..., jax.Array]
    domain: Domain
    target_kind: TargetKind
    link: Link
    gradient_doc: str
    hessian_doc: str
    per_example: bool = False
    parameters: tuple[Parameter, ...] = ()
    class_axis: bool = False
    class_weights: bool = False
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    extremes: tuple[float, ...] = ()
    more_inputs: tuple[Input, ...] = ()

    def __post_init__(self) -> None:
        self.core = _closed_form_core(self.value_and_partials)
        self._public: Callable[..., jax.Array] | None = None

    def __repr__(self) -> str:
        return f"LossDefinition({self.name!r})"

    # The public function and its derived twins.

    def public(self, function: Callable[..., jax.Array]) -> Callable[..., jax.Array]:
        """Decorator: ``function`` is this loss's public ``def``; it is returned unchanged."""
        if function.__name__ != self.name:
            raise ValueError(
                f"definition {self.name!r} decorates a def named {function.__name__!r}"
            )
        self._public = function
        return function

    @property
    def loss(self) -> Callable[..., jax.Array]:
        """The public loss, ``jaxloss.<name>``."""
        if self._public is None:
            raise RuntimeError(f"loss definition {self.name!r} has no public def")
        return self._public

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.loss)

    @property
    def argument_names(self) -> tuple[str, ...]:
        """The names of the positional inputs: the first, the second, then ``more_inputs``."""
        return tuple(self.signature.parameters)[: 2 + len(self.more_inputs)]

    @functools.cached_property
    def gradient(self) -> Callable[..., jax.Array]:
        """``jaxloss.gradients.<name>``: the closed-form gradient, the loss's signature."""
        return self._twin("gradient", "jaxloss.gradients", self.gradient_doc)

    @functools.cached_property
    def hessian(self) -> Callable[..., jax.Array]:
        """``jaxloss.hessians.<name>``: the closed-form second derivative."""
        return self._twin("hessian", "jaxloss.hessians", self.hessian_doc)

    def _bind(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list[Any], dict]:
        """A call's positional inputs and options (defaults filled in), by the public signature."""
        arguments = self.signature.bind(*args, **kwargs)
        arguments.apply_defaults()
        options = dict(arguments.arguments)
        return [options.pop(name) for name in self.argument_names], options

    def _twin(self, output: Output, module: str, doc: str) -> Callable[..., jax.Array]:
        # functools.wraps sets __wrapped__, through which inspect.signature (and so
        # IDEs, doc tools and jaxloss.checked) see the loss's own signature.
        @functools.wraps(self.loss)
        def twin(*args: Any, **kwargs: Any) -> jax.Array:
            inputs, options = self._bind(args, kwargs)
            return self.run(output, *inputs, **options)

        twin.__module__ = module
        twin.__doc__ = inspect.cleandoc(doc)
        return twin

    def hessian_vector_product(
        self,
        first: ArrayLike,
        second: ArrayLike,
        vector: ArrayLike,
        *more_inputs: ArrayLike,
        **options: Any,
    ) -> jax.Array:
        """The closed-form Hessian of the reduced loss (w.r.t. ``first``) times ``vector``.

        ``vector`` is shaped like ``first``; a loss of more than two inputs takes the
        others after it; ``options`` are the loss's keyword options (its defaults where
        absent). Never builds a ``C x C`` matrix: per-example losses use their
        closed-form Hessian-vector product.
        """
        inputs, bound = self._bind((first, second, *more_inputs), options)
        return self.run("hessian_vector_product", *inputs, vector=vector, **bound)

    def __call__(self, *inputs: ArrayLike, **options: Any) -> jax.Array:
        """The reduced loss; ``options`` are the public function's keyword arguments."""
        return self.run("loss", *inputs, **options)

    def run(self, output: Output, *inputs: ArrayLike, **options: Any) -> jax.Array:
        """``output`` (the loss or a closed-form derivative) for positional ``inputs``."""
        if len(inputs) != 2 + len(self.more_inputs):
            raise TypeError(
                f"{self.name} takes {2 + len(self.more_inputs)} positional inputs, "
                f"got {len(inputs)}"
            )
        first, second, *more = inputs
        return _frontend.run(self, output, first, second, *more, **options)

    # What the tests and tools need.

    @property
    def has_classes(self) -> bool:
        return self.target_kind in ("class_probabilities", "labels")

    def sample(
        self, rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float32
    ) -> tuple[np.ndarray, ...]:
        """Random valid inputs: a first argument of ``shape``, then each other input.

        For class losses (and per-example ones) the last entry of ``shape`` is the
        class (or feature) axis.
        """
        loss_shape = shape[:-1] if self.per_example else shape
        first = _draw(rng, self.domain, shape, dtype, first=True)
        if self.target_kind == "labels":
            second = rng.integers(0, shape[-1], size=shape[:-1]).astype(np.int32)
        else:
            second = _draw(rng, self.target_kind, shape, dtype)
        more = (
            _draw(rng, input.kind, shape if input.shape == "first" else loss_shape, dtype)
            for input in self.more_inputs
        )
        return (first, second, *more)


def _draw(
    rng: np.random.Generator, kind: str, shape: tuple[int, ...], dtype: Any, first: bool = False
) -> np.ndarray:
    """Random values of one input kind (a ``Domain`` or a ``TargetKind`` but labels)."""
    if kind == "probability":
        # A first argument stays away from 0 and 1, where the logs are steep; a target
        # may lie anywhere in [0, 1].
        values = rng.uniform(0.05, 0.95, size=shape) if first else rng.uniform(size=shape)
    elif kind == "logit":
        values = 2.0 * rng.standard_normal(shape)
    elif kind in ("class_probabilities", "log_probability"):
        scores = rng.standard_normal(shape)
        values = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
        if kind == "log_probability":
            values = np.log(values)
    elif kind == "sign":
        values = np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0)
    elif kind == "positive":
        values = rng.uniform(0.1, 2.0, size=shape)
    elif kind == "count":
        values = rng.integers(0, 6, size=shape).astype(np.float64)
    else:
        values = rng.standard_normal(shape)
    return values.astype(dtype)
