"""The benchmark harness runs end to end on a tiny region and writes valid results (no timings
are asserted: performance is measured by ``grassroots bench``, not in unit tests)."""

from __future__ import annotations

import json

import pytest

from grassroots import bench


def test_chart_sql_covers_every_chart():
    from grassroots.superset.authoring import DASHBOARDS

    sqls = bench.chart_sql()
    assert len(sqls) == sum(len(c.queries) for d in DASHBOARDS for c in d.charts) > 0
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


def test_keep_leaves_the_largest_sizes_chart_timings(tmp_path, monkeypatch):
    """--sizes 50000,200000 --keep after a full run: the chart timings stay those of 1 M."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text(json.dumps({
        "sizes": [{"residents": n} for n in (50_000, 200_000, 1_000_000)],
        "charts": {"residents": 1_000_000, "count": 66}}))
    timed: list[int] = []

    def size(self, residents, days, seed):  # the pipeline itself is covered by the test above
        self.results["sizes"] = [e for e in self.results["sizes"] if e["residents"] != residents]
        self.results["sizes"].append({"residents": residents})
        if self.chart_size == residents:
            self.charts(residents)

    monkeypatch.setattr(bench.Bench, "size", size)
    monkeypatch.setattr(bench.Bench, "charts", lambda self, n: timed.append(n))
    monkeypatch.setattr(bench, "render_markdown", lambda r: "")  # stub results, no full table
    res = bench.run_bench(out, tmp_path / "data", [50_000, 200_000], keep=True, plot=False,
                          log=lambda *_: None)
    assert timed == [] and res["charts"]["residents"] == 1_000_000
    assert sorted(e["residents"] for e in res["sizes"]) == [50_000, 200_000, 1_000_000]
    bench.run_bench(out, tmp_path / "data", [2_000_000], keep=True, plot=False, log=lambda *_: None)
    assert timed == [2_000_000]  # a new largest size is timed
