"""The whole nightly job in one call: ingest → dbt build → validations (recorded) → publish.

``grassroots run`` and the Airflow DAG's tasks call the same steps (``grassroots.quality.steps``:
validate a layer and record it, publish); the DAG calls them one by one (each a task), the CLI
through :func:`run_pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from grassroots.ingest import RunReport, ingest
from grassroots.lock import writer_lock


@dataclass
class PipelineResult:
    ingest: RunReport
    built: bool = False
    quality: dict[str, Any] = field(default_factory=dict)
    serving: Path | None = None
    messages: list[str] = field(default_factory=list)


def run_pipeline(
    landing: Path,
    warehouse: Path,
    *,
    key: bytes,
    archive: Path | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    build: bool = True,
    validate: bool = True,
    serving: Path | None = None,
    progress: bool = False,
    raw_history_days: int = 0,
    log=print,
) -> PipelineResult:
    """``raw_history_days``: also validate (and record) the raw layer of that many business
    days before the newest, as their nightly runs would have — the demo loads months at once,
    and this gives its data-quality trend a history.

    The whole run holds the warehouse's writer lock (``grassroots.lock``): a second run exits at
    once instead of writing between two of this one's steps."""
    with writer_lock(warehouse):
        return _run_pipeline(landing, warehouse, key=key, archive=archive, date_from=date_from,
                             date_to=date_to, build=build, validate=validate, serving=serving,
                             progress=progress, raw_history_days=raw_history_days, log=log)


def _run_pipeline(
    landing: Path,
    warehouse: Path,
    *,
    key: bytes,
    archive: Path | None,
    date_from: date | None,
    date_to: date | None,
    build: bool,
    validate: bool,
    serving: Path | None,
    progress: bool,
    raw_history_days: int,
    log,
) -> PipelineResult:
    report = ingest(landing, warehouse, key=key, archive=archive, date_from=date_from,
                    date_to=date_to, progress=progress)
    log(report.summary())
    result = PipelineResult(report)
    if build:
        from grassroots.build import build as dbt_build

        # dbt runs even when nothing new arrived: a first run, or a failed build, is redone
        dbt_build(warehouse)
        result.built = True
        log("dbt build: marts built and tested")
    # the newest business date of this run: validations and the daily message are about it
    loaded = [d.business_date for d in report.deliveries if d.status == "loaded"]
    business_date = max(loaded) if loaded else date_to
    if validate and business_date is not None:
        from grassroots import alerts, quality
        from grassroots.quality.steps import validate as validate_layer

        runner = quality.Runner()
        for back in range(raw_history_days, 0, -1):
            validate_layer("raw", warehouse, business_date - timedelta(days=back), runner)
        if raw_history_days:
            log(f"raw layer of the {raw_history_days} days before {business_date} validated")
        result.quality["raw"] = validate_layer("raw", warehouse, business_date, runner)
        if build:
            result.quality["marts"] = validate_layer("marts", warehouse, business_date, runner)
        log(f"validations of {business_date}: " + ", ".join(
            f"{k} {'passed' if v.success else 'FAILED'}" for k, v in result.quality.items()))
        # the daily data-quality message (e-mail / WeCom / DingTalk when configured, else logged)
        sent = alerts.send_daily_report(warehouse, business_date, landing=landing,
                                        raw=result.quality.get("raw"),
                                        marts=result.quality.get("marts"))
        log(f"daily report: {sent['title']} → {', '.join(sent['channels']) or 'log only'}")
    if serving is not None and build:
        from grassroots.quality.steps import publish

        result.serving = publish(warehouse, serving)
        log(f"serving copy published: {result.serving}")
    return result
