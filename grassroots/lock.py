"""One writer per warehouse for a whole run: ingest, dbt, validations and publish.

DuckDB's own file lock covers one connection, and a run opens several one after the other
(the loader, dbt, the validation history, the serving copy): between two of them another run
could step in.  A run therefore holds an exclusive ``flock`` on ``<warehouse>.lock`` from start
to end; a second run exits at once naming the first one's process.  The kernel releases the lock
when the process ends, however it ends (kill -9 included).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from grassroots.errors import RunError

_held: dict[Path, int] = {}  # lock file -> depth, for the nested calls of one process


class WarehouseBusy(RunError):
    """Another run holds the warehouse."""


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def writer_lock(warehouse: Path) -> Iterator[Path]:
    """Hold the warehouse's run lock (re-entrant within a process); WarehouseBusy if taken."""
    path = lock_path(Path(warehouse)).absolute()
    if path in _held:
        _held[path] += 1
        try:
            yield path
        finally:
            _held[path] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot create the warehouse's folder {path.parent}: {e.strerror}"
                       ) from e
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise RunError(f"cannot create the lock file {path} next to the warehouse: "
                       f"{e.strerror}") from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            raise WarehouseBusy(
                f"another grassroots run (pid {holder}) is writing {warehouse}; run again when "
                "it has finished") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[path] = 1
        try:
            yield path
        finally:
            del _held[path]
    finally:
        os.close(fd)  # releases the flock
