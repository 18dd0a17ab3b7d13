"""Compare an expected mart (oracle) with the warehouse's actual mart, row by row.

``compare_frames`` aligns both frames on the key columns and checks every non-key column of
``expected`` (or just ``columns``). Numbers match when both are null or
``isclose(e, a, rel_tol, abs_tol)``; other values compare as strings (booleans as 0/1). Key
values are normalised first: dates/timestamps → ``datetime64`` at midnight-precision, numbers
→ int where integral, everything else → str, null → None. Any difference raises an
AssertionError listing missing rows, extra rows and the first ``limit`` value mismatches.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd


def _norm_key(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        s = s.astype(object)
    elif pd.api.types.is_bool_dtype(s):
        return s.map(lambda v: None if pd.isna(v) else int(v))
    if pd.api.types.is_numeric_dtype(s):
        return s.map(
            lambda v: None if pd.isna(v) else int(v) if float(v).is_integer() else float(v)
        )

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp | dt.datetime):
            ts = pd.Timestamp(v)
            return ts.isoformat()[:10] if ts == ts.normalize() else ts.isoformat()
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, bool | np.bool_):
            return int(v)
        if isinstance(v, int | np.integer):
            return int(v)
        if isinstance(v, float | np.floating):
            return int(v) if float(v).is_integer() else float(v)
        return str(v)

    return s.map(one)


def _is_null(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _as_number(v: object) -> float | None:
    if isinstance(v, bool | np.bool_):
        return float(v)
    if isinstance(v, int | float | np.integer | np.floating | Decimal):
        return float(v)
    return None


def _same(e: object, a: object, rel_tol: float, abs_tol: float) -> bool:
    if _is_null(e) or _is_null(a):
        return _is_null(e) and _is_null(a)
    en, an = _as_number(e), _as_number(a)
    if en is not None and an is not None:
        return math.isclose(en, an, rel_tol=rel_tol, abs_tol=abs_tol)
    if isinstance(e, pd.Timestamp | dt.date) or isinstance(a, pd.Timestamp | dt.date):
        return pd.Timestamp(e) == pd.Timestamp(a)
    return str(e) == str(a)


def compare_frames(
    mart_name: str,
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    keys: Sequence[str],
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-9,
    columns: Sequence[str] | None = None,
    limit: int = 20,
) -> None:
    """Raise AssertionError describing every difference between ``expected`` and ``actual``."""
    keys = list(keys)
    cols = list(columns) if columns is not None else [c for c in expected.columns if c not in keys]
    problems: list[str] = []
    missing_cols = [c for c in keys + cols if c not in actual.columns]
    if missing_cols:
        raise AssertionError(f"{mart_name}: actual lacks columns {missing_cols}")

    e = expected[keys + cols].copy()
    a = actual[keys + cols].copy()
    for k in keys:
        e[k] = _norm_key(e[k])
        a[k] = _norm_key(a[k])
    for name, df in (("expected", e), ("actual", a)):
        dup = df.duplicated(keys, keep=False)
        if dup.any():
            sample = df.loc[dup, keys].head(5).to_dict("records")
            problems.append(f"{mart_name}: {dup.sum()} duplicate key rows in {name}: {sample}")

    m = e.merge(a, on=keys, how="outer", suffixes=("__e", "__a"), indicator=True)
    miss = m[m["_merge"] == "left_only"]
    extra = m[m["_merge"] == "right_only"]
    if len(miss):
        problems.append(
            f"{mart_name}: {len(miss)} expected rows missing from actual, e.g. "
            f"{miss[keys].head(limit).to_dict('records')}"
        )
    if len(extra):
        problems.append(
            f"{mart_name}: {len(extra)} unexpected rows in actual, e.g. "
            f"{extra[keys].head(limit).to_dict('records')}"
        )

    both = m[m["_merge"] == "both"]
    mismatches: list[str] = []
    n_bad = 0
    for c in cols:
        ev = both[f"{c}__e"].tolist()
        av = both[f"{c}__a"].tolist()
        bad = [
            i
            for i, (x, y) in enumerate(zip(ev, av, strict=True))
            if not _same(x, y, rel_tol, abs_tol)
        ]
        n_bad += len(bad)
        for i in bad:
            if len(mismatches) >= limit:
                break
            kv = {k: both[k].iloc[i] for k in keys}
            mismatches.append(f"  {mart_name} {kv} {c}: expected {ev[i]!r}, actual {av[i]!r}")
    if n_bad:
        problems.append(f"{mart_name}: {n_bad} value mismatches (first {len(mismatches)}):")
        problems.extend(mismatches)
    if problems:
        raise AssertionError("\n".join(problems))


def compare_warehouse(
    expected: dict[str, pd.DataFrame],
    warehouse: str | Path,
    keys: dict[str, Sequence[str]],
    columns: dict[str, Sequence[str]] | None = None,
    schema: str = "marts",
    **tol: float,
) -> None:
    """Compare every mart in ``expected`` with ``<schema>.<mart>`` of a DuckDB warehouse file.

    Collects the failures of all marts into one AssertionError (so one run shows everything).
    ``keys`` maps mart name -> key columns (``marts.MARTS`` has them); ``columns`` optionally
    restricts the compared metric columns per mart.
    """
    import duckdb

    failures: list[str] = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for name, exp in expected.items():
            try:
                act = con.execute(f'select * from "{schema}"."{name}"').df()
            except duckdb.Error as e:
                failures.append(f"{name}: cannot read actual mart: {e}")
                continue
            try:
                compare_frames(name, exp, act, keys[name], columns=(columns or {}).get(name), **tol)
            except AssertionError as e:
                failures.append(str(e))
    finally:
        con.close()
    if failures:
        raise AssertionError("\n\n".join(failures))
