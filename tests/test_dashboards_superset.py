"""The dashboards in a real Superset 6.1 (own venv), fresh SQLite metadata in tmp.

One module-scoped Superset: setup (env, bootstrap, import, RLS, users, gunicorn) then
* every chart's saved query_context runs through /api/v1/chart/<id>/data/ and returns rows;
* the dashboards tell the truth: every chart's numbers, through the chart-data API as the analyst,
  with the default filters and with a past month range passed as a dashboard passes it, equal an
  independent computation from the serving file (``tests/dashboards_truth.py``); the same for a
  hospital manager on 医院运营; a city KPI equals its districts' summed numerators over summed
  denominators;
* RLS through the API: a hospital manager sees only their hospital, the analyst all;
* re-importing a changed chart updates it;
* headless Chromium opens every dashboard as the analyst (and the hospital dashboard as a
  manager), waits for all charts, finds no error panel and, city-wide, no empty chart, and saves
  a screenshot per dashboard in a temporary folder (``grassroots screenshots`` refreshes the
  committed ones); a refused login is reported as such;
* chart queries issued while the serving file is being re-published succeed.

Serving data: a generated region (3,000 residents, 2024-01 to 2025-03: a completed year and a
running one) run through ingest + dbt build + GX validation of three business dates (recorded) +
publish (~2 min); GRASSROOTS_DASHBOARDS_DATA=sample uses the small hand-made warehouse with the
marts' contract columns and a month of validation results (grassroots.superset.sample) instead
(the truth tests need the generated region and are skipped on it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote

import dashboards_truth as truth
import duckdb
import pytest
import requests
import yaml

from grassroots.publish import publish_serving
from grassroots.superset import authoring, manage
from grassroots.superset.browser import check_dashboards
from grassroots.superset.sample import build_sample_warehouse

TIMINGS: dict[str, float] = {}
PIPELINE = os.environ.get("GRASSROOTS_DASHBOARDS_DATA", "pipeline") == "pipeline"
PAST = (date(2024, 4, 1), date(2024, 10, 1))  # a range picked in the month filter: 2024-04..09
GX_DATASETS = {"validation_runs", "validation_categories", "validation_failures"}  # 2025-03 only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_warehouse(tmp: Path) -> Path:
    if PIPELINE:
        from grassroots.build import build
        from grassroots.generate import generate
        from grassroots.ingest import ingest

        landing, wh = tmp / "landing", tmp / "warehouse.duckdb"
        generate(landing, residents=3000, start=date(2024, 1, 1), end=date(2025, 3, 31), seed=5)
        ingest(landing, wh, key=b"dashboards-test-key")
        build(wh)
        validate_days(tmp, wh, [date(2025, 3, 29), date(2025, 3, 30), date(2025, 3, 31)])
        return wh
    return build_sample_warehouse(tmp / "warehouse.duckdb")


def validate_days(tmp: Path, wh: Path, days: list[date]) -> None:
    """GX on both layers for ``days``, recorded as the pipeline does (the 数据质量 trend charts).
    On the middle day the wards' census reports more discharges than the discharge records hold
    (changed after the build: the marts stay as they are), so the failure charts have something
    to show."""
    from grassroots import quality

    runner = quality.Runner(root=tmp / "gx", docs=tmp / "data_docs")
    for k, bd in enumerate(days):
        if k == 1:
            with duckdb.connect(str(wh)) as con:
                con.execute("UPDATE raw.bed_census SET discharges = discharges + 20"
                            " WHERE _business_date = ?", [bd])
        for validate in (quality.validate_raw, quality.validate_marts):
            quality.record(wh, validate(wh, bd, runner=runner))


class Ctx:
    def __init__(self, info: manage.SupersetInfo, warehouse: Path, serving: Path) -> None:
        self.info, self.warehouse, self.serving = info, warehouse, serving
        self.url = info.url
        self.charts = manage.info(info.home)["charts"]

    def login(self, username: str, password: str) -> requests.Session:
        s = requests.Session()
        r = s.post(f"{self.url}/api/v1/security/login",
                   json={"username": username, "password": password, "provider": "db", "refresh": True},
                   timeout=30)
        r.raise_for_status()
        s.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        return s

    def admin(self) -> requests.Session:
        return self.login("admin", self.info.admin_password)

    def user(self, role_prefix: str) -> dict:
        return next(u for u in self.info.users if u["roles"][0].startswith(role_prefix))

    def chart_id(self, key: str) -> int:
        return self.charts[authoring.uid("chart", key)]["id"]

    def data(self, s: requests.Session, key_or_id) -> requests.Response:
        cid = key_or_id if isinstance(key_or_id, int) else self.chart_id(key_or_id)
        return s.get(f"{self.url}/api/v1/chart/{cid}/data/", timeout=120)

    def query_context(self, s: requests.Session, key: str) -> dict:
        r = s.get(f"{self.url}/api/v1/chart/{self.chart_id(key)}", timeout=30)
        assert r.status_code == 200, r.text[:300]
        return json.loads(r.json()["result"]["query_context"])

    def ask(self, s: requests.Session, qc: dict, rng: tuple[date, date] | None) -> requests.Response:
        """The chart's saved query with the range a dashboard's time filter passes: the query's
        time_range and the form data's extra_form_data, as the dashboard sends them."""
        qc = json.loads(json.dumps(qc))
        if rng:
            value = f"{rng[0]} : {rng[1]}"
            for q in qc["queries"]:
                q["time_range"] = value
            qc["form_data"]["extra_form_data"] = {"time_range": value}
        return s.post(f"{self.url}/api/v1/chart/data", json=qc, timeout=120)


@pytest.fixture(scope="module")
def ss(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("superset")
    t = time.monotonic()
    warehouse = make_warehouse(tmp)
    serving = publish_serving(warehouse, tmp / "serving" / "serving.duckdb")
    TIMINGS["data"] = time.monotonic() - t
    home = tmp / "home"
    t = time.monotonic()
    info = manage.setup(home, serving, port=_free_port())
    TIMINGS["setup"] = time.monotonic() - t
    try:
        yield Ctx(info, warehouse, serving)
    finally:
        manage.stop(home)
        print("timings (s):", {k: round(v, 1) for k, v in TIMINGS.items()})


def test_bundle_imported(ss):
    assert ss.info.pid and manage.healthy(ss.url)
    found = manage.info(ss.info.home)
    assert {d.slug for d in authoring.DASHBOARDS} <= set(found["dashboards"])
    expected = {c.uuid for d in authoring.DASHBOARDS for c in d.charts}
    assert expected <= set(found["charts"])


def test_every_chart_returns_rows(ss):
    s = ss.admin()
    empty, failed = [], []
    t = time.monotonic()
    for dash in authoring.DASHBOARDS:
        for c in dash.charts:
            r = ss.data(s, c.key)
            if r.status_code != 200:
                failed.append((dash.title, c.title, r.status_code, r.text[:300]))
                continue
            if not any(q["rowcount"] > 0 for q in r.json()["result"]):
                empty.append((dash.title, c.title))
    TIMINGS["chart_data_all"] = time.monotonic() - t
    assert not failed, failed
    assert not empty, empty


def _truth(ss, s: requests.Session, charts: list, rng: tuple[date, date] | None,
           facility: str | None = None) -> tuple[list[str], list[str]]:
    """Every query of ``charts`` against the independent computation: (differences, empty charts)."""
    errors, empty = [], []
    with duckdb.connect(str(ss.serving), read_only=True) as con:
        per = truth.period(con, *(rng or ()))
        for c in charts:
            qc = ss.query_context(s, c.key)
            r = ss.ask(s, qc, rng)
            if r.status_code != 200:
                errors.append(f"{c.key}: HTTP {r.status_code} {r.text[:200]}")
                continue
            results = r.json()["result"]
            if not any(res["rowcount"] for res in results):
                empty.append(c.key)
            for q, res in zip(qc["queries"], results, strict=True):
                want = truth.expected(con, c.ds, q, per, facility)
                errors += [f"{c.key} ({c.title}): {e}" for e in truth.compare(res["data"], want, q)]
            if c.viz == "handlebars" and results[0]["data"]:
                metric = c.queries[0]["metrics"][0]
                fmt = c.dataset.metric(metric).fmt
                errors += [f"{c.key}: {e}" for e in truth.check_card(results[0]["data"][0], metric, fmt)]
    return errors, empty


ALL_CHARTS = [c for d in authoring.DASHBOARDS for c in d.charts]


@pytest.mark.skipif(not PIPELINE, reason="the truth is checked on the generated region")
@pytest.mark.parametrize("rng", [None, PAST], ids=["default", "2024-04..09"])
def test_dashboards_tell_the_truth(ss, rng):
    """Every chart, as the analyst, equals the independent computation from the serving file."""
    analyst = ss.user("commission_analyst")
    s = ss.login(analyst["username"], analyst["password"])
    t = time.monotonic()
    errors, empty = _truth(ss, s, ALL_CHARTS, rng)
    TIMINGS[f"truth_{'default' if rng is None else 'past'}"] = time.monotonic() - t
    assert not errors, "\n".join(errors[:40])
    # the default view and a completed past range show every chart (GX history: 2025-03 only)
    assert not [k for k in empty if rng is None or _ds(k) not in GX_DATASETS], empty


def _ds(key: str) -> str:
    return next(c.ds for c in ALL_CHARTS if c.key == key)


@pytest.mark.skipif(not PIPELINE, reason="the truth is checked on the generated region")
@pytest.mark.parametrize("rng", [None, PAST], ids=["default", "2024-04..09"])
def test_a_hospital_manager_sees_the_truth_of_their_hospital(ss, rng):
    manager = ss.user("hospital_manager")
    s = ss.login(manager["username"], manager["password"])
    hosp = next(d for d in authoring.DASHBOARDS if d.slug == manage.HOSPITAL_DASHBOARD)
    errors, empty = _truth(ss, s, hosp.charts, rng, facility=manager["facility_code"])
    assert not errors, "\n".join(errors[:40])
    assert len(empty) < len(hosp.charts) / 2, empty  # a hospital may have had no referral


@pytest.mark.skipif(not PIPELINE, reason="the truth is checked on the generated region")
@pytest.mark.parametrize("rng", [None, PAST], ids=["default", "2024-04..09"])
def test_a_city_kpi_equals_its_districts(ss, rng):
    """Every KPI card's value is its districts' summed numerator over their summed denominator,
    read through the same dataset for the same range."""
    analyst = ss.user("commission_analyst")
    s = ss.login(analyst["username"], analyst["password"])
    checked = 0
    for c in ALL_CHARTS:
        d = c.dataset
        if c.viz != "handlebars" or not d.has("district_name"):
            continue
        metric = d.metric(c.queries[0]["metrics"][0])
        parts = [d.metric(p) for p in metric.parts]
        if len(parts) != 2 or not all(re.fullmatch(r"SUM\(\w+\)( \+ SUM\(\w+\))?", p.expr) for p in parts):
            continue  # a ratio of ratios (fee growth) has no additive parts
        qc = ss.query_context(s, c.key)
        card = ss.ask(s, qc, rng).json()["result"][0]["data"]
        by_district = json.loads(json.dumps(qc))
        q = by_district["queries"][0]
        q["columns"], q["metrics"], q["orderby"] = ["district_name"], [p.name for p in parts], []
        rows = ss.ask(s, by_district, rng).json()["result"][0]["data"]
        if not card or card[0][metric.name] is None:
            continue
        num, den = (sum(r[p.name] or 0 for r in rows) for p in parts)
        city = num / den - (1 if metric.expr.rstrip().endswith("- 1") else 0)
        assert len(rows) >= 2 and city == pytest.approx(card[0][metric.name], rel=1e-9), (c.key, rows, card)
        checked += 1
    assert checked >= 20


def _names(resp: requests.Response, col: str) -> set[str]:
    """The values of ``col`` in a table's rows (its first query; a second one is the 合计 row)."""
    assert resp.status_code == 200, resp.text[:500]
    return {row[col] for row in resp.json()["result"][0]["data"]}


def test_row_level_security(ss):
    hospitals = manage.hospitals(ss.serving)
    assert len(hospitals) >= 2
    with duckdb.connect(str(ss.serving), read_only=True) as con:
        months = truth.period(con).months  # the default range
        all_beds, all_refs = (
            {r[0] for r in con.execute(
                f"select distinct coalesce(d.facility_name, m.facility_code) from marts.{mart} m"
                " left join dims.dim_facility d using (facility_code) where month in (select unnest(?))",
                [list(months)]).fetchall()}
            for mart in ("mart_bed_utilization", "mart_referrals"))

    analyst = ss.user("commission_analyst")
    sa = ss.login(analyst["username"], analyst["password"])
    assert _names(ss.data(sa, "ho_fac_table"), "facility_name") == all_beds
    assert _names(ss.data(sa, "ho_ref_table"), "facility_name") == all_refs

    seen = {"ho_fac_table": set(), "ho_ref_table": set()}
    for manager in [u for u in ss.info.users if u["facility_code"]]:
        own = {h["name"] for h in hospitals if h["code"] == manager["facility_code"]}
        sm = ss.login(manager["username"], manager["password"])
        for key in seen:  # a small region: a hospital may have no referral in the period
            got = _names(ss.data(sm, key), "facility_name")
            assert got <= own, (manager["username"], key, got)
            seen[key] |= got
        # a KPI is computed on the own hospital only: differs from the analyst's city-wide value
        # (unless equal by chance) and the manager cannot read commission datasets
        assert ss.data(sm, "ov_gs").status_code in (403, 404)
    assert len(seen["ho_fac_table"]) >= 2 and seen["ho_ref_table"], seen


def test_reimport_updates_a_changed_chart(ss, tmp_path):
    assets = tmp_path / "assets"
    shutil.copytree(authoring.ASSETS, assets)
    chart_file = assets / "charts" / "ho_level_bur.yaml"
    doc = yaml.safe_load(chart_file.read_text(encoding="utf-8"))
    doc["slice_name"] = "各医院病床使用率（已修改）"
    doc["params"]["metrics"] = ["bed_utilization_rate", "avg_length_of_stay"]
    chart_file.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    t = time.monotonic()
    manage.import_bundle(ss.info.home, ss.serving, assets=assets)
    TIMINGS["reimport"] = time.monotonic() - t
    s = ss.admin()
    cid = ss.chart_id("ho_level_bur")
    got = s.get(f"{ss.url}/api/v1/chart/{cid}", timeout=30).json()["result"]
    assert got["slice_name"] == "各医院病床使用率（已修改）"
    assert '"avg_length_of_stay"' in got["params"]
    # back to the committed version (ids are stable: same uuid, same chart)
    manage.import_bundle(ss.info.home, ss.serving)
    assert ss.chart_id("ho_level_bur") == cid
    got = s.get(f"{ss.url}/api/v1/chart/{cid}", timeout=30).json()["result"]
    assert got["slice_name"] != "各医院病床使用率（已修改）"
    manage.configure_security(ss.info.home, ss.serving)  # dashboard roles after re-import


def _log_tail(ss, chars: int = 4000) -> str:
    log = ss.info.home / "superset.log"
    return "superset.log (tail):\n" + log.read_text(errors="replace")[-chars:] if log.exists() else ""


def test_dashboards_render_in_chromium(ss):
    analyst = ss.user("commission_analyst")
    dashboards = [{"slug": d.slug, "charts": len(d.charts)} for d in authoring.DASHBOARDS]
    t = time.monotonic()
    results = check_dashboards(ss.url, analyst["username"], analyst["password"], dashboards,
                               ss.info.home / "screenshots")
    manager = ss.user("hospital_manager")
    hosp = next(d for d in authoring.DASHBOARDS if d.slug == manage.HOSPITAL_DASHBOARD)
    results += check_dashboards(ss.url, manager["username"], manager["password"],
                                [{"slug": hosp.slug, "charts": len(hosp.charts)}], ss.info.home / "shots")
    TIMINGS["browser"] = time.monotonic() - t
    by_slug = {d.slug: d for d in authoring.DASHBOARDS}
    assert len(results) == len(dashboards) + 1
    for k, r in enumerate(results):
        d = by_slug[r["slug"]]
        ok = not r["errors"] and not r["has_error_text"] and r["rendered"] >= len(d.charts)
        # city-wide, every chart has rows; one hospital may have had no referral in the period
        ok = ok and (k == len(dashboards) or not r["empty"])
        # a str message: pytest prints it whole (where the browser ended up, the server's log)
        assert ok, f"{d.title}: {json.dumps(r, ensure_ascii=False)}\n{_log_tail(ss)}"
        assert Path(r["screenshot"]).stat().st_size > 20_000


def test_the_month_filter_reaches_every_chart_in_the_browser(ss, tmp_path):
    """A range set in the dashboard's month filter (native filter state in the URL, as a shared
    link carries it): every chart renders and the cards and the 统计期 panel read that range."""
    dash = next(d for d in authoring.DASHBOARDS if d.key == "signing")
    fid = f"NATIVE_FILTER-{dash.key}-month"
    value = f"{PAST[0]} : {PAST[1]}"
    rison = (f"({fid}:(extraFormData:(time_range:'{value}'),filterState:(value:'{value}'),id:{fid},"
             "ownState:()))")
    analyst = ss.user("commission_analyst")
    [r] = check_dashboards(ss.url, analyst["username"], analyst["password"], [{
        "slug": dash.slug, "charts": len(dash.charts), "name": "signing-2024-04-09",
        "query": "native_filters=" + quote(rison),
        "expect": ["2024-04 至 2024-09（6 个月）", "时点 2024-09-30", "统计期 2024-04 至 2024-09", "2024年"]}],
        tmp_path)
    assert not r["errors"] and r["rendered"] >= len(dash.charts) and not r["missing"], r


def test_browser_check_says_when_the_login_is_refused(ss, tmp_path):
    """A failed login is reported as such, not as a dashboard with no charts; the refused form
    is recognised at once (a wait that ran out would say TimeoutException)."""
    manager = ss.user("hospital_manager")
    [r] = check_dashboards(ss.url, manager["username"], "not-the-password",
                           [{"slug": manage.HOSPITAL_DASHBOARD, "charts": 1}], tmp_path)
    assert r["rendered"] == 0 and len(r["errors"]) == 1, r
    assert r["errors"][0].startswith(f"login as {manager['username']} failed: attempt 3: "
                                     "the server sent the login form back"), r
    assert "/login" in r["url"]


def test_chart_queries_during_publish(ss):
    """Dashboard queries keep succeeding while the pipeline re-publishes the serving file."""
    s = ss.admin()
    stop = threading.Event()
    errors: list[BaseException] = []
    publishes = {"n": 0}

    def publisher():
        try:
            while not stop.is_set():
                publish_serving(ss.warehouse, ss.serving)
                publishes["n"] += 1
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    th = threading.Thread(target=publisher)
    th.start()
    statuses = []
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline or publishes["n"] < 2:
            for key in ("ho_bur", "ov_gs_trend"):
                r = ss.data(s, key)
                statuses.append(r.status_code)
                assert r.status_code == 200, r.text[:500]
                assert r.json()["result"][0]["rowcount"] > 0
    finally:
        stop.set()
        th.join()
    assert not errors, errors
    assert publishes["n"] >= 2 and len(statuses) >= 4
