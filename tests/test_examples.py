"""Each example's ``main()`` runs at a small size."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mse_by_hand_agrees_with_jaxloss(capsys):
    result = load("mse_by_hand").main(["--rows", "2", "--columns", "4"])
    np.testing.assert_allclose(result["jaxloss"], result["by_hand"], rtol=1e-6)
    assert "jaxloss.mse" in capsys.readouterr().out
