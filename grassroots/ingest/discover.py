"""Finding facility-day folders in a landing zone and reading what their manifests state."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from grassroots.contract import DAILY_NAMES, DATASETS, STANDARD_VERSION
from grassroots.ingest.delivery import DataFile, Delivery
from grassroots.ingest.files import read_regular, sha256_file
from grassroots.rules import mask_text

# Declared encodings and the codec that reads them (GB18030 is a superset of GBK and GB2312).
ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "gbk": "gb18030", "gb2312": "gb18030",
             "gb18030": "gb18030"}
# Limits of the numbers a manifest states (the warehouse stores delivery_version as INTEGER).
_MAX_VERSION = 2**31 - 1
_MAX_ROWS = 2**63 - 1
_MAX_MANIFEST_BYTES = 16 << 20
# business_date is a day in China Standard Time; the folder of a day that has not begun there
# cannot hold its extract.
_CST = ZoneInfo("Asia/Shanghai")


def today_cst() -> date:
    return datetime.now(_CST).date()


def _parse_date(s: str) -> date | None:
    """The date a folder name states as YYYY-MM-DD; None for any other name (``fromisoformat``
    also reads week dates: ``2025-W09-6`` would be a second folder of 1 March 2025)."""
    try:
        day = date.fromisoformat(s)
    except ValueError:
        return None
    return day if day.isoformat() == s else None


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


def stray_entries(landing: Path) -> list[str]:
    """What sits in ``extracts/`` but is no date folder (``2025-3-1``, ``20250301``, a file): it
    is never loaded, so it is named in the run's summary and the daily message instead of being
    passed over in silence.  Hidden names (``.upload-…``) are a transfer's own business."""
    root = landing / "extracts"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")
                  and not (p.is_dir() and _parse_date(p.name)))


def show(value: object, limit: int = 80) -> str:
    """A manifest value for a message: its repr, id and phone numbers masked, shortened (after
    masking, so that no part of a number is left)."""
    text = mask_text(repr(value))
    return text[:limit] + "…" if len(text) > limit else text


def _json_int(value: object, name: str, lo: int, hi: int, problems: list[str]) -> int | None:
    """A manifest number: a JSON integer within [lo, hi]; anything else (a float such as 2.0 or
    1e999, true/false, a string, a number past hi) is a problem, never truncated."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{name} is not a JSON integer: {show(value)}")
        return None
    if not lo <= value <= hi:
        problems.append(f"{name} is outside [{lo}, {hi}]: {show(value)}")
        return None
    return value


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


def read_manifest(d: Delivery, facilities: set[str], today: date | None = None) -> None:
    """Fill a Delivery from its manifest; sets status incomplete/rejected when unusable."""
    problems = _place_problems(d, facilities, today or today_cst())
    m = _load_manifest(d, problems)
    if m is None:
        return
    d.version = _json_int(m.get("delivery_version"), "delivery_version", 1, _MAX_VERSION,
                          problems)
    _check_header(d, m, problems)
    seen = _read_entries(d, m.get("files"), problems)
    if problems:
        d.mark("rejected", problems)
        d.content_sha256 = hashlib.sha256(d.manifest or b"").hexdigest()
        return
    # The manifest says what the delivery is; a dataset's file it leaves out is not loaded, but
    # is reported (its rows would otherwise vanish without a trace).
    d.unlisted = sorted(e.name for e in os.scandir(d.folder) if e.name.endswith(".csv")
                        and e.name[:-4] in DAILY_NAMES and e.name[:-4] not in seen)
    # Content = the files' stated checksums: a resend with identical checksums is the same delivery.
    d.content_sha256 = hashlib.sha256(
        "\n".join(sorted(f"{f.dataset}:{f.sha256}" for f in d.files)).encode()
    ).hexdigest()


def _place_problems(d: Delivery, facilities: set[str], today: date) -> list[str]:
    """What is wrong with the folder's place: a day not begun, a facility not in the snapshot."""
    problems = []
    if d.business_date > today:
        problems.append(f"business_date {d.business_date} is after today ({today}): "
                        "the day's extract cannot exist yet")
    if d.facility_code not in facilities:
        # the folder name is all we have: never store it in clear if it holds a number
        d.facility_code = mask_text(d.facility_code)
        problems.append(f"unknown_facility: {d.facility_code} is not in facilities.csv")
    return problems


def _link_problem(folder: Path) -> str | None:
    if folder.is_symlink() or folder.parent.is_symlink():
        return "the folder is a symbolic link: not followed"
    if (folder / "manifest.json").is_symlink():
        return "manifest.json is a symbolic link: not followed"
    return None


def _load_manifest(d: Delivery, problems: list[str]) -> dict | None:
    """The manifest as a JSON object; None (the delivery marked) when there is none to use."""
    mpath = d.folder / "manifest.json"
    link = _link_problem(d.folder)
    if link:
        problems.append(link)
    if link or not mpath.exists():
        if problems:
            d.mark("rejected", problems)
        else:
            d.mark("incomplete", ["manifest.json missing"])
        return None
    try:
        raw = d.manifest = read_regular(mpath, _MAX_MANIFEST_BYTES)
    except OSError as e:
        problems.append(f"manifest.json cannot be read: {e.strerror}")
        d.mark("rejected", problems)
        return None
    try:
        m = json.loads(raw.decode("utf-8-sig"))
        if not isinstance(m, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        problems.append(f"manifest.json is not valid JSON: {mask_text(str(e))[:200]}")
        d.mark("rejected", problems)
        d.content_sha256 = hashlib.sha256(raw).hexdigest()
        return None
    return m


def _check_header(d: Delivery, m: dict, problems: list[str]) -> None:
    """The manifest's own fields against the standard and the folder it lies in."""
    if str(m.get("standard_version")) != STANDARD_VERSION:
        problems.append(f"standard_version {show(m.get('standard_version'))} is not "
                        f"{STANDARD_VERSION}")
    if m.get("facility_code") != d.facility_code:
        problems.append(f"manifest facility_code {show(m.get('facility_code'))} differs from "
                        "folder")
    if str(m.get("business_date")) != d.business_date.isoformat():
        problems.append(f"manifest business_date {show(m.get('business_date'))} differs from "
                        "folder")
    enc = m.get("encoding")
    enc = enc.strip().lower() if isinstance(enc, str) else ""
    d.encoding = enc
    if enc not in ENCODINGS:
        problems.append(f"bad_encoding: manifest encoding {show(m.get('encoding'))} is not "
                        "utf-8 or gbk")
        d.encoding = None
    d.generated_at = _timestamp(m.get("generated_at"))


def _entry_problem(entry: object, seen: set[str]) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("dataset"), str):
        return f"bad files entry: {show(entry)}"
    ds, fname = entry["dataset"], entry.get("file")
    if ds not in DATASETS or DATASETS[ds].kind != "daily":
        return f"unknown dataset {show(ds)}"
    if ds in seen:
        return f"dataset {ds} listed twice"
    # the layout of the standard: <dataset>.csv, a plain file in the folder
    if fname != f"{ds}.csv":
        return f"file {show(fname)} of dataset {ds} must be named {ds}.csv"
    return None


def _read_entries(d: Delivery, files: object, problems: list[str]) -> set[str]:
    """The manifest's file list into ``d.files``; returns the datasets it lists."""
    if not isinstance(files, list):
        problems.append("files is not a list")
        files = []
    seen: set[str] = set()
    for entry in files:
        problem = _entry_problem(entry, seen)
        if problem:
            problems.append(problem)
            continue
        ds, fname = entry["dataset"], entry["file"]
        seen.add(ds)
        rows = entry.get("rows")
        if rows is not None:
            rows = _json_int(rows, f"rows of {fname}", 0, _MAX_ROWS, problems)
        sha = entry.get("sha256")
        d.files.append(DataFile(ds, fname, d.folder / fname, rows,
                                sha.lower() if isinstance(sha, str) else None))
    return seen


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
        d.mark("incomplete", ["listed files missing: " + ", ".join(missing)])
        return
    for f in d.files:
        if f.rejected:
            continue
        if checksums:
            check_checksum(d, f, sha256_file(f.path))
        if f.rows is None:
            d.file_problems.append((f.file_name, "row_count_mismatch", "manifest rows missing"))
    if d.file_problems:
        d.mark_file_problems()


def check_checksum(d: Delivery, f: DataFile, actual: str) -> None:
    f.actual_sha256 = actual
    if f.sha256 is None or actual != f.sha256:
        d.file_problems.append(
            (f.file_name, "checksum_mismatch",
             f"sha256 is {actual}, manifest says {show(f.sha256)}"))
