r"""Curvature of a whole training loss: sharpness, trace, spectrum, gradient noise.

Pure functions of a scalar training loss ``f(params)`` over a parameter pytree (or
of a matrix-free operator ``v -> A v`` on such pytrees). Vectors are pytrees shaped
like ``params``; every function is jit-compatible, with a fixed number of
iterations and probes, so it can run inside a compiled training program.

* :func:`hessian_vector_product`: ``H v`` by forward-over-reverse autodiff.
* :func:`gauss_newton_vector_product`: the generalized Gauss–Newton product
  ``Jᵀ H_loss J v`` of a model and a jaxloss loss, with the loss's closed-form
  Hessian-vector product (never a ``C x C`` matrix per example).
* :func:`top_eigenvalues`: Lanczos with full reorthogonalization: the ``k``
  algebraically largest eigenvalues (the first is the *sharpness*) and their
  eigenvectors, warm-startable from a previous eigenvector.
* :func:`hessian_trace`: Hutchinson's estimator with Rademacher probes, or Hutch++
  (Meyer et al., 2021), with its standard error.
* :func:`spectral_density`: stochastic Lanczos quadrature (Ghorbani et al., 2019),
  a Gaussian-broadened density of the eigenvalues on a grid.
* :func:`per_example_gradients`, :func:`per_example_gradient_norms`,
  :func:`gradient_noise_scale` and :func:`gradient_noise_scale_from_batches`: the
  simple noise scale ``B = tr(Σ) / |G|²`` of McCandlish et al. (2018).

All of it is our own code on ``jax`` alone; none of it uses matfree. matfree
(0.6.3) has a Lanczos tridiagonalization with full reorthogonalization and
stochastic trace estimators, but it does not guard an exhausted Krylov space (a
low-rank Gauss–Newton matrix of a small batch with more iterations than its rank,
or a warm start from an exact eigenvector, which is what a sharpness trace
warm-started every few steps comes close to): on ``diag(3, -2, 0, ..., 0)`` with 8
iterations its Ritz values include -7.9 and 9.7, and from an eigenvector they are
all NaN. Here the iteration continues from a new direction orthogonal to the
basis instead. The Lanczos loop below is some forty lines, and a dependency whose
API has changed in most minor releases would cost more than it saves.

Example:
  >>> import jax.numpy as jnp
  >>> from jaxloss import curvature
  >>> f = lambda w: 0.5 * (3.0 * w[0] ** 2 + w[1] ** 2)
  >>> values, vectors = curvature.top_eigenvalues(f, jnp.zeros(2), k=2)
  >>> values.round(4)
  Array([3., 1.], dtype=float32)
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.typing import ArrayLike

from jaxloss import registry
from jaxloss._definition import LossDefinition

__all__ = [
    "NoiseScale",
    "SpectralDensity",
    "TraceEstimate",
    "gauss_newton_vector_product",
    "gradient_noise_scale",
    "gradient_noise_scale_from_batches",
    "hessian_trace",
    "hessian_vector_product",
    "per_example_gradient_norms",
    "per_example_gradients",
    "spectral_density",
    "top_eigenvalues",
]

Params = Any
Matvec = Callable[[Params], Params]
Model = Callable[[Params, Any], Any]
Loss = str | LossDefinition | Callable[..., jax.Array]


# ---------------------------------------------------------------------------------------
# Products.


def hessian_vector_product(f: Callable[[Params], jax.Array], params: Params, v: Params) -> Params:
    """The Hessian of the scalar ``f`` at ``params`` times ``v``, a pytree like ``params``.

    Forward-over-reverse (``jax.jvp`` of ``jax.grad``): one gradient's memory and
    about twice to three times its time, with no Hessian formed.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda w: jnp.sum(w ** 3)
      >>> hessian_vector_product(f, jnp.array([1.0, 2.0]), jnp.array([1.0, 1.0]))
      Array([ 6., 12.], dtype=float32)
    """
    return jax.jvp(jax.grad(f), (params,), (v,))[1]


def _resolve_loss(loss: Loss) -> LossDefinition | Callable[..., jax.Array]:
    return registry.get(loss) if isinstance(loss, str) else loss


def _with_defaults(definition: LossDefinition, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the loss's documented defaults filled in.

    A definition's own entry points take every hyper-parameter by name; the public
    function's signature holds their defaults.
    """
    names = list(definition.signature.parameters.values())[2:]
    filled = {
        parameter.name: parameter.default
        for parameter in names
        if parameter.default is not inspect.Parameter.empty
    }
    filled.update(options)
    return filled


def _reduced_loss(loss: Loss, options: dict[str, Any]) -> Callable[[Any, Any], jax.Array]:
    resolved = _resolve_loss(loss)
    if isinstance(resolved, LossDefinition):
        return functools.partial(resolved.loss, **options)
    return functools.partial(resolved, **options)


def gauss_newton_vector_product(
    model: Model,
    loss: Loss,
    params: Params,
    batch: tuple[Any, Any],
    v: Params,
    **options: Any,
) -> Params:
    r"""The generalized Gauss–Newton matrix of ``loss(model(params, inputs), targets)`` times ``v``.

    .. math:: G v = J^\top H_\ell\, J v, \qquad J = \partial\,\mathrm{model}/\partial\,\theta

    where :math:`H_\ell` is the Hessian of the *reduced* loss with respect to the
    model's outputs. The reduction is the loss's own (``"mean"`` by default, over
    every entry for an elementwise loss and over examples for a per-example one;
    pass ``reduction="sum"`` or ``weights=...`` through ``options``), so ``G`` is
    the Gauss–Newton part of the Hessian of exactly the function
    ``lambda p: jaxloss.<loss>(model(p, inputs), targets, **options)``: the two
    are equal when the model is linear in ``params``.

    ``J v`` is one forward-mode product and ``Jᵀ u`` its transpose, from one
    linearization. For a jaxloss loss (a name or a
    :class:`~jaxloss.registry.LossDefinition`), :math:`H_\ell u` is the loss's
    closed-form product, ``definition.hessian_vector_product``: a per-example
    loss over ``C`` classes costs ``O(C)`` per example, never a ``C x C`` block.
    Any other callable ``loss(outputs, targets, **options) -> scalar`` gets its
    product from autodiff. ``G`` is positive semi-definite when the loss is convex
    in the outputs (cross-entropy on logits, MSE); a loss taken after a squashing
    link, such as ``sigmoid_mse`` on logits, can make it indefinite.

    Args:
      model: ``model(params, inputs) -> outputs``.
      loss: a jaxloss loss name, a ``LossDefinition``, or a callable as above.
      params: the parameter pytree.
      batch: ``(inputs, targets)``.
      v: a pytree like ``params``.
      **options: the loss's keyword options (``reduction``, ``weights``,
        hyper-parameters such as ``delta``).

    Returns:
      ``G v``, a pytree like ``params``.

    Example:
      >>> import jax.numpy as jnp
      >>> model = lambda w, x: x @ w
      >>> inputs, targets = jnp.eye(2), jnp.zeros(2)
      >>> gauss_newton_vector_product(model, "mse", jnp.ones(2), (inputs, targets),
      ...                             jnp.array([1.0, 0.0]))
      Array([1., 0.], dtype=float32)
    """
    inputs, targets = batch
    outputs, model_jvp = jax.linearize(lambda p: model(p, inputs), params)
    output_tangent = model_jvp(v)
    resolved = _resolve_loss(loss)
    if isinstance(resolved, LossDefinition):
        curvature = resolved.hessian_vector_product(
            outputs, targets, output_tangent, **_with_defaults(resolved, options)
        )
    else:
        curvature = jax.jvp(
            jax.grad(lambda out: resolved(out, targets, **options)), (outputs,), (output_tangent,)
        )[1]
    (product,) = jax.linear_transpose(model_jvp, params)(curvature)
    return product


# ---------------------------------------------------------------------------------------
# Lanczos.


def _as_matvec(matvec_or_f: Callable[[Params], Any], params: Params, is_matvec: bool | None):
    """``v -> A v``: the operator itself, or the Hessian of a scalar function."""
    if is_matvec is None:
        output = jax.eval_shape(matvec_or_f, params)
        output_leaves, output_tree = jax.tree.flatten(output)
        param_leaves, param_tree = jax.tree.flatten(params)
        scalar = output_tree.num_leaves == 1 and output_leaves[0].shape == ()
        like_params = output_tree == param_tree and all(
            jnp.shape(out) == jnp.shape(leaf)
            for out, leaf in zip(output_leaves, param_leaves, strict=True)
        )
        if scalar == like_params:
            raise ValueError(
                "cannot tell whether the function is a scalar loss or a matrix-vector "
                "product (its output is "
                f"{'both' if scalar else 'neither'} a scalar "
                f"{'and' if scalar else 'nor'} shaped like params); pass is_matvec="
            )
        is_matvec = like_params
    if is_matvec:
        return matvec_or_f
    return functools.partial(hessian_vector_product, matvec_or_f, params)


def _flat_operator(matvec: Matvec, params: Params) -> tuple[Callable, jax.Array, Callable]:
    flat_params, unravel = ravel_pytree(params)

    def flat_matvec(vector: jax.Array) -> jax.Array:
        return ravel_pytree(matvec(unravel(vector)))[0].astype(vector.dtype)

    return flat_matvec, flat_params, unravel


def _orthogonalize(vector: jax.Array, basis: jax.Array) -> jax.Array:
    # Classical Gram-Schmidt twice: "twice is enough" (Parlett) for orthogonality to
    # working precision. Unused rows of the basis are zero and drop out.
    for _ in range(2):
        vector = vector - basis.T @ (basis @ vector)
    return vector


def _lanczos(
    flat_matvec: Callable[[jax.Array], jax.Array],
    start: jax.Array,
    num_iterations: int,
    key: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """``num_iterations`` Lanczos steps from ``start``: the basis ``[m, n]`` and ``T [m, m]``.

    Each new direction is orthogonalized against the whole basis. When the Krylov
    space is exhausted (the residual vanishes), the iteration continues from the
    coordinate vector least represented in the basis, orthogonalized, with a zero
    off-diagonal entry, so ``T`` becomes block diagonal and every Ritz value is
    still an eigenvalue estimate (and the first block's quadrature is exact).
    """
    size = start.shape[0]
    dtype = start.dtype
    tolerance = 10 * jnp.finfo(dtype).eps
    fallback = jax.random.normal(key, (size,), dtype)
    start_norm = jnp.linalg.norm(start)
    start = jnp.where(
        start_norm > 0,
        start / jnp.where(start_norm > 0, start_norm, 1),
        fallback / jnp.linalg.norm(fallback),
    )

    def step(index: jax.Array, carry: tuple[jax.Array, jax.Array, jax.Array]):
        basis, diagonal, off_diagonal = carry
        vector = basis[index]
        product = flat_matvec(vector)
        alpha = jnp.vdot(vector, product)
        residual = _orthogonalize(product, basis)
        beta = jnp.linalg.norm(residual)
        exhausted = beta <= tolerance * jnp.linalg.norm(product)
        # Its component outside the basis has norm at least sqrt(1 - (index + 1) / n).
        unit = jnp.zeros(size, dtype).at[jnp.argmin(jnp.sum(basis**2, axis=0))].set(1)
        restart = _orthogonalize(unit, basis)
        following = jnp.where(
            exhausted,
            restart / jnp.linalg.norm(restart),
            residual / jnp.where(exhausted, 1, beta),
        )
        return (
            basis.at[index + 1].set(following),
            diagonal.at[index].set(alpha),
            off_diagonal.at[index].set(jnp.where(exhausted, 0, beta)),
        )

    # One spare row for the direction after the last step, which is never used.
    basis = jnp.zeros((num_iterations + 1, size), dtype).at[0].set(start)
    zeros = jnp.zeros(num_iterations, dtype)
    basis, diagonal, off_diagonal = jax.lax.fori_loop(
        0, num_iterations, step, (basis, zeros, zeros)
    )
    off = off_diagonal[:-1]
    tridiagonal = jnp.diag(diagonal) + jnp.diag(off, 1) + jnp.diag(off, -1)
    return basis[:num_iterations], tridiagonal


def _iterations(num_iterations: int, size: int) -> int:
    if num_iterations < 1:
        raise ValueError(f"num_iterations must be at least 1, got {num_iterations}")
    # A Krylov space of R^n has at most n dimensions.
    return min(num_iterations, size)


def top_eigenvalues(
    matvec_or_f: Callable[[Params], Any],
    params: Params,
    k: int = 1,
    *,
    num_iterations: int = 20,
    key: jax.Array | None = None,
    initial: Params | None = None,
    is_matvec: bool | None = None,
) -> tuple[jax.Array, Params]:
    """The ``k`` largest eigenvalues and their eigenvectors, by Lanczos.

    ``matvec_or_f`` is either a scalar function of ``params`` (its Hessian at
    ``params`` is used, through :func:`hessian_vector_product`) or a symmetric
    linear operator ``v -> A v`` on pytrees like ``params`` (for instance
    ``functools.partial(gauss_newton_vector_product, model, loss, params, batch)``).
    Which one is read from the output's shape: a scalar, or a pytree like
    ``params``; ``is_matvec=True``/``False`` says it outright and is required
    when ``params`` is a single scalar.

    "Largest" is algebraic: the first eigenvalue is the sharpness
    ``λ_max(H)``, not the largest in magnitude. Lanczos runs exactly
    ``min(num_iterations, n)`` steps with full reorthogonalization (each costs one
    product and ``O(n · num_iterations)`` more), so it compiles to one loop and
    runs under ``jit``. Extreme eigenvalues converge first; ``k`` well below
    ``num_iterations`` is accurate. The start is ``initial`` when given (a pytree
    like ``params``, e.g. the top eigenvector of the previous training step,
    which makes a few iterations enough), else a normal draw from ``key``
    (``jax.random.key(0)`` when ``None``). A fixed key gives bitwise the same
    result.

    Args:
      matvec_or_f: the scalar function or the operator.
      params: where the Hessian is taken; also the shape of every vector.
      k: how many eigenvalues, at most ``num_iterations``.
      num_iterations: Lanczos steps (products with the operator).
      key: a ``jax.random`` key for the start and restarts.
      initial: a warm start, a pytree like ``params``.
      is_matvec: whether ``matvec_or_f`` is an operator; ``None`` infers it.

    Returns:
      ``(eigenvalues, eigenvectors)``: ``[k]`` in descending order, and a pytree
      like ``params`` with a leading axis ``k`` of unit-norm eigenvectors.

    Example:
      >>> import jax.numpy as jnp
      >>> matrix = jnp.diag(jnp.array([4.0, -5.0, 1.0]))
      >>> values, vectors = top_eigenvalues(lambda v: matrix @ v, jnp.zeros(3), k=2)
      >>> values.round(4)
      Array([4., 1.], dtype=float32)
      >>> jnp.abs(vectors[0]).round(3)
      Array([1., 0., 0.], dtype=float32)
    """
    matvec = _as_matvec(matvec_or_f, params, is_matvec)
    flat_matvec, flat_params, unravel = _flat_operator(matvec, params)
    iterations = _iterations(num_iterations, flat_params.shape[0])
    if not 1 <= k <= iterations:
        raise ValueError(
            f"k must be between 1 and the number of Lanczos steps {iterations}, got {k}"
        )
    key = jax.random.key(0) if key is None else key
    if initial is None:
        start = jnp.zeros_like(flat_params)  # a zero start draws a normal one from key
    else:
        start = ravel_pytree(initial)[0].astype(flat_params.dtype)
    basis, tridiagonal = _lanczos(flat_matvec, start, iterations, key)
    ritz_values, ritz_vectors = jnp.linalg.eigh(tridiagonal)
    values = ritz_values[::-1][:k]
    vectors = ritz_vectors[:, ::-1][:, :k].T @ basis
    return values, jax.vmap(unravel)(vectors)


# ---------------------------------------------------------------------------------------
# Trace.


class TraceEstimate(NamedTuple):
    """A stochastic trace estimate.

    Attributes:
      estimate: the estimate of ``tr(A)``, the mean of ``samples``.
      standard_error: ``std(samples) / sqrt(len(samples))`` (sample standard
        deviation): the estimate's standard error.
      samples: one independent unbiased estimate per probe (for Hutch++, per probe
        of its residual part, each including the exact low-rank part).
    """

    estimate: jax.Array
    standard_error: jax.Array
    samples: jax.Array


def _apply(flat_matvec: Callable, vectors: jax.Array, batch_size: int | None) -> jax.Array:
    """``A`` applied to each row of ``vectors``: all at once, or ``batch_size`` at a time."""
    if batch_size is None:
        return jax.vmap(flat_matvec)(vectors)
    return jax.lax.map(flat_matvec, vectors, batch_size=batch_size)


def _summary(samples: jax.Array) -> TraceEstimate:
    count = samples.shape[0]
    spread = jnp.std(samples, ddof=1) if count > 1 else jnp.full((), jnp.inf, samples.dtype)
    return TraceEstimate(jnp.mean(samples), spread / math.sqrt(count), samples)


def hessian_trace(
    matvec_or_f: Callable[[Params], Any],
    params: Params,
    *,
    num_probes: int = 100,
    key: jax.Array | None = None,
    method: Literal["hutchinson", "hutch++"] = "hutchinson",
    batch_size: int | None = None,
    is_matvec: bool | None = None,
) -> TraceEstimate:
    r"""A stochastic estimate of ``tr(H)`` (or ``tr(A)``) and its standard error.

    ``"hutchinson"``: :math:`\mathrm{tr}(A) \approx \frac1m \sum_i z_i^\top A z_i`
    with Rademacher probes :math:`z_i \in \{-1, 1\}^n`, whose variance
    :math:`2 \sum_{i \ne j} A_{ij}^2` is the least of any i.i.d. probe.
    ``"hutch++"`` (Meyer, Musco, Musco and Woodruff, 2021) spends a third of the
    probes on a sketch ``Q`` of ``A``'s range, takes ``tr(QᵀAQ)`` exactly, and the
    last third on Hutchinson's estimate of the rest,
    ``tr((I - QQᵀ) A (I - QQᵀ))``; with a few dominant eigenvalues (a network's
    Hessian has them) its error is far smaller for the same ``num_probes``
    products. The standard error is over the residual probes and counts the
    randomness of those probes only.

    ``matvec_or_f`` is read as in :func:`top_eigenvalues`. The products run all
    at once under ``vmap``, or ``batch_size`` at a time to bound memory.

    Returns:
      A :class:`TraceEstimate`.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda w: 0.5 * jnp.sum(jnp.array([1.0, 2.0, 3.0]) * w ** 2)
      >>> result = hessian_trace(f, jnp.zeros(3), num_probes=10)
      >>> result.estimate, result.standard_error
      (Array(6., dtype=float32), Array(0., dtype=float32))
    """
    matvec = _as_matvec(matvec_or_f, params, is_matvec)
    flat_matvec, flat_params, _ = _flat_operator(matvec, params)
    size, dtype = flat_params.shape[0], flat_params.dtype
    key = jax.random.key(0) if key is None else key
    if method == "hutchinson":
        if num_probes < 1:
            raise ValueError(f"num_probes must be at least 1, got {num_probes}")
        probes = jax.random.rademacher(key, (num_probes, size), dtype)
        products = _apply(flat_matvec, probes, batch_size)
        return _summary(jnp.sum(probes * products, axis=1))
    if method != "hutch++":
        raise ValueError(f"method must be 'hutchinson' or 'hutch++', got {method!r}")
    third = num_probes // 3
    if third < 1:
        raise ValueError(f"hutch++ needs num_probes >= 3, got {num_probes}")
    sketch_key, residual_key = jax.random.split(key)
    sketch = jax.random.rademacher(sketch_key, (third, size), dtype)
    range_basis = jnp.linalg.qr(_apply(flat_matvec, sketch, batch_size).T)[0].T  # [third, n]
    low_rank = jnp.sum(range_basis * _apply(flat_matvec, range_basis, batch_size))
    probes = jax.random.rademacher(residual_key, (num_probes - 2 * third, size), dtype)
    probes = probes - (probes @ range_basis.T) @ range_basis
    residual = jnp.sum(probes * _apply(flat_matvec, probes, batch_size), axis=1)
    return _summary(low_rank + residual)


# ---------------------------------------------------------------------------------------
# Spectral density.


class SpectralDensity(NamedTuple):
    """A stochastic Lanczos quadrature estimate of the eigenvalue density.

    Attributes:
      grid: ``[num_points]`` eigenvalue axis.
      density: ``[num_points]``, the Gaussian-broadened density on ``grid``; it
        integrates to 1 (multiply by ``n`` for eigenvalues per unit).
      nodes: ``[num_probes, m]`` quadrature nodes (Ritz values) of each probe.
      weights: ``[num_probes, m]`` their weights; each probe's sum to 1.
      sigma: the standard deviation of the Gaussian broadening.
    """

    grid: jax.Array
    density: jax.Array
    nodes: jax.Array
    weights: jax.Array
    sigma: jax.Array

    def moment(self, power: int) -> tuple[jax.Array, jax.Array]:
        """``tr(Aᵖ) / n`` estimated from the quadrature, and its standard error.

        Exact for each probe when ``power < 2 m`` (Gauss quadrature), so the error
        is the probes' sampling error alone. The broadened ``density``'s own
        moments differ by the Gaussian's (``+ sigma²`` for ``power=2``).

        Example:
          >>> import jax.numpy as jnp
          >>> matrix = jnp.diag(jnp.array([1.0, 2.0, 3.0, 4.0]))
          >>> result = spectral_density(lambda v: matrix @ v, jnp.zeros(4), num_iterations=4)
          >>> result.moment(1)[0]
          Array(2.5, dtype=float32)
        """
        per_probe = jnp.sum(self.weights * self.nodes**power, axis=1)
        count = per_probe.shape[0]
        spread = jnp.std(per_probe, ddof=1) if count > 1 else jnp.full((), jnp.inf, per_probe.dtype)
        return jnp.mean(per_probe), spread / math.sqrt(count)


def spectral_density(
    matvec_or_f: Callable[[Params], Any],
    params: Params,
    *,
    num_probes: int = 8,
    num_iterations: int = 40,
    num_points: int = 512,
    sigma: float | None = None,
    key: jax.Array | None = None,
    batch_size: int | None = None,
    is_matvec: bool | None = None,
) -> SpectralDensity:
    r"""The eigenvalue density of the Hessian (or ``A``), by stochastic Lanczos quadrature.

    For each of ``num_probes`` random unit vectors ``u`` (Rademacher, scaled),
    ``num_iterations`` Lanczos steps give a tridiagonal ``T = S Θ Sᵀ`` whose Ritz
    values :math:`\theta_j` and weights :math:`\tau_j = S_{1j}^2` form a Gauss
    quadrature of the spectral measure of ``u``: :math:`u^\top f(A)\,u \approx
    \sum_j \tau_j f(\theta_j)`, exact for polynomials of degree below
    ``2 m``. Averaged over probes and each node widened into a Gaussian of standard
    deviation ``sigma``, this estimates :math:`\frac1n \sum_i \delta(t - \lambda_i)`
    (Ghorbani, Krishnan and Xiao, 2019; Lin, Saad and Yang, 2016).

    The grid spans the nodes plus five ``sigma`` each side, in ``num_points``
    points. ``sigma`` defaults to 1% of the span of the nodes. The probes' Lanczos
    runs share one ``vmap`` (``num_probes × num_iterations × n`` numbers of basis),
    or run ``batch_size`` at a time.

    Returns:
      A :class:`SpectralDensity`; its ``moment(p)`` estimates ``tr(Aᵖ)/n``.

    Example:
      >>> import jax.numpy as jnp
      >>> matrix = jnp.diag(jnp.array([-1.0, 1.0, 1.0, 3.0]))
      >>> result = spectral_density(lambda v: matrix @ v, jnp.zeros(4), num_iterations=4)
      >>> float(result.grid[jnp.argmax(result.density)])
      1.0...
    """
    matvec = _as_matvec(matvec_or_f, params, is_matvec)
    flat_matvec, flat_params, _ = _flat_operator(matvec, params)
    size, dtype = flat_params.shape[0], flat_params.dtype
    iterations = _iterations(num_iterations, size)
    if num_probes < 1:
        raise ValueError(f"num_probes must be at least 1, got {num_probes}")
    key = jax.random.key(0) if key is None else key
    probe_key, lanczos_key = jax.random.split(key)
    probes = jax.random.rademacher(probe_key, (num_probes, size), dtype)
    keys = jax.random.split(lanczos_key, num_probes)

    def quadrature(probe_and_key: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        probe, probe_key = probe_and_key
        _, tridiagonal = _lanczos(flat_matvec, probe, iterations, probe_key)
        nodes, vectors = jnp.linalg.eigh(tridiagonal)
        return nodes, vectors[0] ** 2

    if batch_size is None:
        nodes, weights = jax.vmap(quadrature)((probes, keys))
    else:
        nodes, weights = jax.lax.map(quadrature, (probes, keys), batch_size=batch_size)
    low, high = jnp.min(nodes), jnp.max(nodes)
    span = high - low
    if sigma is None:
        # A span of zero (a multiple of the identity) still gets a visible peak.
        width = 0.01 * jnp.where(span > 0, span, jnp.maximum(jnp.abs(high), 1))
    else:
        width = jnp.asarray(sigma, dtype)
    grid = jnp.linspace(low - 5 * width, high + 5 * width, num_points, dtype=dtype)
    offsets = (grid[:, None] - nodes.reshape(-1)[None, :]) / width
    kernel = jnp.exp(-0.5 * offsets**2) / (width * math.sqrt(2 * math.pi))
    density = kernel @ weights.reshape(-1) / num_probes
    return SpectralDensity(grid, density, nodes, weights, width)


# ---------------------------------------------------------------------------------------
# Per-example gradients and the gradient noise scale.


def per_example_gradients(
    loss: Loss, model: Model, params: Params, batch: tuple[Any, Any], **options: Any
) -> Params:
    """The gradient of each example's loss, a pytree like ``params`` with a leading batch axis.

    Example ``i``'s loss is ``loss(model(params, inputs[i:i+1]), targets[i:i+1],
    **options)`` with the loss's default mean reduction, so the batch's mean loss
    is the mean of the examples' and its gradient the mean of these. Computed
    with ``vmap`` over ``jax.grad``, in one compiled computation (no Python loop).
    ``inputs`` and ``targets`` may be pytrees; their leaves share the leading
    batch axis. ``loss`` is a jaxloss loss name, a ``LossDefinition``, or a
    callable ``loss(outputs, targets, **options) -> scalar``.

    Example:
      >>> import jax.numpy as jnp
      >>> model = lambda w, x: x @ w
      >>> batch = (jnp.array([[1.0], [2.0]]), jnp.array([0.0, 0.0]))
      >>> per_example_gradients("mse", model, jnp.array([1.0]), batch)
      Array([[2.],
             [8.]], dtype=float32)
    """
    reduced = _reduced_loss(loss, options)
    inputs, targets = batch

    def example_loss(p: Params, example_inputs: Any, example_targets: Any) -> jax.Array:
        add_axis = functools.partial(jax.tree.map, lambda leaf: jnp.expand_dims(leaf, 0))
        return reduced(model(p, add_axis(example_inputs)), add_axis(example_targets))

    return jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0))(params, inputs, targets)


def _squared_norms(per_example: Params) -> jax.Array:
    leaves = jax.tree.leaves(per_example)
    return sum(
        jnp.sum(jnp.square(leaf).reshape(leaf.shape[0], -1), axis=1) for leaf in leaves
    ) + jnp.zeros(leaves[0].shape[0], leaves[0].dtype)


def per_example_gradient_norms(
    loss: Loss, model: Model, params: Params, batch: tuple[Any, Any], **options: Any
) -> jax.Array:
    """The Euclidean norm of each example's gradient (over every parameter), ``[batch]``.

    See :func:`per_example_gradients` for what an example's loss is.

    Example:
      >>> import jax.numpy as jnp
      >>> model = lambda w, x: x @ w
      >>> batch = (jnp.array([[1.0], [2.0]]), jnp.array([0.0, 0.0]))
      >>> per_example_gradient_norms("mse", model, jnp.array([1.0]), batch)
      Array([2., 8.], dtype=float32)
    """
    return jnp.sqrt(_squared_norms(per_example_gradients(loss, model, params, batch, **options)))


class NoiseScale(NamedTuple):
    """The simple gradient noise scale and its two parts (McCandlish et al., 2018).

    Attributes:
      noise_scale: ``trace_covariance / gradient_squared_norm``, the batch size
        beyond which a larger batch stops cutting the steps needed much.
      trace_covariance: an unbiased estimate of ``tr(Σ)``, the per-example
        gradients' covariance's trace.
      gradient_squared_norm: an unbiased estimate of ``|G|²``, the squared norm of
        the true (expected) gradient. It can come out negative when the gradient
        is mostly noise; average both parts over steps before dividing, as the
        paper does.
    """

    noise_scale: jax.Array
    trace_covariance: jax.Array
    gradient_squared_norm: jax.Array


def gradient_noise_scale_from_batches(
    small_squared_norm: ArrayLike,
    small_batch_size: int,
    big_squared_norm: ArrayLike,
    big_batch_size: int,
) -> NoiseScale:
    r"""The simple noise scale from the squared gradient norms at two batch sizes.

    McCandlish et al. (2018), Appendix A: with :math:`|G_B|^2` the squared norm of
    a batch-``B`` mean gradient, :math:`\mathbb E|G_B|^2 = |G|^2 + \mathrm{tr}(\Sigma)/B`,
    so

    .. math::
       |G|^2 \approx \frac{B_\mathrm{big}|G_\mathrm{big}|^2 - B_\mathrm{small}|G_\mathrm{small}|^2}
                         {B_\mathrm{big} - B_\mathrm{small}}, \qquad
       \mathrm{tr}(\Sigma) \approx \frac{|G_\mathrm{small}|^2 - |G_\mathrm{big}|^2}
                              {1/B_\mathrm{small} - 1/B_\mathrm{big}}

    are unbiased. Pass averages over many steps (or data-parallel workers) for a
    usable ratio.

    Example:
      >>> result = gradient_noise_scale_from_batches(3.0, 1, 1.2, 10)
      >>> [round(float(value), 3) for value in result]
      [2.0, 2.0, 1.0]
    """
    if small_batch_size == big_batch_size:
        raise ValueError(f"the two batch sizes must differ, both are {small_batch_size}")
    small, big = jnp.asarray(small_squared_norm), jnp.asarray(big_squared_norm)
    gradient = (big_batch_size * big - small_batch_size * small) / (
        big_batch_size - small_batch_size
    )
    trace = (small - big) / (1 / small_batch_size - 1 / big_batch_size)
    return NoiseScale(trace / gradient, trace, gradient)


def gradient_noise_scale(
    loss: Loss, model: Model, params: Params, batch: tuple[Any, Any], **options: Any
) -> NoiseScale:
    r"""The simple noise scale ``B = tr(Σ) / |G|²`` from one batch's per-example gradients.

    With the ``B`` per-example gradients :math:`g_i` and their mean :math:`\bar g`,

    .. math::
       \mathrm{tr}(\Sigma) \approx \frac{1}{B-1}\sum_i |g_i - \bar g|^2, \qquad
       |G|^2 \approx |\bar g|^2 - \mathrm{tr}(\Sigma)/B,

    both unbiased: :func:`gradient_noise_scale_from_batches` with batch sizes 1
    (the mean of :math:`|g_i|^2`) and ``B``. See :func:`per_example_gradients`
    for ``loss``, ``model`` and ``batch``.

    Example:
      >>> import jax.numpy as jnp
      >>> model = lambda w, x: x @ w
      >>> batch = (jnp.array([[1.0], [2.0], [3.0]]), jnp.array([0.0, 0.0, 0.0]))
      >>> result = gradient_noise_scale("mse", model, jnp.array([1.0]), batch)
      >>> [round(float(value), 3) for value in result]
      [1.0, 65.333, 65.333]
    """
    gradients = per_example_gradients(loss, model, params, batch, **options)
    squared = _squared_norms(gradients)
    count = squared.shape[0]
    if count < 2:
        raise ValueError(f"the noise scale needs at least 2 examples, got {count}")
    mean_gradient = jax.tree.map(lambda leaf: jnp.mean(leaf, axis=0, keepdims=True), gradients)
    return gradient_noise_scale_from_batches(
        jnp.mean(squared), 1, _squared_norms(mean_gradient)[0], count
    )
