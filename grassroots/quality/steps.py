"""The steps of the nightly job: validate a layer (and record it), publish, and the DAG's task
bodies around them (``dags/grassroots_daily.py`` only wires these together; ``grassroots run``
calls the same steps through ``grassroots.pipeline``).

A task body takes the business date and returns something JSON-able for XCom.  Paths come from
the environment (:class:`grassroots.settings.Settings`), so the CLI, tests and Airflow workers
agree.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from grassroots.quality.arrivals import TZ, Arrivals, check_arrivals
from grassroots.settings import Settings

if TYPE_CHECKING:
    from grassroots.quality.result import QualityResult

log = logging.getLogger(__name__)


def business_date(logical_date: datetime | str) -> date:
    """The business date a run processes: the day before the run's logical date in China time
    (the 07:00 run of 2025-03-21 processes 2025-03-20)."""
    if isinstance(logical_date, str):
        logical_date = datetime.fromisoformat(logical_date)
    if logical_date.tzinfo is None:
        logical_date = logical_date.replace(tzinfo=TZ)
    return logical_date.astimezone(TZ).date() - timedelta(days=1)


def registered_sources() -> list[dict]:
    """The sources the DAG pulls from (``grassroots.sources``; none: nothing to pull)."""
    from grassroots.sources import load_registry

    return [src.to_dict() for src in load_registry()]


def run_pull(source: dict, bd: date, s: Settings | None = None) -> dict:
    """One poke of a source's pull task (``grassroots.pull.poke``)."""
    from grassroots.pull import poke

    return poke(source, bd, s or Settings.from_env())


def run_record_pulls(s: Settings | None = None) -> dict:
    """The pull journal into ``audit.pulls`` / ``audit.source_checks`` (the writer's lock)."""
    from grassroots.pull import record

    s = s or Settings.from_env()
    return record(s.landing, s.warehouse)


def wait_for_deliveries(bd: date, s: Settings | None = None) -> Arrivals:
    s = s or Settings.from_env()
    a = check_arrivals(s.landing, bd, warehouse=s.warehouse)
    log.info("business_date %s: %d/%d expected facilities complete; waiting for %s; late %s; "
             "cut-off %s (passed: %s)", bd, len(a.complete), len(a.expected),
             a.waiting_for or "none", sorted(a.late) or "none", a.cutoff, a.cutoff_passed)
    return a


def run_ingest(bd: date, s: Settings | None = None) -> dict:
    from grassroots.config import load_hmac_key
    from grassroots.ingest import ingest

    s = s or Settings.from_env()
    key, source = load_hmac_key(s.warehouse)
    log.info("HMAC key from %s", source)
    report = ingest(s.landing, s.warehouse, key=key,
                    date_from=bd - timedelta(days=s.lookback_days), date_to=bd)
    log.info(report.summary())
    return {"business_date": bd.isoformat(), "summary": report.summary(),
            "changed": report.changed, "statuses": dict(report.statuses),
            "rows_loaded": report.rows_loaded, "rows_quarantined": report.rows_quarantined,
            "files_rejected": report.files_rejected}


_RUNNERS: dict[tuple[str, str], object] = {}


def _runner(s: Settings):
    from grassroots.quality.runner import Runner

    k = (str(s.gx_dir), str(s.data_docs))
    if k not in _RUNNERS:
        _RUNNERS[k] = Runner(root=s.gx_dir, docs=s.data_docs)
    return _RUNNERS[k]


def validate(layer: str, warehouse: Path, bd: date, runner) -> QualityResult:
    """Validate one layer (``raw`` or ``marts``) of a business date and record the result in
    ``audit.validation_*`` (after validation closed its read-only connection).  Under the
    warehouse's run lock: a run started by hand between the DAG's tasks waits its turn."""
    from grassroots.lock import writer_lock
    from grassroots.quality.history import record
    from grassroots.quality.runner import validate_marts, validate_raw

    with writer_lock(warehouse):
        res = (validate_raw if layer == "raw" else validate_marts)(warehouse, bd, runner=runner)
        record(warehouse, res)
    log.info(res.summary())
    for f in res.failures + res.warnings:
        log.warning("%s %s %s: %s", f.severity, f.check_id, f.category, f.observed)
    for o in res.outliers:
        log.warning("outlier %s %s visits %d z %.1f", o.facility_code, o.date, o.visits, o.z_score)
    return res


def publish(warehouse: Path, serving: Path) -> Path:
    from grassroots.lock import writer_lock
    from grassroots.publish import publish_serving

    with writer_lock(warehouse):  # the copy is of one run's warehouse, not of a run half-way
        out = publish_serving(warehouse, serving)
    log.info("serving copy published: %s", out)
    return out


def run_validate_raw(bd: date, s: Settings | None = None) -> dict:
    s = s or Settings.from_env()
    return validate("raw", s.warehouse, bd, _runner(s)).to_dict()


def run_validate_marts(bd: date, s: Settings | None = None) -> dict:
    s = s or Settings.from_env()
    return validate("marts", s.warehouse, bd, _runner(s)).to_dict()


def run_publish(s: Settings | None = None) -> str:
    s = s or Settings.from_env()
    return str(publish(s.warehouse, s.serving))


def run_report(bd: date, arrivals: dict | None, raw: dict | None, marts: dict | None,
               s: Settings | None = None) -> dict:
    from grassroots.alerts import send_daily_report

    s = s or Settings.from_env()
    return send_daily_report(s.warehouse, bd, landing=s.landing, arrivals=arrivals, raw=raw,
                             marts=marts)
