"""Reading delivered files safely: never through a symbolic link, never blocking on a FIFO."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path


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
