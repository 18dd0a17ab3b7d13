"""GX suites: generated from the contract and the dbt model contracts, and they catch problems."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from grassroots.contract import DAILY, DATASETS, REFERENCE
from grassroots.quality import checks
from grassroots.quality.result import QualityResult
from grassroots.warehouse import ensure_schema

EXP = checks.EXPECTATIONS_DIR


# ---------------------------------------------------------------------------------------------
# The committed suites are exactly what the generator makes (no GX needed)


def test_committed_expectations_match_the_generator():
    files = checks.render_files(checks.all_suites())
    on_disk = {f"suites/{p.name}": p.read_text(encoding="utf-8")
               for p in (EXP / "suites").glob("*.json")}
    for rel in ("checks_by_category.csv", "summary_by_category.csv"):
        on_disk[rel] = (EXP / rel).read_text(encoding="utf-8")
    stale = sorted(k for k in set(files) | set(on_disk) if files.get(k) != on_disk.get(k))
    assert not stale, ("expectations/ is out of date with grassroots/contract.py or the dbt "
                       f"model contracts; run `uv run python -m grassroots.quality.checks`: {stale}")


def test_raw_suites_cover_the_contract():
    suites = {s["name"]: s for s in checks.load_suites("raw")}
    assert set(suites) == {f"raw.{d.name}" for d in REFERENCE + DAILY}
    for name, ds in DATASETS.items():
        ex = suites[f"raw.{name}"]["expectations"]
        by = {}
        for e in ex:
            by.setdefault((e["type"], e["kwargs"].get("column"),
                           e["kwargs"].get("row_condition")), []).append(e)
        for c in ds.stored_columns:
            col = c.stored_name
            assert ("expect_column_values_to_be_in_type_list", col, None) in by
            if c.required:
                assert ("expect_column_values_to_not_be_null", col, None) in by, col
            if c.enum:
                (e,) = by[("expect_column_values_to_be_in_set", col, None)]
                assert {str(v) for v in e["kwargs"]["value_set"]} == set(c.enum)
            if c.min is not None or c.max is not None:
                (e,) = by[("expect_column_values_to_be_between", col, None)]
                assert e["kwargs"].get("min_value") == c.min
                assert e["kwargs"].get("max_value") == c.max
        for col, wc, wv in ds.required_when:
            assert ("expect_column_values_to_not_be_null", col, f'{wc}=="{wv}"') in by
        # personal columns never appear in clear
        cols = next(e for e in ex if e["type"] == "expect_table_columns_to_match_set")
        assert not {"id_card_no", "name", "phone"} & set(cols["kwargs"]["column_set"])


def test_raw_suite_columns_equal_the_warehouse_ddl():
    con = duckdb.connect()
    ensure_schema(con)
    for s in checks.load_suites("raw"):
        schema, table = s["name"].split(".")
        actual = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND "
            "table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()]
        expected = next(e for e in s["expectations"]
                        if e["type"] == "expect_table_columns_to_match_set")
        assert expected["kwargs"]["column_set"] == actual, s["name"]


def test_every_check_has_a_kahn_category_and_the_table_lists_them_all():
    suites = checks.load_suites()
    n = sum(len(s["expectations"]) for s in suites)
    table = (EXP / "checks_by_category.csv").read_text(encoding="utf-8").splitlines()
    assert len(table) - 1 == n
    for s in suites:
        for e in s["expectations"]:
            assert e["meta"]["category"] in checks.CATEGORIES
            assert e["meta"]["severity"] in ("error", "warning")
    cats = {e["meta"]["category"] for s in suites for e in s["expectations"]}
    assert cats == set(checks.CATEGORIES)


def test_mart_suites_follow_the_dbt_models():
    models = {m["name"]: m for m in checks.mart_models()}
    suites = {s["meta"]["model"]: s for s in checks.load_suites("marts") if "model" in s["meta"]}
    assert set(suites) == set(models)
    dq = suites["mart_delivery_quality"]["expectations"]
    assert any(e["type"] == "expect_compound_columns_to_be_unique"
               and e["kwargs"]["column_list"] == ["business_date", "facility_code"] for e in dq)
    gv = suites["mart_grassroots_visits"]["expectations"]
    share = [e for e in gv if e["kwargs"].get("column") == "grassroots_share"]
    assert {(e["kwargs"]["min_value"], e["kwargs"]["max_value"], e["meta"]["severity"])
            for e in share} >= {(0, 1, "error"), (0.05, 0.98, "warning")}
    bu = [e for e in suites["mart_bed_utilization"]["expectations"]
          if e["kwargs"].get("column") == "bed_utilization_rate"]
    assert bu and all(e["kwargs"]["max_value"] >= 1.5 for e in bu)  # 加床 allowed


# ---------------------------------------------------------------------------------------------
# Running GX


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from grassroots.quality.runner import Runner

    root = tmp_path_factory.mktemp("gx")
    return Runner(root=root / "gx", docs=root / "docs")


def _mart_frame(name: str, n: int = 3) -> pd.DataFrame:
    model = next(m for m in checks.mart_models() if m["name"] == name)
    data = {}
    for c in model["columns"]:
        t = str(c.get("data_type", "")).lower()
        col = c["name"]
        if t == "date":
            data[col] = pd.to_datetime([date(2025, 1 + k, 1) for k in range(n)])
        elif t in ("bigint", "integer"):
            data[col] = [10 + k for k in range(n)]
        elif t in ("double", "float") or t.startswith("decimal"):
            data[col] = [0.5] * n
        else:
            data[col] = [f"{col}{k}" for k in range(n)]
    return pd.DataFrame(data)


def test_mart_suite_catches_an_out_of_range_rate(runner):
    df = _mart_frame("mart_grassroots_visits")
    n, fails = runner.validate("marts.mart_grassroots_visits", df)
    assert n > 10 and not [f for f in fails if f.severity == "error"], fails
    df.loc[1, "grassroots_share"] = 1.7
    df.loc[2, "signed_visits"] = -3
    _, fails = runner.validate("marts.mart_grassroots_visits", df)
    errors = {(f.target, f.expectation): f for f in fails if f.severity == "error"}
    rate = errors[("grassroots_share", "expect_column_values_to_be_between")]
    assert rate.category == "plausibility" and rate.unexpected_count == 1
    assert rate.sample == ["1.7"] and "1 unexpected" in rate.observed
    assert ("signed_visits", "expect_column_values_to_be_between") in errors
    warn = [f for f in fails if f.severity == "warning" and f.target == "grassroots_share"]
    assert warn, "plausible-range check (warning) should also flag 1.7"
    # grain
    df2 = _mart_frame("mart_grassroots_visits")
    df2.loc[1, ["month", "district_code"]] = df2.loc[0, ["month", "district_code"]].values
    _, fails = runner.validate("marts.mart_grassroots_visits", df2)
    assert any(f.expectation == "expect_compound_columns_to_be_unique" for f in fails)


def test_outlier_check_flags_a_spike(runner):
    from grassroots.quality.runner import outliers_from, zscores

    target = date(2025, 3, 29)
    rows = []
    for k in range(1, 29):
        d = target - timedelta(days=k)
        rows.append(("H1", d, 40 + (k % 5)))  # steady 40-44 a day
        rows.append(("C1", d, 12 + (k % 3)))
        rows.append(("S1", d, 2 + (k % 3)))  # a station's handful of visits
    rows += [("H1", target, 41), ("C1", target, 90), ("S1", target, 9)]  # C1 spikes
    vol = pd.DataFrame(rows, columns=["facility_code", "visit_date", "visits"])
    frame = zscores(vol, target)
    assert set(frame.facility_code) == {"H1", "C1"}  # S1's 9 against ~3 a day is not scored
    out = outliers_from(frame)
    assert [o.facility_code for o in out] == ["C1"] and out[0].z_score > 3
    assert out[0].history_days == 28 and out[0].visits == 90
    n, fails = runner.validate(checks.OUTLIER_SUITE, frame)
    assert n == 1 and len(fails) == 1 and fails[0].category == "plausibility"
    # too little history: not scored
    short = vol[vol.visit_date >= target - timedelta(days=3)]
    assert zscores(short, target).empty


def test_visit_volume_reads_the_window_of_the_latest_versions(tmp_path):
    """The outlier check counts each visit once, on the date of its latest delivered version,
    from dbt's latest-wins table when the build has made it, else from raw: the same numbers."""
    import duckdb

    from grassroots.quality.runner import daily_visit_volume

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.outpatient_visits (facility_code VARCHAR, visit_id VARCHAR, "
                "visit_time TIMESTAMP, _business_date DATE, _delivery_version INTEGER)")
    con.execute("""INSERT INTO raw.outpatient_visits VALUES
        ('H1', 'V1', '2025-03-01 09:00', '2025-03-01', 1),
        ('H1', 'V2', '2025-03-01 10:00', '2025-03-01', 1),
        ('H1', 'V2', '2025-03-02 10:00', '2025-03-02', 1),   -- corrected: counts on 2 March
        ('H1', 'V3', '2025-02-01 10:00', '2025-02-01', 1),   -- before the window
        ('H1', 'V4', '2025-03-02 11:00', '2025-03-02', 1),
        ('H1', 'V4', '2025-03-02 11:30', '2025-03-02', 2)""")
    since = date(2025, 2, 15)
    from_raw = daily_visit_volume(con, since)
    assert [(f, str(d)[:10], n) for f, d, n in from_raw.itertuples(index=False)] == [
        ("H1", "2025-03-01", 1), ("H1", "2025-03-02", 2)]
    con.execute("CREATE SCHEMA intermediate")
    con.execute("""CREATE TABLE intermediate.int_outpatient_visits_current AS
        SELECT facility_code, visit_id, arg_max(visit_time, (_business_date, _delivery_version))
               AS visit_time
        FROM raw.outpatient_visits GROUP BY ALL""")
    con.execute("DROP TABLE raw.outpatient_visits")  # read from dbt's table alone
    from_dbt = daily_visit_volume(con, since)
    assert from_dbt.astype(str).equals(from_raw.astype(str))
    con.close()


def test_an_errored_expectation_is_a_failure(tmp_path):
    from grassroots.quality.runner import Runner

    suite = {"name": "custom.errors", "meta": {"layer": "raw"}, "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "no_such_column", "min_value": 0},
         "meta": {"category": "plausibility", "subcategory": "atemporal", "severity": "warning",
                  "description": ""}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "label", "min_value": 0},  # text vs number: raises
         "meta": {"category": "plausibility", "subcategory": "atemporal", "severity": "error",
                  "description": ""}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "label"},
         "meta": {"category": "completeness", "subcategory": "required", "severity": "error",
                  "description": ""}},
    ]}
    r = Runner(root=tmp_path / "gx", docs=tmp_path / "docs", suites=[suite])
    n, fails = r.validate("custom.errors", pd.DataFrame({"label": ["a", "b"]}))
    assert n == 3
    assert len(fails) == 2 and all(f.errored and f.severity == "error" for f in fails)
    assert any("no_such_column" in f.error for f in fails)
    assert not (tmp_path / "docs" / "index.html").exists()  # built once per layer, not per suite
    r.build_docs()
    assert (tmp_path / "docs" / "index.html").is_file()
    pages = list((tmp_path / "docs" / "validations").rglob("*.html"))
    assert len(pages) == 1 and "custom.errors" in str(pages[0])


def _range_suite(name: str, min_value: int) -> dict:
    """A one-expectation suite: column n >= min_value."""
    return {"name": name, "meta": {"layer": "raw"}, "expectations": [
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "n", "min_value": min_value},
         "meta": {"category": "plausibility", "subcategory": "atemporal", "severity": "error",
                  "description": ""}}]}


def test_a_changed_suite_is_recreated_and_an_unchanged_one_reused(tmp_path):
    from grassroots.quality.runner import Runner

    def suite(min_value):
        return _range_suite("custom.reuse", min_value)

    df = pd.DataFrame({"n": [1, 2, 3]})
    gx_root = tmp_path / "gx"
    assert Runner(root=gx_root, docs=tmp_path / "docs", suites=[suite(0)]).validate(
        "custom.reuse", df)[1] == []
    def definitions():  # suites, validation definitions, checkpoints (not the results)
        return sorted((str(p), p.stat().st_mtime_ns) for p in gx_root.rglob("*.json")
                      if "uncommitted" not in p.parts)

    stored = definitions()
    assert len(stored) >= 3
    # same definition in a new process-like runner: nothing rewritten, same verdict
    assert Runner(root=gx_root, docs=tmp_path / "docs", suites=[suite(0)]).validate(
        "custom.reuse", df)[1] == []
    assert definitions() == stored
    # a changed definition replaces the stored suite: the stricter range now fails
    n, fails = Runner(root=gx_root, docs=tmp_path / "docs", suites=[suite(2)]).validate(
        "custom.reuse", df)
    assert n == 1 and len(fails) == 1 and fails[0].unexpected_count == 1


def test_a_suite_page_is_rendered_when_the_suite_changes_or_the_page_is_missing(tmp_path):
    from grassroots.quality.runner import Runner

    df = pd.DataFrame({"n": [1, 2, 3]})

    def run(min_value):  # a nightly run: a new runner, one validation, the docs
        r = Runner(root=tmp_path / "gx", docs=tmp_path / "docs", suites=[_range_suite("custom.pages", min_value)])
        r.validate("custom.pages", df)
        r.build_docs()
        return r.suite_page("custom.pages")

    page = run(0)
    assert page == tmp_path / "docs" / "expectations" / "custom" / "pages.html"
    assert page.is_file()
    page.write_text("rendered earlier")
    assert run(0).read_text() == "rendered earlier"  # unchanged suite: page kept
    assert len(list((tmp_path / "docs" / "validations").rglob("*.html"))) == 2  # results: each run
    assert "rendered earlier" not in run(1).read_text()  # changed suite: rendered again
    page.unlink()
    assert run(1).is_file()  # missing page (docs folder wiped): rendered again


def test_validate_raw_on_a_loaded_warehouse(env, runner):
    from handmade import RX_HEADER, VISIT_HEADER, rx, visit

    from grassroots.quality.runner import validate_marts, validate_raw

    env.landing.delivery("2025-03-01", "C330102001", {
        "outpatient_visits": (VISIT_HEADER, [visit("V1"), visit("V2", visit_type="walk_in")]),
        "prescriptions": (RX_HEADER, [rx("P1", 1, "V1")]),
    })
    env.run()
    res = validate_raw(env.warehouse, date(2025, 3, 1), runner=runner)
    assert res.success, [f.check_id + " " + f.observed for f in res.failures]
    assert res.evaluated > 300 and len(res.suites) == 14
    assert Path(res.data_docs).is_file()
    again = QualityResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again.success and again.evaluated == res.evaluated
    # no marts built: every mart suite reports its missing table, none passes silently
    marts = validate_marts(env.warehouse, date(2025, 3, 1), runner=runner)
    assert not marts.success
    assert {f.suite for f in marts.failures} == {f"marts.{m}" for m in checks.mart_names()}
    # a row breaking the contract that slipped into raw is caught
    with duckdb.connect(str(env.warehouse)) as con:
        con.execute("UPDATE raw.outpatient_visits SET visit_type = 'walk_in', total_fee = -1")
    bad = validate_raw(env.warehouse, date(2025, 3, 1), runner=runner)
    targets = {(f.suite, f.target, f.category) for f in bad.failures}
    assert ("raw.outpatient_visits", "visit_type", "conformance") in targets
    assert ("raw.outpatient_visits", "total_fee", "plausibility") in targets


def test_arrivals_classify_expected_facilities(env):
    from handmade import VISIT_HEADER, visit

    from grassroots.quality.arrivals import check_arrivals, expected_facilities

    assert expected_facilities(env.landing.root, None) == [
        "C330102001", "C330122001", "H330102001", "H330102002"]  # no station
    env.landing.delivery("2025-03-01", "C330102001",
                         {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.landing.delivery("2025-03-01", "H330102001",
                         {"outpatient_visits": (VISIT_HEADER, [])},
                         generated_at="2025-03-02T08:30:00")
    env.landing.delivery("2025-03-01", "H330102002",
                         {"outpatient_visits": (VISIT_HEADER, [])}, write_manifest=False)
    from datetime import datetime

    early = check_arrivals(env.landing.root, date(2025, 3, 1),
                           now=datetime(2025, 3, 2, 7, 0))
    assert early.complete == ["C330102001", "H330102001"]
    assert early.missing == ["C330122001"]
    assert list(early.incomplete) == ["H330102002"]
    assert early.late == {"H330102001": "2025-03-02T08:30:00"}
    assert early.waiting_for == ["C330122001", "H330102002"] and not early.done
    late = check_arrivals(env.landing.root, date(2025, 3, 1), now=datetime(2025, 3, 2, 10, 1))
    assert late.cutoff_passed and late.done and late.waiting_for == early.waiting_for


def test_validation_results_are_recorded_by_the_pipeline_and_published(env, runner, monkeypatch,
                                                                       tmp_path):
    import functools

    from conftest import TEST_KEY
    from handmade import VISIT_HEADER, visit

    from grassroots import build, quality
    from grassroots.pipeline import run_pipeline
    from grassroots.publish import publish_serving
    from grassroots.superset import authoring

    env.landing.delivery("2025-03-01", "C330102001",
                         {"outpatient_visits": (VISIT_HEADER, [visit("V1"), visit("V2")])})
    # no dbt here (slow): the marts validation then records a failure per missing mart table
    monkeypatch.setattr(build, "build", lambda warehouse: None)
    for name in ("validate_raw", "validate_marts"):
        monkeypatch.setattr(quality, name, functools.partial(getattr(quality, name), runner=runner))
    got = run_pipeline(env.landing.root, env.warehouse, key=TEST_KEY, log=lambda *_: None).quality
    assert set(got) == {"raw", "marts"} and got["raw"].success and not got["marts"].success

    def results():
        return env.sql("SELECT layer, business_date, success, evaluated, failed, errored, warnings,"
                       " outliers, suites, failed_checks FROM audit.validation_results"
                       " ORDER BY recorded_at")

    def expected(r: QualityResult) -> tuple:
        return (r.layer, date(2025, 3, 1), r.success, r.evaluated, len(r.failures),
                sum(f.errored for f in r.failures), len(r.warnings), len(r.outliers),
                len(r.suites), quality.history.failed_checks(r))

    assert results() == [expected(got["raw"]), expected(got["marts"])]
    marts = got["marts"]
    listed = results()[1][-1].split(",")
    assert listed[:20] == [f.check_id for f in marts.failures][:20] and len(listed) <= 21
    assert sorted(env.sql("SELECT check_id, category, severity FROM audit.validation_failures"
                          " WHERE layer = 'marts'")) == sorted(
        (f.check_id, f.category, f.severity) for f in marts.failures + marts.warnings)
    # every failure row belongs to its run's result row
    assert env.sql("SELECT count(*) FROM audit.validation_failures f ANTI JOIN"
                   " audit.validation_results r USING (business_date, layer, recorded_at)") == [(0,)]

    # re-validating appends (history); the dashboards take the latest run per date and layer
    fixed = QualityResult.from_dict(marts.to_dict())
    fixed.success, fixed.failures = True, []
    quality.record(env.warehouse, fixed.to_dict())  # the XCom form is accepted too
    assert len(results()) == 3

    with duckdb.connect(str(env.warehouse)) as con:  # publish needs a marts schema
        con.execute("CREATE SCHEMA marts; CREATE TABLE marts.mart_x AS SELECT 1 AS x")
    serving = publish_serving(env.warehouse, tmp_path / "serving.duckdb")
    with duckdb.connect(str(serving), read_only=True) as con:
        for t in ("validation_results", "validation_failures"):
            assert sorted(con.execute(f"SELECT * FROM audit.{t}").fetchall()) == sorted(
                env.sql(f"SELECT * FROM audit.{t}"))
        latest = con.execute("SELECT layer_name, failed, passed FROM ("
                             f"{authoring.DS['validation_runs'].sql}) ORDER BY 1").fetchall()
        assert latest == [("原始层", 0, got["raw"].evaluated), ("指标层", 0, marts.evaluated)]
        assert con.execute(f"SELECT count(*) FROM ({authoring.DS['validation_failures'].sql})"
                           " WHERE layer_name = '指标层'").fetchone() == (0,)

    # a warehouse from before the history tables: the serving file still has them, empty
    with duckdb.connect(str(env.warehouse)) as con:
        con.execute("DROP TABLE audit.validation_results; DROP TABLE audit.validation_failures")
    serving = publish_serving(env.warehouse, tmp_path / "serving.duckdb")
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("SELECT (SELECT count(*) FROM audit.validation_results),"
                           " (SELECT count(*) FROM audit.validation_failures)").fetchone() == (0, 0)
