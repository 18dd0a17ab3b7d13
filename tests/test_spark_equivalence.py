"""The same dbt project on Spark builds the same marts as on DuckDB.

A small region (1,500 residents, Q1 2025) is generated, loaded and built on DuckDB; its raw and
audit schemas are exported to Parquet and the project is built again with ``--target spark``
(dbt-spark, ``method: session``: pyspark in local mode on Debian's OpenJDK, in the separate
environment ``.venvs/spark`` that ``grassroots.spark.ensure_env`` installs from
``dbt/spark-requirements.lock``).  Every mart must then equal the DuckDB result: the same columns
in the same order with matching types, the same number of rows, counts and codes exactly, rates
and amounts within 1e-9.

The Spark build is ``dbt build --exclude test_type:unit``: the data tests must pass on Spark too;
unit tests run on DuckDB only.  On Spark, incremental models are full builds (see
dbt/macros/incremental.sql).
"""

from __future__ import annotations

import math
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from grassroots.build import build
from grassroots.generate import generate
from grassroots.ingest import ingest
from grassroots.spark import build_on_spark, ensure_env, read_duckdb_marts, read_marts

pytestmark = pytest.mark.slow

DBT_DIR = Path(__file__).resolve().parent.parent / "dbt"
MARTS = sorted(p.stem for p in (DBT_DIR / "models" / "marts").rglob("mart_*.sql"))
TOLERANCE = 1e-9

# DuckDB type (information_schema.columns.data_type) -> Spark's simpleString of the same type.
SPARK_TYPE = {
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DOUBLE": "double",
    "DECIMAL(18,2)": "decimal(18,2)",
    "VARCHAR": "string",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "BOOLEAN": "boolean",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    ensure_env()  # .venvs/spark from the lock, and Java (apt-get) if missing
    root = tmp_path_factory.mktemp("spark")
    timings: dict[str, float] = {}
    t = time.monotonic()
    landing = root / "landing"
    generate(
        landing,
        residents=1500,
        start=date(2025, 1, 1),
        end=date(2025, 3, 31),
        seed=3,
        progress=False,
    )
    warehouse = root / "wh" / "warehouse.duckdb"
    ingest(landing, warehouse, key=b"k")
    timings["load"] = time.monotonic() - t
    t = time.monotonic()
    build(warehouse)
    timings["duckdb_build"] = time.monotonic() - t
    t = time.monotonic()
    # dbt build --exclude test_type:unit: seeds, models and the data tests, all on Spark
    spark = build_on_spark(warehouse, root / "spark-work")
    timings["spark_build"] = time.monotonic() - t
    print(f"timings: {timings}; spark runner: {spark.timings}")

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' order by table_name, ordinal_position"
        ).fetchall()
    duck_types: dict[str, dict[str, str]] = {}
    for table, column, data_type in rows:
        duck_types.setdefault(table, {})[column] = data_type
    return {
        "duckdb": read_duckdb_marts(warehouse),
        "duck_types": duck_types,
        "spark": read_marts(spark),
        "spark_types": {
            name.split(".", 1)[1]: info["types"] for name, info in spark.result["exported"].items()
        },
        "build": spark,
    }


def test_every_mart_built_on_both(built) -> None:
    assert set(MARTS) == set(built["duckdb"]), "a mart model did not land in DuckDB's marts"
    assert set(MARTS) == set(built["spark"]), "a mart model did not land in Spark's marts"
    # the region is big enough to exercise every mart
    assert all(len(df) > 0 for df in built["duckdb"].values())


def _normalise(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(df)))
    for col, data_type in types.items():
        s = df[col].reset_index(drop=True)
        if data_type in ("DATE", "TIMESTAMP") or data_type.startswith("TIMESTAMP"):
            out[col] = pd.to_datetime(s).astype("datetime64[us]")
        elif data_type == "BOOLEAN":
            out[col] = s.astype("boolean")
        elif data_type == "VARCHAR":
            out[col] = s.astype("string")
        else:  # numbers, decimals included: compared as floats (exact ints stay exact < 2^53)
            out[col] = pd.to_numeric(
                s.astype(object).where(s.notna(), None), errors="raise"
            ).astype("float64")
    return out


def _sorted(df: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    # order by the non-float columns, then floats rounded far above the tolerance
    keys = [c for c, t in types.items() if t != "DOUBLE"] + [
        c for c, t in types.items() if t == "DOUBLE"
    ]
    tmp = df.copy()
    for c, t in types.items():
        if t == "DOUBLE":
            tmp[c] = tmp[c].round(6)
    order = tmp.sort_values(keys, na_position="first", kind="stable").index
    return df.loc[order].reset_index(drop=True)


@pytest.mark.parametrize("mart", MARTS)
def test_mart_equals_duckdb(built, mart: str) -> None:
    duck_types = built["duck_types"][mart]
    duck, spark = built["duckdb"][mart], built["spark"][mart]

    # same columns, same order, and the contracted DuckDB type's Spark counterpart
    assert list(spark.columns) == list(duck.columns)
    spark_types = built["spark_types"][mart]
    wrong = {
        c: (t, spark_types[c])
        for c, t in duck_types.items()
        if SPARK_TYPE.get(t, t.lower()) != spark_types[c]
    }
    assert not wrong, f"{mart}: column types differ (duckdb, spark): {wrong}"

    assert len(spark) == len(duck), f"{mart}: {len(spark)} rows on Spark, {len(duck)} on DuckDB"
    d = _sorted(_normalise(duck, duck_types), duck_types)
    s = _sorted(_normalise(spark, duck_types), duck_types)
    problems = []
    for col, data_type in duck_types.items():
        a, b = d[col], s[col]
        if data_type == "DOUBLE" or data_type.startswith("DECIMAL"):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                if pd.isna(x) and pd.isna(y):
                    continue
                if (
                    pd.isna(x)
                    or pd.isna(y)
                    or not math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
                ):
                    problems.append(f"{col}[{i}]: duckdb {x!r} spark {y!r}")
                    break
        elif not a.equals(b):  # counts, codes, dates, flags: exactly
            problems.append(f"{col}: {_first_diff(a, b)}")
    assert not problems, f"{mart} differs on Spark:\n  " + "\n  ".join(problems)


def _first_diff(a: pd.Series, b: pd.Series) -> str:
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if not ((pd.isna(x) and pd.isna(y)) or x == y):
            return f"row {i}: duckdb {x!r} spark {y!r}"
    return "dtype/NA difference"
