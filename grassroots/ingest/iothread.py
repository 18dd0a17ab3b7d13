"""The run's one I/O thread: it reads the next chunk's files and writes the archive while DuckDB
(which releases the GIL) loads the current chunk.  A pool of several threads was slower: they
queued for the GIL behind each other."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from grassroots.ingest.delivery import DataFile, Delivery
from grassroots.ingest.files import read_regular


def read_files(files: list[DataFile]) -> None:
    """Each file's bytes and their sha256 (a file that cannot be read is left to the loader,
    which reports it)."""
    for f in files:
        if f.rejected:
            continue
        try:
            f.data = read_regular(f.path)
        except OSError:
            continue
        if f.actual_sha256 is None:
            f.data_sha256 = hashlib.sha256(f.data).hexdigest()


class IOThread:
    """Jobs run in order on one thread; :meth:`flush` waits for them all and raises the first
    error, so the run commits only after every archive write."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grassroots-io")
        self._jobs: list[Future] = []

    def submit(self, fn: Callable[..., object], *args: object) -> Future:
        job = self._pool.submit(fn, *args)
        self._jobs.append(job)
        return job

    def prefetch(self, chunk: list[Delivery]) -> Future:
        """Read (and hash) the files of a chunk."""
        return self.submit(read_files, [f for d in chunk for f in d.files])

    def flush(self) -> None:
        jobs, self._jobs = self._jobs, []
        for job in jobs:
            job.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
