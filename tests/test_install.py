"""The environment's packages are compiled to bytecode once per lock (grassroots.install)."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from grassroots.install import MARKER, ensure_bytecode


def _site(prefix: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(prefix),
                                                    "platbase": str(prefix)}))


def test_compiles_once_per_lock(tmp_path: Path) -> None:
    prefix, lock = tmp_path / "venv", tmp_path / "uv.lock"
    pkg = _site(prefix) / "somepkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "py2_only.py").write_text("print 'not python 3'\n")  # must not stop the rest
    lock.write_text("version = 1\n")

    assert ensure_bytecode(prefix, lock) is True
    assert list((pkg / "__pycache__").glob("__init__.*.pyc"))
    assert (prefix / MARKER).is_file()

    (pkg / "later.py").write_text("Y = 2\n")
    assert ensure_bytecode(prefix, lock) is False  # same lock: nothing to do
    assert not list((pkg / "__pycache__").glob("later.*.pyc"))

    lock.write_text("version = 2\n")  # a new lock (packages changed): compiled again
    assert ensure_bytecode(prefix, lock) is True
    assert list((pkg / "__pycache__").glob("later.*.pyc"))
