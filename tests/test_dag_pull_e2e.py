"""grassroots_daily under real Airflow pulling from real servers on localhost: two facilities'
SFTP front-end servers (a user and key each), the city's S3-compatible bucket (moto) with every
other facility and the reference files, and a registered front-end server that is down.  The
local landing zone starts empty.

The first run (``dag.test()``) pulls, loads, builds and reports the source that is down; the
same run again (``airflow dags test``, the command line) pulls nothing new and loads nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dq_support  # noqa: F401 — sets AIRFLOW_HOME etc. before airflow is imported
import duckdb
import pendulum
import pytest
from dq_support import SmtpSink
from servers import S3Server, SftpServer, free_port

pytestmark = pytest.mark.slow

START, END = date(2025, 3, 1), date(2025, 3, 4)
SFTP_FACILITIES = ["C339901001", "H339901001"]
DOWN = "H339921005"  # its front-end server is switched off
BUCKET = "city-cloud"


def _logical(bd: date) -> pendulum.DateTime:
    nxt = bd + timedelta(days=1)
    return pendulum.datetime(nxt.year, nxt.month, nxt.day, 7, tz="Asia/Shanghai")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from grassroots.generate import generate

    tmp = tmp_path_factory.mktemp("pull-e2e")
    region = tmp / "region"
    generate(region, residents=2500, start=START, end=END, seed=5, anomalies=False,
             bad_row_share=0, progress=False)
    dq_support.migrate_airflow_db()
    with SftpServer(SFTP_FACILITIES) as sftp, S3Server() as s3, SmtpSink() as smtp:
        s3.client().create_bucket(Bucket=BUCKET)
        s3.upload(BUCKET, "landing/reference", region / "reference")
        for day in sorted((region / "extracts").iterdir()):
            for fac in sorted(day.iterdir()):
                if fac.name in SFTP_FACILITIES:
                    dest = sftp.outbox(fac.name) / day.name
                    subprocess.run(["cp", "-r", str(fac), str(dest)], check=True)
                    sftp.chown(fac.name)
                elif fac.name != DOWN:
                    s3.upload(BUCKET, f"landing/extracts/{day.name}/{fac.name}", fac)
        registry = tmp / "sources.yml"
        entries = [{"name": f"frontend-{f.lower()}", "protocol": "sftp", "facilities": [f],
                    "conn_id": f"e2e_sftp_{i}", "path": f"{sftp.outbox(f)}/{{business_date}}"}
                   for i, f in enumerate(SFTP_FACILITIES)]
        entries += [{"name": "city-cloud", "protocol": "s3", "conn_id": "e2e_s3",
                     "facilities": ["*"],
                     "path": BUCKET + "/landing/extracts/{business_date}/{facility_code}",
                     "reference": BUCKET + "/landing/reference"},
                    {"name": "frontend-down", "protocol": "sftp", "conn_id": "e2e_down",
                     "facilities": [DOWN], "path": "/outbox/{business_date}"}]
        registry.write_text(json.dumps({"sources": entries}))
        env = {
            "GRASSROOTS_HOME": str(tmp),
            "GRASSROOTS_LANDING": str(tmp / "landing"),
            "GRASSROOTS_WAREHOUSE": str(tmp / "wh" / "warehouse.duckdb"),
            "GRASSROOTS_SERVING": str(tmp / "serving" / "serving.duckdb"),
            "GRASSROOTS_HMAC_KEY": "pull-e2e-key",
            "GRASSROOTS_LOOKBACK_DAYS": "7",
            "GRASSROOTS_TASK_RETRIES": "0",
            "GRASSROOTS_SOURCES": str(registry),
            "AIRFLOW_CONN_E2E_S3": s3.connection(),
            "AIRFLOW_CONN_E2E_DOWN": sftp.connection(SFTP_FACILITIES[0], port=free_port()),
            **{f"AIRFLOW_CONN_E2E_SFTP_{i}": sftp.connection(f)
               for i, f in enumerate(SFTP_FACILITIES)},
            **smtp.env(),
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield World(tmp, region, smtp)
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


class World:
    def __init__(self, tmp: Path, region: Path, smtp: SmtpSink) -> None:
        self.tmp, self.region, self.smtp = tmp, region, smtp
        self.landing = tmp / "landing"
        self.warehouse = tmp / "wh" / "warehouse.duckdb"

    def sql(self, q: str, params=None):
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(q, params or []).fetchall()

    def folders(self, root: Path) -> set[str]:
        return {f"{d.name}/{f.name}" for d in (root / "extracts").iterdir()
                for f in d.iterdir()}


def test_dag_pulls_loads_and_reports_then_pulls_nothing_new(world):
    from airflow.dag_processing.dagbag import DagBag

    w = world
    bag = DagBag(dag_folder=str(dq_support.REPO / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags["grassroots_daily"]
    dr = dag.test(logical_date=_logical(END))
    assert str(dr.state) == "success"
    # one pull task per registered source, each named after it
    pulls = sorted((ti.map_index, ti.rendered_map_index, str(ti.state))
                   for ti in dr.get_task_instances() if ti.task_id == "pull")
    assert [p[1] for p in pulls] == ["frontend-c339901001", "frontend-h339901001",
                                     "city-cloud", "frontend-down"]
    assert all(p[2] == "success" for p in pulls)
    # everything delivered was pulled, whole, and loaded; the facility behind the dead server
    # is missing
    expected = w.folders(w.region) - {f"{d}/{DOWN}" for d in
                                      (p.name for p in (w.region / "extracts").iterdir())}
    assert w.folders(w.landing) == expected
    pulled = w.sql("SELECT source, facility_code, business_date FROM audit.pulls "
                   "WHERE status = 'pulled' AND facility_code IS NOT NULL")
    assert {f"{bd}/{fac}" for _, fac, bd in pulled} == expected and len(pulled) == len(expected)
    assert {s for s, fac, _ in pulled if fac in SFTP_FACILITIES} == {
        "frontend-c339901001", "frontend-h339901001"}
    assert w.sql("SELECT count(*) FROM audit.deliveries WHERE status = 'loaded'")[0][0] == \
        len(expected)
    assert w.sql("SELECT count(*) FROM marts.mart_outpatient_visits")[0][0] > 0
    assert w.sql("SELECT source, status FROM audit.source_checks ORDER BY 1") == [
        ("city-cloud", "ok"), ("frontend-c339901001", "ok"), ("frontend-down", "unreachable"),
        ("frontend-h339901001", "ok")]
    # the daily message: the source that could not be reached, and its facility missing
    assert len(w.smtp.messages) == 1
    subject, body = SmtpSink.text(w.smtp.messages[0])
    assert "数据源异常 1" in subject and "缺报 1" in subject, subject
    assert "无法连接 unreachable: frontend-down sftp://e2e_down/outbox/" in body
    assert f"缺报 missing: {DOWN}" in body
    n_pulls = w.sql("SELECT count(*) FROM audit.pulls")[0][0]
    batches = w.sql("SELECT count(*) FROM audit.batches")[0][0]

    # the same run again, from the command line: nothing new is pulled or loaded
    airflow = Path(sys.executable).parent / "airflow"
    proc = subprocess.run([str(airflow), "dags", "test", "grassroots_daily",
                           _logical(END).isoformat()], env=os.environ, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert w.sql("SELECT count(*) FROM audit.pulls")[0][0] == n_pulls
    assert w.sql("SELECT count(*) FROM audit.batches")[0][0] == batches
    checks = w.sql("SELECT source, folders_pulled FROM audit.source_checks "
                   "ORDER BY checked_at, source")
    assert len(checks) == 8 and all(n == 0 for _, n in checks[4:])
    assert len(w.smtp.messages) == 2
