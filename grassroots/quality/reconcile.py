"""The frames the raw layer's plausibility checks validate: what the loader's row rules cannot see.

The loader already rejects every row that breaks the standard (types, codes, ranges, keys, fee
sums, orphans), so the raw layer's checks look at a facility's delivery as a whole, one business
date at a time: does it agree with the facility's other datasets of the day, and with the
facility's own recent history?  Each function returns one row per facility (or facility and
department, or facility, dataset and column) with the value its suite bounds
(``grassroots/quality/checks.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from grassroots.contract import DAILY, REFERENCE, Dataset
from grassroots.warehouse import raw_columns

# the facility's own recent history: the business dates before the one validated
HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 7
# below this many rows in a day a share is noise, not evidence
MIN_ROWS = 20
# census discharges vs discharge records: this many, or this share of the census, may differ
# (a discharge delivered a day late, a row quarantined)
CENSUS_TOLERANCE_ROWS = 2
CENSUS_TOLERANCE_SHARE = 0.1


def table_columns(con: duckdb.DuckDBPyConnection, bd: date | None = None) -> pd.DataFrame:
    """Each raw table's columns against the contract's: ``problem`` is ``ok`` or says what
    differs (a table missing, a column missing or one the contract does not have)."""
    actual: dict[str, set[str]] = {}
    for t, c in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'raw'").fetchall():
        actual.setdefault(t, set()).add(c)
    rows = []
    for ds in REFERENCE + DAILY:
        want, have = [n for n, _ in raw_columns(ds)], actual.get(ds.name)
        if have is None:
            rows.append((f"raw.{ds.name}", "", f"raw.{ds.name}: table missing"))
            continue
        for c in sorted(set(want) | have):
            problem = ("ok" if c in have and c in want else
                       f"raw.{ds.name}.{c}: " + ("missing" if c in want else "not in the contract"))
            rows.append((f"raw.{ds.name}", c, problem))
    return pd.DataFrame(rows, columns=["table_name", "column_name", "problem"])


def census_discharges(con: duckdb.DuckDBPyConnection, bd: date) -> pd.DataFrame:
    """Discharges the bed census reports vs the discharge records delivered, per facility."""
    return con.execute(f"""
        WITH c AS (
            SELECT facility_code, sum(discharges) AS census_discharges
            FROM raw.bed_census WHERE _business_date = $bd GROUP BY ALL
        ), d AS (
            SELECT facility_code, count(*) AS discharge_records
            FROM raw.inpatient_discharges
            WHERE _business_date = $bd AND CAST(discharge_time AS DATE) = $bd GROUP BY ALL
        )
        SELECT facility_code, CAST(coalesce(census_discharges, 0) AS BIGINT) AS census_discharges,
               coalesce(discharge_records, 0) AS discharge_records,
               abs(coalesce(census_discharges, 0) - coalesce(discharge_records, 0))
                 - greatest({CENSUS_TOLERANCE_ROWS},
                            {CENSUS_TOLERANCE_SHARE} * coalesce(census_discharges, 0))
                 AS excess_gap
        FROM c FULL JOIN d USING (facility_code) ORDER BY 1
    """, {"bd": bd}).df()


def census_balance(con: duckdb.DuckDBPyConnection, bd: date) -> pd.DataFrame:
    """A ward's occupied beds follow from the day before: yesterday + admissions − discharges."""
    return con.execute("""
        SELECT t.facility_code, t.department_code, t.occupied_beds,
               y.occupied_beds + t.admissions - t.discharges AS expected_occupied,
               abs(t.occupied_beds - (y.occupied_beds + t.admissions - t.discharges))
                 AS balance_gap
        FROM raw.bed_census AS t
        INNER JOIN raw.bed_census AS y
            ON y.facility_code = t.facility_code AND y.department_code = t.department_code
           AND y.census_date = t.census_date - 1
        WHERE t._business_date = $bd AND t.census_date = $bd
        ORDER BY 1, 2
    """, {"bd": bd}).df()


def prescribed_visits(con: duckdb.DuckDBPyConnection, bd: date) -> pd.DataFrame:
    """The share of a facility's visits with a prescription against its own recent share.

    z = (today − history) / the binomial standard error of today's share; a facility whose
    prescriptions stop arriving (or arrive twice) stands out, a busy Monday does not."""
    return con.execute(f"""
        WITH v AS (
            SELECT v.facility_code, v._business_date AS bd,
                   count(*) AS visits,
                   count(*) FILTER (EXISTS (
                       SELECT 1 FROM raw.prescriptions AS p
                       WHERE p.facility_code = v.facility_code AND p.visit_id = v.visit_id
                   )) AS prescribed
            FROM raw.outpatient_visits AS v
            WHERE v._business_date BETWEEN $bd - {HISTORY_DAYS} AND $bd
            GROUP BY ALL
        ), h AS (
            SELECT facility_code, count(*) AS history_days,
                   sum(prescribed) / sum(visits) AS history_share
            FROM v WHERE bd < $bd GROUP BY ALL
        )
        SELECT t.facility_code, t.visits, t.prescribed / t.visits AS share,
               h.history_days, h.history_share,
               (t.prescribed / t.visits - h.history_share) / greatest(
                   sqrt(h.history_share * (1 - h.history_share) / t.visits), 0.01) AS z_score
        FROM v AS t INNER JOIN h USING (facility_code)
        WHERE t.bd = $bd AND t.visits >= {MIN_ROWS} AND h.history_days >= {MIN_HISTORY_DAYS}
        ORDER BY 1
    """, {"bd": bd}).df()


def drug_fees(con: duckdb.DuckDBPyConnection, bd: date) -> pd.DataFrame:
    """The drug fees a facility's visits of the day charge vs its prescription lines' amounts.

    Lines short of the fees mean prescriptions lost on the way (a file rejected, lines
    quarantined); the loader sees each line, not the day's total."""
    return con.execute("""
        WITH v AS (
            SELECT facility_code, sum(drug_fee) AS drug_fee
            FROM raw.outpatient_visits WHERE _business_date = $bd GROUP BY ALL
        ), p AS (
            SELECT facility_code, sum(amount) AS prescribed_amount
            FROM raw.prescriptions WHERE _business_date = $bd GROUP BY ALL
        )
        SELECT facility_code, CAST(drug_fee AS DOUBLE) AS drug_fee,
               CAST(coalesce(prescribed_amount, 0) AS DOUBLE) AS prescribed_amount,
               CAST(coalesce(prescribed_amount, 0) / drug_fee AS DOUBLE) AS covered_share
        FROM v LEFT JOIN p USING (facility_code)
        WHERE drug_fee > 0 ORDER BY 1
    """, {"bd": bd}).df()


def _optional(ds: Dataset) -> list[str]:
    return [c.stored_name for c in ds.stored_columns if not c.required and not c.personal]


def _null_share_sql(ds: Dataset) -> str:
    cols = _optional(ds)
    shares = ", ".join(f"avg(CAST(\"{c}\" IS NULL AS INT)) AS \"{c}\"" for c in cols)
    return f"""
        WITH d AS (
            SELECT facility_code, _business_date AS bd, count(*) AS n, {shares}
            FROM raw.{ds.name}
            WHERE _business_date BETWEEN $bd - {HISTORY_DAYS} AND $bd GROUP BY ALL
        ), long AS (
            UNPIVOT d ON {", ".join(f'"{c}"' for c in cols)} INTO NAME col VALUE null_share
        ), h AS (
            SELECT facility_code, col, count(*) AS history_days,
                   avg(null_share) AS history_null_share
            FROM long WHERE bd < $bd GROUP BY ALL
        )
        SELECT '{ds.name}' AS dataset, t.facility_code, t.col AS "column", t.n AS rows,
               t.null_share, h.history_null_share,
               t.null_share - h.history_null_share AS null_share_shift
        FROM long AS t INNER JOIN h USING (facility_code, col)
        WHERE t.bd = $bd AND t.n >= {MIN_ROWS} AND h.history_days >= {MIN_HISTORY_DAYS}
    """


def null_shares(con: duckdb.DuckDBPyConnection, bd: date) -> pd.DataFrame:
    """Each optional column's share of empty values today against the facility's recent share."""
    parts = [_null_share_sql(ds) for ds in DAILY if _optional(ds)]
    sql = " UNION ALL ".join(f"SELECT * FROM ({p})" for p in parts)
    return con.execute(f"{sql} ORDER BY 1, 2, 3", {"bd": bd}).df()


# frame name (a suite's ``meta.frame``) → the function that reads it
FRAMES: dict[str, Callable[[duckdb.DuckDBPyConnection, date], pd.DataFrame]] = {
    "columns": table_columns,
    "census_discharges": census_discharges,
    "census_balance": census_balance,
    "prescribed_visits": prescribed_visits,
    "drug_fees": drug_fees,
    "null_shares": null_shares,
}
