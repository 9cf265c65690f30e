"""Each example's ``main()`` runs at a small size."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: a dataclass in the example looks its module up there.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_mse_by_hand_agrees_with_jaxloss(capsys):
    result = load("mse_by_hand").main(["--rows", "2", "--columns", "4"])
    np.testing.assert_allclose(result["jaxloss"], result["by_hand"], rtol=1e-6)
    assert "jaxloss.mse" in capsys.readouterr().out


def test_single_neuron_matches_plain_gradient_descent_and_nielsens_picture(tmp_path):
    import json

    outputs = load("single_neuron").main(["--json", str(tmp_path / "a.json")])
    assert json.loads((tmp_path / "a.json").read_text()) == outputs

    # The same 300 epochs written out by hand in NumPy from the closed-form gradients:
    # quadratic dC/dz = (a - y) a (1 - a), cross-entropy dC/dz = a - y (x = 1, y = 0).
    for cost, derivative in (
        ("quadratic", lambda a: a * a * (1 - a)),
        ("cross_entropy", lambda a: a),
    ):
        w, b = 2.0, 2.0
        for epoch in range(301):
            a = 1 / (1 + np.exp(-(w + b)))
            np.testing.assert_allclose(outputs[cost]["2.0,2.0"][epoch], a, rtol=1e-4)
            w, b = w - 0.15 * derivative(a), b - 0.15 * derivative(a)

    # Nielsen's figures: from (2, 2) the quadratic cost is still near 1 after 50 epochs
    # and ends near 0.2; cross-entropy is below 0.1 by epoch 50.
    assert outputs["quadratic"]["2.0,2.0"][50] > 0.95
    assert 0.15 < outputs["quadratic"]["2.0,2.0"][300] < 0.25
    assert outputs["cross_entropy"]["2.0,2.0"][50] < 0.1


def test_breast_cancer_example_runs_small(tmp_path):
    studies = load("breast_cancer").main(["--seeds", "2", "--steps", "30", "--out", str(tmp_path)])
    assert set(studies) == {"normal", "saturated"}
    assert (tmp_path / "convergence_saturated.png").stat().st_size > 0


def test_digits_example_runs_small(tmp_path):
    study = load("digits_onehot").main(
        ["--model", "logistic", "--seeds", "2", "--steps", "20", "--out", str(tmp_path)]
    )
    assert set(study.summary["losses"]) == {
        "softmax_cross_entropy_with_integer_labels",
        "one_hot_mse",
        "rescaled_square_loss",
    }
    assert (tmp_path / "convergence_digits.png").stat().st_size > 0


def test_edge_of_stability_example_runs_small(tmp_path, capsys):
    out = tmp_path / "edge_of_stability.png"
    results = load("edge_of_stability").main(["--small", "--out", str(out)])
    assert set(results) == {"mse", "cross_entropy"}
    for runs in results.values():
        for run in runs:
            assert run.sharpness.size == run.sharpness_steps.size > 1
            assert np.isfinite(run.sharpness).all() and (run.sharpness > 0).all()
            # Gradient descent below 2 / lr from the start lowers the loss.
            assert run.losses[-1] < run.losses[0]
    table = capsys.readouterr().out
    assert table.startswith("| loss | lr | 2/lr | initial sharpness | max sharpness |")
    assert table.count("\n| mse |") + table.count("\n| cross_entropy |") == sum(
        len(runs) for runs in results.values()
    )
    assert out.read_bytes()[:4] == b"\x89PNG"
