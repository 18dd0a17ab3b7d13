"""The benchmark harness runs end to end on a tiny region and writes valid results (no timings
are asserted: performance is measured by ``grassroots bench``, not in unit tests)."""

from __future__ import annotations

import json

import pytest

from grassroots import bench


def test_chart_sql_covers_every_chart():
    from grassroots.superset.authoring import DASHBOARDS

    sqls = bench.chart_sql()
    assert len(sqls) == sum(len(d.charts) for d in DASHBOARDS) > 0
    assert all(s.startswith("SELECT ") and "LIMIT" in s for _, _, s in sqls)


@pytest.mark.slow
def test_bench_runs_on_a_tiny_region(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "HISTORY_SHORT", 3)
    out, data = tmp_path / "out", tmp_path / "data"
    res = bench.run_bench(out, data, [2000], days=10, seed=3, window_hours=6.0, log=lambda *_: None)
    saved = json.loads((out / "results.json").read_text())
    assert saved["sizes"][0]["residents"] == 2000
    s = saved["sizes"][0]
    assert s["scan"]["rows"] > 0 and s["scan"]["seconds"] > 0
    assert len(s["scan"]["runs"]) == 3 and min(s["scan"]["runs"]) <= s["scan"]["seconds"]
    # the limit is the timed reads, not the process with its warm-up read and three repeats
    assert s["scan"]["seconds"] < s["scan"]["wall_seconds"]
    assert s["full"]["ingest"]["rows"] > 0
    assert s["full"]["total_seconds"] > 0 and s["pipeline_over_scan"] > 0
    assert s["incremental"]["history_days"] == {"short": 3, "long": 9}
    assert s["incremental"]["ratio"] > 0
    assert saved["charts"]["count"] == len(bench.chart_sql())
    assert saved["capacity"]["rows_per_night"] > 0
    assert "| residents |" in (out / "results.md").read_text()
    assert (out / "cost.png").stat().st_size > 0
    assert res["sizes"][0]["residents"] == 2000
