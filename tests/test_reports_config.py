"""dashboards/reports.yml read without Superset: placeholders, one report per hospital manager,
catalogue targets in the alert SQL, bad entries named; the demo's mailbox keeps a mail."""

from __future__ import annotations

import smtplib
import socket
import time
from email.message import EmailMessage

import pytest
import yaml

from grassroots.deploy.reports_config import settings, smtp_settings
from grassroots.superset import reports

USERS = [{"username": "analyst", "first_name": "卫健委", "email": "a@x", "facility_code": None},
         {"username": "manager_h1", "first_name": "第一医院", "email": "m1@x", "facility_code": "H1"},
         {"username": "manager_h2", "first_name": "第二医院", "email": "m2@x", "facility_code": "H2"}]
TARGETS = {"grassroots_share": 0.65, "delivery_completeness_rate": 0.95}


def test_placeholders_nest_and_default():
    env = {"A": "a@x", "EMPTY": ""}
    assert reports.expand("${A}", env) == "a@x"
    assert reports.expand("${B:-${A}}", env) == "a@x"
    assert reports.expand("${EMPTY:-d@x}", env) == "d@x"
    assert reports.expand("${B}", env) == ""


def test_the_repository_file_expands():
    env = {"GRASSROOTS_REPORTS_COMMISSION_TO": "c1@x, c2@x", "GRASSROOTS_REPORTS_DIRECTOR_TO_H1": "d1@x",
           "GRASSROOTS_SMTP_TO": "dq@x", "GRASSROOTS_WEBHOOK_URL": "https://qyapi.weixin.qq.com/x"}
    items = {i["key"]: i for i in reports.load(reports.REPORTS_YML, USERS, TARGETS, env)}
    assert set(items) == {"weekly_overview", "monthly_hospital__H1", "monthly_hospital__H2",
                          "monthly_signing", "bed_utilization_over_100", "grassroots_share_low",
                          "tertiary_down_share_falling", "delivery_completeness_low"}
    w = items["weekly_overview"]
    assert (w["crontab"], w["timezone"], w["report_format"]) == ("0 8 * * 1", "Asia/Shanghai", "PDF")
    assert w["email"] == ["c1@x", "c2@x"] and w["owner"] == "analyst"
    h1, h2 = items["monthly_hospital__H1"], items["monthly_hospital__H2"]
    assert (h1["owner"], h1["email"], h1["name"]) == ("manager_h1", ["d1@x"], "医院运营月报 第一医院")
    assert h2["email"] == [] and h1["crontab"] == "0 8 3 * *"  # no address: the owner's, on creation
    a = items["grassroots_share_low"]
    assert a["type"] == "Alert" and a["email"] == ["dq@x"] and a["webhook"] == [env["GRASSROOTS_WEBHOOK_URL"]]
    assert "where code = 'grassroots_share'" in a["sql"] and a["grace_period"] == 86400
    assert a["crontab"] == "0 9-17 * * 1-5" and a["validator"] == {"op": ">", "threshold": 0}


def test_bad_entries_are_named(tmp_path):
    doc = yaml.safe_load(reports.REPORTS_YML.read_text(encoding="utf-8"))
    doc["reports"][0]["format"] = "DOCX"
    doc["reports"][2]["chart"] = "ov_gs"  # and a dashboard
    doc["alerts"][0]["chart"] = "nope"
    doc["alerts"][1]["sql"] += " and {target:nope}"
    doc["alerts"][2]["colour"] = "red"
    bad = tmp_path / "r.yml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(reports.ReportsError) as e:
        reports.load(bad, USERS, TARGETS, {})
    msg = str(e.value)
    for part in ("weekly_overview: format 'DOCX'", "monthly_signing: give exactly one of",
                 "bed_utilization_over_100: unknown chart 'nope'",
                 "grassroots_share_low: no target for 'nope'",
                 "tertiary_down_share_falling: unknown setting(s) ['colour']"):
        assert part in msg, msg


def test_a_notified_failure_shows_its_cause():
    """Superset logs a failed run as the error, then "Notification sent with error" on top."""
    t1, t2 = "2026-12-03 05:40:16", "2026-12-02 05:40:16"
    log = [{"state": "Error", "error_message": reports.NOTIFIED_MARKER, "scheduled_dttm": t1},
           {"state": "Error", "error_message": "Failed taking a screenshot Message: \nStacktrace:\n"
            "#0 0x562ef847d9be <unknown>", "scheduled_dttm": t1},
           {"state": "Error", "error_message": "older failure", "scheduled_dttm": t2}]
    assert reports._cause(log[0], log) == {"cause": "Failed taking a screenshot Message:"}
    assert reports._cause(log[1], log) == {}
    assert reports._cause(log[0], [log[0], log[2]]) == {}


def test_a_screenshot_that_times_out_is_taken_again():
    from grassroots.deploy.screenshot_retry import attempts, retrying

    class BrowserTimeout(Exception):
        pass

    calls: list[int] = []

    def flaky(fail: int):
        def take() -> bytes:
            calls.append(1)
            if len(calls) <= fail:
                raise BrowserTimeout("Message: \nStacktrace: ...")
            return b"png"
        return take

    assert retrying(flaky(1), 2, (BrowserTimeout,)) == b"png" and len(calls) == 2
    calls.clear()
    with pytest.raises(BrowserTimeout):  # every attempt failed: the last error is the run's
        retrying(flaky(2), 2, (BrowserTimeout,))
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(ValueError):  # anything else is not retried
        retrying(lambda: calls.append(1) or int("x"), 3, (BrowserTimeout,))
    assert len(calls) == 1
    assert attempts({}) == 2 and attempts({"GRASSROOTS_SCREENSHOT_ATTEMPTS": "3"}) == 3
    for bad in ("0", "two"):
        with pytest.raises(ValueError, match="GRASSROOTS_SCREENSHOT_ATTEMPTS"):
            attempts({"GRASSROOTS_SCREENSHOT_ATTEMPTS": bad})


def test_superset_mail_settings_are_the_data_quality_messages():
    s = smtp_settings({"GRASSROOTS_SMTP_HOST": "mail.x", "GRASSROOTS_SMTP_PORT": "465",
                       "GRASSROOTS_SMTP_TLS": "ssl", "GRASSROOTS_SMTP_USER": "u",
                       "GRASSROOTS_SMTP_PASSWORD": "p", "GRASSROOTS_SMTP_FROM": "f@x"})
    assert s == {"SMTP_HOST": "mail.x", "SMTP_PORT": 465, "SMTP_STARTTLS": False, "SMTP_SSL": True,
                 "SMTP_SSL_SERVER_AUTH": True, "SMTP_USER": "u", "SMTP_PASSWORD": "p",
                 "SMTP_MAIL_FROM": "f@x"}
    assert smtp_settings({})["SMTP_USER"] is None  # no login unless configured
    with pytest.raises(ValueError, match="GRASSROOTS_SMTP_TLS"):
        smtp_settings({"GRASSROOTS_SMTP_TLS": "yes"})
    cfg = settings(redis_url="redis://h:6379/7", base_url="http://127.0.0.1:8088", queue="q", env={})
    assert cfg["FEATURE_FLAGS"]["ALERT_REPORTS"] and cfg["WEBDRIVER_TYPE"] == "chrome"
    assert cfg["CELERY_CONFIG"].broker_url == "redis://h:6379/7"
    assert cfg["CELERY_CONFIG"].task_default_queue == "q"


def test_the_demo_mailbox_keeps_a_mail_and_grassroots_stop_stops_it(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from grassroots.cli import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "superset"  # where the demo keeps Superset's processes
    home.mkdir()
    folder = reports.start_mailsink(home, port)
    try:
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "周报", "a@x", "b@x"
        msg.set_content("正文")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)
        deadline = time.monotonic() + 10
        while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.2)
        [eml] = folder.glob("*.eml")
        assert b"b@x" in eml.read_bytes()
    finally:
        monkeypatch.setenv("GRASSROOTS_HOME", str(tmp_path))
        stopped = CliRunner().invoke(app, ["stop"])
        assert stopped.exit_code == 0 and "stopped: mailsink" in stopped.output, stopped.output
        assert "nothing was running" in CliRunner().invoke(app, ["stop"]).output
        assert not (home / "mailsink.pid").exists()


def test_robot_webhooks_get_their_own_message():
    from grassroots.deploy.robot_webhook import robot_kind, robot_request

    assert robot_kind("https://example.org/hook") is None
    url, body = robot_request("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "周报", "说明",
                              "http://s/d/1")
    assert url.endswith("key=k") and body["msgtype"] == "markdown"
    assert body["markdown"]["content"] == "## 周报\n说明\n\n[在 Superset 中查看](http://s/d/1)"
    url, body = robot_request("https://oapi.dingtalk.com/robot/send?access_token=t", "预警", "", "l",
                              secret="s")
    assert "&timestamp=" in url and "&sign=" in url and body["markdown"]["title"] == "预警"
