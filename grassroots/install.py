"""Compile this environment's packages to bytecode once, after uv has installed them.

uv does not write ``.pyc`` files at install, and under ``PYTHONDONTWRITEBYTECODE`` (set on some
CI machines and sandboxes) Python never writes them either: every process then recompiles what
it imports — Great Expectations took 10 s to import instead of 4.8, and every bench stage, dbt
start and Airflow task paid the same.  uv's own ``compile-bytecode`` setting would do it, but
with it every ``uv run`` recompiles the whole environment (astral-sh/uv#12202), so the commands
that start work call :func:`ensure_bytecode`, which runs the standard library's ``compileall``
once per ``uv.lock``.
"""

from __future__ import annotations

import compileall
import hashlib
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MARKER = ".grassroots-bytecode"
# how the separate environments (Superset, Spark) are installed: bytecode at install, as above
UV_PIP_OPTIONS = ("--compile-bytecode",)


def env_digest(lock: Path) -> str:
    """The marker of a separate environment: its lock and how it is installed (either changing
    re-installs it)."""
    return hashlib.sha256(lock.read_bytes() + " ".join(UV_PIP_OPTIONS).encode()).hexdigest()


def ensure_bytecode(prefix: Path | None = None, lock: Path = REPO / "uv.lock") -> bool:
    """Compile the environment's site-packages unless done for this lock; True if it compiled."""
    prefix = Path(prefix or sys.prefix)
    marker = prefix / MARKER
    digest = hashlib.sha256(lock.read_bytes() if lock.is_file() else b"").hexdigest()
    if marker.is_file() and marker.read_text() == digest:
        return False
    dirs = {sysconfig.get_path(k, vars={"base": str(prefix), "platbase": str(prefix)})
            for k in ("purelib", "platlib")}
    for d in sorted(dirs):
        if Path(d).is_dir():
            # quiet=2: some packages ship files for other Python versions that do not compile
            compileall.compile_dir(d, quiet=2, workers=0)
    marker.write_text(digest)
    return True
