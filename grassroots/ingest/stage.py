"""Staging: every file of a dataset read by DuckDB's CSV reader into one temp table of text.

Rows DuckDB's CSV reader cannot split into the header's fields land in ``<table>_malformed``.
``_line_no`` is the record number in the file, the header being 1 (equal to the physical line
number unless a quoted field holds a line break).

DuckDB pays ~0.5 ms to open each file of a multi-file ``read_csv``, more than it spends on a
typical facility-day file's rows.  So files whose records are single lines (``_lines``) are
concatenated, each line prefixed with its file id, into one stream per header and read at once;
the rest are read file by file.  Either way a file's rows keep their order, which numbers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from grassroots.contract import Dataset
from grassroots.ingest.delivery import DataFile
from grassroots.ingest.sql import insert_rows
from grassroots.settings import duckdb_memory_limit

_CSV = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "ignore_errors = true, store_rejects = true, rejects_table = '_rej', "
        "rejects_scan = '_rej_scan', null_padding = false")
_FILES_COLUMNS = ("(file_id INTEGER, path VARCHAR, facility_code VARCHAR, business_date DATE, "
                  "version INTEGER, file_name VARCHAR)")
# DuckDB reports a short record once per missing field: keep the first
_REASON = "arg_min(r.error_type || ': ' || r.error_message, r.column_idx)"
_DROP = "DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rej_scan; DROP TABLE IF EXISTS _read"

Header = tuple[str, ...]


@dataclass
class StageInput:
    """One file to stage, with the delivery it belongs to."""

    file: DataFile
    facility_code: str | None
    business_date: date | None
    version: int | None


def create_run_tables(con: duckdb.DuckDBPyConnection) -> None:
    """``_stage_files_all``: every file of the run, for the quarantine rows of malformed records."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stage_files_all {_FILES_COLUMNS}")


def register_files(con: duckdb.DuckDBPyConnection, items: list[StageInput]) -> None:
    insert_rows(con, "_stage_files_all", [
        (it.file.file_id, str(it.file.read_path or it.file.path), it.facility_code,
         it.business_date, it.version, it.file.file_name) for it in items])


def _lines(data: bytes) -> bytes | None:
    """The data records of a file as LF-terminated lines, when each physical line is one record:
    no quote (a quoted field may hold a line break), no blank line, no lone CR.  Such files can be
    read by DuckDB as one concatenated stream; others are read file by file.  None otherwise."""
    if b'"' in data:
        return None
    nl = data.find(b"\n")
    if nl < 0:
        return b""  # a header and nothing else
    body = data[nl + 1:]
    if b"\r" in body:
        if body.count(b"\r") != body.count(b"\r\n"):
            return None
        body = body.replace(b"\r\n", b"\n")
    if body and not body.endswith(b"\n"):
        body += b"\n"
    if body.startswith(b"\n") or b"\n\n" in body:
        return None
    return body


def _colspec(header: Header, fid: bool = False) -> str:
    cols = [f"'{h.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for h in header]
    return "{" + ", ".join(["'__fid': 'INTEGER'"] * fid + cols) + "}"


def _unreadable(paths: list[str], columns: str) -> dict[str, str]:
    """Files the CSV reader fails on outright, with the first line of its message (one read of
    them all on a scratch connection; file by file only when that fails)."""
    scratch = duckdb.connect(config={"memory_limit": duckdb_memory_limit()})
    try:
        def fails(ps: list[str]) -> str | None:
            try:
                scratch.execute(f"CREATE OR REPLACE TEMP TABLE t AS SELECT * FROM read_csv(?, "
                                f"{_CSV}, columns = {columns})", [ps])
            except duckdb.Error as e:
                return str(e).strip().splitlines()[0]
            return None

        if not paths or fails(paths) is None:
            return {}
        return {p: msg for p in paths if (msg := fails([p])) is not None}
    finally:
        scratch.close()


def stage(con: duckdb.DuckDBPyConnection, ds: Dataset, items: list[StageInput], table: str,
          tmp: Path) -> None:
    """Read all files of a dataset into a temp table of text columns plus delivery lineage."""
    _create_tables(con, ds, table)
    if not items:
        return
    streams, singles = _group(ds, items, tmp)
    con.execute("DROP TABLE IF EXISTS _stage_files")
    con.execute(f"CREATE TEMP TABLE _stage_files {_FILES_COLUMNS}")
    insert_rows(con, "_stage_files", [
        (it.file.file_id, str(it.file.read_path), it.facility_code, it.business_date, it.version,
         it.file.file_name) for it in items])
    for header, files in streams.items():
        _read_stream(con, ds, table, tmp, header, files)
    for header, group in singles.items():
        _read_singles(con, ds, table, header, group)
    con.execute(_DROP + "; DROP TABLE IF EXISTS _blocks")


def _create_tables(con: duckdb.DuckDBPyConnection, ds: Dataset, table: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {table}_malformed")
    cols_sql = ", ".join(f'"{n}" VARCHAR' for n in ds.names)
    con.execute(
        f"CREATE TEMP TABLE {table} ({cols_sql}, _file_id INTEGER, _line_no BIGINT, "
        "_delivery_facility VARCHAR, _business_date DATE, _delivery_version INTEGER, _file_name VARCHAR)"
    )
    con.execute(
        f"CREATE TEMP TABLE {table}_malformed (_file_id INTEGER, _line_no BIGINT, detail VARCHAR)"
    )


def _group(ds: Dataset, items: list[StageInput], tmp: Path
           ) -> tuple[dict[Header, list[tuple[DataFile, bytes]]], dict[Header, list[DataFile]]]:
    """Per header: the files streamed together (with their lines), and those read one by one
    (sets each file's ``read_path``: a UTF-8 copy in ``tmp`` when it was transcoded)."""
    streams: dict[Header, list[tuple[DataFile, bytes]]] = {}
    singles: dict[Header, list[DataFile]] = {}
    standard = set(ds.names)
    for it in items:
        f = it.file
        # Extra columns are read under names of their own (their header could be anything,
        # '__fid', 'filename', '_dfac' or '' included: never one of the names this SQL uses).
        header = tuple(h if h in standard else f"__extra{i}"
                       for i, h in enumerate(f.header or ()))
        body = _lines(f.utf8) if f.utf8 is not None else None
        if body is not None:
            f.read_path = f.path
            streams.setdefault(header, []).append((f, body))
            continue
        if f.utf8 is None or f.utf8 is f.data:
            f.read_path = f.path
        else:
            f.read_path = tmp / f"{f.file_id}.csv"
            f.read_path.write_bytes(f.utf8)
        singles.setdefault(header, []).append(f)
    return streams, singles


def _read_stream(con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, tmp: Path,
                 header: Header, files: list[tuple[DataFile, bytes]]) -> None:
    """One ``read_csv`` of the files' lines, each prefixed with its file id."""
    parts = [("__fid," + ",".join(header) + "\n").encode()]
    blocks = []
    line = 2  # of the stream; its header is line 1
    for f, body in files:
        n = body.count(b"\n")
        if n:
            pre = b"%d," % f.file_id
            parts.append(pre + body[:-1].replace(b"\n", b"\n" + pre) + b"\n")
            blocks.append((f.file_id, line, line + n - 1))
            line += n
    stream = tmp / f"{table}-stream.csv"
    stream.write_bytes(b"".join(parts))
    con.execute(_DROP)
    con.execute(f"CREATE TEMP TABLE _read AS SELECT * FROM read_csv(?, {_CSV}, "
                f"columns = {_colspec(header, fid=True)})",
                [str(stream)])
    stream.unlink()
    con.execute("CREATE OR REPLACE TEMP TABLE _blocks (file_id INTEGER, first_line BIGINT, "
                "last_line BIGINT)")
    insert_rows(con, "_blocks", blocks)
    con.execute(
        f"""INSERT INTO {table}_malformed
            SELECT b.file_id, r.line - b.first_line + 2 AS line_no, {_REASON}
            FROM _rej r JOIN _blocks b ON r.line BETWEEN b.first_line AND b.last_line
            GROUP BY b.file_id, line_no"""
    )
    # rows of the stream are in file order and each file's are contiguous
    _insert_numbered(con, ds, table, header,
                     """SELECT r.* EXCLUDE (__fid), r.__fid AS _fid, r.rowid - m.first + 1 AS _k
                        FROM (SELECT *, rowid FROM _read) r
                        JOIN (SELECT __fid, min(rowid) AS first FROM _read GROUP BY __fid) m
                          USING (__fid)""")


def _read_singles(con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, header: Header,
                  group: list[DataFile]) -> None:
    """One multi-file ``read_csv`` of files that cannot be streamed (quoted fields, blank lines)."""
    # a file DuckDB cannot parse at all (e.g. records ending in both CRLF and LF) would abort
    # the run's transaction: such files are rejected whole, found on a scratch connection
    unreadable = _unreadable([str(f.read_path) for f in group], _colspec(header))
    for f in group:
        if str(f.read_path) in unreadable:
            f.rejected = ("type_error", "unreadable CSV: " + unreadable[str(f.read_path)])
    files = [f for f in group if not f.rejected]
    if not files:
        return
    con.execute(_DROP)
    con.execute(f"CREATE TEMP TABLE _read AS SELECT * FROM read_csv(?, {_CSV}, "
                f"columns = {_colspec(header)}, filename = true)",
                [[str(f.read_path) for f in files]])
    con.execute(
        f"""INSERT INTO {table}_malformed
            SELECT sf.file_id, r.line, {_REASON}
            FROM _rej r JOIN _rej_scan s USING (scan_id, file_id) JOIN _stage_files sf
              ON sf.path = s.file_path
            GROUP BY ALL"""
    )
    _insert_numbered(con, ds, table, header,
                     """SELECT r.* EXCLUDE (filename, rowid), sf.file_id AS _fid,
                               row_number() OVER (PARTITION BY r.filename ORDER BY r.rowid) AS _k
                        FROM (SELECT *, rowid FROM _read) r
                        JOIN _stage_files sf ON sf.path = r.filename""")


def _insert_numbered(con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, header: Header,
                     numbered: str) -> None:
    """Insert the rows read (``_fid``, ``_k``: a file's k-th good row) with their record number:
    the k-th number not taken by a malformed record."""
    select = ", ".join(f'x."{n}"' if n in header else "NULL" for n in ds.names)
    con.execute(
        f"""INSERT INTO {table}
        WITH numbered AS (
            SELECT r.*, sf.facility_code AS _dfac, sf.business_date AS _dbd,
                   sf.version AS _dver, sf.file_name AS _dfname
            FROM ({numbered}) r JOIN _stage_files sf ON sf.file_id = r._fid
        ), bad AS (
            SELECT _file_id, _line_no FROM {table}_malformed
        ), slots AS (
            -- only files with malformed records need this mapping
            SELECT n._fid, g.line AS line_no,
                   row_number() OVER (PARTITION BY n._fid ORDER BY g.line) AS _k
            FROM (SELECT _fid, count(*) AS n FROM numbered
                  WHERE _fid IN (SELECT _file_id FROM bad) GROUP BY _fid) n,
                 generate_series(2, n.n + 1 + (SELECT count(*) FROM bad b
                                             WHERE b._file_id = n._fid)) g(line)
            WHERE NOT EXISTS (SELECT 1 FROM bad b WHERE b._file_id = n._fid
                              AND b._line_no = g.line)
        )
        SELECT {select}, x._fid, coalesce(s.line_no, x._k + 1), x._dfac, x._dbd, x._dver,
               x._dfname
        FROM numbered x LEFT JOIN slots s ON s._fid = x._fid AND s._k = x._k"""
    )
