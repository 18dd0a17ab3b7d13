"""Runs INSIDE the Superset virtualenv: Alerts & Reports from the repository's specification.

``python _reports_inside.py <action> ...`` (do not import from the pipeline: it needs Superset):

* ``sync <spec.json>``: create or update every schedule of the spec through Superset's own schema
  and commands (the validation the REST API applies: cron, time zone, recipients, owners,
  database), matched by ``extra.grassroots_key``; schedules of an earlier spec that are gone are
  deleted. A bad entry is reported and the others are still synced.
* ``run <key>``: queue the schedule's execution now (the ``reports.execute`` Celery task, as the
  beat would).
* ``log <key> [n]``: its latest execution-log entries.

Prints one ``@@JSON`` line.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

KEY = "grassroots_key"


def _app():
    from superset.app import create_app

    app = create_app()
    app.app_context().push()
    from flask import g
    from superset import security_manager

    g.user = security_manager.find_user(username="admin")
    return app


def _ours() -> dict:
    from superset import db
    from superset.reports.models import ReportSchedule

    out = {}
    for r in db.session.query(ReportSchedule).all():
        key = (r.extra or {}).get(KEY)
        if key:
            out[key] = r
    return out


def _resolve(item: dict) -> dict:
    """The REST API's payload for ``item``: slugs, uuids and usernames turned into ids."""
    from superset import db
    from superset import security_manager as sm
    from superset.models.core import Database
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    payload = {k: item[k] for k in ("type", "name", "description", "crontab", "timezone",
                                    "report_format", "active", "working_timeout", "log_retention")
               if item.get(k) is not None}
    payload["creation_method"] = "alerts_reports"
    payload["extra"] = {KEY: item["key"]}
    if item.get("dashboard"):
        dash = db.session.query(Dashboard).filter_by(slug=item["dashboard"]).one_or_none()
        if dash is None:
            known = sorted(d.slug for d in db.session.query(Dashboard).all() if d.slug)
            raise LookupError(f"unknown dashboard {item['dashboard']!r} (known: {', '.join(known)})")
        payload["dashboard"] = dash.id
    if item.get("chart"):
        chart = db.session.query(Slice).filter_by(uuid=item["chart"]).one_or_none()
        if chart is None:
            raise LookupError(f"chart {item['chart_key']!r} ({item['chart']}) is not on the server")
        payload["chart"] = chart.id
    owner = sm.find_user(username=item["owner"])
    if owner is None:
        raise LookupError(f"unknown owner {item['owner']!r}")
    payload["owners"] = [owner.id]
    if item["type"] == "Alert":
        database = db.session.query(Database).filter_by(database_name=item["database"]).one_or_none()
        if database is None:
            raise LookupError(f"unknown database {item['database']!r}")
        payload.update(database=database.id, sql=item["sql"], validator_type="operator",
                       validator_config_json=item["validator"], grace_period=item["grace_period"])
    recipients = []
    emails = item.get("email") or ([owner.email] if item.get("email_fallback_owner") else [])
    if emails:
        recipients.append({"type": "Email", "recipient_config_json": {"target": ",".join(emails)}})
    for url in item.get("webhook") or []:
        recipients.append({"type": "Webhook", "recipient_config_json": {"target": url}})
    if recipients or item.get("email"):
        payload["recipients"] = recipients
    return payload


def _messages(ex: Exception) -> str:
    norm = getattr(ex, "normalized_messages", None)
    if callable(norm):
        return json.dumps(norm(), ensure_ascii=False)
    return str(getattr(ex, "messages", None) or ex)


def _sync_one(item: dict, existing) -> str:
    from superset.commands.report.create import CreateReportScheduleCommand
    from superset.commands.report.update import UpdateReportScheduleCommand
    from superset.reports.schemas import ReportSchedulePostSchema, ReportSchedulePutSchema

    payload = _resolve(item)
    if existing is None:
        if "recipients" not in payload:  # nobody to send to yet: the owner
            item = dict(item, email_fallback_owner=True)
            payload = _resolve(item)
        CreateReportScheduleCommand(ReportSchedulePostSchema().load(payload)).run()
        return "created"
    if existing.type != item["type"]:
        raise ValueError(f"{item['key']}: is a {existing.type} on the server, not a {item['type']}")
    payload.pop("type")
    payload.pop("creation_method")
    UpdateReportScheduleCommand(existing.id, ReportSchedulePutSchema().load(payload)).run()
    return "updated"


def do_sync(spec_path: str) -> None:
    from superset import db

    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    ours = _ours()
    done: dict[str, list] = {"created": [], "updated": [], "deleted": [], "errors": []}
    for item in spec["items"]:
        try:
            done[_sync_one(item, ours.get(item["key"]))].append(item["key"])
        except Exception as ex:  # noqa: BLE001 — each entry on its own, the message goes back
            db.session.rollback()
            done["errors"].append({"key": item["key"], "name": item["name"],
                                   "error": f"{type(ex).__name__}: {_messages(ex)}"})
    wanted = {i["key"] for i in spec["items"]}
    for key, r in _ours().items():  # a spec with a bad entry removes nothing
        if key not in wanted and spec.get("prune", True) and not done["errors"]:
            db.session.delete(r)
            done["deleted"].append(key)
    db.session.commit()
    print("@@JSON " + json.dumps(done, ensure_ascii=False))


def do_run(key: str) -> None:
    from superset.tasks.scheduler import execute

    r = _ours().get(key)
    if r is None:
        raise SystemExit(f"no report or alert with key {key!r}; known: {sorted(_ours())}")
    res = execute.apply_async((r.id,), eta=datetime.now(tz=UTC))
    print("@@JSON " + json.dumps({"id": r.id, "name": r.name, "task_id": res.id}, ensure_ascii=False))


def do_log(key: str, n: int) -> None:
    from superset import db
    from superset.reports.models import ReportExecutionLog

    r = _ours().get(key)
    if r is None:
        raise SystemExit(f"no report or alert with key {key!r}; known: {sorted(_ours())}")
    logs = (db.session.query(ReportExecutionLog).filter_by(report_schedule_id=r.id)
            .order_by(ReportExecutionLog.end_dttm.desc(), ReportExecutionLog.id.desc()).limit(n).all())
    out = {"id": r.id, "name": r.name, "type": r.type, "crontab": r.crontab, "timezone": r.timezone,
           "last_state": r.last_state, "owners": [u.username for u in r.owners],
           "recipients": [json.loads(x.recipient_config_json or "{}").get("target") for x in r.recipients],
           "log": [{"state": lg.state, "error_message": lg.error_message, "value": lg.value,
                    "scheduled_dttm": str(lg.scheduled_dttm), "end_dttm": str(lg.end_dttm)}
                   for lg in logs]}
    print("@@JSON " + json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    action = sys.argv[1]
    _app()
    if action == "sync":
        do_sync(sys.argv[2])
    elif action == "run":
        do_run(sys.argv[2])
    elif action == "log":
        do_log(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 5)
    else:
        raise SystemExit(f"unknown action {action}")
