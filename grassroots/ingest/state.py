"""What one run carries from step to step; the steps themselves are functions of the modules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from grassroots.errors import RunError
from grassroots.ingest.archive import Archive
from grassroots.ingest.delivery import Delivery
from grassroots.ingest.discover import today_cst
from grassroots.ingest.iothread import IOThread
from grassroots.ingest.stage import create_run_tables


class IngestError(RunError):
    """The run could not proceed (no reference data, warehouse locked, a full disk, …)."""


class Run:
    def __init__(self, con: duckdb.DuckDBPyConnection, landing: Path, archive: Path, tmp: Path,
                 progress: bool) -> None:
        self.con = con
        self.landing = landing
        self.tmp = tmp
        self.progress = progress
        self.now = datetime.now().replace(microsecond=0)
        self.today = today_cst()
        self.batch_id: int = (con.execute(
            "SELECT coalesce(max(batch_id), 0) + 1 FROM audit.batches").fetchone()[0])
        self.changed = False  # anything to commit
        self.reference_loaded: list[str] = []
        self.audit_rows: list[Delivery] = []  # deliveries to record in audit.deliveries
        self._last_file_id = 1
        create_run_tables(con)
        self.io = IOThread()
        self.archive = Archive(archive, self.io, self.batch_id)

    def new_file_id(self) -> int:
        self._last_file_id += 1
        return self._last_file_id

    def close(self) -> None:
        self.io.close()
