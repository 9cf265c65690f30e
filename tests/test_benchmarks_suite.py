"""The benchmark suite runs end to end at its quick size (it reports; nothing is timed here)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the suite compares against torch (dev extra)")


def test_quick_suite_writes_every_section(tmp_path, capsys):
    from benchmarks import run

    report = run.main(["--quick", "--json", str(tmp_path / "bench.json")])
    assert json.loads((tmp_path / "bench.json").read_text()).keys() == report.keys()
    sections = {"overhead", "bandwidth", "gradient_cost", "memory", "eager", "checked", "study"}
    assert sections <= set(report)
    assert len(report["overhead"]) == 5 * 3 * 2  # losses x sizes x modes
    output = capsys.readouterr().out
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6.", "## 7."):
        assert heading in output
