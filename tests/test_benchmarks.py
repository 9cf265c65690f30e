"""The benchmarks run end to end at a tiny size (they report; nothing here is timed)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch", reason="the sweep benchmark compares against torch (dev extra)")


def test_sweep_writes_its_report(tmp_path):
    from benchmarks import sweep

    report = sweep.main(["--seeds", "2", "--steps", "5", "--json", str(tmp_path / "r.json")])
    assert json.loads((tmp_path / "r.json").read_text()) == report
    assert set(report) == {
        "jaxloss_compile_s",
        "jaxloss_run_s",
        "torch_s",
        "ratio_run",
        "ratio_total",
        "run_gflops",
        "matmul_gflops",
        "run_over_matmul",
        "process_cold_s",
        "process_warm_s",
        "torch_over_process_cold",
        "torch_over_process_warm",
    }
    assert all(value > 0 for value in report.values())
