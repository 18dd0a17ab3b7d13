"""Deciding what each facility-day folder is against what the warehouse already holds: to load,
seen before (nothing to do), or recorded without loading (incomplete, rejected, conflict,
superseded)."""

from __future__ import annotations

import duckdb

from grassroots.ingest import audit
from grassroots.ingest.delivery import Delivery
from grassroots.ingest.discover import read_manifest, verify_files
from grassroots.ingest.state import Run


def _history(con: duckdb.DuckDBPyConnection) -> dict[tuple, list[tuple]]:
    """(version, content, status) of every recorded delivery, per facility-day."""
    seen: dict[tuple, list[tuple]] = {}
    for fac, bd, ver, content, status in con.execute(
        "SELECT facility_code, business_date, delivery_version, content_sha256, status "
        "FROM audit.deliveries").fetchall():
        seen.setdefault((fac, bd), []).append((ver, content, status))
    return seen


def classify(run: Run, deliveries: list[Delivery]) -> list[Delivery]:
    """Decide what each folder is; returns the ones to load."""
    con = run.con
    facilities = {r[0] for r in con.execute("SELECT facility_code FROM raw.facilities").fetchall()}
    seen = _history(con)
    to_load = []
    for d in deliveries:
        read_manifest(d, facilities, run.today)
        d.prior = seen.get((d.facility_code, d.business_date), [])
        decision = _decide(d)
        if decision == "load":
            to_load.append(d)
        elif decision == "note":
            audit.note(run, d)
    return to_load


def _decide(d: Delivery) -> str:
    """``load``, ``seen`` (a no-op) or ``note`` (recorded, not loaded; status set)."""
    if d.status == "loaded" and any(
        (v, c) == (d.version, d.content_sha256) and s != "incomplete" for v, c, s in d.prior
    ):
        return "seen"  # seen before (loaded, conflict, superseded): nothing re-read
    loaded = next(((v, c) for v, c, s in d.prior if s == "loaded"), None)
    if d.status == "loaded":
        # a delivery that will load is hashed when read for loading (load.load_chunk)
        will_load = not loaded or loaded[0] < d.version
        verify_files(d, checksums=not will_load or any(f.rows is None for f in d.files))
    if d.status in ("incomplete", "rejected"):
        return "note"
    if loaded and loaded[0] == d.version:
        d.status = "conflict"
        d.detail = (f"version {d.version} was already loaded with other content; "
                    "send a higher delivery_version to replace it")
        return "note"
    if loaded and loaded[0] > d.version:
        d.status = "superseded"
        d.detail = f"older than the loaded version {loaded[0]}"
        return "note"
    return "load"
