"""Run the dbt project (``dbt/``) against a warehouse file.

dbt runs in a subprocess of this virtualenv's ``dbt`` executable, not in-process: dbt-duckdb keeps
its DuckDB connection open for the life of the process, and a later ``duckdb.connect`` of the same
file from the caller (the loader, the validations) would then fail with "Can't open a connection
to same database file with a different configuration".

dbt runs in the warehouse's folder and is given the file's bare name, so that its profile, and
with it dbt's saved parse (``partial_parse.msgpack``), is the same for every warehouse of that
name: the parse of one serves the first build of another (kept in ``<home>/dbt-parse``) instead
of a full parse of the project.  dbt checks the saved parse against the project's files, the
profile, the variables and its own version, and parses again whatever changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from grassroots.settings import DBT_DIR, duckdb_memory_limit, home


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the tail of its log."""


def _dbt_executable() -> str:
    local = Path(sys.executable).parent / "dbt"
    if local.exists():
        return str(local)
    found = shutil.which("dbt")
    if not found:
        raise DbtError("dbt executable not found in this environment (dbt-core is a dependency)")
    return found


def work_dir(warehouse: Path) -> Path:
    """dbt's target and log folders of one warehouse, beside it.  Per warehouse so that dbt's
    partial parsing survives from one night to the next (it starts over whenever the profile,
    and with it the warehouse path, differs from the saved parse) and so that runs on two
    warehouses never share a manifest."""
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(warehouse.name + ".dbt")


def shared_parse(warehouse: Path, target: str = "duckdb") -> Path:
    """The saved parse shared by the warehouses of this name and memory limit (both are in the
    profile dbt checks) built by this project folder (a parse records where its files are)."""
    project = hashlib.sha256(str(DBT_DIR).encode()).hexdigest()[:12]
    return home() / "dbt-parse" / (
        f"{target}-{Path(warehouse).name}-{duckdb_memory_limit()}-{project}.msgpack")


def _copy(src: Path, dest: Path) -> None:
    """Best effort (a read-only or full disk only costs a full parse): via a temporary file, so
    that a build reading ``dest`` never sees half of it."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
        shutil.copy2(src, tmp)  # with its time: a parse copied in is not newer than the shared one
        os.replace(tmp, dest)
    except OSError:
        pass


def _run(args: list[str], warehouse: Path, target: str = "duckdb") -> str:
    warehouse = Path(warehouse).resolve()
    work = work_dir(warehouse)
    env = dict(os.environ)
    # relative to dbt's working folder, the warehouse's own (see the module's docstring)
    env["GRASSROOTS_WAREHOUSE"] = warehouse.name
    env["GRASSROOTS_DUCKDB_MEMORY_LIMIT"] = duckdb_memory_limit()
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    cmd = [
        _dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target",
        target,
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
    ]
    saved, shared = work / "target" / "partial_parse.msgpack", shared_parse(warehouse, target)
    if not saved.exists() and shared.is_file():
        _copy(shared, saved)
    proc = subprocess.run(cmd, cwd=warehouse.parent, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    if proc.returncode == 0 and saved.is_file() and (
            not shared.is_file() or saved.stat().st_mtime > shared.stat().st_mtime):
        _copy(saved, shared)
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-40:])
        raise DbtError(
            f"`dbt {' '.join(args)}` failed (exit {proc.returncode}) on {warehouse}:\n{tail}"
        )
    return output


# dbt's errors that a full refresh cures: a model's columns changed, a model became incremental
_REBUILD_IN_FULL = ("out of sync", '"_processed_batch_id" not found')


def build(
    warehouse: Path,
    *,
    select: str | None = None,
    full_refresh: bool = False,
    target: str = "duckdb",
    unit_tests: bool = False,
) -> str:
    """``dbt build`` (seeds, models and data tests) on ``warehouse``; returns dbt's log.

    Raises DbtError when any node fails.  Incremental models rebuild only the months listed in
    ``audit.load_changes`` since their last run unless ``full_refresh``.  The unit tests check
    the SQL, not the night's data, so the nightly build leaves them to the test suite (dbt's
    advice for production runs); ``unit_tests=True`` runs them too.
    """
    args = ["build"]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    try:
        return _run(args, Path(warehouse), target)
    except DbtError as e:
        # An incremental model whose columns changed (a new release of the project) cannot be
        # appended to, and one that was a table before has no watermark to read: rebuild
        # everything from raw once, which is always correct.
        if full_refresh or not any(m in str(e) for m in _REBUILD_IN_FULL):
            raise
        return _run([*args, "--full-refresh"], Path(warehouse), target)


def show(sql: str, warehouse: Path, *, target: str = "duckdb") -> str:
    """``dbt show --inline``: run one query through dbt's own connection; returns dbt's log."""
    return _run(["show", "--inline", sql], Path(warehouse), target)


def docs_generate(warehouse: Path, *, target: str = "duckdb") -> Path:
    """``dbt docs generate``; returns the target directory holding index.html/catalog.json."""
    _run(["docs", "generate"], Path(warehouse), target)
    return work_dir(warehouse) / "target"


if __name__ == "__main__":
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else DBT_DIR.parent / "var" / "warehouse.duckdb")
