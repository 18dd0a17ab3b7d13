"""Runs INSIDE the dbt-spark virtualenv (``.venvs/spark/bin/python spark_runner.py <job.json>``).

dbt-spark's ``session`` method builds its SparkSession in-process with
``SparkSession.builder.enableHiveSupport().getOrCreate()``, so whatever the models read must be
registered in the same process before dbt starts.  This script:

1. creates the SparkSession (local mode; the session's in-memory catalogue, or with
   ``catalog: hive`` a Derby metastore, and the warehouse directory, under ``work``; session time
   zone UTC, like DuckDB's naive timestamps);
2. registers every Parquet directory of ``sources`` (``<dir>/<schema>/<table>/``, written by
   ``grassroots.spark.export_sources``) as an external table ``<schema>.<table>``;
3. runs dbt with ``dbtRunner`` in this process (dbt picks the session up through getOrCreate);
4. writes every table of the ``export`` schemas as Parquet to ``<out>/<schema>/<table>/``.

It imports only the standard library, pyspark and dbt: the pipeline package is not installed
here.  The job (JSON) and the result (JSON, written to ``job["result"]``) are described in
``grassroots.spark.run_dbt``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

# This file lives in the pipeline package's directory, which Python put first on sys.path; dbt's
# plugin manager imports every top-level module named dbt_* it can see (grassroots/dbt_sources.py
# needs duckdb, absent here).  Only this venv's site-packages may be importable.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]


def _session(work: Path, conf: dict[str, str], catalog: str):
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(conf.pop("spark.master", "local[2]"))
        .appName("grassroots-dbt")
        .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work} -Duser.timezone=UTC")
        .config("spark.sql.session.timeZone", "UTC")
        # DuckDB TIMESTAMP (naive) is written as a Parquet timestamp not adjusted to UTC: read it
        # as Spark's TIMESTAMP in the UTC session zone, so wall-clock values are unchanged.
        .config("spark.sql.parquet.inferTimestampNTZ.enabled", "false")
        # small data: a few shuffle partitions instead of 200
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # hundreds of small queries on small data: compiling whole-stage code and re-planning
        # adaptively cost more than they save (about 15 % of the build here); a cluster's own
        # settings apply on the thrift target, not these
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.adaptive.enabled", "false")
    )
    if catalog == "hive":
        # a persistent catalogue: Derby metastore + warehouse under `work` (survives the process)
        builder = builder.config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={work / 'metastore_db'};create=true",
        ).enableHiveSupport()
    else:
        # the session's own catalogue: no metastore to create; dbt-spark's
        # builder.enableHiveSupport().getOrCreate() gets this session back unchanged
        builder = builder.config("spark.sql.catalogImplementation", "in-memory")
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _register(spark, sources: Path) -> dict[str, list[str]]:
    registered: dict[str, list[str]] = {}
    for schema_dir in sorted(p for p in sources.iterdir() if p.is_dir()):
        schema = schema_dir.name
        spark.sql(f"create database if not exists `{schema}`")
        for table_dir in sorted(p for p in schema_dir.iterdir() if p.is_dir()):
            table = table_dir.name
            spark.sql(f"drop table if exists `{schema}`.`{table}`")
            spark.sql(
                f"create table `{schema}`.`{table}` using parquet "
                f"location '{table_dir.resolve().as_uri()}'"
            )
            registered.setdefault(schema, []).append(table)
    return registered


def _export(spark, schemas: list[str], out: Path) -> dict[str, dict]:
    exported: dict[str, dict] = {}
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for t in spark.catalog.listTables(schema):
            if t.tableType == "VIEW" or t.isTemporary:
                continue
            df = spark.table(f"`{schema}`.`{t.name}`")
            path = out / schema / t.name
            df.coalesce(1).write.mode("overwrite").parquet(str(path))
            exported[f"{schema}.{t.name}"] = {
                "path": str(path),
                "types": {f.name: f.dataType.simpleString() for f in df.schema.fields},
            }
    return exported


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    work = Path(job["work"]).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.chdir(work)  # derby.log and anything else Spark/Derby drop in the working directory
    result: dict = {"success": False, "timings": {}}
    started = time.monotonic()
    try:
        spark = _session(work, dict(job.get("spark_conf") or {}), job.get("catalog", "in-memory"))
        result["catalog"] = spark.conf.get("spark.sql.catalogImplementation")
        result["spark_version"] = spark.version
        result["timings"]["session"] = time.monotonic() - started

        t = time.monotonic()
        result["registered"] = _register(spark, Path(job["sources"]))
        result["timings"]["register"] = time.monotonic() - t

        from dbt.cli.main import dbtRunner

        t = time.monotonic()
        res = dbtRunner().invoke(job["dbt_args"])
        result["timings"]["dbt"] = time.monotonic() - t
        result["dbt_success"] = bool(res.success)
        if res.exception is not None:
            result["dbt_exception"] = repr(res.exception)
        failures = []
        for r in getattr(res.result, "results", None) or []:
            status = str(getattr(r, "status", ""))
            if status.lower() in ("error", "fail", "runtime error", "skipped"):
                failures.append(
                    {"node": r.node.unique_id, "status": status, "message": str(r.message)[:2000]}
                )
        result["failures"] = failures

        if res.success and job.get("export"):
            t = time.monotonic()
            result["exported"] = _export(
                spark, job["export"]["schemas"], Path(job["export"]["out"]).resolve()
            )
            result["timings"]["export"] = time.monotonic() - t
        result["success"] = bool(res.success)
    except Exception:  # noqa: BLE001 -- reported to the caller through the result file
        result["error"] = traceback.format_exc()
    result["timings"]["total"] = time.monotonic() - started
    Path(job["result"]).write_text(json.dumps(result, indent=2, default=str))
    return 0 if result["success"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
