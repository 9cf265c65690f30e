"""The training harness, its metrics and the study behind ``jaxloss compare``."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

pytest.importorskip("optax", reason="the training harness needs the examples extra")
pytest.importorskip("sklearn", reason="the bundled datasets need the examples extra")

from jaxloss.train import compare, datasets, harness, metrics, models


@pytest.fixture(scope="module")
def breast_cancer():
    return datasets.load("breast_cancer")


def test_datasets_have_the_documented_shapes_and_a_standardised_train_split():
    expected = {"breast_cancer": (569, 30, 2), "digits": (1797, 64, 10)}
    for name, (examples, features, classes) in expected.items():
        dataset = datasets.load(name)
        assert dataset.x_train.shape[0] + dataset.x_test.shape[0] == examples
        assert dataset.num_features == features and dataset.num_classes == classes
        assert dataset.x_test.shape[0] == int(np.ceil(examples * 0.25))
        np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0, atol=1e-5)
    for name in ("xor", "blobs", "single_neuron"):
        dataset = datasets.load(name)
        assert set(np.unique(dataset.y_train)) <= set(range(dataset.num_classes))
    with pytest.raises(ValueError, match="choose from"):
        datasets.load("mnist")


def test_records_have_one_value_per_rate_seed_and_step(breast_cancer):
    experiment = harness.Experiment(loss="sigmoid_binary_cross_entropy", steps=7)
    result = harness.train(experiment, breast_cancer, [0, 1, 2], [0.1, 0.2], chunk_steps=3)
    for name in harness.RECORDS:
        assert result.records[name].shape == (2, 3, 7)
    assert result.parameter_grad_norms.shape == (2, 3, 7, 2)
    assert result.parameter_names == ["layer0/b", "layer0/w"]
    # Training lowers the loss of every run.
    assert np.all(result.records["loss"][..., -1] < result.records["loss"][..., 0])


def test_chunked_and_unchunked_runs_agree(breast_cancer):
    experiment = harness.Experiment(loss="sigmoid_mse", steps=10)
    whole = harness.train(experiment, breast_cancer, [0, 1], [0.5])
    chunked = harness.train(experiment, breast_cancer, [0, 1], [0.5], chunk_steps=4)
    np.testing.assert_allclose(chunked.records["loss"], whole.records["loss"], rtol=1e-6)


def test_one_compile_across_seed_values_and_learning_rates(breast_cancer):
    experiment = harness.Experiment(loss="sigmoid_mse", steps=5, init="saturated")
    first = harness.train(experiment, breast_cancer, [0, 1, 2, 3], [0.1])
    second = harness.train(experiment, breast_cancer, [10, 11, 12, 13], [0.7])
    assert harness.trace_count(experiment, breast_cancer, chunk_steps=5) == 1
    assert second.compile_s == 0.0
    assert not np.allclose(first.records["loss"], second.records["loss"])


def test_the_logit_gradient_norm_is_the_closed_form(breast_cancer):
    import jax.numpy as jnp

    import jaxloss

    experiment = harness.Experiment(loss="sigmoid_binary_cross_entropy", steps=1)
    result = harness.train(experiment, breast_cancer, [3], [0.1])
    model = models.build(models.ModelSpec(), breast_cancer.num_features, 2)
    params = model.init(jax.random.key(3))
    logits = model.apply(params, jnp.asarray(breast_cancer.x_train))
    expected = jnp.linalg.norm(
        jaxloss.gradients.sigmoid_binary_cross_entropy(logits, breast_cancer.y_train)
    )
    np.testing.assert_allclose(result.records["logit_grad_norm"][0, 0, 0], expected, rtol=1e-5)


def test_a_saturated_start_slows_sigmoid_mse_more_than_cross_entropy(breast_cancer):
    steps = {}
    for loss in compare.DEFAULT_BINARY_LOSSES:
        experiment = harness.Experiment(loss=loss, steps=400, init="saturated")
        result = harness.train(experiment, breast_cancer, np.arange(8), [0.5])
        steps[loss] = np.median(metrics.steps_to_threshold(result.records["accuracy"][0], 0.9))
    assert steps["sigmoid_mse"] > 2 * steps["sigmoid_binary_cross_entropy"]


def test_mlp_trains_a_multiclass_task():
    dataset = datasets.load("blobs")
    experiment = harness.Experiment(
        loss="one_hot_mse", model=models.parse_model("mlp:8:relu"), optimizer="adam", steps=200
    )
    result = harness.train(experiment, dataset, [0, 1], [0.05])
    assert np.all(result.records["accuracy"][..., -1] > 0.8)


def test_diverging_runs_are_reported_with_seed_and_step(breast_cancer):
    experiment = harness.Experiment(loss="softmax_cross_entropy", steps=3)
    with pytest.raises(ValueError, match="does not fit the binary dataset"):
        harness.train(experiment, breast_cancer, [0], [0.1])
    experiment = harness.Experiment(loss="binary_cross_entropy", optimizer="sgd", steps=60)
    result = harness.train(experiment, datasets.load("xor"), [0, 1], [1e6])
    for _rate, seed, step in result.nan_runs():
        assert seed in (0, 1)
        assert np.isfinite(result.records["loss"][0, seed, :step]).all()


def test_steps_to_threshold_and_summaries():
    curves = np.array([[0.1, 0.96, 0.99], [0.1, 0.2, 0.3], [0.97, 0.98, 0.99]])
    np.testing.assert_array_equal(metrics.steps_to_threshold(curves, 0.95), [1, np.inf, 0])
    losses = np.array([[1.0, 0.5, 0.1]])
    np.testing.assert_array_equal(metrics.steps_to_threshold(losses, 0.4, above=False), [2])
    summary = metrics.summarize(np.array([1.0, 2.0, np.inf, np.inf, np.inf]))
    assert summary["median"] is None and summary["never"] == 3 and summary["q25"] == 2.0
    assert metrics.format_steps(summary).startswith("never [")


def test_study_summary_json_has_the_documented_fields(breast_cancer, tmp_path):
    config = compare.StudyConfig(seeds=4, steps=50, learning_rates=(0.1, 0.5))
    study = compare.run(config, breast_cancer)
    written = compare.save(study, tmp_path)
    assert sorted(path.name for path in written) == [
        "convergence.png",
        "curves.npz",
        "summary.json",
    ]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["timing"]) == {"compile_s", "run_s"}
    assert set(summary["losses"]) == {
        "sigmoid_mse@lr=0.1",
        "sigmoid_mse@lr=0.5",
        "sigmoid_binary_cross_entropy@lr=0.1",
        "sigmoid_binary_cross_entropy@lr=0.5",
    }
    row = summary["losses"]["sigmoid_mse@lr=0.5"]
    assert set(row["steps_to_threshold"]) == {"median", "q25", "q75", "never", "nan"}
    for field in ("final_train_accuracy", "final_test_accuracy", "final_loss"):
        assert "median" in row[field]
    curves = np.load(tmp_path / "curves.npz")
    assert curves["sigmoid_mse@lr=0.5/accuracy"].shape == (4, 50)
    assert (tmp_path / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sigmoid_mse@lr=0.5" in compare.format_table(study.summary)
