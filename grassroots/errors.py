"""Failures a user causes by configuration or environment: ``grassroots`` exits 2 with one line.

A bug still raises with its traceback; these name what to fix (a path, a permission, a full
disk, another run) and nothing else.
"""

from __future__ import annotations

import errno
import os

import duckdb


class RunError(Exception):
    """The run cannot go on: its configuration or environment is at fault, not the data."""


# Operating-system failures DuckDB reports inside other errors (a COMMIT that cannot write its
# log raises a TransactionException naming the file and the cause).
_OS_FAILURES = tuple(os.strerror(n) for n in (
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG,
    errno.EMFILE, errno.ENOTDIR))


def environment_cause(e: BaseException) -> str | None:
    """One line naming an environment failure (a file system or DuckDB I/O error), else None."""
    if isinstance(e, OSError):
        where = f" ({e.filename})" if e.filename else ""
        return f"{e.strerror or e}{where}"
    if isinstance(e, duckdb.IOException) or (
            isinstance(e, duckdb.Error) and any(f in str(e) for f in _OS_FAILURES)):
        return one_line(str(e))
    return None


def one_line(text: str) -> str:
    """A message on one line (DuckDB's span several)."""
    return " ".join(text.split())
