"""The sharpness the study records (``--sharpness-every``) and plain gradient descent.

One tiny configuration throughout, the one ``test_cli`` runs from the command line
too, so that the compiled program is shared: a 2-4-3 tanh MLP (27 parameters, small
enough for a dense Hessian) trained by full-batch gradient descent on ``blobs`` with
the rescaled square loss, at a learning rate that trains (0.5) and one that diverges
(8), for 42 steps with the sharpness every 5 (chunks of 42 steps round up to 45).
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

pytest.importorskip("optax", reason="the training harness needs the examples extra")
pytest.importorskip("sklearn", reason="the bundled datasets need the examples extra")
import jaxloss
from jaxloss.train import compare, datasets, harness, models

# One worker runs these and test_cli's sharpness run: they share one compiled program.
pytestmark = pytest.mark.xdist_group("sharpness")

MODEL = "mlp:4:tanh"
LOSS = "rescaled_square_loss"
RATES = (0.5, 8.0)
STEPS = 42
EVERY = 5


@pytest.fixture(scope="module")
def blobs():
    return datasets.load("blobs")


@pytest.fixture(scope="module")
def result(blobs):
    experiment = harness.Experiment(
        loss=LOSS,
        model=models.parse_model(MODEL),
        optimizer="gd",
        steps=STEPS,
        sharpness_every=EVERY,
    )
    return harness.train(experiment, blobs, [0], RATES)


def test_gd_and_the_sharpness_equal_hand_written_descent_and_a_dense_hessian(blobs, result):
    measured_at = result.experiment.sharpness_steps
    np.testing.assert_array_equal(measured_at, np.arange(0, STEPS, EVERY))
    assert result.sharpness is not None and result.sharpness.shape == (2, 1, measured_at.size)

    # Gradient descent written out: w <- w - lr * grad f(w) on the whole training split.
    model = models.build(models.parse_model(MODEL), blobs.num_features, blobs.num_classes)
    x, y = jnp.asarray(blobs.x_train), jnp.asarray(blobs.y_train)
    flat, unravel = ravel_pytree(model.init(jax.random.key(0)))
    assert flat.size == 27

    def training_loss(flat_params):
        return jaxloss.rescaled_square_loss(model.apply(unravel(flat_params), x), y)

    gradient = jax.jit(jax.grad(training_loss))
    hessian = jax.jit(jax.hessian(training_loss))
    losses, sharpness = [], []
    for step in range(STEPS):
        losses.append(training_loss(flat))
        if step % EVERY == 0:
            # The sharpness is the largest eigenvalue of the dense 27 x 27 Hessian.
            sharpness.append(jnp.linalg.eigvalsh(hessian(flat))[-1])
        flat = flat - RATES[0] * gradient(flat)
    np.testing.assert_allclose(result.records["loss"][0, 0], losses, rtol=2e-5)
    # Lanczos in float32, 20 iterations on a 27-dimensional space, warm-started.
    np.testing.assert_allclose(result.sharpness[0, 0], sharpness, rtol=2e-4)
    assert np.ptp(sharpness) > 0.01, "the sharpness was meant to change during training"


def test_the_sharpness_of_a_diverged_run_is_nan_from_the_step_it_diverged(result):
    (diverged_at,) = result.diverged_at[1]
    assert 0 < diverged_at < STEPS, "the learning rate of 8 was meant to diverge"
    after = result.experiment.sharpness_steps >= diverged_at
    assert np.isnan(result.sharpness[1, 0, after]).all()
    assert np.isfinite(result.sharpness[1, 0, ~after]).all()
    assert np.isfinite(result.sharpness[0]).all()


def test_the_study_summarises_saves_tabulates_and_draws_the_sharpness(blobs, result, tmp_path):
    config = compare.StudyConfig(
        dataset="blobs",
        model=models.parse_model(MODEL),
        losses=(LOSS,),
        optimizer="gd",
        learning_rates=RATES,
        seeds=1,
        steps=STEPS,
        sharpness_every=EVERY,
    )
    study = compare.run(config, blobs)
    compare.save(study, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["sharpness_every"] == EVERY
    assert summary["config"]["sharpness_iterations"] == 20
    trained = summary["losses"][f"{LOSS}@lr=0.5"]["sharpness"]
    curve = result.sharpness[0, 0]
    assert trained["stability_threshold"] == 2 / 0.5
    assert trained["initial"]["median"] == pytest.approx(curve[0])
    assert trained["max"]["median"] == pytest.approx(curve.max())
    # Nine measurements: the last 10% is the last one.
    assert trained["final"]["median"] == pytest.approx(curve[-1])
    diverged = summary["losses"][f"{LOSS}@lr=8"]["sharpness"]
    assert diverged["max"]["median"] is None and diverged["stability_threshold"] == 0.25
    with np.load(tmp_path / "curves.npz") as curves:
        np.testing.assert_array_equal(curves["sharpness_steps"], np.arange(0, STEPS, EVERY))
        np.testing.assert_array_equal(curves[f"{LOSS}@lr=0.5/sharpness"], result.sharpness[0])

    header, _, *lines = compare.format_table(study.summary).splitlines()
    assert "| max sharpness | final sharpness (last 10%) | stability threshold 2/lr |" in header
    assert f"| {curve.max():.4g} | {curve[-1]:.4g} | 4 |" in lines[0]

    from jaxloss.train import plots

    figure = plots.convergence_figure(study)
    try:
        *_, sharpness_axis = figure.axes
        assert len(figure.axes) == 4 and sharpness_axis.get_xscale() == "linear"
        assert "sharpness" in sharpness_axis.get_ylabel()
        labels = [text.get_text() for text in sharpness_axis.texts]
        assert labels == ["2/lr = 4", "2/lr = 0.25"]
        thresholds = [line.get_ydata()[0] for line in sharpness_axis.get_lines()[-2:]]
        assert thresholds == [4.0, 0.25]
        legend = [text.get_text() for text in figure.legends[0].get_texts()]
        assert "stability threshold 2/lr" in legend
        assert "sharpness every 5 steps" in figure.get_suptitle()
    finally:
        from matplotlib import pyplot

        pyplot.close(figure)


def test_without_the_flag_nothing_changes_in_the_configuration_or_the_program():
    assert "sharpness_every" not in compare.StudyConfig().to_json()
    assert "sharpness_iterations" not in compare.StudyConfig().to_json()
    assert harness.Experiment(loss=LOSS).sharpness_steps.size == 0
    # gd is the full-batch step sgd already was; momentum and adam have other limits.
    assert harness.OPTIMIZERS["gd"] is harness.OPTIMIZERS["sgd"]
    assert compare.stability_threshold("momentum", 0.1) == pytest.approx(38.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sharpness_every": 0}, "sharpness_every must be a whole number of steps from 1"),
        ({"sharpness_every": -5}, "got -5"),
        ({"sharpness_every": STEPS}, "to steps - 1 (41)"),
        ({"sharpness_every": 5, "sharpness_iterations": 0}, "sharpness_iterations must be"),
    ],
)
def test_bad_sharpness_settings_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        harness.Experiment(loss=LOSS, steps=STEPS, **fields)
