"""The row rules over a staged table: good rows into ``raw.<dataset>``, the rest quarantined."""

from __future__ import annotations

import duckdb

from grassroots.contract import Column, Dataset
from grassroots.ingest import audit
from grassroots.ingest.keyed import hmac_sql
from grassroots.rules import (
    checks_for,
    duplicates_sql,
    id_card_text,
    parents_sql,
    projection,
    typed,
)


def validate_and_load(
    con: duckdb.DuckDBPyConnection, ds: Dataset, table: str, batch_id: int, *, delivering: bool
) -> None:
    """Run every rule over the staged rows; load the good ones, quarantine the rest."""
    checks = checks_for(ds, delivering=delivering)
    failures = ", ".join(
        f"CASE WHEN coalesce({c.condition}, FALSE) THEN '{c.reason}|' || coalesce({c.detail}, '') END"
        for c in checks
    )
    # Only the failing rows are materialised (with their reasons): a copy of every staged row
    # with its failure list cost more than the rules themselves.  (file, line) is a staged row's key.
    con.execute(duplicates_sql(ds, table))
    if parents := parents_sql(ds, table):
        con.execute(parents)
    # The rows that break any rule are found first, so the list of reasons is built for them only.
    broken = " OR ".join(f"coalesce({c.condition}, FALSE)" for c in checks) or "FALSE"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_bad AS
            SELECT v._file_id, v._line_no,
                   list_filter([{failures}], lambda x: x IS NOT NULL) AS _failures
            FROM (SELECT {projection(ds)} FROM {table} v) v
            WHERE {broken}"""
    )
    stored = ds.stored_columns
    target = [c.stored_name for c in stored]
    values = [_stored_value(c) for c in stored]
    if delivering:
        target += ["_delivery_facility", "_business_date", "_delivery_version", "_file_name",
                   "_line_no", "_batch_id"]
        values += ["v._delivery_facility", "v._business_date", "v._delivery_version",
                   "v._file_name", "v._line_no", str(batch_id)]
    else:
        target += ["_snapshot_sha256", "_batch_id"]
        values += ["v._file_name", str(batch_id)]  # reference: _file_name holds the sha256
    con.execute(
        f"INSERT INTO raw.{ds.name} ({', '.join(target)}) SELECT {', '.join(values)} "
        f"FROM {table} v ANTI JOIN {table}_bad b USING (_file_id, _line_no) "
        "ORDER BY v._file_id, v._line_no"
    )
    audit.quarantine_rows(con, ds, table, batch_id, delivering=delivering)


def _stored_value(c: Column) -> str:
    if c.personal == "id_card":
        return hmac_sql(id_card_text(f'v."{c.name}"'))
    return f"CAST({typed(c)} AS {c.duckdb_type})"
