"""Pulling deliveries from real servers on localhost: an OpenSSH server (a user and key per
facility, SFTP only) and moto's S3-compatible server, holding a landing zone made by
``grassroots generate``; plus a registered source whose server is down.

Cases: a complete pull; a folder mid-upload (no manifest yet; a file with a wrong checksum) not
pulled, then pulled once complete; an interrupted transfer resumes; a redelivery pulled and
loaded as a redelivery; a source down reported while the others load; pulling again pulls
nothing; a path-traversal file name in a manifest refused; ``grassroots run --landing s3://…``.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from servers import S3Server, SftpServer, free_port

from grassroots import pull
from grassroots.sources import RegistryError, load_registry, parse_source

START, END = date(2025, 3, 1), date(2025, 3, 3)
SFTP_FACILITIES = ["C339901001", "H339901001"]
BUCKET = "city-cloud"
KEY = b"pull-test-key"


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> Path:
    from grassroots.generate import generate

    out = tmp_path_factory.mktemp("region") / "landing"
    generate(out, residents=2000, start=START, end=END, seed=11, anomalies=False,
             bad_row_share=0, progress=False)
    return out


@pytest.fixture(scope="module")
def servers(region, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("registry")
    with SftpServer(SFTP_FACILITIES) as sftp, S3Server() as s3:
        env = {f"AIRFLOW_CONN_PULL_SFTP_{i}": sftp.connection(f)
               for i, f in enumerate(SFTP_FACILITIES)}
        env["AIRFLOW_CONN_PULL_S3"] = s3.connection()
        # a front-end server that is switched off: nothing listens on its port
        env["AIRFLOW_CONN_PULL_DOWN"] = sftp.connection(SFTP_FACILITIES[0], port=free_port())
        registry = tmp / "sources.yml"
        entries = [{"name": f"frontend-{f.lower()}", "protocol": "sftp",
                    "conn_id": f"pull_sftp_{i}", "facilities": [f],
                    "path": str(sftp.outbox(f)) + "/{business_date}"}
                   for i, f in enumerate(SFTP_FACILITIES)]
        entries.append({"name": "city-cloud", "protocol": "s3", "conn_id": "pull_s3",
                        "path": BUCKET + "/landing/extracts/{business_date}/{facility_code}",
                        "reference": BUCKET + "/landing/reference"})
        entries.append({"name": "district-9-frontend", "protocol": "sftp",
                        "conn_id": "pull_down", "facilities": ["H339921*"],
                        "path": "/outbox/{business_date}/{facility_code}"})
        registry.write_text(json.dumps({"sources": entries}))  # JSON is YAML
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        s3.client().create_bucket(Bucket=BUCKET)
        try:
            servers = Servers(region, sftp, s3, load_registry(registry))
            servers.registry = registry
            yield servers
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


class Servers:
    def __init__(self, region: Path, sftp: SftpServer, s3: S3Server, sources) -> None:
        self.region, self.sftp, self.s3, self.sources = region, sftp, s3, sources

    def clear(self) -> None:
        for f in SFTP_FACILITIES:
            shutil.rmtree(self.sftp.outbox(f))
            self.sftp.outbox(f).mkdir()
            self.sftp.chown(f)
        c = self.s3.client()
        for o in c.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            c.delete_object(Bucket=BUCKET, Key=o["Key"])

    def publish(self, day: date, facility: str, folder: Path | None = None,
                skip: set[str] = frozenset()) -> None:
        """Put one facility-day on its server (the facility's SFTP outbox, else the bucket)."""
        folder = folder or self.region / "extracts" / day.isoformat() / facility
        if facility in SFTP_FACILITIES:
            dest = self.sftp.outbox(facility) / day.isoformat()
            dest.mkdir(exist_ok=True)
            for p in folder.iterdir():
                if p.name not in skip:
                    shutil.copy(p, dest / p.name)
            self.sftp.chown(facility)
        else:
            self.s3.upload(BUCKET, f"landing/extracts/{day}/{facility}", folder, skip)

    def publish_all(self) -> None:
        self.s3.upload(BUCKET, "landing/reference", self.region / "reference")
        for day_dir in sorted((self.region / "extracts").iterdir()):
            for fac in sorted(day_dir.iterdir()):
                self.publish(date.fromisoformat(day_dir.name), fac.name)

    def pull(self, landing: Path, warehouse: Path | None = None) -> dict[str, dict]:
        checks = {s.name: pull.pull_source(s, landing, business_date=END)
                  for s in self.sources}
        if warehouse is not None:
            pull.record(landing, warehouse)
        return checks

    def by_source(self, source: str):
        return next(s for s in self.sources if s.name == source)


def _load(landing: Path, warehouse: Path):
    from grassroots.ingest import ingest

    return ingest(landing, warehouse, key=KEY)


def _sql(warehouse: Path, q: str, params=None):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(q, params or []).fetchall()


def _folders(landing: Path) -> set[str]:
    return {f"{d.name}/{f.name}" for d in (landing / "extracts").iterdir() for f in d.iterdir()}


def test_registry_is_checked():
    with pytest.raises(RegistryError, match="protocol"):
        parse_source({"name": "x", "protocol": "ftp", "path": "/a/{business_date}"})
    with pytest.raises(RegistryError, match="needs exactly one facility"):
        parse_source({"name": "x", "protocol": "local", "path": "/a/{business_date}"})
    with pytest.raises(RegistryError, match="conn_id"):
        parse_source({"name": "x", "protocol": "s3", "path": "b/{business_date}/{facility_code}"})
    with pytest.raises(RegistryError, match="unknown keys"):
        parse_source({"name": "x", "protocol": "local", "password": "secret",
                      "path": "/a/{business_date}/{facility_code}"})
    # the repository's registry parses (no source registered: the demo fills the landing itself)
    assert load_registry() == []


def test_complete_pull_source_down_and_nothing_twice(servers, tmp_path):
    from grassroots.alerts import build_report, render_markdown

    servers.clear()
    servers.publish_all()
    landing, warehouse = tmp_path / "landing", tmp_path / "wh" / "warehouse.duckdb"
    checks = servers.pull(landing, warehouse)
    # the source that is down is reported, the others pulled everything
    assert checks["district-9-frontend"]["status"] == "unreachable"
    assert "ConnectionRefused" in checks["district-9-frontend"]["detail"] or \
        "refused" in checks["district-9-frontend"]["detail"].lower()
    assert all(c["status"] == "ok" and not c["waiting"] and not c["refused"]
               for n, c in checks.items() if n != "district-9-frontend")
    assert _folders(landing) == _folders(servers.region)
    cmp = filecmp.dircmp(servers.region, landing, ignore=[".pull", "_generator"])
    assert not cmp.left_only and not cmp.diff_files
    for d in (servers.region / "extracts").iterdir():
        for f in d.iterdir():
            c = filecmp.dircmp(f, landing / "extracts" / d.name / f.name)
            assert not c.left_only and not c.right_only and not c.diff_files, f
    assert not list(landing.glob(".pull/stage/**/*.part"))
    # installed deliveries leave no staging folders behind
    assert not [p for p in landing.glob(".pull/stage/**") if p.is_dir() and not any(p.iterdir())
                and p != landing / ".pull" / "stage"]
    # recorded: one row per folder and per reference file, the checksums of the manifests
    rows = _sql(warehouse, "SELECT source, facility_code, business_date, delivery_version, "
                "manifest_sha256, files FROM audit.pulls WHERE status = 'pulled'")
    folders = [r for r in rows if r[1] is not None]
    assert len(folders) == len(_folders(servers.region))
    assert len([r for r in rows if r[1] is None]) == 5  # reference files
    for src, fac, bd, version, msha, files in folders:
        m = (servers.region / "extracts" / str(bd) / fac / "manifest.json").read_bytes()
        assert msha == hashlib.sha256(m).hexdigest() and version == 1
        assert {f["file"]: f["sha256"] for f in json.loads(files)} == {
            e["file"]: e["sha256"] for e in json.loads(m)["files"]}
        assert src == (f"frontend-{fac.lower()}" if fac in SFTP_FACILITIES else "city-cloud")
    # loaded from the landing zone, and the daily message names the source that was down
    report = _load(landing, warehouse)
    assert report.statuses["loaded"] == len(_folders(servers.region))
    text = render_markdown(build_report(warehouse, END, landing=landing))
    assert "无法连接 unreachable: district-9-frontend sftp://pull_down/outbox/" in text
    # pulling again: nothing new, only the checks are recorded
    again = servers.pull(landing, warehouse)
    assert all(not c["pulled"] for c in again.values())
    assert _sql(warehouse, "SELECT count(*) FROM audit.pulls")[0][0] == len(rows)
    assert _sql(warehouse, "SELECT count(*) FROM audit.source_checks")[0][0] == 8
    assert not _load(landing, warehouse).changed


def test_mid_upload_is_left_for_the_next_poke_and_transfers_resume(servers, tmp_path):
    servers.clear()
    landing = tmp_path / "landing"
    sftp_fac, s3_fac = SFTP_FACILITIES[1], "H339902001"
    src_sftp, src_s3 = servers.by_source(f"frontend-{sftp_fac.lower()}"), \
        servers.by_source("city-cloud")
    # an SFTP upload without its manifest yet
    servers.publish(END, sftp_fac, skip={"manifest.json"})
    assert pull.pull_source(src_sftp, landing)["pulled"] == []
    assert not (landing / "extracts" / END.isoformat() / sftp_fac).exists()
    # a bucket upload whose file does not match its manifest (still being overwritten)
    good = servers.region / "extracts" / END.isoformat() / s3_fac
    bad = tmp_path / "bad" / s3_fac
    shutil.copytree(good, bad)
    visits = bad / "outpatient_visits.csv"
    visits.write_bytes(visits.read_bytes()[: len(visits.read_bytes()) // 2])
    servers.publish(END, s3_fac, bad)
    check = pull.pull_source(src_s3, landing)
    assert check["pulled"] == [] or all(r["facility_code"] is None for r in check["pulled"])
    assert "outpatient_visits.csv: sha256" in check["waiting"][f"{END} {s3_fac}"]
    assert not (landing / "extracts" / END.isoformat() / s3_fac).exists()
    # complete now: both pulled, whole
    servers.publish(END, sftp_fac)
    servers.publish(END, s3_fac)
    # an earlier transfer of the SFTP folder was cut off half-way through a file
    stage = landing / ".pull" / "stage" / src_sftp.name / END.isoformat() / sftp_fac
    stage.mkdir(parents=True)
    big = max((p for p in (servers.region / "extracts" / END.isoformat() / sftp_fac).iterdir()
               if p.suffix == ".csv"), key=lambda p: p.stat().st_size)
    partial = big.read_bytes()[: big.stat().st_size // 2]
    assert partial
    (stage / f"{big.name}.part").write_bytes(partial)
    rec = pull.pull_source(src_sftp, landing)["pulled"][0]
    total = sum(f["bytes"] for f in rec["files"])
    assert rec["bytes"] == total - len(partial)  # resumed, not restarted
    assert [r["facility_code"] for r in pull.pull_source(src_s3, landing)["pulled"]
            if r["facility_code"]] == [s3_fac]
    for fac in (sftp_fac, s3_fac):
        c = filecmp.dircmp(servers.region / "extracts" / END.isoformat() / fac,
                           landing / "extracts" / END.isoformat() / fac)
        assert not c.left_only and not c.right_only and not c.diff_files


def test_redelivery_is_pulled_and_loaded_as_redelivery(servers, tmp_path):
    from dq_support import rewrite_dataset

    servers.clear()
    servers.publish_all()
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    servers.pull(landing, warehouse)
    _load(landing, warehouse)
    for fac in (SFTP_FACILITIES[0], "C339902001"):  # one over SFTP, one from the bucket
        v2 = tmp_path / "v2" / fac
        shutil.copytree(servers.region / "extracts" / START.isoformat() / fac, v2)
        rewrite_dataset(v2, "outpatient_visits", lambda header, rows: rows[:-1])
        m = json.loads((v2 / "manifest.json").read_text())
        m["delivery_version"] = 2
        (v2 / "manifest.json").write_text(json.dumps(m))
        servers.publish(START, fac, v2)
    checks = servers.pull(landing, warehouse)
    pulled = sorted((r["facility_code"], r["delivery_version"])
                    for c in checks.values() for r in c["pulled"])
    assert pulled == sorted([("C339902001", 2), (SFTP_FACILITIES[0], 2)])
    report = _load(landing, warehouse)
    assert report.statuses["loaded"] == 2
    got = _sql(warehouse, "SELECT facility_code, delivery_version, status FROM audit.deliveries "
               "WHERE business_date = ? AND facility_code IN (?, ?) ORDER BY 1, 2",
               [START, "C339902001", SFTP_FACILITIES[0]])
    assert got == sorted([("C339902001", 1, "superseded"), ("C339902001", 2, "loaded"),
                          (SFTP_FACILITIES[0], 1, "superseded"), (SFTP_FACILITIES[0], 2, "loaded")])


def test_path_traversal_in_a_manifest_is_refused(servers, tmp_path):
    from grassroots.alerts import build_report, render_markdown

    servers.clear()
    landing, warehouse = tmp_path / "deep" / "landing", tmp_path / "warehouse.duckdb"
    evil = tmp_path / "evil" / "H339902002"
    shutil.copytree(servers.region / "extracts" / END.isoformat() / "H339902002", evil)
    m = json.loads((evil / "manifest.json").read_text())
    payload = b"stolen,1\r\n"
    m["files"].append({"dataset": "outpatient_visits", "file": "../../../escaped.csv",
                       "rows": 1, "sha256": hashlib.sha256(payload).hexdigest()})
    (evil / "manifest.json").write_text(json.dumps(m))
    servers.publish(END, "H339902002", evil)
    servers.s3.client().put_object(Bucket=BUCKET, Key="landing/extracts/escaped.csv",
                                   Body=payload)
    src = servers.by_source("city-cloud")
    for _ in range(2):
        check = pull.pull_source(src, landing, business_date=END)
        assert check["pulled"] == [] and len(check["refused"]) == 1
        assert "../../../escaped.csv" in check["refused"][0]["detail"]
    pull.record(landing, warehouse)
    assert not list(tmp_path.rglob("escaped.csv"))
    assert not (landing / "extracts" / END.isoformat() / "H339902002").exists()
    assert _sql(warehouse, "SELECT facility_code, status FROM audit.pulls") == [
        ("H339902002", "refused")]  # refused at every poke, recorded once
    text = render_markdown(build_report(warehouse, END))
    assert "拒收 refused: city-cloud H339902002 2025-03-03: file name '../../../escaped.csv'" \
        in text


def test_run_with_an_s3_landing_url(servers, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from grassroots.cli import app

    servers.clear()
    servers.publish_all()
    for k, v in servers.s3.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GRASSROOTS_HMAC_KEY", "cli-key")
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    args = ["run", "--landing", f"s3://{BUCKET}/landing", "--warehouse", str(warehouse),
            "--no-build", "--no-validate", "--no-progress"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    n = len([f for f in _folders(servers.region) if f.split("/")[1] not in SFTP_FACILITIES])
    assert _sql(warehouse, "SELECT count(*) FROM audit.deliveries WHERE status = 'loaded'"
                )[0][0] == n
    assert _sql(warehouse, "SELECT count(*) FROM audit.pulls WHERE status = 'pulled' AND "
                "facility_code IS NOT NULL")[0][0] == n
    cache = warehouse.parent / "landing-cache"
    assert len(_folders(cache)) == n
    # again: nothing pulled, nothing loaded
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert _sql(warehouse, "SELECT count(*) FROM audit.pulls")[0][0] == n + 5
    # a landing URL that cannot be reached: one clear line, exit 2
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "cannot pull s3://city-cloud/landing" in res.output


def test_pull_command_pulls_one_source(servers, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from grassroots.cli import app

    servers.clear()
    servers.publish(END, SFTP_FACILITIES[1])
    monkeypatch.setenv("GRASSROOTS_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("GRASSROOTS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("GRASSROOTS_SOURCES", str(servers.registry))
    res = CliRunner().invoke(app, ["pull", "--source", f"frontend-{SFTP_FACILITIES[1].lower()}"])
    assert res.exit_code == 0, res.output
    assert f"pulled {END} {SFTP_FACILITIES[1]} v1" in res.output
    assert (tmp_path / "landing" / "extracts" / END.isoformat() / SFTP_FACILITIES[1] /
            "manifest.json").is_file()
    assert _sql(tmp_path / "warehouse.duckdb", "SELECT source, status FROM audit.source_checks"
                ) == [(f"frontend-{SFTP_FACILITIES[1].lower()}", "ok")]
    res = CliRunner().invoke(app, ["pull", "--source", "nowhere"])
    assert res.exit_code == 2 and "not in the registry: ['nowhere']" in res.output
