"""Loading facility-days, a chunk of whole business dates at a time, inside the run's transaction.

A chunk's files are decoded, staged and counted; a folder whose files disagree with its manifest
is incomplete and loads nothing; the others replace every row of their facility-day.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable

import duckdb

from grassroots.contract import DAILY, DATASETS
from grassroots.ingest import audit
from grassroots.ingest.decode import prepare_file
from grassroots.ingest.delivery import Delivery
from grassroots.ingest.discover import check_checksum
from grassroots.ingest.sql import insert_rows
from grassroots.ingest.stage import StageInput, register_files, stage
from grassroots.ingest.state import Run
from grassroots.ingest.validate import validate_and_load

# Facility-days are validated in chunks of whole business dates inside the one transaction: a
# chunk closes at the first date past CHUNK_ROWS rows (by the manifests), which bounds the staging
# memory of a first load of a large region (about a month at 1 M residents).  Each chunk costs
# about a hundred statements, so a small region loads in one or two.
CHUNK_ROWS = 1_500_000


def chunks(deliveries: list[Delivery]) -> Iterable[list[Delivery]]:
    deliveries = sorted(deliveries, key=lambda d: (d.business_date, d.facility_code))
    chunk: list[Delivery] = []
    rows = 0
    for d in deliveries:
        if chunk and rows >= CHUNK_ROWS and d.business_date != chunk[-1].business_date:
            yield chunk
            chunk, rows = [], 0
        chunk.append(d)
        rows += sum(f.rows or 0 for f in d.files)
    if chunk:
        yield chunk


def load_chunk(run: Run, chunk: list[Delivery]) -> None:
    try:
        items = _prepare(run, chunk)
        register_files(run.con, [StageInput(f, d.facility_code, d.business_date, d.version)
                                 for d in chunk for f in d.files])
        for ds in DAILY:
            stage(run.con, ds, items[ds.name], f"stg_{ds.name}", run.tmp)
        good = _complete(run, chunk, _row_counts(run.con))
        if good:
            _load_good(run, good)
    finally:  # the bytes of files not archived (incomplete deliveries) are not kept
        for d in chunk:
            for f in d.files:
                f.data = f.utf8 = None


def _prepare(run: Run, chunk: list[Delivery]) -> dict[str, list[StageInput]]:
    """Decode each file and check its sha256; returns the files to stage, per dataset."""
    items: dict[str, list[StageInput]] = {ds.name: [] for ds in DAILY}
    for d in chunk:
        for f in d.files:
            f.file_id = run.new_file_id()
            if f.rejected:  # a symbolic link: never read
                continue
            try:
                prepare_file(f, d.encoding or "utf-8", DATASETS[f.dataset])
            except OSError as e:  # changed since it was checked (still being copied?)
                d.file_problems.append((f.file_name, "checksum_mismatch",
                                        f"cannot be read: {e.strerror}"))
                continue
            if f.actual_sha256 is None:
                check_checksum(d, f, f.data_sha256 or hashlib.sha256(f.data).hexdigest())
            if f.rejected:
                continue
            items[f.dataset].append(StageInput(f, d.facility_code, d.business_date, d.version))
    return items


def _row_counts(con: duckdb.DuckDBPyConnection) -> Counter:
    """Data rows (good and malformed) per staged file."""
    counts: Counter = Counter()
    for ds in DAILY:
        for fid, n in con.execute(
            f"SELECT _file_id, count(*) FROM (SELECT _file_id FROM stg_{ds.name} UNION ALL "
            f"SELECT _file_id FROM stg_{ds.name}_malformed) GROUP BY 1").fetchall():
            counts[fid] = n
    return counts


def _complete(run: Run, chunk: list[Delivery], counts: Counter) -> list[Delivery]:
    """The deliveries whose files agree with their manifest; the others are noted incomplete and
    their staged rows dropped."""
    good: list[Delivery] = []
    for d in chunk:
        for f in d.files:
            # (a checksum mismatch alone makes the delivery incomplete)
            if not f.rejected and counts[f.file_id] != f.rows and not any(
                    p[1] == "checksum_mismatch" for p in d.file_problems):
                d.file_problems.append((f.file_name, "row_count_mismatch",
                                        f"{counts[f.file_id]} data rows, manifest says {f.rows}"))
        if d.file_problems:
            d.mark_file_problems()
            audit.note(run, d)
        else:
            good.append(d)
    bad_ids = [f.file_id for d in chunk if d.status == "incomplete" for f in d.files]
    if bad_ids:
        for ds in DAILY:
            for t in (f"stg_{ds.name}", f"stg_{ds.name}_malformed"):
                run.con.execute(f"DELETE FROM {t} WHERE _file_id IN (SELECT unnest(?))", [bad_ids])
    return good


def _load_good(run: Run, good: list[Delivery]) -> None:
    run.changed = True
    # queued first, so that the I/O thread writes the archive (the files are in memory) while
    # DuckDB validates and loads them
    for d in good:
        run.archive.queue(d)
    replace_previous(run, good)
    for ds in DAILY:  # visits before prescriptions: the orphan rule looks at loaded visits
        validate_and_load(run.con, ds, f"stg_{ds.name}", run.batch_id, delivering=True)
    stats = _delivery_stats(run.con)
    for d in good:
        g, q = stats.get((d.facility_code, d.business_date), (0, 0))
        d.rows_loaded, d.rows_quarantined = int(g), int(q)
        d.status = "loaded"
        rejected = [f"{f.file_name} ({f.rejected[0]})" for f in d.files if f.rejected]
        d.detail = "; ".join(
            ([f"files rejected: {', '.join(rejected)}"] if rejected else [])
            + ([f"not in the manifest, not loaded: {', '.join(d.unlisted)}"]
               if d.unlisted else []))
        for f in d.files:
            if f.rejected:
                audit.quarantine_file(run.con, run.batch_id, d, f.dataset, f.file_name,
                                      *f.rejected)
        run.audit_rows.append(d)
    audit.record_loaded(run.con, run.batch_id, good)


def _delivery_stats(con: duckdb.DuckDBPyConnection) -> dict[tuple, tuple[int, int]]:
    """Rows loaded and quarantined per facility-day of the chunk."""
    con.execute("DROP TABLE IF EXISTS _dstats")
    con.execute("CREATE TEMP TABLE _dstats (facility_code VARCHAR, business_date DATE, "
                "good BIGINT, bad BIGINT)")
    for ds in DAILY:
        con.execute(
            f"""INSERT INTO _dstats SELECT v._delivery_facility, v._business_date,
                count(*) - count(b._file_id), count(b._file_id)
                FROM stg_{ds.name} v LEFT JOIN stg_{ds.name}_bad b USING (_file_id, _line_no)
                GROUP BY ALL""")
        con.execute(
            f"""INSERT INTO _dstats SELECT sf.facility_code, sf.business_date, 0, count(*)
                FROM stg_{ds.name}_malformed m JOIN _stage_files_all sf ON sf.file_id = m._file_id
                GROUP BY ALL""")
    return {(f, b): (g, q) for f, b, g, q in con.execute(
        "SELECT facility_code, business_date, sum(good), sum(bad) FROM _dstats GROUP BY ALL"
    ).fetchall()}


def replace_previous(run: Run, good: list[Delivery]) -> None:
    """Delete every row of the facility-days being replaced, noting the months they touched."""
    con = run.con
    con.execute("DROP TABLE IF EXISTS _replaced")
    con.execute("CREATE TEMP TABLE _replaced (facility_code VARCHAR, business_date DATE)")
    insert_rows(con, "_replaced", [(d.facility_code, d.business_date) for d in good])
    days = audit.days_between(good, "t")
    for ds in reversed(DAILY):  # prescriptions before visits: their months come via the visit
        audit.record_deleted(con, run.batch_id, ds, days)
        con.execute(
            f"""DELETE FROM raw.{ds.name} t USING _replaced r
                WHERE t._delivery_facility = r.facility_code AND t._business_date = r.business_date
                  AND {days}""")
