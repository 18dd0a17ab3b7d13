"""No clear id number, name or phone anywhere past ingestion."""

from __future__ import annotations

from conftest import Env
from handmade import RECORD_HEADER, VISIT_HEADER, id_card, record, visit
from privacy import leaks

C = "C330102001"


def test_handmade_delivery_leaves_no_personal_data(env: Env) -> None:
    idc = id_card("330102", "1950-04-02")
    env.landing.delivery("2025-03-01", C, {
        "health_records": (RECORD_HEADER, [
            record("R0000000001"),
            # quarantined rows keep the row, masked
            record("R0000000002", birth="1950-04-03", id_card_no=idc, name="李四",
                   phone="13912345678"),
        ]),
        "outpatient_visits": (VISIT_HEADER, [visit("V1", id_card_no=idc),
                                             visit("V2", id_card_no=idc, visit_type="x")]),
    })
    env.run()
    assert env.sql("SELECT count(*) FROM audit.quarantine") == [(2,)]
    assert leaks(env.warehouse, env.landing.root) == []
    # the hash links the same person across datasets
    hashes = env.sql("SELECT DISTINCT id_card_hash FROM raw.outpatient_visits "
                     "UNION SELECT id_card_hash FROM raw.health_records WHERE resident_id = 'R0000000001'")
    assert len(hashes) == 1 and len(hashes[0][0]) == 64


def test_the_scan_finds_a_planted_leak(env: Env) -> None:
    import duckdb
    env.landing.delivery("2025-03-01", C, {"health_records": (RECORD_HEADER, [record("R0000000001")])})
    env.run()
    con = duckdb.connect(str(env.warehouse))
    con.execute("CREATE TABLE main.leaky AS SELECT '13800138000' AS phone_copy, "
                "'{\"x\": \"" + id_card("330102", "1950-04-02") + "\"}' AS blob")
    con.close()
    found = leaks(env.warehouse, env.landing.root)
    assert any("phone" in f for f in found) and any("id_card_no" in f for f in found)
