"""Datasets for the training studies, all available without network access.

``breast_cancer`` and ``digits`` are scikit-learn's bundled copies, split 75/25 with
a fixed stratified split and standardised with the training split's statistics;
``xor`` and ``blobs`` are generated in JAX from a fixed key; ``single_neuron`` is the
one-example toy of Nielsen's *Neural Networks and Deep Learning*, chapter 3.

``load(name, cache_folder=...)`` keeps the prepared arrays in a cache folder, so that
a later process reads them back without importing scikit-learn (about a second).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import io
import pathlib
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxloss._files import write_atomic

# The fixed split: the same train/test partition on every machine and every run.
SPLIT_SEED = 0
TEST_FRACTION = 0.25


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Features ``[N, D]`` (float32) and integer class labels ``[N]`` for both splits."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int

    @property
    def num_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def is_binary(self) -> bool:
        return self.num_classes == 2


def _stratified_split(x: np.ndarray, y: np.ndarray, name: str, num_classes: int) -> Dataset:
    from sklearn.model_selection import train_test_split

    x_train, x_test, y_train, y_test = (
        np.asarray(part)
        for part in train_test_split(
            x, y, test_size=TEST_FRACTION, stratify=y, random_state=SPLIT_SEED
        )
    )
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    # Constant features (the blank border pixels of digits) are centred, not scaled.
    std = np.where(std > 0, std, 1.0)
    return Dataset(
        name=name,
        x_train=((x_train - mean) / std).astype(np.float32),
        y_train=y_train.astype(np.int32),
        x_test=((x_test - mean) / std).astype(np.float32),
        y_test=y_test.astype(np.int32),
        num_classes=num_classes,
    )


def breast_cancer() -> Dataset:
    """Wisconsin breast cancer, binary, 569 x 30 (426 train, 143 test)."""
    from sklearn.datasets import load_breast_cancer

    x, y = load_breast_cancer(return_X_y=True)
    return _stratified_split(x, y, "breast_cancer", 2)


def digits() -> Dataset:
    """8 x 8 handwritten digits, 10 classes, 1797 x 64 (1347 train, 450 test)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return _stratified_split(x, y, "digits", 10)


def xor(num_points: int = 512) -> Dataset:
    """Points uniform in the square ``[-1, 1]^2``, labelled by the sign of ``x0 * x1``."""
    x = jax.random.uniform(jax.random.key(1), (num_points, 2), minval=-1.0, maxval=1.0)
    y = (x[:, 0] * x[:, 1] > 0).astype(jnp.int32)
    return _stratified_split(np.asarray(x), np.asarray(y), "xor", 2)


def blobs(num_points: int = 600, num_classes: int = 3) -> Dataset:
    """Isotropic Gaussian blobs in 2-D with centres on a circle of radius 2."""
    key_labels, key_noise = jax.random.split(jax.random.key(2))
    y = jax.random.randint(key_labels, (num_points,), 0, num_classes)
    angles = 2 * jnp.pi * jnp.arange(num_classes, dtype=jnp.float32) / num_classes
    centres = 2.0 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    x = centres[y] + 0.7 * jax.random.normal(key_noise, (num_points, 2))
    return _stratified_split(np.asarray(x), np.asarray(y), "blobs", num_classes)


def single_neuron() -> Dataset:
    """Nielsen's toy: one input of 1.0 whose target is 0 (it is also its own test set)."""
    x = np.ones((1, 1), np.float32)
    y = np.zeros(1, np.int32)
    return Dataset("single_neuron", x, y, x, y, num_classes=2)


DATASETS: dict[str, Callable[[], Dataset]] = {
    "breast_cancer": breast_cancer,
    "digits": digits,
    "xor": xor,
    "blobs": blobs,
    "single_neuron": single_neuron,
}


_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


def load(name: str, *, cache_folder: pathlib.Path | None = None) -> Dataset:
    """Loads a dataset by name; an unknown name raises ``ValueError`` listing the choices.

    Args:
      name: one of ``DATASETS``.
      cache_folder: where to keep the prepared arrays between processes (nothing is
        cached when None). The file names carry the scikit-learn and JAX versions
        that made the split and the generated data.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    if cache_folder is None or name == "single_neuron":
        return DATASETS[name]()
    versions = f"sklearn{importlib.metadata.version('scikit-learn')}-jax{jax.__version__}"
    path = cache_folder / "datasets" / f"{name}-{versions}.npz"
    # A missing, unreadable or damaged cache file only means preparing the data again.
    with contextlib.suppress(OSError, ValueError, KeyError), np.load(path) as stored:
        arrays = {key: stored[key] for key in _ARRAYS}
        return Dataset(name=name, num_classes=int(stored["num_classes"]), **arrays)
    dataset = DATASETS[name]()
    buffer = io.BytesIO()
    np.savez(
        buffer,
        num_classes=dataset.num_classes,
        **{key: getattr(dataset, key) for key in _ARRAYS},
    )
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, buffer.getvalue())
    return dataset
