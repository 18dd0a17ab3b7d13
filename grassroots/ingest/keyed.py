"""Keyed hashing of id numbers (HMAC-SHA256) as SQL, so it runs over whole columns."""

from __future__ import annotations

import hashlib

import duckdb


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256 inner/outer pads, so the hash runs as SQL over whole columns."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    k = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in k), bytes(b ^ 0x5C for b in k)


def bind_key(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Bind the pads as variables of the connection (the key never appears in SQL text)."""
    ipad, opad = hmac_pads(key)
    con.execute("SET VARIABLE gr_ipad = ?::BLOB", [ipad])
    con.execute("SET VARIABLE gr_opad = ?::BLOB", [opad])


def hmac_sql(expr: str) -> str:
    """SQL for HMAC-SHA256(key, expr) hex, with the pads bound as variables of the connection."""
    return (
        f"CASE WHEN {expr} IS NOT NULL THEN sha256(getvariable('gr_opad') || "
        f"unhex(sha256(getvariable('gr_ipad') || encode({expr})))) END"
    )
