"""Delivery semantics of the standard, on landing zones written by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import TEST_KEY, Env, table_hashes
from handmade import RECORD_HEADER, REFERRAL_HEADER, RX_HEADER, VISIT_HEADER, record, rx, visit

from grassroots.ingest import IngestError
from grassroots.ingest.archive import archived

C = "C330102001"
H = "H330102001"


def referral(rid: str, status: str, when: str = "2025-03-01T10:00:00") -> dict:
    return dict(referral_id=rid, facility_code=C, to_facility_code="H330102001",
                resident_id="R0000000001", referral_time=when, direction="up",
                referral_kind="outpatient", diagnosis_code="I10", team_code="T0001",
                priority_slot="Y", status=status)


def visits(env: Env) -> list[tuple]:
    return env.sql("SELECT visit_id, total_fee::VARCHAR, _business_date::VARCHAR, "
                   "_delivery_version FROM raw.outpatient_visits ORDER BY ALL")


def deliveries(env: Env) -> list[tuple]:
    return env.sql("SELECT facility_code, business_date::VARCHAR, delivery_version, status "
                   "FROM audit.deliveries ORDER BY business_date, delivery_version, status")


def test_redelivery_replaces_the_facility_day_and_drops_absent_datasets(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1"), visit("V2")]),
        "prescriptions": (RX_HEADER, [rx("P1", 1, "V1")]),
    })
    env.run()
    archived_v1 = env.sql("SELECT archive_path FROM audit.deliveries")[0][0]
    env.landing.delivery("2025-03-01", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1", total_fee="50.00", drug_fee="10.00",
                                                   insurance_paid="20.00")]),
    }, version=2)
    env.run()
    assert visits(env) == [("V1", "50.00", "2025-03-01", 2)]
    assert env.sql("SELECT count(*) FROM raw.prescriptions") == [(0,)]  # absent from v2
    assert deliveries(env) == [(C, "2025-03-01", 1, "superseded"), (C, "2025-03-01", 2, "loaded")]
    # the first version's files are still there, unchanged
    assert (archived(archived_v1) / "prescriptions.csv").is_file()
    months = env.sql("SELECT DISTINCT dataset, month::VARCHAR, kind FROM audit.load_changes "
                     "WHERE batch_id = 2 ORDER BY ALL")
    assert months == [("outpatient_visits", "2025-03-01", "deleted"),
                      ("outpatient_visits", "2025-03-01", "loaded"),
                      ("prescriptions", "2025-03-01", "deleted")]


def test_same_version_same_content_is_a_no_op(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.run()
    before = env.state()
    # rewritten with a new generated_at but identical files: nothing happens
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         generated_at="2025-03-02T05:00:00")
    report = env.run()
    assert not report.changed
    assert env.state() == before


def test_same_version_other_content_is_a_conflict_and_changes_nothing(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.run()
    env.landing.delivery("2025-03-01", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1", total_fee="1.00", drug_fee="1.00",
                                                   exam_fee="0", treatment_fee="0", other_fee="0",
                                                   insurance_paid="0", self_paid="1.00")])})
    report = env.run()
    assert report.statuses["conflict"] == 1
    assert visits(env) == [("V1", "100.00", "2025-03-01", 1)]
    assert deliveries(env) == [(C, "2025-03-01", 1, "conflict"), (C, "2025-03-01", 1, "loaded")]
    detail = env.sql("SELECT detail, archive_path FROM audit.deliveries WHERE status = 'conflict'")
    assert "already loaded" in detail[0][0] and archived(detail[0][1]).is_dir()
    again = env.state()
    env.run()  # reported once, not again
    assert env.state() == again


def test_lower_version_after_higher_is_superseded(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         version=3)
    env.run()
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V2")])},
                         version=2)
    env.run()
    assert visits(env) == [("V1", "100.00", "2025-03-01", 3)]
    assert deliveries(env) == [(C, "2025-03-01", 2, "superseded"), (C, "2025-03-01", 3, "loaded")]


@pytest.mark.parametrize("problem", ["no_manifest", "missing_file", "checksum", "row_count"])
def test_incomplete_folder_is_reported_then_loads_when_whole(env: Env, problem: str) -> None:
    files = {"outpatient_visits": (VISIT_HEADER, [visit("V1")]),
             "health_records": (RECORD_HEADER, [record("R0000000001")])}
    folder = env.landing.delivery("2025-03-01", C, files)
    target = folder / "outpatient_visits.csv"
    original = target.read_bytes()
    if problem == "no_manifest":
        (folder / "manifest.json").unlink()
    elif problem == "missing_file":
        target.unlink()
    elif problem == "checksum":
        target.write_bytes(original[:-10])
    else:  # a consistent file whose row count the manifest misstates
        import json
        m = json.loads((folder / "manifest.json").read_text())
        m["files"][0]["rows"] = 5
        (folder / "manifest.json").write_text(json.dumps(m))
    env.run()
    assert env.sql("SELECT status FROM audit.deliveries") == [("incomplete",)]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(0,)]  # nothing of it loads
    if problem in ("checksum", "row_count"):
        assert env.sql("SELECT reason FROM audit.quarantine") == [(f"{problem.replace('row_count', 'row_count_mismatch').replace('checksum', 'checksum_mismatch')}",)]
    state = env.state()
    env.run()
    assert env.state() == state  # re-checked, still incomplete: nothing new
    env.landing.delivery("2025-03-01", C, files)  # the folder becomes whole
    env.run()
    assert env.sql("SELECT status FROM audit.deliveries") == [("loaded",)]
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(1,)]


def test_rejected_manifest(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         manifest_overrides={"facility_code": "H330102001"})
    env.landing.delivery("2025-03-01", "X999999999",
                         {"outpatient_visits": (VISIT_HEADER, [visit("V2")])})
    env.run()
    rows = env.sql("SELECT facility_code, status, detail FROM audit.deliveries ORDER BY 1")
    assert [(f, s) for f, s, _ in rows] == [(C, "rejected"), ("X999999999", "rejected")]
    assert "differs from folder" in rows[0][2] and "unknown_facility" in rows[1][2]
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]


def test_late_entry_loads_with_its_own_event_date(env: Env) -> None:
    env.landing.delivery("2025-03-10", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1", when="2025-02-27T08:00:00")])})
    env.run()
    assert env.sql("SELECT visit_time::VARCHAR, _business_date::VARCHAR FROM raw.outpatient_visits"
                   ) == [("2025-02-27 08:00:00", "2025-03-10")]
    assert env.sql("SELECT month::VARCHAR FROM audit.load_changes WHERE dataset = "
                   "'outpatient_visits'") == [("2025-02-01",)]


def test_cross_day_update_keeps_both_rows_with_their_lineage(env: Env) -> None:
    """Latest-wins happens in dbt (int_*_current); raw keeps each delivery's row."""
    env.landing.delivery("2025-03-01", C, {
        "referrals": (REFERRAL_HEADER, [referral("RF1", "requested")])})
    env.landing.delivery("2025-03-04", C, {
        "referrals": (REFERRAL_HEADER, [referral("RF1", "arrived")])})
    env.run()
    assert env.sql("SELECT status, _business_date::VARCHAR FROM raw.referrals ORDER BY 2") == [
        ("requested", "2025-03-01"), ("arrived", "2025-03-04")]


def test_prescription_may_refer_to_an_earlier_days_visit_but_not_a_later_one(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")]),
                                           "prescriptions": (RX_HEADER, [rx("P2", 1, "V2")])})
    env.landing.delivery("2025-03-02", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V2", when="2025-03-02T09:00:00")]),
        "prescriptions": (RX_HEADER, [rx("P1", 1, "V1")])})
    env.run()
    assert env.sql("SELECT prescription_id FROM raw.prescriptions") == [("P1",)]
    assert env.sql("SELECT reason, business_date::VARCHAR FROM audit.quarantine") == [
        ("orphan_row", "2025-03-01")]


def test_gbk_delivery(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"health_records": (RECORD_HEADER, [
        record("R0000000001", occupation="农民", past_history="高血压病史")])}, encoding="gbk")
    raw = (env.landing.root / "extracts/2025-03-01" / C / "health_records.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    env.run()
    assert env.sql("SELECT occupation, past_history FROM raw.health_records") == [
        ("农民", "高血压病史")]


def test_utf8_bom(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         bom=True)
    env.run()
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V1",)]
    assert env.sql("SELECT count(*) FROM audit.quarantine") == [(0,)]


def test_date_range(env: Env) -> None:
    for d in ("2025-03-01", "2025-03-02", "2025-03-03"):
        env.landing.delivery(d, C, {"outpatient_visits": (VISIT_HEADER, [
            visit(f"V{d[-1]}", when=f"{d}T09:00:00")])})
    from datetime import date
    env.run(date_from=date(2025, 3, 2), date_to=date(2025, 3, 2))
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V2",)]
    env.run()
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(3,)]


def test_reference_snapshot_latest_wins(env: Env) -> None:
    env.run()
    from handmade import REFERENCE
    drugs = REFERENCE["drugs"] + [["D004", "阿托伐他汀", "C10AA05", "Y", "N", "Y"]]
    env.landing.reference({"drugs": drugs})
    env.run()
    assert env.sql("SELECT count(*) FROM raw.drugs") == [(4,)]
    assert env.sql("SELECT count(*) FROM audit.reference_snapshots WHERE dataset = 'drugs'") == [(2,)]


def test_missing_reference_is_a_clear_error(tmp_path: Path) -> None:
    env = Env(tmp_path)
    (env.landing.root / "reference" / "facilities.csv").unlink()
    with pytest.raises(IngestError, match="facilities.csv is missing"):
        env.run()


def _busy_landing(env: Env) -> None:
    """Deliveries over 70 days: several load chunks."""
    from datetime import date, timedelta
    d0 = date(2025, 1, 1)
    for i in range(0, 70, 3):
        d = (d0 + timedelta(days=i)).isoformat()
        env.landing.delivery(d, C, {
            "outpatient_visits": (VISIT_HEADER, [visit(f"V{i}-{k}", when=f"{d}T09:00:00")
                                                 for k in range(20)]),
            "prescriptions": (RX_HEADER, [rx(f"P{i}-{k}", 1, f"V{i}-{k}") for k in range(20)]),
            "health_records": (RECORD_HEADER, [record(f"R{i:010d}", registered_date=d)]),
        })
    # a bad row too, so quarantine is part of the state
    env.landing.delivery("2025-03-20", C, {"outpatient_visits": (VISIT_HEADER, [
        visit("VX", when="2025-03-20T09:00:00", visit_type="nope")])})


def test_idempotent(env: Env) -> None:
    _busy_landing(env)
    env.run()
    first = env.state()
    report = env.run()
    assert not report.changed
    assert env.state() == first


def test_crash_mid_load_leaves_the_warehouse_unchanged_and_the_rerun_completes(
    tmp_path: Path,
) -> None:
    clean = Env(tmp_path / "clean")
    _busy_landing(clean)
    clean.run()
    expected = clean.state()

    crashed = Env(tmp_path / "crashed")
    _busy_landing(crashed)
    # a first, small run so the crash hits a warehouse that already has data
    from datetime import date
    crashed.run(date_to=date(2025, 1, 1))
    before = crashed.state()
    script = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import grassroots.ingest as ingest
        from grassroots.ingest import load
        load.CHUNK_ROWS = 1  # a chunk per business date
        calls = 0
        original = load.load_chunk
        def load_chunk(run, chunk):
            global calls
            original(run, chunk)
            calls += 1
            if calls == 2:  # killed after real work, before commit
                os.kill(os.getpid(), signal.SIGKILL)
        load.load_chunk = load_chunk
        ingest.ingest(Path({str(crashed.landing.root)!r}), Path({str(crashed.warehouse)!r}),
                      key={TEST_KEY!r})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert crashed.state() == before  # nothing of the killed run is visible
    crashed.run()
    # same data as one clean run (batch ids differ: two runs here, one there)
    strip = {k: v for k, v in expected.items() if k not in ("audit.batches",)}
    got = crashed.state()
    assert crashed.sql("SELECT count(*) FROM audit.batches") == [(2,)]
    assert _without_batch(crashed) == _without_batch(clean)
    assert set(got) == set(strip) | {"audit.batches"}


def _without_batch(env: Env) -> dict[str, list]:
    out = {}
    for table in ("raw.outpatient_visits", "raw.prescriptions", "raw.health_records",
                  "audit.quarantine", "audit.deliveries"):
        cols = [c for (c,) in env.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema || '.' || "
            "table_name = ? AND column_name NOT IN ('_batch_id', 'batch_id', 'received_at', 'archive_path') "
            "ORDER BY ordinal_position", [table])]
        out[table] = env.sql(f"SELECT {', '.join(cols)} FROM {table} ORDER BY ALL")
    return out


def test_warehouse_locked_by_another_writer_is_a_clear_error(env: Env) -> None:
    env.run()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(env.warehouse)!r})
        print('locked', flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IngestError, match="cannot open the warehouse"):
            env.run()
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()


def test_table_hashes_see_a_change(env: Env) -> None:
    """The state comparison used above is not blind."""
    env.run()
    a = table_hashes(env.warehouse)
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.run()
    assert table_hashes(env.warehouse) != a


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_bad_checksum_beats_conflict_and_supersession(env: Env, version: int) -> None:
    """Whatever the version, a file whose bytes do not match the manifest makes the folder
    incomplete — whether it would have loaded (hashed while read for loading), conflicted with
    the loaded version or been superseded by it (hashed before deciding)."""
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         version=2)
    env.run()
    folder = env.landing.delivery("2025-03-01", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1", total_fee="90.00")])}, version=version)
    target = folder / "outpatient_visits.csv"
    target.write_bytes(target.read_bytes().replace(b"90.00", b"80.00"))
    env.run()
    assert deliveries(env) == sorted([(C, "2025-03-01", 2, "loaded"),
                                      (C, "2025-03-01", version, "incomplete")],
                                     key=lambda r: (r[2], r[3]))
    assert env.sql("SELECT reason FROM audit.quarantine") == [("checksum_mismatch",)]
    assert visits(env) == [("V1", "100.00", "2025-03-01", 2)]


def test_the_archive_holds_the_bytes_delivered(env: Env) -> None:
    folder = env.landing.delivery("2025-03-01", C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1")]),
        "prescriptions": (RX_HEADER, [rx("P1", 1, "V1")])}, encoding="gbk")
    env.run()
    (arch,) = env.sql("SELECT archive_path FROM audit.deliveries")[0]
    for name in ("manifest.json", "outpatient_visits.csv", "prescriptions.csv"):
        assert (archived(arch) / name).read_bytes() == (folder / name).read_bytes()


def test_the_archive_is_one_zip_per_business_date_and_batch(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.landing.delivery("2025-03-01", H, {"outpatient_visits": (VISIT_HEADER, [visit("V2")])})
    env.landing.delivery("2025-03-02", C, {"outpatient_visits": (VISIT_HEADER, [visit("V3")])})
    # a zip of batch 1 left by a run that did not commit (batch numbers are taken again)
    stale = env.warehouse.parent / "archive" / "extracts" / "2025-02-01" / "batch-000001.zip"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half a zip")
    env.run()
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V9")])},
                         version=2)
    env.run()
    files = {name for name in env.archive_files() if name.startswith("extracts/")}
    zips = sorted({name.split(".zip/")[0] + ".zip" for name in files})
    assert zips == ["extracts/2025-03-01/batch-000001.zip", "extracts/2025-03-01/batch-000002.zip",
                    "extracts/2025-03-02/batch-000001.zip"]
    assert not stale.exists()
    paths = env.sql("SELECT facility_code, business_date::VARCHAR, delivery_version, archive_path "
                    "FROM audit.deliveries ORDER BY ALL")
    for fac, day, version, path in paths:
        folder = archived(path)
        assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "outpatient_visits.csv"]
        if (fac, day, version) != (C, "2025-03-01", 1):  # the landing folder now holds v2
            assert (folder / "outpatient_visits.csv").read_bytes() == (
                env.landing.root / "extracts" / day / fac / "outpatient_visits.csv").read_bytes()
    assert b"V1" in (archived(paths[0][3]) / "outpatient_visits.csv").read_bytes()


def test_a_zip_closed_to_bound_open_files_is_appended_to_later(env: Env, monkeypatch) -> None:
    from grassroots.ingest import archive

    monkeypatch.setattr(archive, "OPEN_ZIPS", 1)
    for day in ("2025-03-01", "2025-03-02"):
        env.landing.delivery(day, C, {"outpatient_visits": (VISIT_HEADER, [visit(f"V{day}")])},
                             version=2)
    env.run()
    # superseded versions are archived while the folders are classified, before the loading
    # reaches 2025-03-01 again (whose zip was closed for 2025-03-02's)
    for day in ("2025-03-01", "2025-03-02"):
        env.landing.delivery(day, C, {"outpatient_visits": (VISIT_HEADER, [visit("OLD")])})
    env.landing.delivery("2025-03-01", H, {"outpatient_visits": (VISIT_HEADER, [visit("VH")])})
    assert env.run().statuses == {"superseded": 2, "loaded": 1}
    rows = env.sql("SELECT facility_code, business_date::VARCHAR, archive_path FROM "
                   "audit.deliveries WHERE batch_id = 2 ORDER BY ALL")
    assert len(rows) == 3 and all("batch-000002.zip/" in path for *_, path in rows)
    for fac, day, path in rows:
        assert (archived(path) / "outpatient_visits.csv").read_bytes() == (
            env.landing.root / "extracts" / day / fac / "outpatient_visits.csv").read_bytes()


def test_files_are_read_ahead_and_archived_across_chunks(env: Env, monkeypatch) -> None:
    # a chunk per business date: the second chunk's files are read (and hashed) by the I/O
    # thread while the first loads
    from grassroots.ingest import load

    monkeypatch.setattr(load, "CHUNK_ROWS", 1)
    folders = [env.landing.delivery(day, C, {"outpatient_visits": (VISIT_HEADER, [visit(v)])})
               for day, v in (("2025-03-01", "V1"), ("2025-05-01", "V2"))]
    rep = env.run()
    assert rep.statuses == {"loaded": 2}
    assert [v[0] for v in visits(env)] == ["V1", "V2"]
    for folder, (arch,) in zip(folders, env.sql(
            "SELECT archive_path FROM audit.deliveries ORDER BY business_date"), strict=True):
        assert (archived(arch) / "outpatient_visits.csv").read_bytes() == (
            folder / "outpatient_visits.csv").read_bytes()


def test_an_archive_that_cannot_be_written_fails_the_run_and_loads_nothing(env: Env) -> None:
    env.landing.delivery("2025-03-01", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    blocked = env.tmp / "archive-is-a-file"
    blocked.write_text("not a folder")
    with pytest.raises(IngestError, match="nothing committed: (File exists|Not a directory)"):
        env.run(archive=blocked)
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]
    assert env.sql("SELECT count(*) FROM audit.deliveries") == [(0,)]
    assert env.run().statuses == {"loaded": 1}  # and the next run loads it


def test_a_warehouse_older_than_the_change_kinds_gets_the_column(env: Env) -> None:
    """audit.load_changes gained ``kind``: a warehouse created before keeps its rows (kind null,
    read as a possible deletion by the latest-wins models) and records kinds from then on."""
    import duckdb

    env.warehouse.parent.mkdir(parents=True)
    with duckdb.connect(str(env.warehouse)) as con:
        con.execute("CREATE SCHEMA audit; CREATE TABLE audit.load_changes (batch_id BIGINT, "
                    "dataset VARCHAR, facility_code VARCHAR, month DATE)")
        con.execute("INSERT INTO audit.load_changes VALUES (0, 'signings', 'X', DATE '2024-01-01')")
    env.landing.delivery("2025-03-01", "C330102001",
                         {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.run()
    assert env.sql("SELECT batch_id, dataset, kind FROM audit.load_changes ORDER BY ALL") == [
        (0, "signings", None), (1, "outpatient_visits", "loaded")]


def test_chunks_hold_whole_business_dates() -> None:
    """A chunk closes at a date boundary once it holds CHUNK_ROWS rows: a date is never split
    (its deliveries replace each other and their rows)."""
    from datetime import date

    from grassroots.ingest import DataFile, Delivery
    from grassroots.ingest.load import CHUNK_ROWS, chunks

    def d(day: int, fac: str, rows: int) -> Delivery:
        return Delivery(fac, date(2025, 3, day), Path("."),
                        files=[DataFile("outpatient_visits", "v.csv", Path("."), rows, None)])

    half = CHUNK_ROWS // 2 + 1
    chunked = list(chunks([d(2, "B", half), d(1, "A", half), d(1, "B", half), d(3, "A", 1),
                           d(2, "A", half), d(4, "A", 1)]))
    assert [[(x.business_date.day, x.facility_code) for x in c] for c in chunked] == [
        [(1, "A"), (1, "B")], [(2, "A"), (2, "B")], [(3, "A"), (4, "A")]]
