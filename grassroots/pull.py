"""Pull the deliveries from the registered sources (``grassroots.sources``) into the landing zone.

A delivery folder is copied only when it is whole, and it appears in the landing zone at once:

1. the remote ``manifest.json`` is read; a folder without one is still being uploaded (left for
   the next poke), one whose manifest bytes equal the landing's copy is already here (nothing
   to do), one older than the landing's copy is left alone;
2. the manifest is checked before anything is fetched: facility and date agree with the folder,
   the facility is one this source may deliver, every listed file name is a plain name in the
   folder (``../x``, ``a/b``, ``.hidden`` are refused: the folder is not pulled, the refusal is
   recorded and reported);
3. every listed file is copied into a staging folder (``<landing>/.pull/stage/…``, the same
   file system as the landing zone) and its sha256 checked against the manifest; a file missing
   on the server or with another checksum means the upload is not finished: the folder waits
   for the next poke (verified files stay staged, a transfer cut off half-way resumes from the
   bytes already staged);
4. the manifest is read again (unchanged, or the folder waits) and written last, then the staging
   folder is renamed into ``extracts/<date>/<facility>/`` (exchanged atomically with an earlier
   version's folder), so the loader never sees half a folder.

What each pull did goes to a journal (``<landing>/.pull/journal/``, one file per poke, written by
the pull tasks, which run side by side and never open the warehouse); :func:`record` moves the
journal into ``audit.pulls`` and ``audit.source_checks`` under the warehouse's writer lock.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from grassroots.contract import REFERENCE
from grassroots.errors import RunError, one_line
from grassroots.lock import writer_lock
from grassroots.rules import mask_text
from grassroots.sources import Source, close, describe, filesystem

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 16 << 20
CHUNK = 1 << 20
# a file name a manifest may list: a plain name inside the folder
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
REFERENCE_FILES = tuple(f"{ds.name}.csv" for ds in REFERENCE)


class Refused(Exception):
    """The manifest cannot be pulled safely (the reason is recorded and reported)."""


class Waiting(Exception):
    """The folder is not whole yet: left for the next poke."""


def _now() -> datetime:
    return datetime.now().replace(microsecond=0)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# The manifest


def parse_manifest(raw: bytes, bd: date, code: str, source: Source) -> tuple[int, list[dict]]:
    """(delivery_version, [{file, sha256}]) of a remote manifest; Waiting when it is not a
    readable manifest yet (still being written), Refused when it must not be pulled."""
    try:
        m = json.loads(raw.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        raise Waiting(f"manifest.json is not valid JSON (yet): {one_line(str(e))[:120]}") from e
    if not isinstance(m, dict) or not isinstance(m.get("files"), list):
        raise Waiting("manifest.json has no files list (yet)")
    if not source.covers(code):
        raise Refused(f"facility {mask_text(code)} is not registered for source {source.name}")
    if m.get("facility_code") != code or str(m.get("business_date")) != bd.isoformat():
        raise Refused(f"manifest says {mask_text(str(m.get('facility_code')))[:40]} "
                      f"{str(m.get('business_date'))[:20]}, the folder is {code} {bd}")
    version = m.get("delivery_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise Refused(f"delivery_version {str(version)[:20]!r} is not a positive integer")
    files, seen = [], set()
    for entry in m["files"]:
        name = entry.get("file") if isinstance(entry, dict) else None
        if (not isinstance(name, str) or not _SAFE_NAME.fullmatch(name) or ".." in name
                or name == "manifest.json" or name.endswith(".part")):
            raise Refused(f"file name {mask_text(repr(name))[:80]} is not a plain file name in "
                          "the folder: refused, nothing pulled")
        sha = entry.get("sha256")
        if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
            raise Refused(f"{name}: no valid sha256 in the manifest, cannot be verified")
        if name in seen:
            raise Refused(f"{name} is listed twice")
        seen.add(name)
        files.append({"file": name, "sha256": sha.lower()})
    return version, files


def _local_version(folder: Path) -> tuple[bytes | None, int | None]:
    """The landing's copy of a folder: its manifest bytes and delivery_version (best effort)."""
    try:
        raw = (folder / "manifest.json").read_bytes()
    except OSError:
        return None, None
    try:
        v = json.loads(raw.decode("utf-8-sig")).get("delivery_version")
        return raw, v if isinstance(v, int) else None
    except (ValueError, UnicodeDecodeError, AttributeError):
        return raw, None


def _read_manifest(fs, path: str) -> bytes:
    size = fs.info(path).get("size") or 0
    if size > MAX_MANIFEST_BYTES:
        raise Refused(f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes")
    return fs.cat_file(path)


# ---------------------------------------------------------------------------------------------
# Copying


def fetch(fs, remote: str, stage: Path, name: str, sha: str) -> int:
    """Copy one file into ``stage`` and verify it; the bytes transferred.  A ``.part`` left by
    an interrupted transfer is continued, not restarted.  Waiting when the file is missing on
    the server or its checksum differs (the upload is still running, or the file is wrong)."""
    dest = stage / name
    if dest.is_file() and sha256_file(dest) == sha:
        return 0
    if not fs.exists(remote):
        raise Waiting(f"{name} not uploaded yet")
    part = stage / f"{name}.part"
    h, offset = hashlib.sha256(), 0
    if part.is_file():
        with open(part, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
                offset += len(chunk)
    copied = 0
    with fs.open(remote, "rb") as src, open(part, "ab") as out:
        if offset:
            src.seek(offset)
        for chunk in iter(lambda: src.read(CHUNK), b""):
            out.write(chunk)
            h.update(chunk)
            copied += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    if h.hexdigest() != sha:
        part.unlink()
        raise Waiting(f"{name}: sha256 {h.hexdigest()[:12]}… differs from the manifest "
                      f"({sha[:12]}…): upload not finished or file damaged")
    os.replace(part, dest)
    return copied


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False if the system or
    file system cannot."""
    fn = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def install(stage: Path, final: Path) -> None:
    """Put a complete staged folder at ``final`` in one step (replacing an earlier version)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(stage, final)
    elif _exchange(stage, final):
        shutil.rmtree(stage)  # now the earlier version
    else:  # no atomic exchange here: the folder is absent for an instant, never half there
        old = stage.with_name(stage.name + ".old")
        os.rename(final, old)
        os.rename(stage, final)
        shutil.rmtree(old)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------
# One folder, one source


def pull_folder(fs, source: Source, remote_dir: str, bd: date, code: str,
                landing: Path) -> dict | None:
    """Pull one delivery folder if new or changed; its audit record, or None when the landing
    already holds it (or a newer version).  Raises Waiting or Refused."""
    raw = _read_manifest(fs, f"{remote_dir}/manifest.json")
    final = landing / "extracts" / bd.isoformat() / code
    local_raw, local_version = _local_version(final)
    if local_raw == raw:
        return None
    version, files = parse_manifest(raw, bd, code, source)
    if local_version is not None and version < local_version:
        log.info("%s %s %s: version %d older than the landing's %d, not pulled", source.name,
                 code, bd, version, local_version)
        return None
    stage = landing / ".pull" / "stage" / source.name / bd.isoformat() / code
    stage.mkdir(parents=True, exist_ok=True)
    copied, waiting = 0, []
    for f in files:  # every file, so that a second poke only fetches what was not whole
        try:
            copied += fetch(fs, f"{remote_dir}/{f['file']}", stage, f["file"], f["sha256"])
        except Waiting as e:
            waiting.append(str(e))
    if waiting:
        raise Waiting("; ".join(waiting))
    if _read_manifest(fs, f"{remote_dir}/manifest.json") != raw:
        raise Waiting("manifest.json changed during the transfer")
    keep = {f["file"] for f in files}
    for extra in stage.iterdir():  # leftovers of an earlier manifest
        if extra.name not in keep:
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    for f in files:
        f["bytes"] = (stage / f["file"]).stat().st_size
    _write_file(stage / "manifest.json", raw)  # the manifest last
    install(stage, final)
    _prune(stage.parent, landing / ".pull" / "stage")
    return {"facility_code": code, "business_date": bd.isoformat(), "delivery_version": version,
            "status": "pulled", "detail": f"{len(files)} files, {copied} bytes transferred",
            "manifest_sha256": hashlib.sha256(raw).hexdigest(), "files": files,
            "bytes": copied, "remote": remote_dir, "landing_path": str(final),
            "pulled_at": _now().isoformat()}


def pull_reference(fs, source: Source, landing: Path) -> list[dict]:
    """The commission's reference snapshots (full files, no manifest): each changed file is
    replaced atomically."""
    out = []
    stage = landing / ".pull" / "stage" / source.name / "reference"
    stage.mkdir(parents=True, exist_ok=True)
    (landing / "reference").mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_FILES:
        remote = f"{source.reference.rstrip('/')}/{name}"
        if not fs.exists(remote):
            continue
        tmp = stage / name
        with fs.open(remote, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        local = landing / "reference" / name
        sha = sha256_file(tmp)
        if local.is_file() and sha256_file(local) == sha:
            tmp.unlink()
            continue
        os.replace(tmp, local)
        out.append({"facility_code": None, "business_date": None, "delivery_version": None,
                    "status": "pulled", "detail": "reference snapshot",
                    "manifest_sha256": None, "files": [{"file": name, "sha256": sha,
                                                        "bytes": local.stat().st_size}],
                    "bytes": local.stat().st_size, "remote": remote,
                    "landing_path": str(local), "pulled_at": _now().isoformat()})
    _prune(stage, landing / ".pull" / "stage")
    return out


def _prune(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents below ``top`` while they are empty: a staging folder
    whose delivery was installed leaves nothing behind (a folder another poke is filling is not
    empty, and is kept)."""
    while top in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): the rest of the way up is kept
            return
        folder = folder.parent


def _folders(fs, source: Source, dates: list[date] | None) -> list[tuple[str, date, str]]:
    found = []
    for d in dates or [None]:
        for path in sorted(fs.glob(source.glob(d))):
            path = path if isinstance(path, str) else str(path)
            m = source.match(path if path.startswith("/") or not source.path.startswith("/")
                             else "/" + path)
            if m is not None and (d is None or m[0] == d):
                found.append((path.rsplit("/", 1)[0], m[0], m[1]))
    return found


def _unreachable(e: BaseException) -> bool:
    names = {c.__name__ for c in type(e).__mro__}
    return isinstance(e, ConnectionError | TimeoutError | OSError) or bool(
        names & {"DisconnectError", "ConnectionLost", "EndpointConnectionError",
                 "ConnectTimeoutError", "PermissionDenied", "ClientConnectorError"})


def pull_source(source: Source, landing: Path, *, dates: list[date] | None = None,
                business_date: date | None = None, journal: bool = True) -> dict:
    """Pull every new or changed whole folder of one source (of ``dates``, or all); the
    source's check record (status ok | unreachable | error, what was pulled, what waits)."""
    landing = Path(landing)
    check = {"source": source.name, "remote": describe(source), "status": "ok", "detail": "",
             "business_date": business_date.isoformat() if business_date else None,
             "checked_at": _now().isoformat(), "pulled": [], "waiting": {}, "refused": []}
    fs = None
    try:
        fs = filesystem(source)
        folders = _folders(fs, source, dates)
        if source.reference:
            check["pulled"] += pull_reference(fs, source, landing)
    except Exception as e:  # the source cannot be reached or listed: reported, others go on
        check["status"] = "unreachable" if _unreachable(e) else "error"
        check["detail"] = f"{type(e).__name__}: {mask_text(one_line(str(e)))[:300]}"
        log.warning("source %s (%s) %s: %s", source.name, check["remote"], check["status"],
                    check["detail"])
        if fs is not None:
            close(fs)
        return _finish(check, landing, journal)
    try:
        _pull_folders(fs, source, folders, landing, check)
    finally:
        close(fs)
    return _finish(check, landing, journal)


def _pull_folders(fs, source: Source, folders: list[tuple[str, date, str]], landing: Path,
                  check: dict) -> None:
    for remote_dir, bd, code in folders:
        key = f"{bd} {code}"
        try:
            rec = pull_folder(fs, source, remote_dir, bd, code, landing)
        except Waiting as e:
            check["waiting"][key] = str(e)
            continue
        except Refused as e:
            check["refused"].append({
                "facility_code": mask_text(code), "business_date": bd.isoformat(),
                "status": "refused", "detail": str(e), "remote": remote_dir,
                "manifest_sha256": None, "files": [], "bytes": 0,
                "pulled_at": _now().isoformat()})
            continue
        except Exception as e:  # a transfer cut off: resumes at the next poke
            check["waiting"][key] = f"transfer interrupted: {type(e).__name__}: " \
                                    f"{mask_text(one_line(str(e)))[:200]}"
            continue
        if rec is not None:
            check["pulled"].append(rec)


def _finish(check: dict, landing: Path, journal: bool) -> dict:
    for r in check["refused"]:
        log.warning("source %s: %s %s refused: %s", check["source"], r["facility_code"],
                    r["business_date"], r["detail"])
    log.info("source %s: %d pulled, %d waiting, %d refused", check["source"],
             len(check["pulled"]), len(check["waiting"]), len(check["refused"]))
    if journal:
        write_journal(landing, check)
    return check


# ---------------------------------------------------------------------------------------------
# Journal → audit tables


def journal_dir(landing: Path) -> Path:
    return Path(landing) / ".pull" / "journal"


def write_journal(landing: Path, check: dict) -> Path:
    d = journal_dir(landing)
    d.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    path = d / f"{stamp}-{check['source']}-{uuid.uuid4().hex[:8]}.json"
    _write_file(path, json.dumps(check, ensure_ascii=False).encode())
    return path


def record(landing: Path, warehouse: Path) -> dict:
    """Move the journal into ``audit.pulls`` / ``audit.source_checks`` (one transaction under
    the writer lock; an entry recorded twice is inserted once)."""
    import duckdb

    from grassroots.warehouse import PULL_DDL

    entries = sorted(journal_dir(landing).glob("*.json")) if journal_dir(landing).is_dir() else []
    counts = {"checks": 0, "pulled": 0, "refused": 0}
    if not entries:
        return counts
    with writer_lock(warehouse):
        con = duckdb.connect(str(warehouse))
        try:
            con.execute(PULL_DDL)
            con.execute("BEGIN TRANSACTION")
            for path in entries:
                _record_entry(con, path.stem, json.loads(path.read_text(encoding="utf-8")),
                              counts)
            con.execute("COMMIT")
        finally:
            con.close()
    for path in entries:
        path.unlink()
    return counts


def _record_entry(con, rid: str, check: dict, counts: dict) -> None:
    if con.execute("SELECT count(*) FROM audit.source_checks WHERE record_id = ?",
                   [rid]).fetchone()[0]:
        return
    con.execute(
        "INSERT INTO audit.source_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [rid, check["source"], check["remote"], check["business_date"], check["status"],
         check["detail"] or None, len(check["pulled"]), len(check["waiting"]),
         len(check["refused"]), check["checked_at"]])
    counts["checks"] += 1
    for r in check["pulled"] + check["refused"]:
        if r["status"] == "refused" and con.execute(
                "SELECT count(*) FROM audit.pulls WHERE source = ? AND remote = ? AND status = "
                "'refused' AND detail = ?", [check["source"], r["remote"], r["detail"]]
        ).fetchone()[0]:
            continue  # the same refusal at every poke is recorded once
        con.execute(
            "INSERT INTO audit.pulls VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [rid, check["source"], r["remote"], r["facility_code"], r["business_date"],
             r.get("delivery_version"), r["status"], r["detail"], r["manifest_sha256"],
             json.dumps(r["files"]), r["bytes"], r["pulled_at"]])
        counts[r["status"]] += 1


# ---------------------------------------------------------------------------------------------
# The DAG's pull task and the command line


def poke(source: dict | Source, bd: date, settings=None) -> dict:
    """One poke of a source's pull task: pull what is new in the lookback window of ``bd``; done
    when every expected facility the source covers has a complete folder for ``bd`` in the
    landing zone, or at the cut-off.  Returns a summary for XCom."""
    from grassroots.quality.arrivals import check_arrivals
    from grassroots.settings import Settings

    s = settings or Settings.from_env()
    src = Source.from_dict(source)
    dates = [bd - timedelta(days=k) for k in range(s.lookback_days, -1, -1)]
    check = pull_source(src, s.landing, dates=dates, business_date=bd)
    a = check_arrivals(s.landing, bd, warehouse=s.warehouse)
    waiting = sorted(c for c in set(a.expected) - set(a.complete) if src.covers(c))
    return {"source": src.name, "status": check["status"], "detail": check["detail"],
            "pulled": [f"{r['business_date']} {r['facility_code']}" for r in check["pulled"]],
            "waiting": check["waiting"], "refused": [r["detail"] for r in check["refused"]],
            "waiting_for": waiting, "done": a.cutoff_passed or not waiting}


def pull_landing_url(url: str, cache: Path, warehouse: Path, *, date_from: date | None = None,
                     date_to: date | None = None) -> dict:
    """``grassroots run --landing URL``: the whole landing zone at an fsspec URL into a local
    cache (the loader reads local files), recorded in the audit tables."""
    from grassroots.sources import source_from_url

    src = source_from_url(url)
    dates = None  # an open range: every folder (the loader applies the range)
    if date_from and date_to:
        dates = [date_from + timedelta(days=k) for k in range((date_to - date_from).days + 1)]
    check = pull_source(src, cache, dates=dates, business_date=date_to)
    if check["status"] != "ok":
        raise RunError(f"cannot pull {check['remote']}: {check['detail']}")
    record(cache, warehouse)
    return check
