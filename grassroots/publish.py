"""Publish the marts into a separate, read-only serving DuckDB file for Superset.

DuckDB lets one read-write process exclude every other opener, readers included, so Superset
must never open the warehouse itself.  ``publish_serving`` opens the warehouse read-only, copies
schema ``marts`` (every table and view, materialised as tables), the metric catalogue (dbt seed)
and small name dimensions into a *new* file next to ``serving``, then ``os.replace``s it onto
``serving``.  The rename is atomic: a reader that already has the old file open keeps reading
the old inode; a connection opened afterwards sees the new file.  No one ever sees a half-written
serving file, and the warehouse lock is never held by Superset.

Layout of the serving file::

    marts.<every table/view of the warehouse's marts schema>
    reference.metric_catalogue        (if the seed exists in any schema of the warehouse)
    dims.dim_region                   community -> street -> district (Chinese names)
    dims.dim_district
    dims.dim_facility                 facility name, type, level group, district, alliance
    dims.dim_team                     family-doctor team name and facility
    dims.dim_month                    the calendar: every month up to the latest business date
                                      loaded (data_as_of), its as-of date and completeness
    audit.validation_results          GX results over time (grassroots.quality.history); empty
    audit.validation_failures         when the warehouse has none yet
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from grassroots.settings import duckdb_memory_limit
from grassroots.warehouse import VALIDATION_DDL

# Dimension tables: the first source query that works is used.  They give the dashboards Chinese
# names for codes; the marts carry codes only.
_DIMS: dict[str, list[str]] = {
    "dim_region": [
        "select region_code, community_name, street_code, street_name, district_code,"
        " district_name from wh.intermediate.int_regions_hierarchy",
    ],
    "dim_district": [
        "select region_code as district_code, region_name as district_name"
        " from wh.staging.stg_raw__regions where region_level = 'district'",
        "select distinct district_code, district_name from wh.intermediate.int_regions_hierarchy",
    ],
    "dim_facility": [
        "select facility_code, facility_name, facility_type, level_group, district_code,"
        " district_name, alliance_code, is_grassroots from wh.intermediate.int_facilities_classified",
    ],
    "dim_team": [
        "select team_code, team_name, facility_code from wh.staging.stg_raw__teams",
    ],
    # the dashboards' time range: months with data, and the latest business date loaded
    "dim_month": [
        "select month, month_end, as_of_date, is_complete, data_as_of, year"
        " from wh.intermediate.int_calendar_months",
        # a warehouse without the dbt calendar: the months of the business dates loaded
        "select month, last_day(month) as month_end, least(last_day(month), data_as_of) as as_of_date,"
        " last_day(month) <= data_as_of as is_complete, data_as_of, year(month) as year"
        " from (select unnest(generate_series(date_trunc('month', min(business_date)),"
        " date_trunc('month', max(business_date)), interval 1 month))::date as month,"
        " max(business_date) as data_as_of from wh.audit.deliveries where status = 'loaded')",
    ],
}


_DIM_FALLBACK = {
    "dim_region": "region_code varchar, community_name varchar, street_code varchar,"
    " street_name varchar, district_code varchar, district_name varchar",
    "dim_district": "district_code varchar, district_name varchar",
    "dim_facility": "facility_code varchar, facility_name varchar, facility_type varchar,"
    " level_group varchar, district_code varchar, district_name varchar, alliance_code varchar,"
    " is_grassroots boolean",
    "dim_team": "team_code varchar, team_name varchar, facility_code varchar",
    "dim_month": "month date, month_end date, as_of_date date, is_complete boolean, data_as_of date,"
    " year integer",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _find_catalogue(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_catalog = 'wh' and table_name = 'metric_catalogue'"
        " order by case table_schema when 'reference' then 0 when 'marts' then 1"
        " when 'main' then 2 else 3 end"
    ).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def publish_serving(warehouse: Path, serving: Path) -> Path:
    """Copy the marts (+ metric catalogue and name dimensions) into ``serving``, atomically.

    Returns ``serving``.  Raises ``ValueError`` when the warehouse has no ``marts`` schema.
    """
    warehouse = Path(warehouse).resolve()
    serving = Path(serving).resolve()
    serving.parent.mkdir(parents=True, exist_ok=True)
    tmp = serving.with_name(f".{serving.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp), config={"memory_limit": duckdb_memory_limit()})
        try:
            con.execute(f"attach {_lit(str(warehouse))} as wh (read_only)")
            tables = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables"
                    " where table_catalog = 'wh' and table_schema = 'marts' order by 1"
                ).fetchall()
            ]
            if not tables:
                raise ValueError(f"{warehouse} has no tables in schema 'marts'; run the build first")
            con.execute("create schema marts")
            for t in tables:
                con.execute(f"create table marts.{_q(t)} as select * from wh.marts.{_q(t)}")

            con.execute("create schema reference")
            cat = _find_catalogue(con)
            if cat:
                con.execute(
                    "create table reference.metric_catalogue as"
                    f" select * from wh.{_q(cat[0])}.{_q(cat[1])}"
                )

            con.execute("create schema dims")
            for name, queries in _DIMS.items():
                for sql in queries:
                    try:
                        con.execute(f"create table dims.{name} as {sql}")
                        break
                    except duckdb.Error:
                        continue
                else:  # keep the dashboards' joins valid: an empty table, names fall back to codes
                    con.execute(f"create table dims.{name} ({_DIM_FALLBACK[name]})")
            # the tables always exist (DDL of the warehouse), so the dashboards' SQL stays valid
            # on a warehouse that was never validated or predates them
            con.execute(VALIDATION_DDL)
            have = {r[0] for r in con.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = 'wh' and table_schema = 'audit'").fetchall()}
            for t in ("validation_results", "validation_failures"):
                if t in have:
                    con.execute(f"insert into audit.{t} by name select * from wh.audit.{t}")
            con.execute("detach wh")
            con.execute("checkpoint")
        finally:
            con.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, serving)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            if leftover.exists():
                leftover.unlink()
    return serving


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
