"""The archive: every file as delivered, kept unchanged.

Deliveries go into one zip per business date and batch, ``extracts/<date>/batch-<batch>.zip``,
each delivery's files under ``<facility>/v<version>-<content>/`` (stored, not compressed).  One
file per date and run rather than one per delivered file: creating hundreds of thousands of
small files a year cost the loader more than reading them, and its cost followed the file
system's state.  A delivery's ``archive_path`` is the zip's path followed by that folder;
:func:`archived` opens it.  Reference snapshots are kept as files under
``reference/<content>/``.

It holds personal data in clear, so its folders are 0700 and its files (and zip members) 0600.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

from grassroots.ingest.delivery import Delivery
from grassroots.ingest.files import read_regular
from grassroots.ingest.iothread import IOThread

# zips kept open by the I/O thread while a run writes (a run writes its dates in order; a date
# met again later, by a delivery noted before the loading, reopens its zip to append)
OPEN_ZIPS = 8
# <archive>/extracts/<date>/batch-<n>.zip/<facility>/v<version>-<content>
_ARCHIVED = re.compile(r"(?P<zip>.*/extracts/\d{4}-\d{2}-\d{2}/batch-\d+\.zip)/(?P<member>[^/]+/[^/]+/?)")


def archived(archive_path: str | Path) -> zipfile.Path:
    """A delivery's archived folder (``audit.deliveries.archive_path``): ``/ name`` gives a file,
    with ``read_bytes()``, ``is_file()``, ``iterdir()``."""
    m = _ARCHIVED.fullmatch(str(archive_path))
    if m is None:
        raise ValueError(f"not the path of an archived delivery: {archive_path}")
    return zipfile.Path(m["zip"], at=m["member"].rstrip("/") + "/")


def _has(z: zipfile.ZipFile, name: str) -> bool:
    try:
        z.getinfo(name)
    except KeyError:
        return False
    return True


class Archive:
    def __init__(self, root: Path, io: IOThread, batch_id: int) -> None:
        self.root = root
        self._io = io
        self.batch_id = batch_id
        self._made: set[Path] = set()  # archive folders created in this run
        self._zips: OrderedDict[Path, zipfile.ZipFile] = OrderedDict()  # open, newest last
        self._written: set[Path] = set()  # zips this run created

    def folder(self, rel_dir: Path) -> Path:
        """The archive folder ``rel_dir``, created 0700 like every folder above it."""
        if not self._made:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(self.root, 0o700)  # also an archive created before this rule
            self._made.add(Path("."))
        path = self.root
        for part in rel_dir.parts:
            path = path / part
            if path.relative_to(self.root) not in self._made:
                path.mkdir(mode=0o700, exist_ok=True)
                self._made.add(path.relative_to(self.root))
        return path

    def keep(self, src: Path, rel_dir: Path, data: bytes | None = None) -> Path:
        """Copy ``src`` (or its bytes already read) into the archive (mode 0600), unless already
        there.  ``src`` is read without following a symbolic link."""
        dest_dir = self.folder(rel_dir)
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

    def queue(self, d: Delivery) -> None:
        """Queue the delivery as delivered (written by the I/O thread; files read for loading
        are written from memory, not read again)."""
        zip_rel = (Path("extracts") / d.business_date.isoformat()
                   / f"batch-{self.batch_id:06d}.zip")
        member = f"{d.facility_code}/v{d.version}-{(d.content_sha256 or 'none')[:12]}"
        files = [(d.folder / "manifest.json", d.manifest)] if d.manifest is not None else []
        files += [(f.path, f.data) for f in d.files]
        for f in d.files:
            f.data = f.utf8 = None
        d.archive_path = f"{self.root / zip_rel}/{member}"
        self._io.submit(self._add, zip_rel, member, files)

    def close(self) -> None:
        """Queue the closing of the run's zips (their central directories are written then)."""
        self._io.submit(self._close_all)

    def _zip(self, rel: Path) -> zipfile.ZipFile:
        z = self._zips.get(rel)
        if z is not None:
            self._zips.move_to_end(rel)
            return z
        path = self.folder(rel.parent) / rel.name
        if path in self._written:
            fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            z = zipfile.ZipFile(os.fdopen(fd, "r+b"), "a", zipfile.ZIP_STORED)
        else:
            if not self._written:
                self._drop_uncommitted()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            z = zipfile.ZipFile(os.fdopen(fd, "wb"), "w", zipfile.ZIP_STORED)
            self._written.add(path)
        self._zips[rel] = z
        if len(self._zips) > OPEN_ZIPS:
            self._finish(self._zips.popitem(last=False)[1])
        return z

    @staticmethod
    def _finish(z: zipfile.ZipFile) -> None:
        fp = z.fp
        z.close()
        if fp is not None:  # ZipFile does not close a file object it was handed
            fp.close()

    def _add(self, rel: Path, member: str, files: list[tuple[Path, bytes | None]]) -> None:
        z = self._zip(rel)
        for src, data in files:
            name = f"{member}/{src.name}"
            if _has(z, name):
                continue
            if data is None:
                # a listed file that is missing, a symbolic link or no regular file: nothing
                # delivered to keep
                try:
                    data = read_regular(src)
                except OSError:
                    continue
            z.writestr(name, data)  # a str name: member mode 0600

    def _drop_uncommitted(self) -> None:
        """Zips of this run's batch number are from a run that did not commit (the number is
        taken again): they go, so that every zip of a batch holds what that batch recorded."""
        for stale in (self.root / "extracts").glob(f"*/batch-{self.batch_id:06d}.zip"):
            stale.unlink()

    def _close_all(self) -> None:
        while self._zips:
            self._finish(self._zips.popitem(last=False)[1])
