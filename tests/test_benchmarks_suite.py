"""The benchmark suite runs end to end at its quick size (it reports; nothing is timed here).

The default tier runs two cheap sections (bandwidth, memory) through ``main`` with
``--json``, and the targets section on its own; the quick run of every section (several
minutes: each section compiles and times its own programs, the study starts processes)
is marked slow.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the suite compares against torch (dev extra)")

TARGET_ROWS = 3 * 2 + 4  # cross-entropy: shapes x modes; sigmoid_mse: sizes


def test_a_few_sections_write_their_json_and_their_numbered_headings(tmp_path, capsys):
    from benchmarks import run

    report = run.main(
        ["--quick", "--only", "bandwidth", "memory", "--json", str(tmp_path / "bench.json")]
    )
    assert json.loads((tmp_path / "bench.json").read_text()) == report
    assert set(report) == {"machine", "bandwidth", "memory"}
    assert report["bandwidth"]["ratio"] > 0
    assert [row["loss"] for row in report["memory"]] == list(run.LOSSES)
    output = capsys.readouterr().out
    # Sections keep their numbers in the whole suite's order.
    assert "## 2." in output and "## 4." in output
    assert "## 1." not in output and "## 3." not in output


@pytest.mark.slow
def test_quick_suite_writes_every_section(tmp_path, capsys):
    from benchmarks import run

    report = run.main(["--quick", "--repeats", "1", "--json", str(tmp_path / "bench.json")])
    assert json.loads((tmp_path / "bench.json").read_text()).keys() == report.keys()
    sections = {
        "overhead",
        "bandwidth",
        "gradient_cost",
        "memory",
        "eager",
        "checked",
        "study",
        "targets",
        "curvature",
        "ctc",
        "linear_cross_entropy",
    }
    assert sections <= set(report)
    assert len(report["overhead"]) == 5 * 3 * 2  # losses x sizes x modes
    assert len(report["targets"]) == TARGET_ROWS
    output = capsys.readouterr().out
    for number in range(1, len(sections) + 1):
        assert f"## {number}." in output


def test_only_the_targets_each_measured_repeatedly(capsys):
    from benchmarks import run

    report = run.main(["--quick", "--only", "targets", "--repeats", "2"])
    assert set(report) == {"machine", "targets"}
    rows = report["targets"]
    assert len(rows) == TARGET_ROWS
    for row in rows:
        assert len(row["ratios"]) == 2
        assert row["low"] <= row["median"] <= row["high"]
        # value_and_grad rows carry the 1.05x target; forward rows are reported only.
        assert (row["target"] is None) == (row["mode"] == "forward")
        assert row["met"] is None or row["met"] == (row["median"] <= row["target"])
    output = capsys.readouterr().out
    assert "## 8." in output
    assert "## 1." not in output
