"""The daily data-quality message reaches a real local SMTP server and a local webhook receiver."""

from __future__ import annotations

from datetime import date

import pytest
from dq_support import HttpSink, SmtpSink
from handmade import VISIT_HEADER, id_card, visit

from grassroots import alerts
from grassroots.quality.result import Failure, Outlier, QualityResult

BD = date(2025, 3, 1)


@pytest.fixture
def loaded(env):
    """A warehouse with one centre's delivery (3 bad rows), one hospital missing."""
    rows = [visit(f"V{i}") for i in range(5)]
    rows += [visit("B1", visit_type="walk_in"), visit("B2", visit_type="walk_in"),
             visit("B3", total_fee="-1.00")]
    env.landing.delivery("2025-03-01", "C330102001", {"outpatient_visits": (VISIT_HEADER, rows)})
    env.landing.delivery("2025-03-01", "H330102001", {"outpatient_visits": (VISIT_HEADER, [])},
                         generated_at="2025-03-02T09:15:00")
    env.run()
    return env


def _quality() -> tuple[QualityResult, QualityResult]:
    leaked = id_card("330102", "1950-04-02")
    raw = QualityResult(layer="raw", success=False, evaluated=400, suites=["raw.x"], failures=[
        Failure(suite="raw.outpatient_visits", check_id="raw.outpatient_visits:resident_id:regex",
                expectation="expect_column_values_to_match_regex", target="resident_id",
                category="conformance", subcategory="value", severity="error",
                observed="2 unexpected (0.10%)", unexpected_count=2,
                sample=[leaked, "13800138000"])])
    marts = QualityResult(layer="marts", success=True, evaluated=300, warnings=[
        Failure(suite="marts.mart_grassroots_visits", check_id="x", target="grassroots_share",
                expectation="expect_column_values_to_be_between", category="plausibility",
                subcategory="atemporal", severity="warning", observed="1 unexpected (4.00%)",
                unexpected_count=1, sample=["0.99"])],
        outliers=[Outlier("C330102001", "2025-03-01", 90, 12.5, 2.1, 36.9, 28)],
        data_docs="/tmp/docs/index.html")
    return raw, marts


def test_daily_report_by_email_and_wecom_webhook(loaded, monkeypatch):
    raw, marts = _quality()
    arrivals = {"business_date": "2025-03-01", "expected": ["C330102001", "C330122001",
                "H330102001", "H330102002"], "complete": ["C330102001", "H330102001"],
                "missing": ["C330122001", "H330102002"], "incomplete": {},
                "late": {"H330102001": "2025-03-02T09:15:00"},
                "cutoff": "2025-03-02T10:00:00+08:00", "cutoff_passed": True}
    with SmtpSink() as smtp, HttpSink() as http:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("GRASSROOTS_WEBHOOK_URL", http.url())
        monkeypatch.setenv("GRASSROOTS_WEBHOOK_KIND", "wecom")
        out = alerts.send_daily_report(loaded.warehouse, BD, landing=loaded.landing.root,
                                       arrivals=arrivals, raw=raw.to_dict(), marts=marts)
        assert out["channels"] == ["email", "webhook:wecom"]
        assert len(smtp.messages) == 1 and len(http.requests) == 1
        subject, body = SmtpSink.text(smtp.messages[0])
        msg = smtp.messages[0]
        assert msg["To"] == "ops@grassroots.test, commission@grassroots.test"
        payload = http.requests[0]["json"]
    assert "数据质量日报 2025-03-01" in subject and "缺报 2" in subject and "迟报 1" in subject
    assert payload["msgtype"] == "markdown" and set(payload["markdown"]) == {"content"}
    content = payload["markdown"]["content"]
    for text in (body, content):
        assert "缺报 missing: C330122001 分水镇卫生院" in text
        assert "缺报 missing: H330102002 区人民医院" in text
        assert "迟报 late: H330102001 市第一人民医院" in text
        assert "C330102001 湖滨社区卫生服务中心: reason bad_enum, dataset outpatient_visits, 2 条" in text
        assert "reason negative_amount, dataset outpatient_visits, 1 条" in text
        assert "raw.outpatient_visits · resident_id · expect_column_values_to_match_regex" in text
        assert "观测值 observed: 2 unexpected (0.10%)" in text
        assert "警告 warning: marts.mart_grassroots_visits · grassroots_share" in text
        assert "C330102001 湖滨社区卫生服务中心 2025-03-01: 门诊人次 visits 90" in text
        assert "z=+36.9" in text
        # never a clear id number or phone
        assert id_card("330102", "1950-04-02") not in text and "13800138000" not in text
        assert "[id_no]" in text and "[phone]" in text
        assert "王小明" not in text


def test_dingtalk_payload_and_signature(loaded, monkeypatch):
    with HttpSink() as http:
        cfg = alerts.AlertConfig(webhook_url=http.url("/robot/send?access_token=t"),
                                 webhook_kind="dingtalk", webhook_secret="SECabc")
        rep = alerts.build_report(loaded.warehouse, BD, landing=loaded.landing.root)
        sent = alerts.send(rep.title(), alerts.render_markdown(rep), cfg)
        req = http.requests[0]
    assert sent == ["webhook:dingtalk"]
    assert req["json"]["msgtype"] == "markdown"
    assert set(req["json"]["markdown"]) == {"title", "text"}
    assert "数据质量日报" in req["json"]["markdown"]["title"]
    assert "reason bad_enum" in req["json"]["markdown"]["text"]
    assert "access_token=t&timestamp=" in req["path"] and "&sign=" in req["path"]


def test_task_failure_alert_and_channel_errors(monkeypatch):
    class TI:
        dag_id, task_id, run_id, try_number = "grassroots_daily", "ingest", "scheduled__x", 3

    with SmtpSink() as smtp, HttpSink() as http:
        for k, v in smtp.env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("GRASSROOTS_WEBHOOK_URL", http.url())
        alerts.on_task_failure({"ti": TI(), "logical_date": "2025-03-02T07:00:00+08:00",
                                "exception": RuntimeError("warehouse locked; phone 13912345678")})
        subject, body = SmtpSink.text(smtp.messages[0])
        content = http.requests[0]["json"]["markdown"]["content"]
    assert "任务失败" in subject and "grassroots_daily.ingest" in subject
    for text in (body, content):
        assert "warehouse locked" in text and "try_number: 3" in text
        assert "13912345678" not in text
    # a configured channel that cannot deliver is an error (after trying the others)
    cfg = alerts.AlertConfig(smtp_host="127.0.0.1", smtp_port=1, smtp_to=["x@y"], timeout=2)
    with pytest.raises(alerts.AlertError, match="email"):
        alerts.send("t", "x", cfg)
    # nothing configured: logged only, no error
    assert alerts.send("t", "x", alerts.AlertConfig()) == []
