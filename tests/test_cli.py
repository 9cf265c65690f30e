"""``jaxloss compare``: a small real run, and bad arguments answered in one line.

Two processes of one small study (``two_processes``) serve the tests that need a
process of their own: the entry point's files and cache, what is imported before the
run, and bitwise-identical results across processes (the second loads the first's
compiled program from the cache). Interrupts and a bad invocation's exit status run
in processes too; everything else calls ``cli.main`` in this one, with ``--no-cache``
so that JAX's process-wide compilation cache is left alone. The profile at an inner
target, end to end, and an interrupt by SIGINT are in the slow tier (``pytest -m slow``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("optax", reason="the compare command needs the examples extra")

from jaxloss import cli

SMALL = ["--seeds", "2", "--steps", "20"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """The command line's cache goes to a temporary folder, never the user's home."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "jaxloss"


def run_cli(*args: str, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxloss.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
    )


def main_in_process(argv, monkeypatch) -> int:
    """``cli.main`` in this process, leaving no SIGTERM handler behind in the runner."""
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    return cli.main(argv)


# Reports what is imported when the run starts, then runs as the command line does.
SPY = (
    "import sys\n"
    "from jaxloss import cli\n"
    "from jaxloss.train import compare\n"
    "run = compare.run\n"
    "def spy(*args, **kwargs):\n"
    "    heavy = ('matplotlib', 'sklearn', 'scipy', 'torch', 'jaxloss.analysis')\n"
    "    print('imported:', [name for name in heavy if name in sys.modules])\n"
    "    return run(*args, **kwargs)\n"
    "compare.run = spy\n"
    "sys.exit(cli.main(sys.argv[1:]))\n"
)
STUDY = [*SMALL, "--init", "saturated", "--loss-threshold", "0.3"]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """The same study twice, in two processes sharing one (private) cache.

    The first is ``python -m jaxloss.cli``; the second runs through the import spy
    and finds the prepared data and the compiled programs in the cache the first
    filled. Returns the folder, the cache and both completed processes.
    """
    folder = tmp_path_factory.mktemp("two_processes")
    env = {**os.environ, "XDG_CACHE_HOME": str(folder / "cache")}
    first = run_cli("compare", *STUDY, "--out", str(folder / "first"), env=env)
    second = subprocess.run(
        [sys.executable, "-c", SPY, "compare", *STUDY, "--out", str(folder / "second")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    return folder, folder / "cache" / "jaxloss", first, second


def test_compare_prints_the_table_and_writes_its_files(two_processes):
    folder, cache, completed, _ = two_processes
    out = folder / "first"
    assert completed.returncode == 0, completed.stderr
    assert "| sigmoid_mse |" in completed.stdout
    assert "| sigmoid_binary_cross_entropy |" in completed.stdout
    assert "| steps to train loss 0.3, median [IQR] |" in completed.stdout
    assert "| diverged (of 2) |" in completed.stdout
    assert sorted(path.name for path in out.iterdir()) == [
        "convergence.png",
        "curves.npz",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["seeds"] == 2 and summary["config"]["steps"] == 20
    # Written atomically, yet with the permissions of any new file, not mkstemp's 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "summary.json").stat().st_mode & 0o777 == 0o666 & ~umask
    # The compiled programs and the prepared data were kept in the (private) cache.
    assert any((cache / "xla").iterdir())
    assert any((cache / "datasets").iterdir())


def test_no_cache_keeps_nothing(tmp_path, private_cache, monkeypatch, capsys):
    out = tmp_path / "study"
    assert main_in_process(["compare", *SMALL, "--no-cache", "--out", str(out)], monkeypatch) == 0
    assert "| sigmoid_mse |" in capsys.readouterr().out
    assert (out / "summary.json").exists()
    assert not private_cache.exists()


def test_a_diverging_study_writes_its_files_and_counts_the_diverged_runs(
    tmp_path, monkeypatch, capsys
):
    # Issue 11: this printed 32 warnings and a matplotlib traceback, exited 1 and
    # left the folder empty. The configuration of test_train's every_run_diverges.
    out = tmp_path / "diverging"
    argv = [
        "compare",
        *("--dataset", "digits", "--losses", "rescaled_square_loss", "--lr", "5,7,10,14"),
        *("--steps", "100", "--seeds", "8", "--no-cache", "--out", str(out)),
    ]
    assert main_in_process(argv, monkeypatch) == 0
    stdout, stderr = capsys.readouterr()
    assert "Traceback" not in stderr
    (warning,) = stderr.strip().splitlines()
    assert warning.startswith("warning: rescaled_square_loss: 32 of 32 runs diverged")
    assert "| diverged (of 8) |" in stdout
    assert stdout.count("| all 8 runs diverged |") == 4
    assert "never [never, never]" not in stdout
    assert sorted(path.name for path in out.iterdir()) == [
        "convergence.png",
        "curves.npz",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert [row["diverged"] for row in summary["losses"].values()] == [8, 8, 8, 8]


def test_nothing_but_the_run_is_imported_before_it_starts(two_processes):
    # Plotting, scikit-learn (once its data is cached) and the analysis toolkit wait.
    *_, completed = two_processes
    assert completed.returncode == 0, completed.stderr
    # The second process reads the prepared data from the cache the first one filled.
    assert "imported: []" in completed.stdout


def test_the_same_seeds_give_bitwise_identical_results_across_runs(two_processes):
    import numpy as np

    folder, _, *completed = two_processes
    for process in completed:
        assert process.returncode == 0, process.stderr
    first = np.load(folder / "first" / "curves.npz")
    second = np.load(folder / "second" / "curves.npz")
    assert sorted(first.files) == sorted(second.files)
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key])
    summaries = [
        json.loads((folder / name / "summary.json").read_text()) for name in ("first", "second")
    ]
    for summary in summaries:
        summary.pop("timing")
        for row in summary["losses"].values():
            row.pop("compile_s"), row.pop("run_s")
    assert summaries[0] == summaries[1]


@pytest.mark.parametrize(
    "signal_name",
    [
        # A second opinion on SIGTERM's run: Python raises KeyboardInterrupt for SIGINT
        # itself, where SIGTERM goes through the command's handler to the same report.
        pytest.param("SIGINT", marks=pytest.mark.slow),
        "SIGTERM",
    ],
)
def test_an_interrupted_compare_reports_and_leaves_no_partial_file(
    tmp_path, signal_name, private_cache
):
    import signal
    import time

    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jaxloss.cli",
            "compare",
            *("--seeds", "2", "--steps", "2000000", "--out", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The prepared data lands in the cache just before compilation and the run (~a
    # minute); waiting for it keeps a busy machine from interrupting the imports.
    deadline = time.monotonic() + 120
    while not (private_cache / "datasets").is_dir() and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.2)
    time.sleep(2)
    assert process.poll() is None, "the run finished before it could be interrupted"
    process.send_signal(getattr(signal, signal_name))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted after" in stderr and "nothing was written" in stderr
    assert "Traceback" not in stderr
    assert not out.exists() or not any(out.iterdir())


def test_compare_writes_under_runs_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # test_no_cache_keeps_nothing's study: its compiled programs again.
    argv = ["compare", *SMALL, "--no-cache"]
    assert main_in_process(argv, monkeypatch) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "summary.json").exists()


@pytest.fixture
def occupied(tmp_path):
    folder = tmp_path / "occupied"
    folder.mkdir()
    (folder / "summary.json").write_text("{}")
    return folder


@pytest.fixture
def unwritable(tmp_path):
    # A path under a regular file cannot be created, even by root.
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    return blocker / "out"


BAD_INVOCATIONS = [
    (["compare", "--dataset", "mnist"], "mnist"),
    (["compare", "--model", "resnet"], "resnet"),
    (["compare", "--model", "mlp:abc"], "integers"),
    (["compare", "--model", "mlp:8:swish"], "swish"),
    (["compare", "--losses", "hinge"], "hinge"),
    (["compare", "--losses", "softmax_cross_entropy"], "does not fit"),
    (["compare", "--dataset", "digits", "--losses", "sigmoid_mse"], "does not fit"),
    (["compare", "--losses", ","], "no loss"),
    (["compare", "--optimizer", "lbfgs"], "lbfgs"),
    (["compare", "--steps", "0"], "positive integer"),
    (["compare", "--steps", "-5"], "positive integer"),
    (["compare", "--steps", "ten"], "positive integer"),
    (["compare", "--seeds", "0"], "positive integer"),
    (["compare", "--lr", "0"], "positive"),
    (["compare", "--lr", "-0.1"], "positive"),
    (["compare", "--lr", "0.1,abc"], "number"),
    (["compare", "--lr", "nan"], "finite"),
    (["compare", "--threshold", "0"], "(0, 1]"),
    (["compare", "--threshold", "1.5"], "(0, 1]"),
    (["compare", "--loss-threshold", "-1"], "positive"),
    (["compare", "--init", "zeros"], "zeros"),
    (["compare", "--devices", "64"], "XLA_FLAGS=--xla_force_host_platform_device_count=64"),
    (["compare", "--losses", "sigmoid_mse,sigmoid_mse"], "--losses names 'sigmoid_mse' twice"),
    (["compare", "--lr", "0.1,0.1"], "0.1 is named twice"),
    (["compare", "--lr", "0.1,0.10000001"], "0.1 is named twice"),
    (["profile", "--losses", "sigmoid_mse,sigmoid_mse"], "twice"),
    (["compare", "--seeds", "3", "--devices", "2"], "devices"),
    (["compare", "--unknown-flag"], "unrecognized"),
    (["compare", "--sharpness-every", "0"], "--sharpness-every: expected a positive integer"),
    (["compare", "--sharpness-every", "-10"], "--sharpness-every: expected a positive integer"),
    (["compare", "--sharpness-every", "2.5"], "--sharpness-every: expected a positive integer"),
    (["compare", "--steps", "20", "--sharpness-every", "20"], "must be below --steps 20"),
    (["compare", "--sharpness-iterations", "5"], "--sharpness-iterations needs --sharpness-every"),
    (
        ["compare", "--sharpness-every", "5", "--sharpness-iterations", "0"],
        "--sharpness-iterations: expected a positive integer",
    ),
    (["profile", "--losses", "mse"], "cannot be profiled"),
    (["profile", "--losses", "nope"], "nope"),
    (["profile", "--target", "2"], "target"),
    (["profile", "--tol", "1"], "tol"),
    (["profile", "--tol", "abc"], "number"),
    (["profile", "--min", "5", "--max", "1"], "--min"),
    (["profile", "--points", "1"], "points"),
    (["profile", "--train-steps", "0"], "positive integer"),
    (["frobnicate"], "frobnicate"),
    ([], "required"),
]


@pytest.mark.parametrize(
    ("argv", "message"), BAD_INVOCATIONS, ids=[" ".join(a) or "(none)" for a, _ in BAD_INVOCATIONS]
)
def test_bad_arguments_get_one_line_and_exit_status_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert message in error
    assert "Traceback" not in error


# The configuration of tests/test_edge_of_stability.py: one compiled program for both.
SHARPNESS = [
    *("--dataset", "blobs", "--model", "mlp:4:tanh", "--losses", "rescaled_square_loss"),
    *("--optimizer", "gd", "--lr", "0.5,8", "--seeds", "1", "--steps", "42"),
    *("--sharpness-every", "5"),
]


@pytest.mark.xdist_group("sharpness")
def test_compare_records_the_sharpness_and_draws_it_against_two_over_lr(
    tmp_path, capsys, monkeypatch
):
    import numpy as np

    # In this process: no SIGTERM handler is left behind in the test runner.
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)
    out = tmp_path / "sharpness"
    assert cli.main(["compare", *SHARPNESS, "--no-cache", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "sharpness every 5 steps (20 Lanczos iterations)" in printed
    assert "| max sharpness | final sharpness (last 10%) | stability threshold 2/lr |" in printed
    summary = json.loads((out / "summary.json").read_text())
    row = summary["losses"]["rescaled_square_loss@lr=0.5"]
    assert row["sharpness"]["stability_threshold"] == 4.0
    with np.load(out / "curves.npz") as curves:
        np.testing.assert_array_equal(curves["sharpness_steps"], np.arange(0, 42, 5))
        sharpness = curves["rescaled_square_loss@lr=0.5/sharpness"]
        assert sharpness.shape == (1, 9) and np.isfinite(sharpness).all() and (sharpness > 0).all()
        assert row["sharpness"]["max"]["median"] == pytest.approx(sharpness.max())
    assert (out / "convergence.png").stat().st_size > 0


@pytest.mark.parametrize("folder_fixture", ["occupied", "unwritable"])
def test_output_folder_problems_are_reported_before_the_run(folder_fixture, request, capsys):
    folder = request.getfixturevalue(folder_fixture)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", *SMALL, "--out", str(folder)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert str(folder) in error and error.count("\n") == 1
    if folder_fixture == "occupied":
        assert (folder / "summary.json").read_text() == "{}"  # never overwritten


def test_profile_writes_its_pictures_and_numbers(tmp_path, monkeypatch, capsys):
    out = tmp_path / "profile"
    # One loss: what follows reads sigmoid_mse's numbers alone.
    argv = ["profile", "--losses", "sigmoid_mse", "--points", "21", "--train-steps", "5"]
    assert main_in_process([*argv, "--no-cache", "--out", str(out)], monkeypatch) == 0
    assert "| sigmoid_mse | 10 |" in capsys.readouterr().out
    names = sorted(path.name for path in out.iterdir())
    assert names == [
        "gradient_profile.png",
        "landscape.png",
        "layer_gradients.png",
        "profile.json",
        "saturation.png",
    ]
    numbers = json.loads((out / "profile.json").read_text())
    saturation = numbers["losses"]["sigmoid_mse"]["saturation"]
    assert [interval["side"] for interval in saturation] == ["right", "wrong"]


# A second opinion, end to end, on test_analysis's
# test_at_an_inner_target_the_interval_around_the_optimum_is_neither_side and
# test_the_profile_report_follows_the_grid_and_names_the_tol, and on
# test_negative_numbers_in_exponent_form_are_values_not_options here.
@pytest.mark.slow
def test_profile_at_an_inner_target_labels_the_optimum_and_follows_the_grid(
    tmp_path, monkeypatch, capsys
):
    # Issue 11: at target 0.5 the interval around z = 0 read "wrong side", the header
    # hid the tol, the z rows stayed at -10, 0, 10, and "--min -1e3" was refused.
    out = tmp_path / "profile"
    argv = [
        "profile",
        *("--target", "0.5", "--tol", "0.1", "--min", "-1e3", "--max", "4"),
        *("--points", "21", "--train-steps", "5", "--no-cache", "--out", str(out)),
    ]
    assert main_in_process(argv, monkeypatch) == 0
    stdout = capsys.readouterr().out
    lines = stdout.splitlines()
    rows = [line.split(" | ")[1] for line in lines if line.startswith("| sigmoid_mse | ")]
    assert rows[:3] == ["-1000", "0", "4"]
    assert "| loss | saturated logit intervals (tol 0.1) |" in stdout
    (mse,) = [line for line in lines if line.startswith("| sigmoid_mse | (")]
    assert "(-0.0771, 0.0771) around the optimum" in mse
    (cross_entropy,) = [
        line for line in lines if line.startswith("| sigmoid_binary_cross_entropy | (")
    ]
    assert "around the optimum" in cross_entropy and "wrong side" not in cross_entropy


def test_the_profile_help_lists_the_losses_the_profile_accepts():
    from jaxloss.analysis import report

    assert cli._profile_losses() == report.PROFILE_LOSSES


def test_negative_numbers_in_exponent_form_are_values_not_options():
    args = cli.build_parser().parse_args(["profile", "--min", "-1e3", "--max", "-2.5E-1"])
    assert (args.min, args.max) == (-1000.0, -0.25)


def test_a_bad_invocation_in_a_subprocess_prints_no_traceback():
    completed = run_cli("compare", "--dataset", "nope")
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().count("\n") == 0
    assert os.linesep not in completed.stdout
