"""End to end under real Airflow: ``dag.test()`` of grassroots_daily on a small generated region,
SQLite metadata in a temporary AIRFLOW_HOME, alerts received by a real local SMTP server and a
local webhook receiver.

* a backfill over three business dates (the first run also loads the earlier history);
* a bad-data day: a facility missing, a burst of bad rows, a visit-volume spike — the alert names
  the right facility and reason.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, timedelta

import dq_support  # noqa: F401 — sets AIRFLOW_HOME etc. before airflow is imported
import duckdb
import pendulum
import pytest
from dq_support import HttpSink, SmtpSink, rewrite_dataset

pytestmark = pytest.mark.slow

START, END = date(2025, 3, 1), date(2025, 3, 21)
BACKFILL = [date(2025, 3, 18), date(2025, 3, 19), date(2025, 3, 20)]  # business dates
BAD_DAY = date(2025, 3, 21)


def _logical(bd: date) -> pendulum.DateTime:
    nxt = bd + timedelta(days=1)
    return pendulum.datetime(nxt.year, nxt.month, nxt.day, 7, tz="Asia/Shanghai")


class Pipeline:
    def __init__(self, tmp, smtp: SmtpSink, http: HttpSink) -> None:
        self.home = tmp
        self.landing = tmp / "landing"
        self.warehouse = tmp / "wh" / "warehouse.duckdb"
        self.serving = tmp / "serving" / "serving.duckdb"
        self.smtp, self.http = smtp, http
        self.env = {
            "GRASSROOTS_HOME": str(tmp),
            "GRASSROOTS_LANDING": str(self.landing),
            "GRASSROOTS_WAREHOUSE": str(self.warehouse),
            "GRASSROOTS_SERVING": str(self.serving),
            "GRASSROOTS_HMAC_KEY": "e2e-test-key",
            "GRASSROOTS_LOOKBACK_DAYS": "31",  # the first run loads the region's history
            "GRASSROOTS_TASK_RETRIES": "0",  # fail fast in tests
            "GRASSROOTS_WEBHOOK_URL": http.url(),
            "GRASSROOTS_WEBHOOK_KIND": "wecom",
            **smtp.env(),
        }
        self.runs: dict[date, tuple[str, list, list]] = {}

    def run(self, bd: date):
        n_mail, n_hook = len(self.smtp.messages), len(self.http.requests)
        dr = self.dag.test(logical_date=_logical(bd))
        self.runs[bd] = (str(dr.state), self.smtp.messages[n_mail:],
                         self.http.requests[n_hook:])
        return self.runs[bd]

    def sql(self, q: str, params=None):
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(q, params or []).fetchall()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from grassroots.generate import generate

    tmp = tmp_path_factory.mktemp("e2e")
    dq_support.migrate_airflow_db()
    with SmtpSink() as smtp, HttpSink() as http:
        p = Pipeline(tmp, smtp, http)
        saved = {k: os.environ.get(k) for k in p.env}
        os.environ.update(p.env)
        try:
            generate(p.landing, residents=12000, start=START, end=END, seed=3, anomalies=False,
                     bad_row_share=0, progress=False)
            # business date BAD_DAY is delivered later (see test_bad_data_day)
            bad_src = p.landing / "extracts" / BAD_DAY.isoformat()
            p.bad_day_folders = tmp / "bad_day"
            shutil.move(bad_src, p.bad_day_folders)
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(dag_folder=str(dq_support.REPO / "dags"))
            assert bag.import_errors == {}
            p.dag = bag.dags["grassroots_daily"]
            for bd in BACKFILL:
                p.run(bd)
            yield p
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def test_backfill_builds_validates_publishes_and_alerts(pipeline):
    p = pipeline
    for bd in BACKFILL:
        state, mails, hooks = p.runs[bd]
        assert state == "success", bd
        assert len(mails) == 1 and len(hooks) == 1, bd
        subject, body = SmtpSink.text(mails[0])
        assert f"数据质量日报 {bd}" in subject and "正常" in subject, subject
        hook = hooks[0]["json"]
        assert hook["msgtype"] == "markdown"
        content = hook["markdown"]["content"]
        for text in (body, content):
            assert f"## 数据质量日报 business_date {bd}" in text
            assert re.search(r"应报 expected (\d+), 已报 delivered \1, 按时 on_time \1", text)
            assert "原始层校验 raw: 通过 PASS" in text
            assert "指标层校验 marts: 通过 PASS" in text
            assert "Data Docs: " in text
        # marts built for the business date, every expected facility delivered
        (expected, delivered), = p.sql(
            "SELECT sum(expected), sum(delivered) FROM marts.mart_delivery_quality "
            "WHERE business_date = ?", [bd])
        assert expected == delivered and expected > 10
    # the whole history was loaded by the first run; later runs only added their day
    loaded = p.sql("SELECT min(business_date), max(business_date) FROM audit.deliveries "
                   "WHERE status = 'loaded'")[0]
    assert loaded == (START, BACKFILL[-1])
    assert p.sql("SELECT count(*) FROM marts.mart_outpatient_visits")[0][0] > 0
    # GX ran and wrote Data Docs
    docs = p.home / "data_docs"
    assert (docs / "index.html").is_file()
    pages = {str(x.relative_to(docs / "validations"))
             for x in (docs / "validations").rglob("*.html")}
    for suite in ("raw/columns/", "reconcile/census_discharges/",
                  "marts/mart_grassroots_visits/", "outliers/visit_volume/"):
        assert any(x.startswith(suite) for x in pages), suite
    assert (p.home / "gx" / "gx" / "great_expectations.yml").is_file() or \
        any((p.home / "gx").rglob("great_expectations.yml"))
    # the serving copy for Superset
    import importlib.util

    if importlib.util.find_spec("grassroots.publish"):
        assert p.serving.is_file()
    # both validations of every run are recorded (the 数据质量 dashboard's history) and published
    history = [(bd, layer, True) for bd in BACKFILL for layer in ("marts", "raw")]
    assert p.sql("SELECT business_date, layer, success FROM audit.validation_results"
                 " ORDER BY 1, 2") == history
    if p.serving.is_file():
        with duckdb.connect(str(p.serving), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM audit.validation_results").fetchone() == (
                len(history),)


def test_bad_data_day_alert_names_facility_and_reason(pipeline):
    p = pipeline
    folders = sorted(x.name for x in p.bad_day_folders.iterdir())
    hospitals = [f for f in folders if f.startswith("H")]
    centre = next(f for f in folders if f.startswith("C"))
    missing, spike = hospitals[-1], hospitals[0]
    shutil.rmtree(p.bad_day_folders / missing)

    def bad_rows(header, rows):
        i_id, i_type = header.index("visit_id"), header.index("visit_type")
        burst = []
        for k in range(30):
            r = list(rows[k % len(rows)])
            r[i_id], r[i_type] = f"BAD{k:04d}", "walk_in"
            burst.append(r)
        return rows + burst

    def spike_rows(header, rows):
        i_id = header.index("visit_id")
        extra = []
        for rep in range(1, 6):
            for r in rows:
                r = list(r)
                r[i_id] = f"{r[i_id]}-S{rep}"
                extra.append(r)
        return rows + extra

    rewrite_dataset(p.bad_day_folders / centre, "outpatient_visits", bad_rows)
    rewrite_dataset(p.bad_day_folders / spike, "outpatient_visits", spike_rows)
    shutil.copytree(p.bad_day_folders, p.landing / "extracts" / BAD_DAY.isoformat())

    state, mails, hooks = p.run(BAD_DAY)
    assert state == "success"  # data problems are reported, not crashes
    assert len(mails) == 1 and len(hooks) == 1
    subject, body = SmtpSink.text(mails[0])
    content = hooks[0]["json"]["markdown"]["content"]
    assert f"数据质量日报 {BAD_DAY} 需关注" in subject and "缺报 1" in subject
    assert "异常波动 1" in subject or "异常波动" in subject
    for text in (body, content):
        assert re.search(rf"^- 缺报 missing: {missing} \S+", text, re.M), text
        assert re.search(rf"^- {centre} \S+: reason bad_enum, dataset outpatient_visits, 30 条$",
                         text, re.M), text
        m = re.search(rf"^- {spike} \S+ {BAD_DAY}: 门诊人次 visits (\d+), .* z=\+([0-9.]+)$",
                      text, re.M)
        assert m, text
        assert float(m.group(2)) > 3
    # the marts agree
    rows = dict((f, (e, d)) for f, e, d in p.sql(
        "SELECT facility_code, expected, delivered FROM marts.mart_delivery_quality "
        "WHERE business_date = ?", [BAD_DAY]))
    assert rows[missing] == (1, 0) and rows[centre] == (1, 1)
    assert p.sql("SELECT count(*) FROM audit.quarantine WHERE business_date = ? AND "
                 "facility_code = ? AND reason = 'bad_enum'", [BAD_DAY, centre])[0][0] == 30
    # the spike is in the recorded validation history too
    (warnings, outliers), = p.sql("SELECT warnings, outliers FROM audit.validation_results"
                                  " WHERE business_date = ? AND layer = 'marts'", [BAD_DAY])
    assert warnings >= 1 and outliers >= 1
    assert p.sql("SELECT count(*) FROM audit.validation_failures WHERE business_date = ? AND"
                 " suite = 'outliers.visit_volume' AND category = 'plausibility'", [BAD_DAY]) == [(1,)]
