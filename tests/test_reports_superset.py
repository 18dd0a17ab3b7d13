"""Scheduled reports and threshold alerts through Superset's own Alerts & Reports, end to end.

One module-scoped set-up: the small hand-made region (``grassroots.superset.sample``) published
to a serving file, a real Superset (``manage.setup``), the schedules of ``dashboards/reports.yml``
(plus two probes) synced, a Celery worker and beat on the local Redis (a database of their own,
a queue of their own), Debian's Chromium for the screenshots and a real SMTP server (aiosmtpd)
that keeps every mail. Then:

* a re-sync changes nothing but what changed (a new crontab updates the server's schedule);
* the weekly overview PDF reaches the commission list; its page, read back with OCR (tesseract),
  holds the dashboard's title and the grassroots-share KPI of the default period; the worker
  takes a screenshot that timed out again (grassroots/deploy/screenshot_retry.py);
* a hospital's monthly PDF, run as that hospital's manager, reaches the director and shows only
  that hospital's name (row-level security);
* the grassroots-share alert stays silent on a serving file that does not breach the catalogue's
  65 % and fires (a mail, Superset's execution log "Success") on one that does;
* the beat runs a schedule on its own (a probe due every minute);
* bad configuration: an unknown dashboard, an invalid cron, an unknown chart or catalogue code
  are refused by name at sync time, the good entries kept; an unreachable SMTP server is an
  "Error" in the execution log with the cause, and the worker carries on.
"""

from __future__ import annotations

import email
import io
import os
import shutil
import socket
import subprocess
import time
from email.header import decode_header, make_header
from pathlib import Path

import dashboards_truth as truth
import duckdb
import pytest
import yaml
from aiosmtpd.controller import Controller
from pypdf import PdfReader

from grassroots.install import require
from grassroots.publish import publish_serving
from grassroots.superset import manage, reports
from grassroots.superset.sample import build_sample_warehouse

COMMISSION = "weijianwei@commission.test"
DIRECTOR = "yuanzhang@hospital.test"
PROBE = "probe@grassroots.test"
HOSPITAL = ("H330102001", "市第一人民医院")  # grassroots.superset.sample: the level-3 hospital
OTHER_HOSPITAL = "县人民医院"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook)
        msg = email.message_from_bytes(envelope.content)
        msg["X-Rcpt"] = ",".join(envelope.rcpt_tos)
        self.mails.append(msg)
        return "250 OK"

    def wait(self, rcpt: str, after: int, timeout: float = 60) -> email.message.Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.mails[after:]:
                if rcpt in m["X-Rcpt"]:
                    return m
            time.sleep(1)
        raise AssertionError(f"no mail to {rcpt} within {timeout}s; got {[m['X-Rcpt'] for m in self.mails]}")


def subject(m: email.message.Message) -> str:
    return str(make_header(decode_header(m["Subject"])))


def attachment(m: email.message.Message) -> tuple[str, bytes]:
    for part in m.walk():
        if part.get_filename():
            return str(make_header(decode_header(part.get_filename()))), part.get_payload(decode=True)
    raise AssertionError("no attachment")


def ocr_pdf(data: bytes, tmp: Path) -> str:
    """The text of the PDF's pages: Superset's PDF is an image of the dashboard per page."""
    reader = PdfReader(io.BytesIO(data))
    assert reader.pages, "empty PDF"
    text = []
    for k, page in enumerate(reader.pages):
        for j, img in enumerate(page.images):
            path = tmp / f"page{k}-{j}{Path(img.name).suffix or '.png'}"
            path.write_bytes(img.data)
            out = subprocess.run([require("/usr/bin/tesseract"), str(path), "-", "-l", "chi_sim+eng"],
                                 capture_output=True, text=True, timeout=300, check=True)
            text.append(out.stdout)
    return "\n".join(text).replace(" ", "")


class Ctx:
    def __init__(self, home: Path, serving: Path, info, mailbox: Mailbox, smtp_port: int,
                 config: Path) -> None:
        self.home, self.serving, self.info, self.mailbox = home, serving, info, mailbox
        self.smtp_port, self.config = smtp_port, config
        self.smtp: Controller | None = None
        self.smtp_on()

    def smtp_on(self) -> None:
        self.smtp = Controller(self.mailbox, hostname="127.0.0.1", port=self.smtp_port)
        self.smtp.start()

    def smtp_off(self) -> None:
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None

    def run(self, key: str, timeout: float = 300) -> dict:
        before = len(reports.log(self.home, key, 100)["log"])
        reports.run_now(self.home, key)
        return reports.wait_for_log(self.home, key, after=before, timeout=timeout)

    def worker_log(self) -> str:
        return (self.home / "celery-worker.log").read_text(encoding="utf-8", errors="replace")

    def succeeded(self, entry: dict, mails_before: int) -> bool:
        """True for a "Success" entry; otherwise fails with what explains it: the entry (with
        its cause), the owners' error mails and the worker's log lines about it."""
        if entry["state"] == "Success":
            return True
        mails = [f"{m['X-Rcpt']}: {subject(m)}: "
                 + " ".join(str(p.get_payload(decode=True) or b"", "utf-8", "replace")
                            for p in m.walk() if p.get_content_maintype() == "text")[:1500]
                 for m in self.mailbox.mails[mails_before:]]
        worker = [line for line in self.worker_log().splitlines()
                  if any(w in line for w in ("ERROR", "Error", "Exception", "creenshot", "imeout"))]
        raise AssertionError(f"{entry}\nmails: {mails}\nworker log: {worker[-25:]}")


def _test_config(tmp: Path) -> Path:
    """The repository's reports.yml plus a probe the beat runs every minute and one for the
    SMTP check (both TEXT: no browser)."""
    doc = yaml.safe_load(reports.REPORTS_YML.read_text(encoding="utf-8"))
    probe = {"chart": "ov_district_table", "format": "TEXT", "owner": "analyst", "email": PROBE}
    doc["reports"] += [{"key": "beat_probe", "name": "测试：每分钟", "crontab": "* * * * *", **probe},
                       {"key": "smtp_probe", "name": "测试：邮件", "crontab": "0 0 1 1 *", **probe}]
    # the tests run the alerts themselves: their working-hours schedule firing on its own
    # during a test run would put the alert on grace before the test's run
    for alert in doc["alerts"]:
        alert["crontab"] = "0 0 1 1 *"
    path = tmp / "reports.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rs(tmp_path_factory):
    for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/tesseract"):
        require(tool)
    tmp = tmp_path_factory.mktemp("reports")
    serving = publish_serving(build_sample_warehouse(tmp / "warehouse.duckdb"),
                              tmp / "serving" / "serving.duckdb")
    mailbox, smtp_port = Mailbox(), _free_port()
    home = tmp / "home"
    ctx = None
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRASSROOTS_REPORTS_REDIS_URL", "redis://127.0.0.1:6379/8")
        mp.setenv("GRASSROOTS_SMTP_HOST", "127.0.0.1")
        mp.setenv("GRASSROOTS_SMTP_PORT", str(smtp_port))
        mp.setenv("GRASSROOTS_SMTP_TLS", "none")
        mp.setenv("GRASSROOTS_SMTP_FROM", "grassroots@test.local")
        mp.setenv("GRASSROOTS_REPORTS_COMMISSION_TO", COMMISSION)
        mp.setenv(f"GRASSROOTS_REPORTS_DIRECTOR_TO_{HOSPITAL[0]}", DIRECTOR)
        mp.setenv("GRASSROOTS_REPORTS_ALERT_TO", "alerts@commission.test")
        for var in ("GRASSROOTS_WEBHOOK_URL", "GRASSROOTS_SMTP_USER", "GRASSROOTS_REPORTS_DISTRICT_TO"):
            mp.delenv(var, raising=False)
        try:
            info = manage.setup(home, serving, port=_free_port())
            config = _test_config(tmp)
            ctx = Ctx(home, serving, info, mailbox, smtp_port, config)
            reports.sync(home, serving, config=config)
            reports.start_workers(home)
            yield ctx
        finally:
            reports.stop_all(home)
            if ctx is not None:
                ctx.smtp_off()


def test_sync_is_idempotent_and_a_changed_schedule_updates_the_server(rs, tmp_path):
    again = reports.sync(rs.home, rs.serving, config=rs.config)
    assert not again["created"] and not again["deleted"] and not again["errors"], again
    assert {"weekly_overview", f"monthly_hospital__{HOSPITAL[0]}", "monthly_signing",
            "grassroots_share_low", "delivery_completeness_low"} <= set(again["updated"])
    weekly = reports.log(rs.home, "weekly_overview")
    assert (weekly["crontab"], weekly["timezone"]) == ("0 8 * * 1", "Asia/Shanghai")
    assert weekly["recipients"] == [COMMISSION]
    manager = reports.log(rs.home, f"monthly_hospital__{HOSPITAL[0]}")
    assert manager["owners"] == [f"manager_{HOSPITAL[0].lower()}"] and manager["recipients"] == [DIRECTOR]

    changed = tmp_path / "reports.yml"
    changed.write_text(rs.config.read_text(encoding="utf-8").replace('"0 8 * * 1"', '"30 7 * * 1"')
                       .replace("0 8 * * 1", "30 7 * * 1"), encoding="utf-8")
    reports.sync(rs.home, rs.serving, config=changed)
    assert reports.log(rs.home, "weekly_overview")["crontab"] == "30 7 * * 1"
    reports.sync(rs.home, rs.serving, config=rs.config)
    assert reports.log(rs.home, "weekly_overview")["crontab"] == "0 8 * * 1"


def _default_grassroots_share(serving: Path) -> str:
    with duckdb.connect(str(serving), read_only=True) as con:
        months = list(truth.period(con).months)
        num, den = con.execute("select sum(grassroots_visits), sum(total_visits) from "
                               "marts.mart_grassroots_visits where month in (select unnest(?))",
                               [months]).fetchone()
    return f"{num / den:.1%}"


def test_weekly_overview_pdf_reaches_the_commission(rs, tmp_path):
    n = len(rs.mailbox.mails)
    entry = rs.run("weekly_overview")
    assert rs.succeeded(entry, n)
    mail = rs.mailbox.wait(COMMISSION, n)
    assert "分级诊疗总览周报" in subject(mail)
    name, pdf = attachment(mail)
    assert name.endswith(".pdf") and pdf.startswith(b"%PDF")
    text = ocr_pdf(pdf, tmp_path)
    assert "分级诊疗总览" in text, text[:2000]
    kpi = _default_grassroots_share(rs.serving)
    assert kpi in text, (kpi, text[:3000])
    # the worker takes a screenshot again when the browser times out
    assert "screenshots: up to 2 attempts" in rs.worker_log()


def test_a_directors_pdf_shows_only_their_hospital(rs, tmp_path):
    n = len(rs.mailbox.mails)
    entry = rs.run(f"monthly_hospital__{HOSPITAL[0]}")
    assert rs.succeeded(entry, n)
    mail = rs.mailbox.wait(DIRECTOR, n)
    assert HOSPITAL[1] in subject(mail)
    text = ocr_pdf(attachment(mail)[1], tmp_path)
    assert "医院运营" in text and HOSPITAL[1] in text, text[:3000]
    assert OTHER_HOSPITAL not in text.replace(HOSPITAL[1], ""), text[:3000]


def _breaches(serving: Path) -> int:
    item = next(i for i in yaml.safe_load(reports.REPORTS_YML.read_text(encoding="utf-8"))["alerts"]
                if i["key"] == "grassroots_share_low")
    sql = item["sql"].replace("{target:grassroots_share}", "0.65")
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def _swap_serving(serving: Path, tmp: Path, update: str | None) -> None:
    """Replace the serving file atomically (as a publish does) by a copy, changed by ``update``."""
    new = tmp / "serving.new.duckdb"
    shutil.copy(serving, new)
    if update:
        with duckdb.connect(str(new)) as con:
            con.execute(update)
    os.replace(new, serving)


def test_alert_silent_without_a_breach_and_fires_with_one(rs, tmp_path):
    original = tmp_path / "serving.orig.duckdb"
    shutil.copy(rs.serving, original)
    assert _breaches(rs.serving) > 0  # the sample region's districts are under 65 %
    try:
        _swap_serving(rs.serving, tmp_path, "update marts.mart_grassroots_visits "
                      "set grassroots_visits = total_visits")
        assert _breaches(rs.serving) == 0
        n = len(rs.mailbox.mails)
        quiet = rs.run("grassroots_share_low")
        assert quiet["state"] == "Not triggered" and quiet["value"] == 0, quiet
        time.sleep(5)
        assert not [m for m in rs.mailbox.mails[n:] if "基层诊疗量占比" in subject(m)]
    finally:
        os.replace(original, rs.serving)
    fired = rs.run("grassroots_share_low")
    assert fired["state"] == "Success" and fired["value"] >= 1, fired
    mail = rs.mailbox.wait("alerts@commission.test", n)
    assert "区县基层诊疗量占比低于目标" in subject(mail)
    # the grace period: the same alert does not mail again within it
    assert rs.run("grassroots_share_low")["state"] == "On Grace"


def test_the_beat_runs_a_due_schedule(rs):
    entry = reports.wait_for_log(rs.home, "beat_probe", after=0, timeout=200)
    assert entry["state"] == "Success", entry


def test_bad_configuration_is_refused_by_name(rs, tmp_path):
    doc = yaml.safe_load(rs.config.read_text(encoding="utf-8"))
    doc["reports"] += [
        {"key": "bad_dash", "name": "坏：仪表板", "dashboard": "no-such-dashboard", "format": "PDF",
         "crontab": "0 8 * * 1", "owner": "analyst", "email": PROBE},
        {"key": "bad_cron", "name": "坏：cron", "dashboard": "fenji-zhenliao", "format": "PDF",
         "crontab": "0 25 * * 1", "owner": "analyst", "email": PROBE},
    ]
    bad = tmp_path / "bad.yml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(reports.ReportsError) as e:
        reports.sync(rs.home, rs.serving, config=bad)
    msg = str(e.value)
    assert "bad_dash" in msg and "unknown dashboard 'no-such-dashboard'" in msg, msg
    assert "bad_cron" in msg and "crontab" in msg, msg
    assert "weekly_overview" not in msg
    # nothing of the good configuration was lost
    assert reports.log(rs.home, "weekly_overview")["crontab"] == "0 8 * * 1"

    doc = yaml.safe_load(rs.config.read_text(encoding="utf-8"))
    doc["alerts"][0]["chart"] = "no_such_chart"
    doc["alerts"][1]["sql"] = doc["alerts"][1]["sql"].replace("{target:grassroots_share}",
                                                              "{target:no_such_metric}")
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(reports.ReportsError) as e:
        reports.sync(rs.home, rs.serving, config=bad)
    assert "unknown chart 'no_such_chart'" in str(e.value) and "no_such_metric" in str(e.value)


def test_unreachable_smtp_is_an_error_in_the_log_not_a_dead_worker(rs):
    rs.smtp_off()
    try:
        entry = rs.run("smtp_probe")
    finally:
        rs.smtp_on()
    assert entry["state"] == "Error", entry
    assert "Connection refused" in (entry["error_message"] or "") or "111" in (entry["error_message"] or ""), entry
    assert rs.run("smtp_probe")["state"] == "Success"  # the same worker, once the server is back


def _group_alive(pgid: int) -> list[int]:
    """Processes (not zombies) of a process group."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def test_stop_all_leaves_nothing_running(rs):
    """Last in this module: what `grassroots stop` calls stops the server, the worker (with its
    pool) and the beat, and a second call finds nothing."""
    pids = {name: int((rs.home / name).read_text())
            for name in ("superset.pid", "celery-worker.pid", "celery-beat.pid")}
    assert all(_group_alive(p) for p in pids.values()), pids
    assert set(reports.stop_all(rs.home)) == {"superset", "worker", "beat"}
    assert {n: _group_alive(p) for n, p in pids.items()} == {n: [] for n in pids}
    assert not any((rs.home / n).exists() for n in pids)
    assert reports.stop_all(rs.home) == []
