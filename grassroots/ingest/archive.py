"""The archive: every file as delivered, kept under its version and content hash.

It holds personal data in clear, so its folders are 0700 and its files 0600."""

from __future__ import annotations

import os
from pathlib import Path

from grassroots.ingest.delivery import Delivery
from grassroots.ingest.files import read_regular
from grassroots.ingest.iothread import IOThread


class Archive:
    def __init__(self, root: Path, io: IOThread) -> None:
        self.root = root
        self._io = io
        self._made: set[Path] = set()  # archive folders created in this run

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
        rel = (Path("extracts") / d.business_date.isoformat() / d.facility_code
               / f"v{d.version}-{(d.content_sha256 or 'none')[:12]}")
        files = [(d.folder / "manifest.json", d.manifest)] if d.manifest is not None else []
        files += [(f.path, f.data) for f in d.files]
        for f in d.files:
            f.data = f.utf8 = None
        d.archive_path = str(self.root / rel)
        self._io.submit(self._keep_all, rel, files)

    def _keep_all(self, rel: Path, files: list[tuple[Path, bytes | None]]) -> None:
        for src, data in files:
            if data is None:
                # a listed file that is missing, a symbolic link or no regular file: nothing
                # delivered to keep
                try:
                    data = read_regular(src)
                except OSError:
                    continue
            self.keep(src, rel, data)
