"""The training harness: steps in ``lax.scan``, seeds and learning rates under ``vmap``.

One configuration (loss, model, optimizer, init, data shapes, number of seeds and
learning rates, devices) compiles once; different seed values and learning-rate
values reuse the compiled program. Steps run in chunks so that a caller can show
progress between them; a chunk past the last step leaves the parameters unchanged.

Per step and per run it records the training loss and accuracy, the test loss and
accuracy, the norm of the gradient with respect to the output logits, and the norm
of the gradient with respect to each parameter array.

With ``Experiment(sharpness_every=K)`` it also records the sharpness, the largest
eigenvalue of the Hessian of the training loss, at steps ``0, K, 2K, ...``: Lanczos
(:func:`jaxloss.curvature.top_eigenvalues`) warm-started from the previous
measurement's eigenvector, inside the same compiled program. Each chunk is then a
scan over blocks of ``K`` steps that measures before its first step; a
``lax.cond`` on the step number would not do, because under the ``vmap`` over runs
its predicate is batched and both branches (Lanczos included) would run every step.

A run diverges at the first step whose loss or any parameter is not finite. From
that step on its records are NaN: the accuracy of NaN parameters (every logit NaN,
every prediction class 0) would otherwise read as a plausible number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import pathlib
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import jaxloss
from jaxloss import curvature, registry
from jaxloss.train.datasets import Dataset
from jaxloss.train.models import Model, ModelSpec, build

MOMENTUM = 0.9
# Every step uses the whole training split, so "sgd" is full-batch gradient descent
# as well; "gd" names the same update, w <- w - lr * grad, the one whose stability
# threshold on a quadratic is sharpness = 2 / lr (Cohen et al., 2021).
OPTIMIZERS: dict[str, Callable[[Any], optax.GradientTransformation]] = {
    "gd": optax.sgd,
    "sgd": optax.sgd,
    "momentum": lambda learning_rate: optax.sgd(learning_rate, momentum=MOMENTUM),
    "adam": optax.adam,
}
RECORDS = (
    "loss",
    "accuracy",
    "test_loss",
    "test_accuracy",
    "logit_grad_norm",
    "saturated_fraction",
)
# An output unit counts as saturated when the slope p (1 - p) of its predicted class's
# probability is below this: |z| > 4.6 for a sigmoid unit, p > 0.99 for a softmax.
SATURATION_SLOPE = 0.01
# The same test without an exponential per logit: p (1 - p) < s exactly where p lies
# outside the roots of p^2 - p + s, that is |z| > 2 atanh(sqrt(1 - 4 s)) for a sigmoid.
_SLOPE_ROOT = math.sqrt(1 - 4 * SATURATION_SLOPE)
_SATURATION_LOGIT = 2 * math.atanh(_SLOPE_ROOT)
_SATURATION_PROBABILITIES = ((1 - _SLOPE_ROOT) / 2, (1 + _SLOPE_ROOT) / 2)
# Losses that can train each kind of task, through the link the registry names.
CLASS_TARGETS = ("class_probabilities", "labels")
BINARY_LOSSES = tuple(
    name
    for name, spec in registry.LOSSES.items()
    if spec.domain in ("logit", "probability") and spec.target_kind == "probability"
)
MULTICLASS_LOSSES = tuple(
    name for name, spec in registry.LOSSES.items() if spec.target_kind in CLASS_TARGETS
)
LINKS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "identity": lambda logits: logits,
    "sigmoid": jax.nn.sigmoid,
    "softmax": jax.nn.softmax,
    "log_softmax": jax.nn.log_softmax,
}


def _standard_promotion():
    # optax's adam mixes Python floats with integer step counts; under a caller's
    # strict dtype promotion that would fail, so the harness traces with the default.
    return jax.numpy_dtype_promotion("standard")


@contextlib.contextmanager
def _interrupts_held():
    """Holds SIGINT and SIGTERM until the block ends, then delivers them.

    XLA cannot abandon a compilation midway: a process that exits while one runs
    can crash in its teardown ("Segmentation fault" instead of a clean stop).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[signal.Signals] = []
    previous = {
        signum: signal.signal(signum, lambda signum, frame: received.append(signal.Signals(signum)))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            handler = previous[signum]
            if callable(handler):
                handler(signum, None)
            elif handler == signal.SIG_DFL:
                os.kill(os.getpid(), signum)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """Everything that defines one compiled training program except seeds and rates."""

    loss: str
    model: ModelSpec = dataclasses.field(default_factory=ModelSpec)
    optimizer: str = "sgd"
    steps: int = 3000
    init: str = "normal"
    sharpness_every: int | None = None
    sharpness_iterations: int = 20

    def __post_init__(self) -> None:
        registry.get(self.loss)
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.optimizer!r}; choose from {', '.join(OPTIMIZERS)}"
            )
        if self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")
        if self.sharpness_every is not None and not 1 <= self.sharpness_every < self.steps:
            raise ValueError(
                f"sharpness_every must be a whole number of steps from 1 to steps - 1 "
                f"({self.steps - 1}), got {self.sharpness_every}"
            )
        if self.sharpness_iterations < 1:
            raise ValueError(
                f"sharpness_iterations must be positive, got {self.sharpness_iterations}"
            )

    @property
    def sharpness_steps(self) -> np.ndarray:
        """The steps at which the sharpness is measured (before that step's update)."""
        if self.sharpness_every is None:
            return np.zeros(0, np.int64)
        return np.arange(0, self.steps, self.sharpness_every)


NEVER_DIVERGED = -1


@dataclasses.dataclass
class Result:
    """Per-step records shaped ``[learning rates, seeds, steps]`` (and timings).

    Entry ``t`` of the training records is measured before update ``t + 1``; entry
    ``t`` of the test records after it. ``parameter_grad_norms`` has a last axis
    over ``parameter_names``.
    ``diverged_at`` is ``[learning rates, seeds]``: the first step whose loss or any
    parameter was not finite, or ``NEVER_DIVERGED`` (-1); from that step on the
    run's records are NaN.
    ``sharpness`` is ``[learning rates, seeds, measurements]``, measured at
    ``experiment.sharpness_steps`` with the parameters that give the training loss
    of that step, or None when the experiment does not measure it.
    """

    experiment: Experiment
    dataset: str
    seeds: np.ndarray
    learning_rates: np.ndarray
    records: dict[str, np.ndarray]
    parameter_grad_norms: np.ndarray
    parameter_names: list[str]
    diverged_at: np.ndarray
    compile_s: float
    run_s: float
    sharpness: np.ndarray | None = None

    @property
    def diverged(self) -> np.ndarray:
        """``[learning rates, seeds]``: whether each run diverged."""
        return self.diverged_at != NEVER_DIVERGED

    def diverged_runs(self) -> list[tuple[float, int, int]]:
        """``(learning rate, seed, first step)`` of each run that diverged."""
        return [
            (
                float(self.learning_rates[rate_index]),
                int(self.seeds[seed_index]),
                int(self.diverged_at[rate_index, seed_index]),
            )
            for rate_index, seed_index in zip(*np.nonzero(self.diverged), strict=True)
        ]


def check_loss_fits_task(loss: str, dataset: Dataset) -> None:
    valid = BINARY_LOSSES if dataset.is_binary else MULTICLASS_LOSSES
    if loss not in valid:
        kind = "binary" if dataset.is_binary else f"{dataset.num_classes}-class"
        raise ValueError(
            f"loss {loss!r} does not fit the {kind} dataset {dataset.name!r}; "
            f"choose from {', '.join(valid)}"
        )


def _objective(loss: str, num_classes: int):
    """The loss as a function of the model's logits and the integer labels."""
    spec = registry.get(loss)
    link = LINKS[spec.link]

    def objective(logits: jax.Array, labels: jax.Array) -> jax.Array:
        if spec.target_kind == "labels":
            targets = labels
        elif spec.target_kind == "class_probabilities":
            targets = jaxloss.one_hot(labels, num_classes, dtype=logits.dtype)
        else:
            targets = labels.astype(logits.dtype)
        return spec.loss(link(logits), targets)

    return objective


def _saturated_fraction(logits: jax.Array) -> jax.Array:
    if logits.ndim == 1:
        return jnp.mean(jnp.abs(logits) > _SATURATION_LOGIT)
    # The largest softmax probability is 1 / sum(exp(z - max z)).
    shifted = logits - jnp.max(logits, axis=-1, keepdims=True)
    total = jnp.sum(jnp.exp(shifted), axis=-1)
    low, high = _SATURATION_PROBABILITIES
    return jnp.mean((total < 1 / high) | (total > 1 / low))


def _predictions(logits: jax.Array) -> jax.Array:
    # One output unit: a positive logit predicts class 1. Several: the largest wins.
    if logits.ndim == 1:
        return (logits > 0).astype(jnp.int32)
    return jnp.argmax(logits, axis=-1).astype(jnp.int32)


class _Program:
    """The compiled init and chunk functions of one configuration."""

    def __init__(
        self,
        experiment: Experiment,
        model: Model,
        num_classes: int,
        chunk_steps: int,
        mesh: Mesh | None,
    ) -> None:
        self.experiment = experiment
        self.model = model
        self.chunk_steps = chunk_steps
        self.mesh = mesh
        self.traces = 0
        objective = _objective(experiment.loss, num_classes)
        make_optimizer = OPTIMIZERS[experiment.optimizer]

        every = experiment.sharpness_every

        def init_one(seed: jax.Array, learning_rate: jax.Array):
            params = model.init(jax.random.key(seed), experiment.init)
            state = (params, make_optimizer(learning_rate).init(params), jnp.zeros((), jnp.int32))
            if every is None:
                return state
            # The warm start of the first measurement: zero draws a random start.
            return (*state, jax.tree.map(jnp.zeros_like, params))

        def sharpness(params, previous, x_train, y_train):
            # Linearized once per measurement: each Lanczos product is then the
            # tangent pass alone, not the gradient's forward and backward pass again.
            _, hessian_product = jax.linearize(
                jax.grad(lambda p: objective(model.apply(p, x_train), y_train)), params
            )
            values, vectors = curvature.top_eigenvalues(
                hessian_product,
                params,
                num_iterations=experiment.sharpness_iterations,
                initial=previous,
                is_matvec=True,
            )
            return values[0], jax.tree.map(lambda leaf: leaf[0], vectors)

        def chunk_one(state, learning_rate, data):
            x_train, y_train, x_test, y_test = data
            optimizer = make_optimizer(learning_rate)

            def step(state, _):
                params, optimizer_state, index = state
                logits, pullback = jax.vjp(lambda p: model.apply(p, x_train), params)
                loss, logit_grad = jax.value_and_grad(objective)(logits, y_train)
                (grads,) = pullback(logit_grad)
                # The loss and the parameters that gave it; a non-finite update shows
                # in the next step's parameters.
                finite = jnp.isfinite(loss) & jnp.all(
                    jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(params)])
                )
                updates, new_optimizer_state = optimizer.update(grads, optimizer_state, params)
                new_params: Any = optax.apply_updates(params, updates)
                if experiment.steps % chunk_steps:
                    # Steps past the requested count (the last chunk's tail) change nothing.
                    active = index < experiment.steps
                    new_params, new_optimizer_state = jax.tree.map(
                        lambda new, old: jnp.where(active, new, old),
                        (new_params, new_optimizer_state),
                        (params, optimizer_state),
                    )
                params, optimizer_state = new_params, new_optimizer_state
                test_logits = model.apply(params, x_test)
                record = {
                    "finite": finite,
                    "loss": loss,
                    "accuracy": jnp.mean(_predictions(logits) == y_train),
                    "test_loss": objective(test_logits, y_test),
                    "test_accuracy": jnp.mean(_predictions(test_logits) == y_test),
                    "logit_grad_norm": jnp.linalg.norm(logit_grad),
                    "saturated_fraction": _saturated_fraction(logits),
                    "parameter_grad_norms": jnp.stack(
                        [jnp.linalg.norm(leaf) for leaf in jax.tree.leaves(grads)]
                    ),
                }
                return (params, optimizer_state, index + 1), record

            if every is None:
                return jax.lax.scan(step, state, None, length=chunk_steps)

            def block(state, _):
                *training, previous = state
                value, vector = sharpness(training[0], previous, x_train, y_train)
                training, records = jax.lax.scan(step, tuple(training), None, length=every)
                return (*training, vector), (records, value)

            state, (records, values) = jax.lax.scan(block, state, None, length=chunk_steps // every)
            # [blocks, every, ...] -> [steps, ...], as without measurements.
            records = jax.tree.map(lambda r: r.reshape(chunk_steps, *r.shape[2:]), records)
            return state, {**records, "sharpness": values}

        def over_runs(function):
            # Inner vmap over seeds (axis 1), outer over learning rates (axis 0).
            return jax.vmap(jax.vmap(function, in_axes=(0, None)), in_axes=(None, 0))

        def init_all(seeds, learning_rates):
            return over_runs(init_one)(seeds, learning_rates)

        def chunk_all(state, learning_rates, data):
            self.traces += 1
            per_run = jax.vmap(jax.vmap(chunk_one, in_axes=(0, None, None)), in_axes=(0, 0, None))
            return per_run(state, learning_rates, data)

        self._init = jax.jit(init_all)
        self._chunk = jax.jit(chunk_all)
        # One compiled chunk per argument signature: the same configuration may run
        # with another number of seeds or learning rates, or on another dataset split.
        self._compiled_chunks: dict[tuple, Any] = {}

    def place(self, array: jax.Array | np.ndarray, seeds_axis: int | None) -> jax.Array:
        """Puts an array on the mesh, split along its seeds axis (or replicated)."""
        if self.mesh is None:
            return jnp.asarray(array)
        spec: list[str | None] = [None] * np.ndim(array)
        if seeds_axis is not None:
            spec[seeds_axis] = "seeds"
        return jax.device_put(array, NamedSharding(self.mesh, PartitionSpec(*spec)))

    def initial_state(self, seeds: np.ndarray, learning_rates: np.ndarray):
        with _interrupts_held(), _standard_promotion():
            state = self._init(self.place(seeds, 0), self.place(learning_rates, None))
        if self.mesh is None:
            return state
        return jax.tree.map(lambda leaf: self.place(leaf, 1), state)

    def compile(self, state, learning_rates, data) -> float:
        """Compiles the chunk function ahead of time, once per argument signature.

        Returns the seconds it took (0 when this signature was compiled before).
        """
        signature = _signature(state, learning_rates, data)
        if signature in self._compiled_chunks:
            return 0.0
        start = time.perf_counter()
        with _interrupts_held(), _standard_promotion():
            compiled = self._chunk.lower(state, learning_rates, data).compile()
        self._compiled_chunks[signature] = compiled
        return time.perf_counter() - start

    def run_chunk(self, state, learning_rates, data):
        compiled = self._compiled_chunks[_signature(state, learning_rates, data)]
        return compiled(state, learning_rates, data)


def _signature(*trees) -> tuple:
    """The tree structure, shapes and dtypes of the arguments: what a compilation fixes."""
    leaves, structure = jax.tree.flatten(trees)
    return (structure, *((np.shape(leaf), np.dtype(leaf.dtype).name) for leaf in leaves))


@functools.lru_cache(maxsize=32)
def _program(
    experiment: Experiment,
    num_features: int,
    num_classes: int,
    chunk_steps: int,
    devices: int,
) -> _Program:
    model = build(experiment.model, num_features, num_classes)
    mesh = None
    if devices > 1:
        mesh = Mesh(np.asarray(jax.devices()[:devices]), ("seeds",))
    return _Program(experiment, model, num_classes, chunk_steps, mesh)


def use_compilation_cache(folder: pathlib.Path) -> None:
    """Keeps compiled programs in ``folder``: a repeated configuration skips compiling.

    This sets JAX's process-wide persistent cache, so call it before the first
    compilation; the command line does, with ``--cache``.
    """
    jax.config.update("jax_compilation_cache_dir", str(folder / "xla"))
    # JAX caches only programs that took a second to compile by default; the study's
    # take less and are still worth keeping.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def check_devices(devices: int, num_seeds: int) -> None:
    available = jax.devices()
    if not 1 <= devices <= len(available):
        hint = ""
        if available[0].platform == "cpu":
            hint = (
                f"; to simulate {devices} CPU devices, set "
                f"XLA_FLAGS=--xla_force_host_platform_device_count={devices} before starting"
            )
        raise ValueError(
            f"devices must be between 1 and {len(available)} here, got {devices}{hint}"
        )
    if num_seeds % devices:
        raise ValueError(f"the number of seeds ({num_seeds}) must divide by devices ({devices})")


# Chunks dispatched ahead of the one being waited for: enough to keep the device busy,
# few enough that an interrupt waits only for them.
IN_FLIGHT = 2


def train(
    experiment: Experiment,
    dataset: Dataset,
    seeds: Sequence[int] | np.ndarray,
    learning_rates: Sequence[float] | np.ndarray,
    *,
    devices: int = 1,
    chunk_steps: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> Result:
    """Trains one model per (learning rate, seed) pair, all in one compiled program.

    Args:
      experiment: loss, model, optimizer, step count and initialisation.
      dataset: the data; its training split is used as one full batch.
      seeds: integer seeds, one run each (the seeds axis is vmapped and sharded).
      learning_rates: positive learning rates, vmapped as an outer axis.
      devices: how many of ``jax.devices()`` to shard the seeds axis across.
      chunk_steps: steps per compiled chunk (default: all steps in one chunk),
        rounded up to a multiple of ``experiment.sharpness_every`` when it is set.
      on_chunk: called as ``on_chunk(steps_done, steps_total)`` after each chunk.

    Returns:
      A :class:`Result` with records shaped ``[learning rates, seeds, steps]``.
    """
    check_loss_fits_task(experiment.loss, dataset)
    seeds_array = np.asarray(seeds, np.int32)
    rates_array = np.asarray(learning_rates, np.float32)
    if seeds_array.ndim != 1 or seeds_array.size == 0:
        raise ValueError("seeds must be a non-empty list of integers")
    if rates_array.ndim != 1 or rates_array.size == 0 or np.any(rates_array <= 0):
        raise ValueError(f"learning rates must be positive, got {rates_array.tolist()}")
    check_devices(devices, seeds_array.size)
    steps = experiment.steps
    chunk = min(chunk_steps or steps, steps)
    every = experiment.sharpness_every
    if every is not None:
        # Whole blocks of measurement plus ``every`` steps; the tail past the last
        # step changes nothing and its records are cut off below.
        chunk = math.ceil(chunk / every) * every

    program = _program(experiment, dataset.num_features, dataset.num_classes, chunk, devices)
    data = tuple(
        program.place(array, None)
        for array in (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    )
    rates = program.place(rates_array, None)
    state = program.initial_state(seeds_array, rates_array)
    compile_s = program.compile(state, rates, data)

    chunks = []
    start = time.perf_counter()
    try:
        for done in range(0, steps, chunk):
            if len(chunks) >= IN_FLIGHT:
                jax.block_until_ready(chunks[-IN_FLIGHT])
            state, records = program.run_chunk(state, rates, data)
            chunks.append(records)
            if on_chunk is not None:
                jax.block_until_ready(records)
                on_chunk(min(done + chunk, steps), steps)
        jax.block_until_ready(chunks)
    except KeyboardInterrupt:
        # XLA cannot cancel a running program, and a process that exits while one
        # runs can crash in its teardown: wait for the chunks in flight, then stop.
        jax.block_until_ready(chunks)
        raise
    run_s = time.perf_counter() - start

    joined = {
        name: np.concatenate([np.asarray(part[name]) for part in chunks], axis=2)[:, :, :steps]
        for name in (*RECORDS, "parameter_grad_norms", "finite")
    }
    sharpness = None
    if every is not None:
        measured_at = experiment.sharpness_steps
        sharpness = np.concatenate([np.asarray(part["sharpness"]) for part in chunks], axis=2)
        sharpness = sharpness[:, :, : measured_at.size]
    finite = joined["finite"]
    diverged_at = np.where(finite.all(axis=-1), NEVER_DIVERGED, np.argmin(finite, axis=-1))
    after = (
        np.arange(steps) >= np.where(diverged_at == NEVER_DIVERGED, steps, diverged_at)[..., None]
    )
    for name in (*RECORDS, "parameter_grad_norms"):
        mask = after if joined[name].ndim == 3 else after[..., None]
        joined[name] = np.where(mask, np.float32(np.nan), joined[name])
    if sharpness is not None:
        sharpness = np.where(after[..., experiment.sharpness_steps], np.float32(np.nan), sharpness)
    return Result(
        experiment=experiment,
        dataset=dataset.name,
        seeds=seeds_array,
        learning_rates=rates_array,
        records={name: joined[name] for name in RECORDS},
        parameter_grad_norms=joined["parameter_grad_norms"],
        parameter_names=program.model.parameter_names(),
        diverged_at=diverged_at.astype(np.int64),
        compile_s=compile_s,
        run_s=run_s,
        sharpness=sharpness,
    )


def trace_count(
    experiment: Experiment, dataset: Dataset, chunk_steps: int, devices: int = 1
) -> int:
    """How many times the chunk function of a configuration has been traced."""
    return _program(
        experiment, dataset.num_features, dataset.num_classes, chunk_steps, devices
    ).traces
