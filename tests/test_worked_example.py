"""The classic ``nn.MSELoss`` demonstration, redone with jaxloss (also in the README)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import jaxloss


def test_mse_by_hand_equals_jaxloss_and_torch_on_a_3x5_input():
    rng = np.random.default_rng(0)
    prediction = rng.standard_normal((3, 5)).astype(np.float32)
    target = rng.standard_normal((3, 5)).astype(np.float32)

    squared_differences = (prediction - target) ** 2
    by_hand = squared_differences.sum() / 15  # 3 x 5 = 15 elements

    value = jaxloss.mse(prediction, target)
    gradient = jax.grad(jaxloss.mse)(prediction, target)

    np.testing.assert_allclose(value, by_hand, rtol=1e-6)
    np.testing.assert_allclose(gradient, 2 * (prediction - target) / 15, rtol=1e-6)
    np.testing.assert_allclose(jaxloss.gradients.mse(prediction, target), gradient, rtol=1e-6)


def test_the_same_numbers_as_torch_mse_loss():
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install -e '.[dev]')")
    rng = np.random.default_rng(0)
    prediction = rng.standard_normal((3, 5)).astype(np.float32)
    target = rng.standard_normal((3, 5)).astype(np.float32)

    prediction_tensor = torch.tensor(prediction, requires_grad=True)
    torch_value = torch.nn.MSELoss()(prediction_tensor, torch.tensor(target))
    torch_value.backward()

    np.testing.assert_allclose(jaxloss.mse(prediction, target), torch_value.item(), rtol=1e-6)
    np.testing.assert_allclose(
        jax.grad(jaxloss.mse)(prediction, target), prediction_tensor.grad.numpy(), rtol=1e-6
    )
