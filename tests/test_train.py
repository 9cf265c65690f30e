"""The training harness, its metrics and the study behind ``jaxloss compare``."""

from __future__ import annotations

import dataclasses
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


@pytest.fixture(scope="module")
def digits():
    return datasets.load("digits")


@pytest.fixture(scope="module")
def two_rates(breast_cancer):
    """The default binary study at two learning rates from a saturated start.

    The tests of the summary, the table and the figure read it; a study of the same
    shape (seeds, rates, steps) reuses its two compiled programs.
    """
    config = compare.StudyConfig(seeds=4, steps=60, learning_rates=(0.1, 0.5), init="saturated")
    return compare.run(config, breast_cancer)


def test_datasets_have_the_documented_shapes_and_a_standardised_train_split(breast_cancer, digits):
    expected = [(breast_cancer, (569, 30, 2)), (digits, (1797, 64, 10))]
    for dataset, (examples, features, classes) in expected:
        assert dataset.x_train.shape[0] + dataset.x_test.shape[0] == examples
        assert dataset.num_features == features and dataset.num_classes == classes
        assert dataset.x_test.shape[0] == int(np.ceil(examples * 0.25))
        np.testing.assert_allclose(dataset.x_train.mean(axis=0), 0, atol=1e-5)
    for name in ("xor", "blobs", "single_neuron"):
        dataset = datasets.load(name)
        assert set(np.unique(dataset.y_train)) <= set(range(dataset.num_classes))
    with pytest.raises(ValueError, match="choose from"):
        datasets.load("mnist")


@pytest.fixture(scope="module")
def three_seeds_two_rates(breast_cancer):
    """Seven steps in chunks of three: the records, the chunking, the logit gradient norm."""
    experiment = harness.Experiment(loss="sigmoid_binary_cross_entropy", steps=7)
    return harness.train(experiment, breast_cancer, [0, 1, 2], [0.1, 0.2], chunk_steps=3)


def test_records_have_one_value_per_rate_seed_and_step(three_seeds_two_rates):
    result = three_seeds_two_rates
    for name in harness.RECORDS:
        assert result.records[name].shape == (2, 3, 7)
    assert result.parameter_grad_norms.shape == (2, 3, 7, 2)
    assert result.parameter_names == ["layer0/b", "layer0/w"]
    # Training lowers the loss of every run.
    assert np.all(result.records["loss"][..., -1] < result.records["loss"][..., 0])


def test_chunked_and_unchunked_runs_agree(breast_cancer, three_seeds_two_rates):
    # The seven steps of three_seeds_two_rates, in chunks of three, against one chunk.
    chunked = three_seeds_two_rates
    whole = harness.train(chunked.experiment, breast_cancer, [0, 1, 2], [0.1, 0.2])
    np.testing.assert_allclose(chunked.records["loss"], whole.records["loss"], rtol=1e-6)


def test_one_compile_across_seed_values_and_learning_rates(breast_cancer):
    experiment = harness.Experiment(loss="sigmoid_mse", steps=5, init="saturated")
    first = harness.train(experiment, breast_cancer, [0, 1, 2, 3], [0.1])
    second = harness.train(experiment, breast_cancer, [10, 11, 12, 13], [0.7])
    assert harness.trace_count(experiment, breast_cancer, chunk_steps=5) == 1
    assert second.compile_s == 0.0
    assert not np.allclose(first.records["loss"], second.records["loss"])


def test_the_logit_gradient_norm_is_the_closed_form(breast_cancer, three_seeds_two_rates):
    import jax.numpy as jnp

    import jaxloss

    result = three_seeds_two_rates
    model = models.build(models.ModelSpec(), breast_cancer.num_features, 2)
    for seed_index, seed in enumerate(result.seeds):
        params = model.init(jax.random.key(seed))
        logits = model.apply(params, jnp.asarray(breast_cancer.x_train))
        expected = jnp.linalg.norm(
            jaxloss.gradients.sigmoid_binary_cross_entropy(logits, breast_cancer.y_train)
        )
        # Step 0 is measured before the first update: the same at either rate.
        for rate_index in range(2):
            np.testing.assert_allclose(
                result.records["logit_grad_norm"][rate_index, seed_index, 0], expected, rtol=1e-5
            )


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


def test_a_loss_that_does_not_fit_the_task_is_refused(breast_cancer):
    experiment = harness.Experiment(loss="softmax_cross_entropy", steps=3)
    with pytest.raises(ValueError, match="does not fit the binary dataset"):
        harness.train(experiment, breast_cancer, [0], [0.1])


def test_diverging_runs_are_reported_with_seed_and_step_and_their_records_are_nan():
    # The rescaled square loss is quadratic in the logits: SGD at a learning rate of 8
    # on blobs overshoots further each step until float32 overflows (near step 29).
    experiment = harness.Experiment(loss="rescaled_square_loss", steps=60)
    result = harness.train(experiment, datasets.load("blobs"), [0, 1], [8.0, 0.1])
    runs = result.diverged_runs()
    assert len(runs) == 2, "the learning rate of 8 was meant to diverge"
    for rate, seed, step in runs:
        assert rate == 8.0 and seed in (0, 1) and 0 < step < 60
        rate_index, seed_index = 0, [0, 1].index(seed)
        assert result.diverged_at[rate_index, seed_index] == step
        for name in harness.RECORDS:
            curves = result.records[name][rate_index, seed_index]
            # The test records of a step are measured after its update.
            finite_until = step - 1 if name.startswith("test_") else step
            assert np.isfinite(curves[:finite_until]).all(), name
            assert np.isnan(curves[step:]).all(), name
        assert np.isnan(result.parameter_grad_norms[rate_index, seed_index, step:]).all()
    # The sane learning rate never diverges.
    assert not result.diverged[1].any()
    assert (result.diverged_at[1] == harness.NEVER_DIVERGED).all()


def test_infinite_parameters_are_a_divergence_even_when_the_loss_stays_finite():
    # Nielsen's single neuron at a learning rate near float32's largest value: the
    # first update sends the logit to -inf, where the loss (0) and the accuracy (1)
    # stay finite and perfect, but momentum then drives the weights to -inf.
    experiment = harness.Experiment(loss="sigmoid_mse", optimizer="momentum", steps=6)
    result = harness.train(experiment, datasets.load("single_neuron"), [0], [3e38])
    assert result.diverged_at.tolist() == [[5]]
    assert result.records["loss"][0, 0, 1] == 0.0
    assert np.isnan(result.records["accuracy"][0, 0, 5])


def test_the_device_error_names_the_flag_that_simulates_cpu_devices():
    with pytest.raises(ValueError, match="xla_force_host_platform_device_count=64"):
        harness.check_devices(64, 64)


def test_steps_to_threshold_and_summaries():
    curves = np.array([[0.1, 0.96, 0.99], [0.1, 0.2, 0.3], [0.97, 0.98, 0.99]])
    np.testing.assert_array_equal(metrics.steps_to_threshold(curves, 0.95), [1, np.inf, 0])
    losses = np.array([[1.0, 0.5, 0.1]])
    np.testing.assert_array_equal(metrics.steps_to_threshold(losses, 0.4, above=False), [2])
    summary = metrics.summarize(np.array([1.0, 2.0, np.inf, np.inf, np.inf]))
    assert summary["median"] is None and summary["never"] == 3 and summary["q25"] == 2.0
    assert metrics.format_steps(summary).startswith("never [")
    # Diverged runs (NaN) are out of the quartiles and of "never", and counted.
    summary = metrics.summarize(np.array([1.0, np.nan, np.nan]))
    assert summary == {"median": 1.0, "q25": 1.0, "q75": 1.0, "never": 0, "diverged": 2, "runs": 1}
    assert metrics.format_steps(metrics.summarize(np.array([np.nan, np.nan]))) == "-"


def test_study_summary_json_has_the_documented_fields(two_rates, tmp_path):
    study = two_rates
    written = compare.save(study, tmp_path)
    assert [path.name for path in written] == ["summary.json", "curves.npz", "convergence.png"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["timing"]) == {"compile_s", "run_s"}
    assert set(summary["losses"]) == {
        "sigmoid_mse@lr=0.1",
        "sigmoid_mse@lr=0.5",
        "sigmoid_binary_cross_entropy@lr=0.1",
        "sigmoid_binary_cross_entropy@lr=0.5",
    }
    row = summary["losses"]["sigmoid_mse@lr=0.5"]
    assert row["loss"] == "sigmoid_mse" and row["learning_rate"] == 0.5
    assert set(row["steps_to_threshold"]) == {"median", "q25", "q75", "never", "diverged", "runs"}
    assert row["diverged"] == 0 and row["diverged_runs"] == []
    for field in ("final_train_accuracy", "final_test_accuracy", "final_loss"):
        assert "median" in row[field]
    with np.load(tmp_path / "curves.npz") as curves:
        assert curves["sigmoid_mse@lr=0.5/accuracy"].shape == (4, 60)
        assert curves["sigmoid_mse@lr=0.5/diverged_at"].tolist() == [-1] * 4
        # Each row holds its own learning rate's runs.
        assert not np.array_equal(
            curves["sigmoid_mse@lr=0.5/loss"], curves["sigmoid_mse@lr=0.1/loss"]
        )
    assert (tmp_path / "convergence.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "sigmoid_mse@lr=0.5" in compare.format_table(study.summary)


# The examples of issue 11: rescaled_square_loss on digits diverges at these rates.
DIVERGING = {"dataset": "digits", "steps": 100, "seeds": 8}


@pytest.fixture(scope="module")
def every_run_diverges(digits):
    config = compare.StudyConfig(
        losses=("rescaled_square_loss",), learning_rates=(5.0, 7.0, 10.0, 14.0), **DIVERGING
    )
    return compare.run(config, digits)


def test_a_study_whose_runs_all_diverge_counts_them_and_reports_no_number(every_run_diverges):
    study = every_run_diverges
    for row in study.summary["losses"].values():
        assert row["diverged"] == 8 and len(row["diverged_runs"]) == 8
        assert row["steps_to_threshold"]["runs"] == 0
        assert row["steps_to_threshold"]["never"] == 0
        for field in ("final_train_accuracy", "final_test_accuracy", "final_loss"):
            assert row[field]["median"] is None
    table = compare.format_table(study.summary)
    assert "| diverged (of 8) |" in table.splitlines()[0]
    assert table.count("all 8 runs diverged") == 4
    assert "never [never, never]" not in table
    (warning,) = compare.diverged_warnings(study.summary)
    assert warning.startswith("rescaled_square_loss: 32 of 32 runs diverged")


def test_files_are_written_before_the_plot_and_whatever_the_plot_does(
    every_run_diverges, tmp_path, monkeypatch
):
    from jaxloss.train import plots

    def broken(study):
        raise RuntimeError("the plot failed")

    monkeypatch.setattr(plots, "convergence_png", broken)
    with pytest.raises(RuntimeError, match="the plot failed"):
        compare.save(every_run_diverges, tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["curves.npz", "summary.json"]
    with np.load(tmp_path / "curves.npz") as curves:
        diverged_at = curves["rescaled_square_loss@lr=5/diverged_at"]
        assert (diverged_at >= 0).all()
        loss = curves["rescaled_square_loss@lr=5/loss"]
        for seed, step in enumerate(diverged_at):
            assert np.isnan(loss[seed, step:]).all() and np.isfinite(loss[seed, :step]).all()


def test_diverged_runs_are_out_of_the_accuracies_when_only_some_losses_diverge(digits):
    # lr 2.5 to 4: the rescaled square loss diverges everywhere; its accuracy stays
    # finite after the loss turns NaN (0.0987 train, 0.100 test) and must not count.
    config = compare.StudyConfig(
        losses=("softmax_cross_entropy_with_integer_labels", "rescaled_square_loss"),
        learning_rates=(2.5, 3.0, 3.5, 4.0),
        **DIVERGING,
    )
    study = compare.run(config, digits)
    for key, row in study.summary["losses"].items():
        if row["loss"] == "rescaled_square_loss":
            assert row["diverged"] == 8, key
            assert row["final_train_accuracy"]["median"] is None
            assert row["final_test_accuracy"]["median"] is None
        else:
            assert row["diverged"] == 0, key
            assert row["final_test_accuracy"]["median"] > 0.9
    table = compare.format_table(study.summary)
    for line in table.splitlines():
        if line.startswith("| rescaled_square_loss"):
            assert "0.100" not in line and "0.0987" not in line
    figure = plots.convergence_figure(study)
    try:
        accuracy_axis = figure.axes[1]
        # Four median lines of the loss that trained, none of the one that diverged.
        assert len(accuracy_axis.get_lines()) == 4 + 1  # and the threshold
        labels = [text.get_text() for text in figure.legends[0].get_texts()]
        assert "rescaled_square_loss (32 of 32 runs diverged, left out)" in labels
    finally:
        _close(figure)


def test_the_table_shows_the_loss_threshold_when_one_is_given(breast_cancer, two_rates):
    # two_rates's configuration with a loss threshold: its compiled programs again.
    config = dataclasses.replace(two_rates.config, loss_threshold=0.2)
    study = compare.run(config, breast_cancer)
    table = compare.format_table(study.summary)
    header = table.splitlines()[0]
    assert "steps to train loss 0.2, median [IQR]" in header and "loss never (of 4)" in header
    rows = study.summary["losses"].values()
    assert len(rows) == 4
    for row, line in zip(rows, table.splitlines()[2:], strict=True):
        assert metrics.format_steps(row["steps_to_loss_threshold"]) in line
    without = compare.format_table(two_rates.summary)
    assert "train loss" not in without


@pytest.mark.parametrize(
    ("field", "value"),
    [("losses", ("sigmoid_mse", "sigmoid_mse")), ("learning_rates", (0.1, 0.1))],
)
def test_a_study_refuses_repeated_losses_and_learning_rates(field, value):
    with pytest.raises(ValueError, match="named twice"):
        compare.StudyConfig(**{field: value})


# ---------------------------------------------------------------------------------------
# The convergence figure, read through matplotlib's objects.

plots = pytest.importorskip("jaxloss.train.plots")


def _close(figure):
    from matplotlib import pyplot

    pyplot.close(figure)


def test_the_convergence_figure_has_log_steps_from_one_and_says_what_was_run(two_rates):
    figure = plots.convergence_figure(two_rates)
    try:
        loss_axis, accuracy_axis, gradient_axis = figure.axes
        for axis in figure.axes:
            assert axis.get_xscale() == "log"
            assert axis.get_xlim()[0] == 1
            assert axis.get_xlabel().startswith("step")
        assert loss_axis.get_yscale() == "log" and gradient_axis.get_yscale() == "log"
        assert "initial value" in loss_axis.get_ylabel()
        assert "logits" in gradient_axis.get_ylabel()
        title = figure.get_suptitle()
        for part in ("breast_cancer", "sgd", "learning rates 0.1, 0.5", "60 steps", "4 seeds"):
            assert part in title
        labels = [text.get_text() for text in figure.legends[0].get_texts()]
        for label in (
            "sigmoid_mse",
            "sigmoid_binary_cross_entropy",
            "learning rate 0.1",
            "learning rate 0.5",
            "accuracy threshold 0.95",
        ):
            assert label in labels
        # The threshold is drawn and named in the legend.
        assert len(accuracy_axis.get_lines()) == 4 + 1
        # One colour per loss, one line style per learning rate.
        lines = loss_axis.get_lines()
        assert len(lines) == 4
        assert len({line.get_color() for line in lines}) == 2
        assert len({str(line.get_linestyle()) for line in lines}) == 2
        # Each loss divided by its own initial value: both start at the same scale.
        first_points = [line.get_ydata()[0] for line in lines]
        assert all(0.2 < value <= 1.0 for value in first_points)
    finally:
        _close(figure)


def test_a_figure_with_nothing_finite_to_draw_says_so(every_run_diverges, tmp_path):
    figure = plots.convergence_figure(every_run_diverges)
    try:
        loss_axis, accuracy_axis, gradient_axis = figure.axes
        assert not loss_axis.get_lines() and not gradient_axis.get_lines()
        assert len(accuracy_axis.get_lines()) == 1  # the threshold alone
        for axis in figure.axes:
            assert plots.NOTHING_TO_DRAW in [text.get_text() for text in axis.texts]
    finally:
        _close(figure)
    compare.save_plot(every_run_diverges, tmp_path / "convergence.png")
    assert (tmp_path / "convergence.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------
# The data cache of the command line.


def test_a_cached_dataset_is_read_back_without_preparing_it_again(tmp_path, monkeypatch):
    first = datasets.load("breast_cancer", cache_folder=tmp_path)
    (stored,) = (tmp_path / "datasets").iterdir()
    assert stored.name.startswith("breast_cancer-sklearn")

    def unavailable():
        raise AssertionError("prepared again instead of read from the cache")

    monkeypatch.setitem(datasets.DATASETS, "breast_cancer", unavailable)
    again = datasets.load("breast_cancer", cache_folder=tmp_path)
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
        assert getattr(again, name).dtype == getattr(first, name).dtype
    assert again.num_classes == first.num_classes == 2


def test_one_configuration_trains_again_with_other_numbers_of_seeds_and_rates():
    # The compiled chunk is kept per argument signature: a second call with the same
    # experiment and more runs compiles again instead of raising a TypeError.
    dataset = datasets.load("xor")
    experiment = harness.Experiment(loss="sigmoid_binary_cross_entropy", steps=3)
    one = harness.train(experiment, dataset, [0], [0.1])
    two = harness.train(experiment, dataset, [0, 1], [0.1, 0.2])
    assert one.records["loss"].shape[:2] == (1, 1)
    assert two.records["loss"].shape[:2] == (2, 2)
    assert two.compile_s > 0
    # Run (rate 0.1, seed 0) is the same in both.
    np.testing.assert_allclose(two.records["loss"][0, 0], one.records["loss"][0, 0], rtol=1e-6)
