"""The daily data-quality message and task-failure alerts, by e-mail (SMTP) and group-robot webhook.

Configuration — environment variables only, one prefix; each channel is optional (a channel
without its host/URL is off; with no channel configured the message is only logged):

=============================  ==============================================================
``GRASSROOTS_SMTP_HOST``       SMTP server (e-mail off when empty)
``GRASSROOTS_SMTP_PORT``       default 25 (587 for starttls, 465 for ssl are usual)
``GRASSROOTS_SMTP_TLS``        ``none`` (default), ``starttls`` or ``ssl``
``GRASSROOTS_SMTP_USER``       login user (no login when empty)
``GRASSROOTS_SMTP_PASSWORD``   login password
``GRASSROOTS_SMTP_FROM``       sender address, default ``grassroots@localhost``
``GRASSROOTS_SMTP_TO``         recipients, comma-separated (required for e-mail)
``GRASSROOTS_WEBHOOK_URL``     group-robot webhook URL (webhook off when empty)
``GRASSROOTS_WEBHOOK_KIND``    ``wecom`` (企业微信, default) or ``dingtalk`` (钉钉)
``GRASSROOTS_WEBHOOK_SECRET``  DingTalk signing secret (adds ``timestamp`` and ``sign``)
=============================  ==============================================================

Message text is Chinese with codes (facility codes, reason codes, expectation names) in English.
It never carries an id number, a person's name or a phone number: it is built from counts, codes
and facility names only, and every free-text value goes through :func:`scrub`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import smtplib
import ssl
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import duckdb

from grassroots.quality.arrivals import Arrivals, facility_info
from grassroots.quality.result import QualityResult

log = logging.getLogger(__name__)

WECOM_LIMIT = 4000  # bytes of markdown content a WeCom robot accepts (4096)
DINGTALK_LIMIT = 18000


class AlertError(RuntimeError):
    """A configured channel could not deliver the message."""


# ---------------------------------------------------------------------------------------------
# Configuration


@dataclass
class AlertConfig:
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_tls: str = "none"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "grassroots@localhost"
    smtp_to: list[str] = field(default_factory=list)
    webhook_url: str | None = None
    webhook_kind: str = "wecom"
    webhook_secret: str | None = None
    timeout: float = 20.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> AlertConfig:
        e = os.environ if env is None else env
        g = lambda k, d=None: (e.get(f"GRASSROOTS_{k}") or d)  # noqa: E731
        tls = (g("SMTP_TLS", "none") or "none").lower()
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(f"GRASSROOTS_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
        kind = (g("WEBHOOK_KIND", "wecom") or "wecom").lower()
        if kind not in ("wecom", "dingtalk"):
            raise ValueError(f"GRASSROOTS_WEBHOOK_KIND must be wecom or dingtalk, not {kind!r}")
        return cls(
            smtp_host=g("SMTP_HOST"),
            smtp_port=int(g("SMTP_PORT", "25")),
            smtp_tls=tls,
            smtp_user=g("SMTP_USER"),
            smtp_password=g("SMTP_PASSWORD"),
            smtp_from=g("SMTP_FROM", "grassroots@localhost"),
            smtp_to=[a.strip() for a in (g("SMTP_TO", "") or "").split(",") if a.strip()],
            webhook_url=g("WEBHOOK_URL"),
            webhook_kind=kind,
            webhook_secret=g("WEBHOOK_SECRET"),
        )

    @property
    def email_on(self) -> bool:
        return bool(self.smtp_host and self.smtp_to)

    @property
    def webhook_on(self) -> bool:
        return bool(self.webhook_url)


# ---------------------------------------------------------------------------------------------
# Privacy


_ID_NO = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9]{9}(?![0-9])")


def scrub(text: str) -> str:
    """Mask anything shaped like a resident id number or a mobile phone number."""
    return _PHONE.sub("[phone]", _ID_NO.sub("[id_no]", str(text)))


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class FacilityIssue:
    facility_code: str
    facility_name: str
    facility_type: str
    district_code: str
    problem: str  # missing | incomplete | late | not_loaded
    detail: str = ""


@dataclass
class DailyReport:
    business_date: str
    expected: int = 0
    delivered: int = 0
    on_time: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    files_rejected: int = 0
    issues: list[FacilityIssue] = field(default_factory=list)
    quarantine: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    # (facility_code, facility_name, reason, dataset, count)
    raw: QualityResult | None = None
    marts: QualityResult | None = None
    source: str = ""  # where the delivery figures came from
    names: dict[str, str] = field(default_factory=dict)  # facility_code → facility name
    stray: list[str] = field(default_factory=list)  # landing entries that are no date folder
    # (source, problem, detail): registered sources not reached, folders refused (grassroots.pull)
    sources: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def failed_checks(self) -> int:
        return sum(len(r.failures) for r in (self.raw, self.marts) if r)

    @property
    def outliers(self) -> list:
        return self.marts.outliers if self.marts else []

    @property
    def ok(self) -> bool:
        return not (self.issues or self.quarantine or self.failed_checks or self.outliers
                    or self.stray or self.sources)

    def title(self) -> str:
        missing = sum(1 for i in self.issues if i.problem in ("missing", "incomplete",
                                                               "not_loaded"))
        late = sum(1 for i in self.issues if i.problem == "late")
        status = "正常" if self.ok else "需关注"
        return (f"[grassroots] 数据质量日报 {self.business_date} {status}: 缺报 {missing}, "
                f"迟报 {late}, 隔离 {self.rows_quarantined} 行, 校验失败 {self.failed_checks}, "
                f"异常波动 {len(self.outliers)}"
                + (f", 数据源异常 {len(self.sources)}" if self.sources else ""))


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table]).fetchone()[0])


class _Issues:
    """One problem per facility, described with its reference data; later evidence refines it."""

    ORDER = {"missing": 0, "incomplete": 1, "not_loaded": 2, "late": 3}

    def __init__(self, info: dict[str, dict]) -> None:
        self.info = info
        self.by_code: dict[str, FacilityIssue] = {}

    def add(self, code: str, problem: str, detail: str = "") -> None:
        f = self.info.get(code) or {}
        self.by_code[code] = FacilityIssue(code, f.get("name") or "", f.get("type") or "",
                                           f.get("district_code") or "", problem,
                                           scrub(detail)[:200])

    def problem(self, code: str) -> str | None:
        i = self.by_code.get(code)
        return i.problem if i else None

    def sorted(self) -> list[FacilityIssue]:
        return sorted(self.by_code.values(), key=lambda i: (self.ORDER[i.problem],
                                                            i.facility_code))


def _delivery_statuses(con: duckdb.DuckDBPyConnection,
                       business_date: date) -> dict[str, tuple[str, str]]:
    """Each facility's best delivery of the day: a loaded one, else the latest received."""
    if not _table_exists(con, "audit", "deliveries"):
        return {}
    return {fac: (status, detail or "") for fac, status, detail in con.execute(
        "SELECT facility_code, status, detail FROM audit.deliveries "
        "WHERE business_date = ? QUALIFY row_number() OVER (PARTITION BY "
        "facility_code ORDER BY (status = 'loaded') DESC, received_at DESC) = 1",
        [business_date]).fetchall()}


def _from_delivery_quality(con: duckdb.DuckDBPyConnection, rep: DailyReport, business_date: date,
                           statuses: dict[str, tuple[str, str]], issues: _Issues) -> None:
    rep.source = "marts.mart_delivery_quality"
    rows = con.execute(
        "SELECT facility_code, expected, delivered, on_time, rows_loaded, "
        "rows_quarantined, files_rejected, delivery_status, first_generated_at "
        "FROM marts.mart_delivery_quality WHERE business_date = ? ORDER BY 1",
        [business_date]).fetchall()
    for (fac, exp, dlv, ontime, rl, rq, fr, status, gen) in rows:
        rep.expected += exp or 0
        rep.delivered += dlv or 0
        rep.on_time += ontime or 0
        rep.rows_loaded += rl or 0
        rep.rows_quarantined += rq or 0
        rep.files_rejected += fr or 0
        if exp and not dlv:
            if status is None:
                issues.add(fac, "missing", "截止时未收到数据包 (no folder)")
            else:
                issues.add(fac, "not_loaded", f"{status}: {statuses.get(fac, ('', ''))[1]}")
        elif exp and not ontime:
            issues.add(fac, "late", f"generated_at {gen}")


def _from_audit(con: duckdb.DuckDBPyConnection, rep: DailyReport, business_date: date,
                statuses: dict[str, tuple[str, str]], issues: _Issues) -> None:
    """Before the marts exist (or when dbt failed): the loader's own audit of the day."""
    rep.source = "audit.deliveries"
    for fac, (status, detail) in statuses.items():
        if status != "loaded":
            issues.add(fac, "not_loaded", f"{status}: {detail}")
    r = con.execute("SELECT count(*) FILTER (status = 'loaded'), "
                    "coalesce(sum(rows_loaded) FILTER (status = 'loaded'), 0), "
                    "coalesce(sum(rows_quarantined) FILTER (status = 'loaded'), 0) "
                    "FROM audit.deliveries WHERE business_date = ?", [business_date]).fetchone()
    rep.delivered, rep.rows_loaded, rep.rows_quarantined = r


def _quarantine_counts(con: duckdb.DuckDBPyConnection, business_date: date,
                       names: dict[str, str]) -> list[tuple[str, str, str, str, int]]:
    """Quarantined rows by facility, reason and dataset, from each facility's latest version."""
    if not _table_exists(con, "audit", "quarantine"):
        return []
    return [(fac, names.get(fac, ""), reason, ds or "", n)
            for fac, reason, ds, n in con.execute(
                "WITH q AS (SELECT *, max(coalesce(delivery_version, 0)) OVER "
                "(PARTITION BY facility_code) AS latest FROM audit.quarantine "
                "WHERE business_date = ?) "
                "SELECT facility_code, reason, dataset, count(*) FROM q "
                "WHERE coalesce(delivery_version, 0) = latest "
                "GROUP BY ALL ORDER BY 4 DESC, 1, 2", [business_date]).fetchall()]


def _from_arrivals(arrivals: Arrivals, rep: DailyReport, issues: _Issues) -> None:
    """The sensor's view at the cut-off: what never arrived, arrived incomplete or late."""
    if not rep.expected:
        rep.expected = len(arrivals.expected)
    for code in arrivals.missing:
        if issues.problem(code) in (None, "not_loaded"):
            issues.add(code, "missing", f"截止 {arrivals.cutoff} 时未收到数据包 (no folder)")
    for code, why in arrivals.incomplete.items():
        if issues.problem(code) in (None, "missing", "not_loaded"):
            issues.add(code, "incomplete", why)
    for code, gen in arrivals.late.items():
        if issues.problem(code) is None:
            issues.add(code, "late", f"generated_at {gen}")


def build_report(warehouse: Path, business_date: date, *, landing: Path | None = None,
                 arrivals: Arrivals | dict | None = None, raw: QualityResult | dict | None = None,
                 marts: QualityResult | dict | None = None) -> DailyReport:
    """Gather the day's delivery completeness/timeliness (``marts.mart_delivery_quality``, else
    ``audit.deliveries`` and the sensor's arrivals), quarantine counts by facility and reason
    (``audit.quarantine``, latest version of each facility-day), failed expectations and
    outliers."""
    arrivals = Arrivals.from_dict(arrivals)
    rep = DailyReport(business_date=business_date.isoformat(), raw=QualityResult.from_dict(raw),
                      marts=QualityResult.from_dict(marts))
    info = facility_info(landing, warehouse)
    rep.names = {code: (f.get("name") or "") for code, f in info.items()}
    issues = _Issues(info)
    if Path(warehouse).exists():
        with duckdb.connect(str(warehouse), read_only=True) as con:
            statuses = _delivery_statuses(con, business_date)
            if _table_exists(con, "marts", "mart_delivery_quality"):
                _from_delivery_quality(con, rep, business_date, statuses, issues)
            elif _table_exists(con, "audit", "deliveries"):
                _from_audit(con, rep, business_date, statuses, issues)
            rep.quarantine = _quarantine_counts(con, business_date, rep.names)
    if arrivals is not None:
        _from_arrivals(arrivals, rep, issues)
    rep.issues = issues.sorted()
    if landing is not None:
        from grassroots.ingest.discover import stray_entries

        rep.stray = [scrub(n) for n in stray_entries(Path(landing))]
    rep.sources = source_problems(Path(warehouse), business_date)
    return rep


def source_problems(warehouse: Path, business_date: date) -> list[tuple[str, str, str]]:
    """Registered sources whose latest check for the business date did not reach them, and
    folders of that date refused by a pull (``audit.source_checks``, ``audit.pulls``)."""
    if not Path(warehouse).exists():
        return []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if not _table_exists(con, "audit", "source_checks"):
            return []
        rows = con.execute(
            "SELECT source, status, coalesce(remote || ': ', '') || coalesce(detail, '') "
            "FROM audit.source_checks WHERE business_date = ? QUALIFY row_number() OVER "
            "(PARTITION BY source ORDER BY checked_at DESC, record_id DESC) = 1 "
            "AND status <> 'ok' ORDER BY 1", [business_date]).fetchall()
        rows += con.execute(
            "SELECT DISTINCT source, 'refused', facility_code || ' ' || business_date || ': ' "
            "|| detail FROM audit.pulls WHERE status = 'refused' AND business_date = ? "
            "ORDER BY ALL", [business_date]).fetchall()
    return [(s, p, scrub(d)[:300]) for s, p, d in rows]


_PROBLEM_ZH = {
    "missing": "缺报",
    "incomplete": "数据包不完整",
    "not_loaded": "未入库",
    "late": "迟报",
}


def _section(title: str, lines: list[str], *, more: int = 0, unit: str = "项") -> list[str]:
    """A heading, its lines (or "none") and how many were left out."""
    out = ["", f"### {title}", *(lines or ["- 无 (none)"])]
    if more > 0:
        out.append(f"- …另有 {more} {unit}")
    return out


def _issue_lines(rep: DailyReport) -> list[str]:
    lines = [f"- {_PROBLEM_ZH[i.problem]} {i.problem}: {i.facility_code} {i.facility_name}"
             f" ({i.facility_type}, district {i.district_code}) {i.detail}".rstrip()
             for i in rep.issues]
    if rep.stray:
        lines.append("- 未入库的落地区条目 (not YYYY-MM-DD date folders, never loaded): "
                     + ", ".join(rep.stray[:20]) + (" …" if len(rep.stray) > 20 else ""))
    return lines


def _failure_line(f) -> str:
    level = "失败 error" if f.severity == "error" else "警告 warning"
    sample = f", 样例 sample: {', '.join(f.sample)}" if f.sample else ""
    return (f"- {level}: {f.suite} · {f.target} · {f.expectation} "
            f"({f.category}/{f.subcategory}); 观测值 observed: {f.observed}{sample}")


def _source_lines(rep: DailyReport) -> list[str]:
    """The registered sources not reached and the folders refused (nothing when none)."""
    if not rep.sources:
        return []
    zh = {"unreachable": "无法连接", "error": "无法连接", "refused": "拒收"}
    return ["", "### 数据源异常 (sources not reached, folders refused)"] + [
        f"- {zh.get(problem, problem)} {problem}: {src} {detail}"
        for src, problem, detail in rep.sources]


def render_markdown(rep: DailyReport, *, limit: int | None = None) -> str:
    """The message as Markdown (WeCom/DingTalk robots render it; e-mail shows it as text)."""
    L: list[str] = [f"## 数据质量日报 business_date {rep.business_date}"]
    L.append(
        f"- 上报 (deliveries): 应报 expected {rep.expected}, 已报 delivered {rep.delivered}, "
        f"按时 on_time {rep.on_time}")
    L.append(f"- 入库行 rows_loaded {rep.rows_loaded}, 隔离行 rows_quarantined "
             f"{rep.rows_quarantined}, 拒收文件 files_rejected {rep.files_rejected}")
    for r, label in ((rep.raw, "原始层校验 raw"), (rep.marts, "指标层校验 marts")):
        if r:
            L.append(f"- {label}: {'通过 PASS' if r.success else '未通过 FAIL'}, "
                     f"{r.evaluated} 项期望, 失败 {len(r.failures)}, 警告 {len(r.warnings)}")
    L += _section("缺报/迟报机构 (missing or late deliveries)", _issue_lines(rep))
    L += _source_lines(rep)
    L += _section("隔离记录 (quarantine) 按机构和原因",
                  [f"- {fac} {name}: reason {reason}, dataset {ds}, {n} 条"
                   for fac, name, reason, ds, n in rep.quarantine[:40]],
                  more=len(rep.quarantine) - 40, unit="组")
    failed = [f for r in (rep.raw, rep.marts) if r for f in r.failures + r.warnings]
    L += _section("校验失败 (failed expectations)", [_failure_line(f) for f in failed[:40]],
                  more=len(failed) - 40)
    L += _section("门诊量异常波动 (outliers, |z| > 3 vs the facility's last 28 days)", [
        f"- {o.facility_code} {rep.names.get(o.facility_code, '')} {o.date}: 门诊人次 visits "
        f"{o.visits}, 近期均值 mean {o.mean:.1f}, 标准差 std {o.std:.1f}, z={o.z_score:+.1f}"
        for o in rep.outliers[:20]])
    docs = (rep.marts and rep.marts.data_docs) or (rep.raw and rep.raw.data_docs)
    if docs:
        L.append("")
        L.append(f"Data Docs: {docs}")
    text = scrub("\n".join(L))
    if limit is not None and len(text.encode()) > limit:
        cut = text.encode()[: limit - 40].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n…(内容过长已截断, truncated)"
    return text


# ---------------------------------------------------------------------------------------------
# Channels


def send_email(cfg: AlertConfig, subject: str, body: str) -> None:
    msg = EmailMessage()
    msg["Subject"] = scrub(subject)
    msg["From"] = cfg.smtp_from
    msg["To"] = ", ".join(cfg.smtp_to)
    msg.set_content(scrub(body), charset="utf-8")
    if cfg.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout)
    with smtp:
        if cfg.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if cfg.smtp_user:
            smtp.login(cfg.smtp_user, cfg.smtp_password or "")
        smtp.send_message(msg)


def webhook_payload(kind: str, title: str, text: str) -> dict:
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title[:60], "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


def _signed_url(cfg: AlertConfig) -> str:
    url = cfg.webhook_url or ""
    if cfg.webhook_kind == "dingtalk" and cfg.webhook_secret:
        ts = str(int(time.time() * 1000))
        mac = hmac.new(cfg.webhook_secret.encode(), f"{ts}\n{cfg.webhook_secret}".encode(),
                       hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(mac).decode())
        url += ("&" if "?" in url else "?") + f"timestamp={ts}&sign={sign}"
    return url


def send_webhook(cfg: AlertConfig, title: str, text: str) -> dict:
    payload = webhook_payload(cfg.webhook_kind, scrub(title), scrub(text))
    req = urllib.request.Request(
        _signed_url(cfg), data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"}, method="POST")
    with urllib.request.urlopen(req, timeout=cfg.timeout) as resp:  # noqa: S310 (configured URL)
        body = resp.read().decode("utf-8", "replace")
    try:
        answer = json.loads(body) if body.strip() else {}
    except ValueError:
        answer = {"raw": body[:200]}
    # both robots answer {"errcode": 0, "errmsg": "ok"}
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise AlertError(f"webhook answered {answer}")
    return answer


def send(title: str, markdown: str, cfg: AlertConfig | None = None) -> list[str]:
    """Send through every configured channel; returns the channels used. Raises AlertError
    (after trying all) when a configured channel failed."""
    cfg = cfg or AlertConfig.from_env()
    sent, errors = [], []
    if cfg.email_on:
        try:
            send_email(cfg, title, markdown)
            sent.append("email")
        except (OSError, smtplib.SMTPException) as e:
            errors.append(f"email via {cfg.smtp_host}:{cfg.smtp_port}: {e}")
    if cfg.webhook_on:
        limit = WECOM_LIMIT if cfg.webhook_kind == "wecom" else DINGTALK_LIMIT
        text = markdown
        if len(text.encode()) > limit:
            cut = text.encode()[: limit - 40].decode("utf-8", "ignore")
            text = cut.rsplit("\n", 1)[0] + "\n…(内容过长已截断, truncated)"
        try:
            send_webhook(cfg, title, text)
            sent.append(f"webhook:{cfg.webhook_kind}")
        except (OSError, AlertError, ValueError) as e:
            errors.append(f"webhook ({cfg.webhook_kind}): {e}")
    if not (cfg.email_on or cfg.webhook_on):
        log.warning("no alert channel configured (GRASSROOTS_SMTP_HOST/_TO, "
                    "GRASSROOTS_WEBHOOK_URL); message only logged:\n%s", markdown)
    if errors:
        raise AlertError("; ".join(errors))
    return sent


def send_daily_report(warehouse: Path, business_date: date, *, landing: Path | None = None,
                      arrivals=None, raw=None, marts=None,
                      cfg: AlertConfig | None = None) -> dict:
    """Build, render and send the daily data-quality message; returns a summary for XCom."""
    rep = build_report(warehouse, business_date, landing=landing, arrivals=arrivals, raw=raw,
                       marts=marts)
    text = render_markdown(rep)
    log.info("%s\n%s", rep.title(), text)
    channels = send(rep.title(), text, cfg)
    return {"title": rep.title(), "channels": channels, "ok": rep.ok,
            "issues": [(i.facility_code, i.problem) for i in rep.issues],
            "quarantined_rows": rep.rows_quarantined, "failed_checks": rep.failed_checks,
            "outliers": [o.facility_code for o in rep.outliers]}


# ---------------------------------------------------------------------------------------------
# Task failures (Airflow on_failure_callback)


def failure_message(dag_id: str, task_id: str, run_id: str, logical_date: str,
                    try_number: int | None, error: str) -> tuple[str, str]:
    title = f"[grassroots] 任务失败 task failed: {dag_id}.{task_id} {logical_date}"
    text = "\n".join([
        f"## 任务失败 (task failure): {dag_id}.{task_id}",
        f"- run_id: {run_id}",
        f"- logical_date: {logical_date}",
        f"- try_number: {try_number}",
        f"- 错误 error: {scrub(error)[:1500]}",
        "",
        "请在 Airflow 中查看任务日志 (see the task log in Airflow).",
    ])
    return scrub(title), text


def on_task_failure(context) -> None:
    """Airflow ``on_failure_callback``: alert through the same channels; never raises."""
    try:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "?")
        run_id = getattr(ti, "run_id", None) or str(context.get("run_id", "?"))
        title, text = failure_message(
            dag_id, task_id, run_id, str(context.get("logical_date") or context.get("ds")),
            getattr(ti, "try_number", None), repr(context.get("exception")))
        send(title, text)
    except Exception:  # noqa: BLE001 — an alert must not mask the task's own failure
        log.exception("could not send the task-failure alert")
