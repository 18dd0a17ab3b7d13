"""The daily DAG's task bodies (``dags/grassroots_daily.py`` only wires these together).

Each step takes the business date and returns something JSON-able for XCom.  Paths come from the
environment (:class:`Settings`), so the CLI, tests and Airflow workers agree:

``GRASSROOTS_HOME`` (default ``<repo>/var``), ``GRASSROOTS_LANDING`` (``<home>/landing``),
``GRASSROOTS_WAREHOUSE`` (``<home>/warehouse.duckdb``), ``GRASSROOTS_SERVING``
(``<home>/serving.duckdb``), ``GRASSROOTS_GX_DIR`` (``<home>/gx``), ``GRASSROOTS_DATA_DOCS``
(``<home>/data_docs``), ``GRASSROOTS_LOOKBACK_DAYS`` (default 7: the ingest of a business date
also picks up late or redelivered folders of the days before it; unchanged folders are no-ops).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from grassroots.quality.arrivals import TZ, Arrivals, check_arrivals
from grassroots.quality.checks import REPO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    home: Path
    landing: Path
    warehouse: Path
    serving: Path
    gx_dir: Path
    data_docs: Path
    lookback_days: int = 7

    @classmethod
    def from_env(cls) -> Settings:
        e = os.environ
        home = Path(e.get("GRASSROOTS_HOME") or REPO / "var")
        return cls(
            home=home,
            landing=Path(e.get("GRASSROOTS_LANDING") or home / "landing"),
            warehouse=Path(e.get("GRASSROOTS_WAREHOUSE") or home / "warehouse.duckdb"),
            serving=Path(e.get("GRASSROOTS_SERVING") or home / "serving.duckdb"),
            gx_dir=Path(e.get("GRASSROOTS_GX_DIR") or home / "gx"),
            data_docs=Path(e.get("GRASSROOTS_DATA_DOCS") or home / "data_docs"),
            lookback_days=int(e.get("GRASSROOTS_LOOKBACK_DAYS", "7")),
        )


def business_date(logical_date: datetime | str) -> date:
    """The business date a run processes: the day before the run's logical date in China time
    (the 07:00 run of 2025-03-21 processes 2025-03-20)."""
    if isinstance(logical_date, str):
        logical_date = datetime.fromisoformat(logical_date)
    if logical_date.tzinfo is None:
        logical_date = logical_date.replace(tzinfo=TZ)
    return logical_date.astimezone(TZ).date() - timedelta(days=1)


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


def run_validate_raw(bd: date, s: Settings | None = None) -> dict:
    from grassroots.quality.history import record
    from grassroots.quality.runner import validate_raw

    s = s or Settings.from_env()
    res = validate_raw(s.warehouse, bd, runner=_runner(s))
    record(s.warehouse, res)  # after validation closed its read-only connection
    log.info(res.summary())
    for f in res.failures + res.warnings:
        log.warning("%s %s %s: %s", f.severity, f.check_id, f.category, f.observed)
    return res.to_dict()


def run_validate_marts(bd: date, s: Settings | None = None) -> dict:
    from grassroots.quality.history import record
    from grassroots.quality.runner import validate_marts

    s = s or Settings.from_env()
    res = validate_marts(s.warehouse, bd, runner=_runner(s))
    record(s.warehouse, res)
    log.info(res.summary())
    for f in res.failures + res.warnings:
        log.warning("%s %s %s: %s", f.severity, f.check_id, f.category, f.observed)
    for o in res.outliers:
        log.warning("outlier %s %s visits %d z %.1f", o.facility_code, o.date, o.visits, o.z_score)
    return res.to_dict()


def run_publish(s: Settings | None = None) -> str | None:
    s = s or Settings.from_env()
    if importlib.util.find_spec("grassroots.publish") is None:
        log.warning("grassroots.publish is not available: no serving copy published")
        return None
    from grassroots.publish import publish_serving

    out = publish_serving(s.warehouse, s.serving)
    log.info("serving copy published: %s", out)
    return str(out)


def run_report(bd: date, arrivals: dict | None, raw: dict | None, marts: dict | None,
               s: Settings | None = None) -> dict:
    from grassroots.alerts import send_daily_report

    s = s or Settings.from_env()
    return send_daily_report(s.warehouse, bd, landing=s.landing, arrivals=arrivals, raw=raw,
                             marts=marts)
