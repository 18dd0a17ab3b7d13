"""The same dbt project on Spark (scale-out): environment, loading, build, read-back.

dbt-spark lives in its own virtualenv, ``.venvs/spark``, installed with uv from the committed
``dbt/spark-requirements.lock`` (dbt-core 1.11, dbt-spark[session] 1.11, pyspark 4); Spark needs a
Java runtime (Debian's ``openjdk-17-jre-headless``; ``grassroots test`` installs it on a test
machine).  Targets in ``dbt/profiles.yml``:

* ``spark``: ``method: session``, Spark in local mode inside the dbt process (tests, one machine);
* ``spark_thrift``: a Spark Thrift server / cluster (host, port, user from environment variables).

Flow for the session target (``build_on_spark``)::

    DuckDB warehouse ──export_sources──▶ <dir>/sources/{raw,audit}/<table>/*.parquet
        ──run_dbt (spark venv: spark_runner.py)──▶ SparkSession + external tables raw.* / audit.*
        ──dbtRunner: dbt build --target spark──▶ marts.* in the session's warehouse
        ──export──▶ <dir>/out/marts/<table>/*.parquet ──read_marts──▶ pandas

The session's catalogue is in-memory by default (``catalog="hive"``: a Derby metastore); it, the
Spark warehouse directory and anything Spark drops (derby.log) live in a work directory, never in
the caller's working directory.  Differences from the DuckDB build (see dbt/macros/incremental.sql and
spark.sql): incremental models run as full builds on Spark (plain Parquet tables have no
row-level DELETE), model contracts are enforced on DuckDB only, and unit tests run on DuckDB only
(data tests run on both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from grassroots.install import UV_PIP_OPTIONS, env_digest
from grassroots.settings import REPO as ROOT

DBT_DIR = ROOT / "dbt"
VENV = ROOT / ".venvs" / "spark"
REQUIREMENTS_LOCK = DBT_DIR / "spark-requirements.lock"
RUNNER = Path(__file__).with_name("spark_runner.py")
SOURCE_SCHEMAS = ("raw", "audit")
JAVA_PACKAGE = "openjdk-17-jre-headless"


class SparkError(RuntimeError):
    """Setting up or running dbt on Spark failed; the message says where."""


# ------------------------------------------------------------------------------------------
# environment


def _run(cmd: list[str], *, env: dict | None = None, timeout: float = 1200, cwd=None) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-40:])
        raise SparkError(f"{' '.join(cmd[:4])} … failed ({proc.returncode}):\n{tail}")
    return proc.stdout


def ensure_java() -> str:
    """Path of ``java`` (Debian's OpenJDK 17: ``grassroots test`` installs it on a test machine)."""
    found = shutil.which("java")
    if not found:
        raise SparkError(f"java not found: install Debian's {JAVA_PACKAGE}")
    return found


def ensure_env(venv: Path = VENV, lock: Path = REQUIREMENTS_LOCK) -> Path:
    """Create/refresh the dbt-spark virtualenv from the committed lock; returns its python."""
    ensure_java()
    py = venv / "bin" / "python"
    marker = venv / ".grassroots-lock-sha256"
    digest = env_digest(lock)
    if py.exists() and marker.exists() and marker.read_text() == digest:
        return py
    uv = shutil.which("uv")
    if not uv:
        raise SparkError("uv not found on PATH (needed to create .venvs/spark)")
    if not py.exists():
        _run([uv, "venv", "--python", "3.11", str(venv)])
    _run([uv, "pip", "install", *UV_PIP_OPTIONS, "-r", str(lock),
          "--python", str(py)])
    marker.write_text(digest)
    return py


# ------------------------------------------------------------------------------------------
# loading


def export_sources(
    warehouse: Path, out: Path, schemas: tuple[str, ...] = SOURCE_SCHEMAS
) -> dict[str, list[str]]:
    """Write every table of ``schemas`` of a DuckDB warehouse as ``out/<schema>/<table>/data.parquet``.

    Returns {schema: [table, ...]}.  The warehouse is opened read-only.
    """
    out = Path(out)
    written: dict[str, list[str]] = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in "
            f"({', '.join('?' for _ in schemas)}) order by 1, 2",
            list(schemas),
        ).fetchall()
        for schema, table in tables:
            target = out / schema / table
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            dest = str(target / "data.parquet").replace("'", "''")
            con.execute(f'copy (select * from "{schema}"."{table}") to \'{dest}\' (format parquet)')
            written.setdefault(schema, []).append(table)
    finally:
        con.close()
    return written


# ------------------------------------------------------------------------------------------
# building


@dataclass
class SparkBuild:
    """Outcome of ``run_dbt`` / ``build_on_spark``."""

    success: bool
    result: dict
    log: str
    seconds: float
    exported: dict[str, Path] = field(default_factory=dict)  # "marts.<table>" -> parquet dir

    @property
    def timings(self) -> dict:
        return self.result.get("timings", {})


def run_dbt(
    sources: Path,
    work: Path,
    *,
    dbt_args: list[str] | None = None,
    export_schemas: tuple[str, ...] = ("marts",),
    out: Path | None = None,
    target: str = "spark",
    spark_conf: dict[str, str] | None = None,
    catalog: str = "in-memory",
    python: Path | None = None,
    timeout: float = 1800,
) -> SparkBuild:
    """Run dbt on the Spark session target in the spark venv, sources registered from ``sources``.

    ``dbt_args`` default to ``build --exclude test_type:unit``; project, profiles, target, target
    and log paths are added.  Tables of ``export_schemas`` are written as Parquet to
    ``out/<schema>/<table>/`` (``out`` defaults to ``work/out``).  ``catalog``: ``in-memory`` (the
    session's own catalogue, gone with the process) or ``hive`` (a Derby metastore in ``work``,
    so the tables outlive the run).  Raises SparkError when the
    runner itself fails; a failing dbt run returns ``success=False`` with the failures in
    ``result["failures"]`` and dbt's log.
    """
    py = python or ensure_env()
    work = Path(work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    out = Path(out).resolve() if out else work / "out"
    args = list(dbt_args or ["build", "--exclude", "test_type:unit"])
    args += [
        "--project-dir", str(DBT_DIR),
        "--profiles-dir", str(DBT_DIR),
        "--target", target,
        # never touch dbt/target (the DuckDB runs' manifest) or dbt/logs
        "--target-path", str(work / "dbt-target"),
        "--log-path", str(work / "dbt-logs"),
    ]  # fmt: skip
    job = {
        "work": str(work),
        "sources": str(Path(sources).resolve()),
        "dbt_args": args,
        "export": {"schemas": list(export_schemas), "out": str(out)} if export_schemas else None,
        "spark_conf": spark_conf or {},
        "catalog": catalog,
        "result": str(work / "result.json"),
    }
    job_path = work / "job.json"
    job_path.write_text(json.dumps(job, indent=2))
    env = dict(os.environ)
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    env["PYSPARK_PYTHON"] = str(py)
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: never bind another interface
    # the spark venv has no pipeline package: never let the pipeline venv leak in
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    started = time.monotonic()
    proc = subprocess.run(
        [str(py), str(RUNNER), str(job_path)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.monotonic() - started
    log = proc.stdout + proc.stderr
    result_path = work / "result.json"
    if not result_path.exists():
        tail = "\n".join(log.strip().splitlines()[-40:])
        raise SparkError(f"spark runner exited {proc.returncode} without a result:\n{tail}")
    result = json.loads(result_path.read_text())
    if result.get("error"):
        raise SparkError(f"spark runner failed:\n{result['error']}\n{log[-4000:]}")
    exported = {name: Path(info["path"]) for name, info in (result.get("exported") or {}).items()}
    return SparkBuild(bool(result.get("success")), result, log, seconds, exported)


def build_on_spark(
    warehouse: Path,
    work: Path | None = None,
    *,
    dbt_args: list[str] | None = None,
    spark_conf: dict[str, str] | None = None,
) -> SparkBuild:
    """Export ``warehouse``'s raw+audit to Parquet, ``dbt build --target spark``, export marts.

    ``work`` (default: a new temp directory) holds sources/, the Spark session's
    warehouse, dbt's target/logs and out/marts/<table>/.  Raises SparkError if dbt fails.
    """
    work = Path(work) if work else Path(tempfile.mkdtemp(prefix="grassroots-spark-"))
    sources = work / "sources"
    export_sources(warehouse, sources)
    build = run_dbt(sources, work, dbt_args=dbt_args, spark_conf=spark_conf)
    if not build.success:
        failures = "\n".join(
            f"  {f['node']}: {f['status']}: {f['message'][:400]}"
            for f in build.result.get("failures", [])
        )
        tail = "\n".join(build.log.strip().splitlines()[-30:])
        raise SparkError(f"dbt build --target spark failed:\n{failures}\n{tail}")
    return build


def read_marts(build: SparkBuild, schema: str = "marts") -> dict:
    """{table: pandas.DataFrame} of the exported tables of ``schema``."""
    import pandas as pd

    prefix = f"{schema}."
    return {
        name[len(prefix) :]: pd.read_parquet(path)
        for name, path in sorted(build.exported.items())
        if name.startswith(prefix)
    }


def read_duckdb_marts(warehouse: Path, schema: str = "marts") -> dict:
    """{table: pandas.DataFrame} of every table of ``schema`` in a DuckDB warehouse."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = ? and table_type = 'BASE TABLE' order by 1",
                [schema],
            ).fetchall()
        ]
        return {n: con.execute(f'select * from "{schema}"."{n}"').df() for n in names}
    finally:
        con.close()
