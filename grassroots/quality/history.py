"""Validation results over time, kept in the warehouse for the 数据质量 dashboard.

    record(warehouse, result)   # after validate_raw / validate_marts has closed its connection

appends one row per :class:`QualityResult` to ``audit.validation_results`` and one per failing or
warning expectation to ``audit.validation_failures`` (DDL: ``grassroots.warehouse``).  History is
never rewritten: a re-validated business date gets new rows with a later ``recorded_at``, and
readers take the latest run per (business_date, layer).  The warehouse is opened read-write, so
nothing else may hold it (DuckDB has a single writer).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from grassroots.quality.result import QualityResult
from grassroots.warehouse import VALIDATION_DDL

MAX_LISTED_CHECKS = 20  # failed_checks stays short; validation_failures has them all
MAX_OBSERVED = 500


def failed_checks(res: QualityResult) -> str | None:
    """Comma list of the error-level check ids (the first MAX_LISTED_CHECKS), or None."""
    ids = list(dict.fromkeys(f.check_id for f in res.failures))
    if not ids:
        return None
    more = len(ids) - MAX_LISTED_CHECKS
    return ",".join(ids[:MAX_LISTED_CHECKS]) + (f",… (+{more})" if more > 0 else "")


def record(warehouse: Path, result: QualityResult | dict, *,
           recorded_at: datetime | None = None) -> datetime:
    """Append ``result`` (a QualityResult or its XCom dict) to the warehouse; returns the
    ``recorded_at`` written, which ties the run's failure rows to its result row."""
    res = QualityResult.from_dict(result)
    at = recorded_at or datetime.now()
    bd = res.business_date
    with duckdb.connect(str(warehouse)) as con:
        con.execute(VALIDATION_DDL)  # warehouses created before the tables existed
        con.execute("BEGIN")
        con.execute(
            "INSERT INTO audit.validation_results (business_date, layer, success, evaluated,"
            " failed, errored, warnings, outliers, suites, failed_checks, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [bd, res.layer, res.success, res.evaluated, len(res.failures),
             sum(f.errored for f in res.failures), len(res.warnings), len(res.outliers),
             len(res.suites), failed_checks(res), at])
        rows = [[bd, res.layer, f.suite, f.check_id, f.category, f.severity,
                 (f.observed or "")[:MAX_OBSERVED], f.unexpected_count, at]
                for f in res.failures + res.warnings]
        if rows:
            con.executemany(
                "INSERT INTO audit.validation_failures (business_date, layer, suite, check_id,"
                " category, severity, observed, unexpected_count, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute("COMMIT")
    return at
