"""Every write to the ``audit`` schema: quarantine, deliveries, load changes, snapshots, batches."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import duckdb

from grassroots.contract import DAILY, Dataset
from grassroots.ingest.delivery import Delivery
from grassroots.ingest.sql import insert_rows
from grassroots.rules import MASK, mask_sql, mask_text

if TYPE_CHECKING:
    from grassroots.ingest.state import Run


def quarantine_file(con: duckdb.DuckDBPyConnection, batch_id: int, d: Delivery | None,
                    dataset: str | None, file_name: str, reason: str, detail: str) -> None:
    """A file rejected whole (or one that makes its folder incomplete); ``d`` None for a
    reference snapshot."""
    fac, day, version = (d.facility_code, d.business_date, d.version) if d else (None,) * 3
    con.execute("INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, ?)",
                [fac, day, version, dataset, file_name, reason, mask_text(detail), batch_id])


def _masked_json(ds: Dataset, alias: str = "v") -> str:
    """The row as JSON: personal columns masked by name, every other value by content (an id or
    phone number is masked in whatever column it was delivered, e.g. under swapped headers)."""
    parts = []
    for c in ds.columns:
        val = f'{alias}."{c.name}"'
        val = f"CASE WHEN {val} IS NOT NULL THEN '{MASK}' END" if c.personal else mask_sql(val)
        parts.append(f"'{c.name}', {val}")
    return "CAST(json_object(" + ", ".join(parts) + ") AS VARCHAR)"


def quarantine_rows(con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, batch_id: int, *,
                    delivering: bool) -> None:
    """The staged rows that broke a rule (``<table>_bad``) and the records the CSV reader could
    not split (``<table>_malformed``)."""
    fac = "v._delivery_facility" if delivering else (
        'v."facility_code"' if "facility_code" in ds.names else "NULL")
    file_name = "v._file_name" if delivering else f"'{ds.name}.csv'"
    con.execute(
        f"""INSERT INTO audit.quarantine
            SELECT {fac}, v._business_date, v._delivery_version, '{ds.name}', {file_name},
                   v._line_no, split_part(b._failures[1], '|', 1),
                   {mask_sql("array_to_string(b._failures, '; ')")}, {_masked_json(ds)}, {batch_id}
            FROM {table} v JOIN {table}_bad b USING (_file_id, _line_no)
            ORDER BY v._file_id, v._line_no"""
    )
    con.execute(
        f"""INSERT INTO audit.quarantine
            SELECT {'sf.facility_code' if delivering else 'NULL'}, sf.business_date, sf.version,
                   '{ds.name}', {'sf.file_name' if delivering else f"'{ds.name}.csv'"}, m._line_no,
                   'type_error', {mask_sql("'malformed CSV record: ' || m.detail")}, NULL, {batch_id}
            FROM {table}_malformed m JOIN _stage_files_all sf ON sf.file_id = m._file_id
            ORDER BY m._file_id, m._line_no"""
    )


def note(run: Run, d: Delivery) -> None:
    """Record a delivery that does not load, unless already recorded exactly so."""
    for v, c, s in d.prior:
        if v == d.version and c == d.content_sha256 and s == d.status:
            return
    run.changed = True
    if d.status in ("conflict", "rejected", "superseded"):
        run.archive.queue(d)  # nothing delivered is lost
    for fname, reason, detail in d.file_problems:
        ds = next((f.dataset for f in d.files if f.file_name == fname), None)
        quarantine_file(run.con, run.batch_id, d, ds, fname, reason, detail)
    run.audit_rows.append(d)


def days_between(deliveries: list[Delivery], alias: str) -> str:
    """``alias._business_date`` within the deliveries' first and last business date."""
    lo = min(d.business_date for d in deliveries)
    hi = max(d.business_date for d in deliveries)
    return f"{alias}._business_date BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'"


def _month_expr(ds: Dataset, alias: str) -> str:
    """The event month of a row, for incremental rebuilds."""
    if ds.event_date:
        return f"CAST(date_trunc('month', {alias}.{ds.event_date}) AS DATE)"
    # prescriptions: their visit's month, else the delivery's
    return (f"coalesce((SELECT CAST(date_trunc('month', max(v.visit_time)) AS DATE) "
            f"FROM raw.outpatient_visits v WHERE v.facility_code = {alias}.facility_code "
            f"AND v.visit_id = {alias}.visit_id), CAST(date_trunc('month', {alias}._business_date) AS DATE))")


def record_deleted(con: duckdb.DuckDBPyConnection, batch_id: int, ds: Dataset, days: str) -> None:
    """Months of the rows about to be deleted for the facility-days in ``_replaced``."""
    con.execute(
        f"""INSERT INTO audit.load_changes
            SELECT DISTINCT {batch_id}, '{ds.name}', t.facility_code, {_month_expr(ds, "t")}, 'deleted'
            FROM raw.{ds.name} t JOIN _replaced r
              ON t._delivery_facility = r.facility_code AND t._business_date = r.business_date
            WHERE {days}""")


def record_loaded(con: duckdb.DuckDBPyConnection, batch_id: int, good: list[Delivery]) -> None:
    """Months touched by this chunk's rows and by older rows of the same keys (latest-wins)."""
    # the chunk's rows: this batch's, on its business dates (the date range lets DuckDB skip
    # the row groups of earlier chunks instead of rescanning the table for every chunk)
    new = f"n._batch_id = {batch_id} AND {days_between(good, 'n')}"
    for ds in DAILY:
        keys = " AND ".join(f"o.{k} = n.{k}" for k in ds.key)
        con.execute(
            f"""INSERT INTO audit.load_changes
                SELECT DISTINCT {batch_id}, '{ds.name}', n.facility_code, {_month_expr(ds, 'n')},
                       'loaded'
                FROM raw.{ds.name} n WHERE {new}
                UNION
                SELECT DISTINCT {batch_id}, '{ds.name}', o.facility_code, {_month_expr(ds, 'o')},
                       'loaded'
                FROM raw.{ds.name} o JOIN raw.{ds.name} n ON {keys}
                WHERE {new} AND o._batch_id < {batch_id}""")


def write_deliveries(run: Run) -> None:
    """The run's deliveries into ``audit.deliveries``: a loaded version supersedes the loaded
    one, and clears placeholder (incomplete) rows of its facility-day up to its version.

    Set-based: a facility-day appears once in a run (date folders are named YYYY-MM-DD; rejected
    folders of unknown facilities may share a masked code, but they touch no earlier row)."""
    con = run.con
    rows = [(d.facility_code, d.business_date, d.version, d.status, mask_text(d.detail) or None,
             d.rows_loaded, d.rows_quarantined, run.now, d.content_sha256, d.generated_at,
             d.encoding, len(d.files), d.files_rejected, d.archive_path, run.batch_id)
            for d in run.audit_rows]
    if not rows:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _audit_new AS SELECT * FROM audit.deliveries "
                "LIMIT 0")
    insert_rows(con, "_audit_new", rows)
    con.execute(
        """UPDATE audit.deliveries a SET status = 'superseded',
               detail = 'replaced by version ' || CAST(n.delivery_version AS VARCHAR)
           FROM _audit_new n
           WHERE n.status = 'loaded' AND a.facility_code = n.facility_code
             AND a.business_date = n.business_date AND a.status = 'loaded'""")
    con.execute(
        """DELETE FROM audit.deliveries a USING _audit_new n
           WHERE a.facility_code = n.facility_code AND a.business_date = n.business_date
             AND a.status = 'incomplete'
             AND ((n.status = 'loaded' AND (a.delivery_version IS NULL
                                            OR a.delivery_version <= n.delivery_version))
                  OR n.status = 'incomplete')""")
    con.execute("INSERT INTO audit.deliveries SELECT * FROM _audit_new")
    con.execute("DROP TABLE _audit_new")


def record_snapshot(run: Run, name: str, sha: str, archived: str) -> None:
    """A reference snapshot just loaded: its rows loaded and quarantined (``stg_ref_bad``)."""
    con = run.con
    loaded = con.execute(f"SELECT count(*) FROM raw.{name}").fetchone()[0]
    bad = con.execute("SELECT count(*) FROM stg_ref_bad").fetchone()[0]
    con.execute("INSERT INTO audit.reference_snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, sha, loaded, bad, run.now, archived, run.batch_id])


def record_batch(run: Run, landing: str, date_from: date | None, date_to: date | None,
                 loaded: int, rows_loaded: int, rows_quarantined: int) -> None:
    run.con.execute(
        "INSERT INTO audit.batches VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
        [run.batch_id, run.now, landing, date_from, date_to, loaded, rows_loaded,
         rows_quarantined])
