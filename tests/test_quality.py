"""GX suites: generated from the contract and the dbt model contracts, and they catch problems."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from grassroots.contract import DAILY, REFERENCE
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


def test_the_raw_layer_checks_deliveries_not_rows():
    """Row rules are the loader's: the raw suites are the column check and the cross-dataset
    and history checks of reconcile.py, nothing that restates a quarantine rule."""
    from grassroots.quality import reconcile

    suites = {s["name"]: s for s in checks.load_suites("raw")}
    assert set(suites) == {"raw.columns"} | {f"reconcile.{f}" for f in checks.RECONCILE}
    assert {s["meta"]["frame"] for s in suites.values()} <= set(reconcile.FRAMES)
    kinds = {e["type"] for s in suites.values() for e in s["expectations"]}
    assert not kinds & {"expect_column_values_to_be_in_type_list",
                        "expect_column_values_to_not_be_null",
                        "expect_compound_columns_to_be_unique"}


def test_raw_columns_equal_the_warehouse_ddl_and_catch_a_clear_personal_column():
    from grassroots.quality.reconcile import table_columns

    con = duckdb.connect()
    ensure_schema(con)
    frame = table_columns(con)
    assert set(frame.problem) == {"ok"}
    assert {t for t in frame.table_name} == {f"raw.{d.name}" for d in REFERENCE + DAILY}
    stored = set(frame.column_name)
    assert not {"id_card_no", "name", "phone"} & stored and "id_card_hash" in stored
    con.execute("ALTER TABLE raw.signings ADD COLUMN phone VARCHAR")
    con.execute("DROP TABLE raw.referrals")
    problems = set(table_columns(con).problem) - {"ok"}
    assert problems == {"raw.signings.phone: not in the contract", "raw.referrals: table missing"}


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


def test_mart_suites_hold_what_dbt_does_not():
    """A mart suite bounds rates in their plausible band and proportions dbt does not test;
    columns, nulls and grain are the dbt contract's and tests' and are not repeated."""
    models = {m["name"]: m for m in checks.mart_models()}
    suites = {s["meta"]["model"]: s for s in checks.load_suites("marts") if "model" in s["meta"]}
    assert set(suites) <= set(models)
    for name, m in models.items():
        ex = suites.get(name, {"expectations": []})["expectations"]
        assert {e["type"] for e in ex} <= {"expect_column_values_to_be_between"}
        bounded = {e["kwargs"]["column"] for e in ex}
        for c in m["columns"]:
            tested = checks.proportion_checked_by_dbt(c)
            proportion = (c["name"].endswith(("_rate", "_share"))
                          and c["name"] not in checks.UNBOUNDED_RATES)
            if c["name"] in checks.MART_RANGES or (proportion and not tested):
                assert c["name"] in bounded, (name, c["name"])
            elif tested:
                assert c["name"] not in bounded, (name, c["name"])
    (share,) = suites["mart_grassroots_visits"]["expectations"]
    assert (share["kwargs"]["min_value"], share["kwargs"]["max_value"],
            share["meta"]["severity"]) == (0.05, 0.98, "warning")
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


def test_mart_suite_catches_an_out_of_range_rate(runner):
    df = pd.DataFrame({"signing_rate": [0.3, 0.5, 0.7]})
    n, fails = runner.validate("marts.mart_signing_coverage", df)
    assert n == 1 and fails == []
    df.loc[1, "signing_rate"] = 1.7
    _, fails = runner.validate("marts.mart_signing_coverage", df)
    (rate,) = fails
    assert (rate.target, rate.severity, rate.category) == ("signing_rate", "error", "plausibility")
    assert rate.unexpected_count == 1 and rate.sample == ["1.7"] and "1 unexpected" in rate.observed
    _, fails = runner.validate("marts.mart_grassroots_visits",
                               pd.DataFrame({"grassroots_share": [0.6, 0.99]}))
    assert [(f.target, f.severity) for f in fails] == [("grassroots_share", "warning")]


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


def test_a_validation_reads_no_config_variables_file(tmp_path, monkeypatch):
    """GX re-reads its config-variables YAML on every lookup of a context variable (hundreds of
    parses a run); the runner's context has none, also in a GX folder scaffolded with one."""
    import great_expectations as gx

    from grassroots.quality.runner import Runner

    gx_root = tmp_path / "gx"
    gx.get_context(mode="file", project_root_dir=str(gx_root))  # GX's own scaffold
    assert (gx_root / "gx" / "uncommitted" / "config_variables.yml").is_file()
    r = Runner(root=gx_root, docs=tmp_path / "docs", suites=[_range_suite("custom.vars", 0)])
    opened: list[str] = []
    real_open = open

    def spy(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy)
    assert r.validate("custom.vars", pd.DataFrame({"n": [1, 2]}))[1] == []
    monkeypatch.undo()
    assert opened and not [p for p in opened if p.endswith("config_variables.yml")]


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
    assert res.suites == [s["name"] for s in checks.load_suites("raw")]
    assert res.evaluated == len(res.suites)
    assert Path(res.data_docs).is_file()
    again = QualityResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again.success and again.evaluated == res.evaluated
    # no marts built: every mart suite reports its missing table, none passes silently
    marts = validate_marts(env.warehouse, date(2025, 3, 1), runner=runner)
    assert not marts.success
    assert {f.suite for f in marts.failures} == {
        s["name"] for s in checks.load_suites("marts") if "model" in s["meta"]}
    # a clear personal column that slipped into raw fails the layer
    with duckdb.connect(str(env.warehouse)) as con:
        con.execute("ALTER TABLE raw.outpatient_visits ADD COLUMN name VARCHAR")
    bad = validate_raw(env.warehouse, date(2025, 3, 1), runner=runner)
    (f,) = bad.failures
    assert (f.suite, f.category, f.severity) == ("raw.columns", "conformance", "error")
    assert f.sample == ["raw.outpatient_visits.name: not in the contract"]


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


# ---------------------------------------------------------------------------------------------
# The raw layer's delivery checks, on hand-made rows with answers worked out by hand


@pytest.fixture()
def delivered():
    """Two facilities over 29 business dates (28 days of history + the day validated)."""
    con = duckdb.connect()
    ensure_schema(con)
    bd = date(2025, 3, 29)
    days = [bd - timedelta(days=k) for k in range(29)]
    for d in days:
        for fac in ("H1", "C1"):
            # 40 visits a day, 30 of them with a prescription of 10 yuan (drug fee 10 each);
            # C1 leaves the department code empty on 10 of 40 visits
            for i in range(40):
                vid = f"{fac}-{d}-{i}"
                dept = None if (fac == "C1" and i < 10) else "01"
                prescribed = i < 30
                if fac == "H1" and d == bd:  # today H1's prescriptions stop arriving
                    prescribed = i < 3
                con.execute("INSERT INTO raw.outpatient_visits (visit_id, facility_code, "
                            "department_code, drug_fee, _business_date) VALUES (?, ?, ?, ?, ?)",
                            [vid, fac, dept, 10 if i < 30 else 0, d])
                if prescribed:
                    con.execute("INSERT INTO raw.prescriptions (prescription_id, line_no, "
                                "facility_code, visit_id, amount, _business_date) "
                                "VALUES (?, 1, ?, ?, 10, ?)", [vid, fac, vid, d])
    # today C1's department codes go missing on 35 of 40 visits
    con.execute("UPDATE raw.outpatient_visits SET department_code = NULL WHERE "
                "facility_code = 'C1' AND _business_date = ? AND "
                "CAST(split_part(visit_id, '-', -1) AS INT) < 35", [bd])
    # the census: H1's ward 01 had 20 beds occupied yesterday, 3 admitted and 2 discharged
    # today -> 21; it reports 25.  C1 reports 4 discharges, delivers 1 discharge record.
    con.execute("INSERT INTO raw.bed_census (facility_code, census_date, department_code, "
                "occupied_beds, admissions, discharges, _business_date) VALUES "
                "('H1', ?, '01', 20, 0, 0, ?), ('H1', ?, '01', 25, 3, 2, ?), "
                "('C1', ?, '02', 10, 0, 0, ?), ('C1', ?, '02', 6, 0, 4, ?)",
                [bd - timedelta(days=1)] * 2 + [bd] * 2 + [bd - timedelta(days=1)] * 2 + [bd] * 2)
    con.execute("INSERT INTO raw.inpatient_discharges (stay_id, facility_code, discharge_time, "
                "_business_date) VALUES ('S1', 'H1', ?, ?), ('S2', 'H1', ?, ?), "
                "('S3', 'C1', ?, ?)", [f"{bd} 10:00", bd] * 3)
    yield con, bd
    con.close()


def test_delivery_checks_on_known_answers(delivered):
    from grassroots.quality import reconcile

    con, bd = delivered
    census = reconcile.census_discharges(con, bd).set_index("facility_code")
    # H1: 2 vs 2 -> gap 0 - 2 = -2; C1: 4 vs 1 -> 3 - max(2, 0.4) = 1
    assert census.excess_gap.to_dict() == {"C1": 1.0, "H1": -2.0}
    balance = reconcile.census_balance(con, bd).set_index("facility_code")
    assert balance.expected_occupied.to_dict() == {"C1": 6, "H1": 21}
    assert balance.balance_gap.to_dict() == {"C1": 0, "H1": 4}
    rx = reconcile.prescribed_visits(con, bd).set_index("facility_code")
    assert rx.history_days.to_dict() == {"C1": 28, "H1": 28}
    assert rx.share.to_dict() == {"C1": 0.75, "H1": 0.075}
    # H1: (0.075 - 0.75) / sqrt(0.75 * 0.25 / 40) = -9.859
    assert round(rx.z_score["H1"], 3) == -9.859 and rx.z_score["C1"] == 0
    fees = reconcile.drug_fees(con, bd).set_index("facility_code")
    assert fees.covered_share.to_dict() == {"C1": 1.0, "H1": 0.1}  # 3 × 10 of 30 × 10
    nulls = reconcile.null_shares(con, bd)
    dept = nulls[(nulls.dataset == "outpatient_visits") & (nulls.column == "department_code")]
    # C1: 35/40 today against 10/40 before: +0.625; H1 never empty
    assert dept.set_index("facility_code").null_share_shift.round(3).to_dict() == {
        "C1": 0.625, "H1": 0.0}


def test_delivery_checks_warn_through_gx(delivered, runner):
    from grassroots.quality import reconcile

    con, bd = delivered
    flagged = {}
    for frame in checks.RECONCILE:
        _, fails = runner.validate(f"reconcile.{frame}", reconcile.FRAMES[frame](con, bd))
        assert all(f.severity == "warning" for f in fails)
        flagged[frame] = [f.unexpected_count for f in fails]
    assert flagged == {"census_discharges": [1], "census_balance": [1], "prescribed_visits": [1],
                       "drug_fees": [1], "null_shares": [1]}
