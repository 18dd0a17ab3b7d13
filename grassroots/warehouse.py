"""Warehouse layout: the DDL of the ``raw`` and ``audit`` schemas, derived from the contract.

``raw.<dataset>`` holds every row of every *currently loaded* facility-day delivery (a
redelivery deletes the earlier version's rows); the latest-wins resolution of ids that reappear on
later days is dbt's job (``int_*_current``).  Personal columns: ``id_card_no`` is stored as
``id_card_hash`` (HMAC-SHA256 hex), ``name``/``phone`` are not stored at all.
"""

from __future__ import annotations

import duckdb

from grassroots.contract import (
    DAILY,
    LINEAGE_COLUMNS,
    REFERENCE,
    REFERENCE_LINEAGE,
    Dataset,
)

AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE TABLE IF NOT EXISTS audit.batches (
    batch_id BIGINT PRIMARY KEY,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    landing VARCHAR,
    date_from DATE,
    date_to DATE,
    deliveries_loaded INTEGER,
    rows_loaded BIGINT,
    rows_quarantined BIGINT
);
-- One row per facility-day delivery seen (a version, or a folder with no usable manifest:
-- delivery_version NULL).  content_sha256 tells a conflicting resend of the same version apart.
CREATE TABLE IF NOT EXISTS audit.deliveries (
    facility_code VARCHAR NOT NULL,
    business_date DATE NOT NULL,
    delivery_version INTEGER,
    status VARCHAR NOT NULL,
    detail VARCHAR,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    received_at TIMESTAMP,
    content_sha256 VARCHAR,
    generated_at TIMESTAMP,
    encoding VARCHAR,
    files_delivered INTEGER,
    files_rejected INTEGER,
    archive_path VARCHAR,
    batch_id BIGINT
);
-- One row per rejected row (line_no set) or file (line_no NULL).  row_data is the row as
-- delivered (JSON of text values) with personal fields masked.
CREATE TABLE IF NOT EXISTS audit.quarantine (
    facility_code VARCHAR,
    business_date DATE,
    delivery_version INTEGER,
    dataset VARCHAR,
    file_name VARCHAR,
    line_no BIGINT,
    reason VARCHAR NOT NULL,
    detail VARCHAR,
    row_data VARCHAR,
    batch_id BIGINT
);
-- Months whose rows changed in a batch (inserted or deleted), per dataset and facility: the
-- incremental dbt models rebuild exactly these.
CREATE TABLE IF NOT EXISTS audit.load_changes (
    batch_id BIGINT,
    dataset VARCHAR,
    facility_code VARCHAR,
    month DATE,
    -- 'loaded': rows came in (or an older version of one of their keys lies in this month);
    -- 'deleted': a redelivery removed rows.  Latest-wins models look up their keys only for
    -- deletions (new keys come with their rows); null in warehouses older than the column.
    kind VARCHAR
);
-- Reference snapshots seen (full files; the latest wins).
CREATE TABLE IF NOT EXISTS audit.reference_snapshots (
    dataset VARCHAR,
    sha256 VARCHAR,
    rows_loaded BIGINT,
    rows_quarantined BIGINT,
    received_at TIMESTAMP,
    archive_path VARCHAR,
    batch_id BIGINT
);
"""

# Great Expectations results over time (grassroots.quality.history), appended after every
# validation: re-validating a business date adds rows; readers take the latest recorded_at per
# (business_date, layer).  Kept apart from AUDIT_DDL so recording creates only these tables.
VALIDATION_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
-- One row per validation run x layer (raw | marts).  failed counts severity-error expectations
-- (errored ones included, errored is the subset that raised); warnings are reported only.
CREATE TABLE IF NOT EXISTS audit.validation_results (
    business_date DATE,
    layer VARCHAR NOT NULL,
    success BOOLEAN NOT NULL,
    evaluated INTEGER,
    failed INTEGER,
    errored INTEGER,
    warnings INTEGER,
    outliers INTEGER,
    suites INTEGER,
    failed_checks VARCHAR,
    recorded_at TIMESTAMP NOT NULL
);
-- One row per failing or warning expectation of a run (same business_date, layer, recorded_at).
CREATE TABLE IF NOT EXISTS audit.validation_failures (
    business_date DATE,
    layer VARCHAR NOT NULL,
    suite VARCHAR,
    check_id VARCHAR,
    category VARCHAR,
    severity VARCHAR,
    observed VARCHAR,
    unexpected_count BIGINT,
    recorded_at TIMESTAMP NOT NULL
);
"""

# The pulls from the registered sources (grassroots.pull), recorded from the pull journal.
PULL_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
-- One row per source per poke: reached or not, and how many folders it pulled, left waiting
-- (upload not finished) or refused.
CREATE TABLE IF NOT EXISTS audit.source_checks (
    record_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    remote VARCHAR,
    business_date DATE,
    status VARCHAR NOT NULL,
    detail VARCHAR,
    folders_pulled INTEGER,
    folders_waiting INTEGER,
    folders_refused INTEGER,
    checked_at TIMESTAMP NOT NULL
);
-- One row per folder (or reference file) pulled, and per folder refused (recorded once):
-- where from, when, which version, and the sha256 of every file ([{file, sha256, bytes}]).
CREATE TABLE IF NOT EXISTS audit.pulls (
    record_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    remote VARCHAR,
    facility_code VARCHAR,
    business_date DATE,
    delivery_version INTEGER,
    status VARCHAR NOT NULL,
    detail VARCHAR,
    manifest_sha256 VARCHAR,
    files VARCHAR,
    bytes BIGINT,
    pulled_at TIMESTAMP NOT NULL
);
"""


def raw_columns(ds: Dataset) -> list[tuple[str, str]]:
    """A raw table's columns and types: the contract's stored columns, then the lineage."""
    lineage = LINEAGE_COLUMNS if ds.kind == "daily" else REFERENCE_LINEAGE
    return [(c.stored_name, c.duckdb_type) for c in ds.stored_columns] + list(lineage)


def raw_table_ddl(ds: Dataset) -> str:
    cols = [f"{n} {t}" for n, t in raw_columns(ds)]
    return f"CREATE TABLE IF NOT EXISTS raw.{ds.name} (\n    " + ",\n    ".join(cols) + "\n)"


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw and audit schemas if absent (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for ds in REFERENCE + DAILY:
        con.execute(raw_table_ddl(ds))
    con.execute(AUDIT_DDL)
    # columns added since the first release (CREATE TABLE IF NOT EXISTS keeps an older table)
    con.execute("ALTER TABLE audit.load_changes ADD COLUMN IF NOT EXISTS kind VARCHAR")
    con.execute(VALIDATION_DDL)
