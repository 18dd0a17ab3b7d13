"""One run: the steps of the package in order, inside one DuckDB transaction."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from grassroots.errors import environment_cause, one_line
from grassroots.ingest import audit, classify, load, reference
from grassroots.ingest.delivery import Delivery
from grassroots.ingest.discover import scan_landing, stray_entries
from grassroots.ingest.keyed import bind_key
from grassroots.ingest.state import IngestError, Run
from grassroots.lock import writer_lock
from grassroots.progress import progress as show_progress
from grassroots.settings import duckdb_memory_limit
from grassroots.warehouse import ensure_schema


@dataclass
class RunReport:
    batch_id: int | None
    changed: bool
    statuses: Counter
    rows_loaded: int
    rows_quarantined: int
    files_rejected: int
    reference_loaded: list[str]
    deliveries: list[Delivery]
    stray: list[str] = field(default_factory=list)  # extracts/ entries that are no date folder

    def summary(self) -> str:
        stray = (f"; not loaded, not YYYY-MM-DD date folders: {', '.join(self.stray)}"
                 if self.stray else "")
        if not self.changed:
            return "nothing new: the warehouse is up to date with the landing zone" + stray
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        ref = f"; reference snapshots loaded: {', '.join(self.reference_loaded)}" if self.reference_loaded else ""
        return (
            f"batch {self.batch_id}: deliveries {st or 'none'}; rows loaded {self.rows_loaded}, "
            f"quarantined {self.rows_quarantined}, files rejected {self.files_rejected}{ref}"
            f"{stray}"
        )


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IngestError(f"cannot create the warehouse folder {warehouse.parent}: "
                          f"{e.strerror}") from e
    try:
        # the same ceiling as dbt's connection: beyond it DuckDB spills instead of the job dying
        return duckdb.connect(str(warehouse), config={"memory_limit": duckdb_memory_limit()})
    except duckdb.IOException as e:
        raise IngestError(f"cannot open the warehouse {warehouse} for writing: "
                          f"{one_line(str(e))}") from e


def ingest(
    landing: Path,
    warehouse: Path,
    *,
    key: bytes,
    archive: Path | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    progress: bool = False,
) -> RunReport:
    """Load every new or changed complete facility-day under ``landing`` into ``warehouse``.

    IngestError when it cannot: nothing of the run is committed then."""
    landing, warehouse = Path(landing), Path(warehouse)
    if not (landing / "reference").is_dir() and not (landing / "extracts").is_dir():
        raise IngestError(f"{landing} is not a landing zone: no reference/ or extracts/ folder")
    archive = Path(archive) if archive else warehouse.parent / "archive"
    with writer_lock(warehouse):
        try:
            return _ingest(landing, warehouse, key=key, archive=archive, date_from=date_from,
                           date_to=date_to, progress=progress)
        except (OSError, duckdb.Error) as e:  # a full disk, a folder that cannot be written
            cause = environment_cause(e)
            if cause is None:
                raise
            raise IngestError(f"ingestion stopped, nothing committed: {cause}") from e


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back unless the failure already ended the transaction (a failed COMMIT does): the
    error that matters is the one being raised."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _ingest(landing: Path, warehouse: Path, *, key: bytes, archive: Path,
            date_from: date | None, date_to: date | None, progress: bool) -> RunReport:
    con = connect(warehouse)
    try:
        ensure_schema(con)
        bind_key(con, key)
        reference.load_icd10(con)
        with tempfile.TemporaryDirectory(prefix="grassroots-stage-",
                                         dir=warehouse.parent) as tmp:
            con.execute("BEGIN TRANSACTION")
            run: Run | None = None
            try:
                run = Run(con, landing, archive, Path(tmp), progress)
                _steps(run, date_from, date_to)
                report = _report(run)
                if not run.changed:
                    con.execute("ROLLBACK")
                    return report
                audit.record_batch(run, str(landing), date_from, date_to,
                                   report.statuses.get("loaded", 0), report.rows_loaded,
                                   report.rows_quarantined)
                con.execute("COMMIT")
                return report
            except BaseException:
                _rollback(con)
                raise
            finally:
                if run is not None:
                    run.close()
    finally:
        con.close()


def _steps(run: Run, date_from: date | None, date_to: date | None) -> None:
    """Reference snapshots, then the facility-days chunk by chunk, then their audit rows."""
    reference.load_reference(run)
    to_load = classify.classify(run, scan_landing(run.landing, date_from, date_to))
    chunks = list(load.chunks(to_load))
    ahead = run.io.prefetch(chunks[0]) if chunks else None
    for i, chunk in enumerate(show_progress(chunks, run.progress, "loading facility-days")):
        ahead.result()
        # the next chunk's files are read while this one loads
        ahead = run.io.prefetch(chunks[i + 1]) if i + 1 < len(chunks) else None
        load.load_chunk(run, chunk)
    run.archive.close()
    run.io.flush()
    audit.write_deliveries(run)


def _report(run: Run) -> RunReport:
    st = Counter(d.status for d in run.audit_rows)
    return RunReport(
        batch_id=run.batch_id if run.changed else None,
        changed=run.changed,
        statuses=st,
        rows_loaded=sum(d.rows_loaded for d in run.audit_rows),
        rows_quarantined=sum(d.rows_quarantined for d in run.audit_rows),
        files_rejected=sum(d.files_rejected for d in run.audit_rows if d.status == "loaded"),
        reference_loaded=run.reference_loaded,
        deliveries=run.audit_rows,
        stray=stray_entries(run.landing),
    )
