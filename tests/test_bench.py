"""The benchmark harness runs end to end on a tiny region and writes valid results (no timings
are asserted: performance is measured by ``grassroots bench``, not in unit tests)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from grassroots import bench


def test_chart_sql_covers_every_chart():
    from grassroots.superset.authoring import DASHBOARDS

    sqls = bench.chart_sql()
    assert len(sqls) == sum(len(c.queries) for d in DASHBOARDS for c in d.charts) > 0
    assert all(s.startswith("SELECT ") and "LIMIT" in s for _, _, s in sqls)


def test_a_bench_whose_dates_reach_today_stops_before_generating(tmp_path, monkeypatch):
    from grassroots.ingest.discover import today_cst

    monkeypatch.setattr(bench, "START", today_cst() - timedelta(days=100))
    with pytest.raises(ValueError, match="refuses business dates"):
        bench.run_bench(tmp_path / "out", tmp_path / "data", [2000], days=90, heavy=True,
                        log=lambda *_: None)
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_bench_runs_on_a_tiny_region(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "HISTORY_SHORT", 3)
    monkeypatch.setattr(bench, "HEAVY_NIGHT_DAYS", 4)
    out, data = tmp_path / "out", tmp_path / "data"
    res = bench.run_bench(out, data, [2000], days=10, seed=3, window_hours=6.0,
                          memory_limit="3GB", log=lambda *_: None)
    saved = json.loads((out / "results.json").read_text())

    def day(n: int) -> str:  # the n-th business date after the region's first
        return (bench.START + timedelta(days=n)).isoformat()

    assert saved["sizes"][0]["residents"] == 2000
    # the stages' libraries were read before the first size, as the scan's files are, and dbt
    # parsed the project then: no job's build parses it in full
    assert saved["code_warm_up_seconds"] > 0 and "libraries are read once" in (
        out / "results.md").read_text()
    for log in (data / "wh-2000").glob("*.duckdb.dbt/logs/dbt.log"):
        assert "Starting full parse" not in log.read_text(), log
    assert len(list((data / "wh-2000").glob("*.duckdb.dbt/logs/dbt.log"))) == 2
    s = saved["sizes"][0]
    assert s["scan"]["rows"] > 0 and s["scan"]["seconds"] > 0
    assert len(s["scan"]["runs"]) == 3 and min(s["scan"]["runs"]) <= s["scan"]["seconds"]
    # the limit is the timed reads, not the process with its warm-up read and three repeats
    assert s["scan"]["seconds"] < s["scan"]["wall_seconds"]
    assert s["full"]["ingest"]["rows"] > 0
    # ratios of this run's own measurements
    assert s["full"]["total_seconds"] == pytest.approx(
        sum(s["full"][k]["seconds"] for k in bench.STAGES))
    assert s["pipeline_over_scan"] == pytest.approx(s["full"]["total_seconds"] / s["scan"]["seconds"])
    inc = s["incremental"]
    assert inc["history_days"] == {"short": 3, "long": 7}
    assert len(inc["nights"]) == 3 and len(inc["ratios"]) == 3
    for k, night in enumerate(inc["nights"], start=1):
        assert night["ratio"] == pytest.approx(
            night["after_long"]["total_seconds"] / night["after_short"]["total_seconds"])
        # night k loads business date end + k after each history
        assert night["after_long"]["business_date"] == day(6 + k)
        assert night["after_short"]["business_date"] == day(2 + k)
    assert inc["ratio"] == max(inc["ratios"])
    # memory: every stage ran with the limit and its peak was measured (dbt's in its own process)
    for job in (s["full"], inc["nights"][0]["after_long"], s["heavy_night"]):
        for k in bench.STAGES:
            assert job[k]["memory_limit"] == "3GB"
            assert job[k]["peak_rss_mb"] > 8  # the interpreter at least: its own high-water mark
        assert job["build"]["peak_child_rss_mb"] > 20
    assert saved["memory_limit_mb"] == pytest.approx(3e9 / 2**20)
    # the heavy night: the region's further days (generated beyond the history) in one run
    h = s["heavy_night"]
    assert (h["first_date"], h["last_date"], h["business_dates"]) == (day(10), day(13), 4)
    assert h["rows"] > 0 and h["fits"] is (h["total_seconds"] <= 30 * 60)
    cap = saved["capacity"]
    assert cap["heavy_night_rows"] == h["rows"]
    if cap["seconds_per_million_rows"] > 0:  # a tiny region's two nights differ mostly by noise
        assert 0 < cap["rows_per_30_minutes"] < cap["rows_per_night"]
    else:
        assert cap["rows_per_30_minutes"] is None
    assert saved["charts"]["count"] == len(bench.chart_sql())
    md = (out / "results.md").read_text()
    assert "| residents |" in md and "Heavy night at 2,000 residents" in md
    assert "Peak memory" in md and "limit of 3GB" in md
    assert (out / "cost.png").stat().st_size > 0
    assert res["sizes"][0]["residents"] == 2000


def test_size_mb_reads_duckdb_sizes():
    assert bench._size_mb("4GB") == pytest.approx(4e9 / 2**20)
    assert bench._size_mb("4GiB") == 4096
    assert bench._size_mb("512 MB") == pytest.approx(512e6 / 2**20)
    with pytest.raises(ValueError):
        bench._size_mb("lots")


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
