"""Scan a warehouse for any clear id number, name or phone that a landing zone delivered."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb

PERSONAL = ("id_card_no", "name", "phone")


def personal_values(landing: Path) -> dict[str, set[str]]:
    """Every personal value in every delivered file (decoded per its manifest)."""
    found: dict[str, set[str]] = {c: set() for c in PERSONAL}
    for manifest in (landing / "extracts").glob("*/*/manifest.json"):
        m = json.loads(manifest.read_text(encoding="utf-8-sig"))
        enc = "gb18030" if str(m.get("encoding", "")).lower() == "gbk" else "utf-8-sig"
        for entry in m.get("files", []):
            path = manifest.parent / entry["file"]
            if not path.is_file():
                continue
            try:
                text = path.read_bytes().decode(enc)
            except UnicodeDecodeError:
                continue
            for row in csv.DictReader(io.StringIO(text)):
                for col in PERSONAL:
                    v = (row.get(col) or "").strip()
                    if v:
                        found[col].add(v)
    return found


def leaks(warehouse: Path, landing: Path) -> list[str]:
    """Where a delivered personal value appears in any text column of any table."""
    values = personal_values(landing)
    out: list[str] = []
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("CREATE TEMP TABLE pii (kind VARCHAR, value VARCHAR)")
        rows = [(k, v) for k, vs in values.items() for v in vs]
        if not rows:
            return ["the landing zone has no personal values: the scan would prove nothing"]
        con.executemany("INSERT INTO pii VALUES (?, ?)", rows)
        cols = con.execute(
            "SELECT table_catalog, table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND table_schema NOT IN ('information_schema', 'pg_catalog') "
            "AND table_catalog NOT IN ('temp', 'system')"
        ).fetchall()
        for _cat, schema, table, col in cols:
            ref = f'"{schema}"."{table}"."{col}"'
            # Exact values (names, numbers), plus any id-number- or phone-shaped run inside a
            # longer text (JSON rows, details), matched by hash join: linear in the table size.
            hit = con.execute(
                f"""WITH t AS (SELECT "{col}" AS v FROM "{schema}"."{table}" WHERE "{col}" IS NOT NULL),
                tokens AS (
                    SELECT v AS token FROM t
                    UNION ALL
                    SELECT unnest(regexp_extract_all(v, '[0-9]{{17}}[0-9Xx]|[0-9]{{11}}')) FROM t
                )
                SELECT p.kind, count(*) FROM tokens JOIN pii p ON tokens.token = p.value GROUP BY 1"""
            ).fetchall()
            for kind, n in hit:
                out.append(f"{ref}: {n} clear {kind} value(s)")
    finally:
        con.close()
    return out
