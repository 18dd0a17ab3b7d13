"""Hostile deliveries: one facility's bad file never stops the region's night, and no clear id
number or phone number reaches any table, whatever column it was delivered in."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import Env
from handmade import (
    RECORD_HEADER,
    RX_HEADER,
    VISIT_HEADER,
    id_card,
    record,
    rx,
    to_csv,
    visit,
)
from privacy import leaks

from grassroots.ingest import IngestError

C = "C330102001"
BD = "2025-03-01"
ID = id_card("330102", "1950-04-02")  # a valid number: a real person's, as far as we know
PHONE = "13912345678"


def found(env: Env, value: str) -> list[str]:
    """Every table column (any type, as text) holding ``value`` anywhere in a cell."""
    out = []
    with duckdb.connect(str(env.warehouse), read_only=True) as con:
        cols = con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE table_catalog NOT IN ('temp', 'system') "
            "AND table_schema NOT IN ('information_schema', 'pg_catalog')").fetchall()
        for schema, table, col in cols:
            n = con.execute(f'SELECT count(*) FROM "{schema}"."{table}" '
                            f'WHERE contains(CAST("{col}" AS VARCHAR), ?)', [value]).fetchone()[0]
            if n:
                out.append(f"{schema}.{table}.{col}")
    return out


def quarantine(env: Env) -> list[tuple]:
    return env.sql("SELECT dataset, line_no, reason FROM audit.quarantine ORDER BY ALL")


# -- one bad value never fails the run ----------------------------------------------------------


@pytest.mark.parametrize("number", ["33010219500402O12X",  # a letter O for a zero
                                    "330102500402123",  # a first-generation 15-digit number
                                    "3301021950040212",  # too short
                                    "33010219500402123x",  # lower-case check character
                                    "３３０１０２１９５００４０２１２３Ｘ"])  # full-width digits
def test_an_id_number_with_non_digits_is_quarantined_not_a_crash(env: Env, number: str) -> None:
    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [
        visit("V1"), visit("V2", id_card_no=number), visit("V3", id_card_no=ID)])})
    report = env.run()
    assert report.statuses == {"loaded": 1}
    assert quarantine(env) == [("outpatient_visits", 3, "bad_id_checksum")]
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits ORDER BY 1") == [("V1",), ("V3",)]
    assert found(env, number) == [] and found(env, ID) == []


def test_a_lower_case_check_character_is_the_same_person(env: Env) -> None:
    """GB 11643's check character is X; a clerk's x is the same number, hashed the same."""
    number = id_card("330102", "1950-04-02", seq="100")
    assert number.endswith("X")
    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [
        visit("V1", id_card_no=number), visit("V2", id_card_no=number.lower())])})
    env.run()
    assert quarantine(env) == []
    hashes = env.sql("SELECT visit_id, id_card_hash FROM raw.outpatient_visits ORDER BY 1")
    assert len(hashes) == 2 and hashes[0][1] == hashes[1][1]
    assert found(env, number) == [] and found(env, number.lower()) == []


def test_a_file_with_lone_cr_line_endings_loads(env: Env) -> None:
    text = to_csv(VISIT_HEADER, [visit("V1"), visit("V2")]).replace("\r\n", "\r")
    env.landing.delivery(BD, C, {"outpatient_visits": text,
                                 "prescriptions": (RX_HEADER, [rx("P1", 1, "V1")])})
    report = env.run()
    assert report.statuses == {"loaded": 1}
    assert env.sql("SELECT visit_id, _line_no FROM raw.outpatient_visits ORDER BY 1") == [
        ("V1", 2), ("V2", 3)]
    assert env.sql("SELECT count(*) FROM raw.prescriptions") == [(1,)]


def _set_manifest(folder: Path, raw_json: str | None = None, **fields: object) -> None:
    """Rewrite manifest.json: set top-level fields, or replace its text."""
    path = folder / "manifest.json"
    if raw_json is None:
        m = json.loads(path.read_text())
        for k, v in fields.items():
            if k == "rows":
                m["files"][0]["rows"] = v
            else:
                m[k] = v
        raw_json = json.dumps(m)
    path.write_text(raw_json)


@pytest.mark.parametrize("field, value, why", [
    ("delivery_version", "1e999", "not a JSON integer"),
    ("delivery_version", "2.0", "not a JSON integer"),
    ("delivery_version", "1.7", "not a JSON integer"),
    ("delivery_version", "true", "not a JSON integer"),
    ("delivery_version", '"1"', "not a JSON integer"),
    ("delivery_version", str(2**31), "outside [1, 2147483647]"),
    ("delivery_version", str(2**70), "outside [1, 2147483647]"),
    ("delivery_version", "0", "outside [1, 2147483647]"),
    ("rows", "1e999", "rows of outpatient_visits.csv is not a JSON integer"),
    ("rows", "1.0", "rows of outpatient_visits.csv is not a JSON integer"),
    ("rows", "true", "rows of outpatient_visits.csv is not a JSON integer"),
    ("rows", str(2**64), "rows of outpatient_visits.csv is outside"),
    ("rows", "-1", "rows of outpatient_visits.csv is outside"),
])
def test_manifest_numbers_must_be_integers_in_range(env: Env, field: str, value: str,
                                                   why: str) -> None:
    folder = env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    good = env.landing.delivery("2025-03-02", C, {"outpatient_visits": (VISIT_HEADER, [
        visit("V2", when="2025-03-02T09:00:00")])})
    assert good.is_dir()
    placeholder = 987654
    _set_manifest(folder, **{field: placeholder})
    text = (folder / "manifest.json").read_text().replace(str(placeholder), value)
    _set_manifest(folder, raw_json=text)
    report = env.run()
    assert report.statuses == {"loaded": 1, "rejected": 1}
    (detail,) = env.sql("SELECT detail FROM audit.deliveries WHERE status = 'rejected'")[0]
    assert why in detail
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V2",)]
    assert env.run().changed is False  # reported once


def test_a_folder_dated_in_the_future_is_rejected(env: Env) -> None:
    future = (date.today() + timedelta(days=400)).isoformat()
    env.landing.delivery(future, C, {"outpatient_visits": (VISIT_HEADER, [
        visit("V1", when=f"{future}T09:00:00")])})
    no_manifest = env.landing.delivery(future, "H330102001", {}, write_manifest=False)
    assert not (no_manifest / "manifest.json").exists()
    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V2")])})
    report = env.run()
    assert report.statuses == {"loaded": 1, "rejected": 2}
    rows = env.sql("SELECT facility_code, status, detail FROM audit.deliveries "
                   "WHERE business_date = ? ORDER BY 1", [future])
    assert [(f, s) for f, s, _ in rows] == [(C, "rejected"), ("H330102001", "rejected")]
    assert all(f"business_date {future} is after today" in d for _, _, d in rows)
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V2",)]
    assert env.run().changed is False


# -- no clear personal data ---------------------------------------------------------------------


def test_an_id_number_in_resident_id_never_reaches_a_table(env: Env) -> None:
    env.landing.delivery(BD, C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1"), visit("V2", resident=ID),
                                             visit("V3", resident="R123")]),
        "health_records": (RECORD_HEADER, [record("R0000000001"), record(PHONE)])})
    env.run()
    assert quarantine(env) == [("health_records", 3, "bad_identifier"),
                               ("outpatient_visits", 3, "bad_identifier"),
                               ("outpatient_visits", 4, "bad_identifier")]
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V1",)]
    assert found(env, ID) == [] and found(env, PHONE) == []
    assert "R123" in env.sql("SELECT detail FROM audit.quarantine WHERE line_no = 4")[0][0]


def test_swapped_headers_never_put_a_phone_into_quarantine(env: Env) -> None:
    """The header names phone and birth_date the wrong way round: the phone number sits under
    birth_date (a type error quoting it) and the birth date under phone (dropped)."""
    header = [{"phone": "birth_date", "birth_date": "phone"}.get(h, h) for h in RECORD_HEADER]
    rows = [[r[h] for h in RECORD_HEADER] for r in (
        record("R0000000001", phone=PHONE), record("R0000000002", phone="+86 139-1234-5678"))]
    env.landing.delivery(BD, C, {"health_records": (header, rows)})
    env.run()
    q = env.sql("SELECT reason, detail, row_data FROM audit.quarantine ORDER BY line_no")
    assert [r for r, _, _ in q] == ["type_error", "type_error"]
    assert all("birth_date is not a valid date: ***" in d for _, d, _ in q)
    assert json.loads(q[0][2])["birth_date"] == "***"
    assert found(env, PHONE) == [] and found(env, "1234-5678") == []
    assert leaks(env.warehouse, env.landing.root) == []


@pytest.mark.parametrize("dataset, header, row", [
    ("outpatient_visits", VISIT_HEADER, visit(ID)),
    ("outpatient_visits", VISIT_HEADER, visit("V9", doctor_id=f"DOC {PHONE}")),
    ("outpatient_visits", VISIT_HEADER, visit("V9", department_code="0571-88886666")),
    ("outpatient_visits", VISIT_HEADER, visit("V9", total_fee=f"{PHONE}.00")),
    ("health_records", RECORD_HEADER, record("R0000000009", allergy_history=f"家属电话{PHONE}")),
    ("health_records", RECORD_HEADER, record("R0000000009", occupation=ID.lower())),
    ("bed_census", ["facility_code", "census_date", "department_code", "open_beds",
                    "occupied_beds", "admissions", "discharges"],
     dict(facility_code=C, census_date=BD, department_code="GP", open_beds=PHONE,
          occupied_beds="1", admissions="0", discharges="0")),
])
def test_a_persons_number_outside_the_personal_columns_is_quarantined(
        env: Env, dataset: str, header: list[str], row: dict) -> None:
    env.landing.delivery(BD, C, {dataset: (header, [row])})
    env.run()
    assert quarantine(env)[0][2] == "personal_data"
    assert env.sql(f"SELECT count(*) FROM raw.{dataset}") == [(0,)]
    assert found(env, PHONE) == [] and found(env, ID) == [] and found(env, "88886666") == []


def test_serial_numbers_are_not_mistaken_for_personal_numbers(env: Env) -> None:
    """Ids that start with a year or a region code keep loading (the generator's shapes)."""
    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [
        visit("V202503010000002", doctor_id="C339901001D000"),
        visit("V202503019999999", department_code="330102001001")])})
    env.run()
    assert quarantine(env) == []


def test_a_folder_named_like_an_id_number_is_masked(env: Env) -> None:
    env.landing.delivery(BD, ID, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.run()
    assert env.sql("SELECT facility_code, status FROM audit.deliveries") == [("***", "rejected")]
    assert found(env, ID) == []


def test_a_date_folder_not_named_yyyy_mm_dd_is_not_a_second_copy_of_the_day(env: Env) -> None:
    """``2025-W09-6`` is 1 March 2025 to ``date.fromisoformat``: read as a date folder, its copy of
    the day loaded beside the real one (every row twice)."""
    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.landing.delivery("2025-W09-6", C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])},
                         manifest_overrides={"business_date": BD})
    assert env.run().statuses == {"loaded": 1}
    assert env.sql("SELECT visit_id, _business_date FROM raw.outpatient_visits") == [
        ("V1", date(2025, 3, 1))]
    assert env.sql("SELECT business_date, status FROM audit.deliveries") == [
        (date(2025, 3, 1), "loaded")]


def test_a_folder_that_is_no_date_is_named_in_the_summary_and_the_daily_message(env: Env) -> None:
    """``2025-3-2`` holds a facility's day but is never loaded: said, not passed over."""
    from grassroots import alerts

    env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    env.landing.delivery("2025-3-2", C, {"outpatient_visits": (VISIT_HEADER, [visit("V2")])},
                         manifest_overrides={"business_date": "2025-03-02"})
    (env.landing.root / "extracts" / "notes.txt").write_text("a file, not a folder")
    report = env.run()
    assert report.stray == ["2025-3-2", "notes.txt"]
    assert "not YYYY-MM-DD date folders: 2025-3-2, notes.txt" in report.summary()
    assert env.sql("SELECT visit_id FROM raw.outpatient_visits") == [("V1",)]
    daily = alerts.build_report(env.warehouse, date(2025, 3, 1), landing=env.landing.root)
    assert daily.stray == ["2025-3-2", "notes.txt"] and not daily.ok
    assert "never loaded): 2025-3-2, notes.txt" in alerts.render_markdown(daily)


@pytest.mark.parametrize("extra", ["__fid", "filename", "", "rowid", "_fid", "_k", "_dfac",
                                   "x\x00y", "a'b"])
@pytest.mark.parametrize("quoted", [False, True])  # read with other files, or on its own
def test_an_extra_column_named_like_the_loaders_own_columns_is_ignored(
        env: Env, extra: str, quoted: bool) -> None:
    header = [*VISIT_HEADER, extra]
    row = visit("V1", department_code='内"科' if quoted else "GP")
    env.landing.delivery(BD, C, {"outpatient_visits": to_csv(header, [{**row, extra: "7"}])})
    report = env.run()
    assert report.statuses == {"loaded": 1} and report.rows_quarantined == 0
    assert env.sql("SELECT visit_id, _delivery_facility, _line_no FROM raw.outpatient_visits"
                   ) == [("V1", C, 2)]


# -- silent loss -------------------------------------------------------------------------------


def test_a_dataset_file_the_manifest_leaves_out_is_reported(env: Env) -> None:
    folder = env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")]),
                                          "health_records": (RECORD_HEADER, [record("R0000000001")])})
    m = json.loads((folder / "manifest.json").read_text())
    m["files"] = [f for f in m["files"] if f["dataset"] != "health_records"]
    (folder / "manifest.json").write_text(json.dumps(m))
    (folder / "notes.csv").write_text("not a dataset\n")
    report = env.run()
    assert report.statuses == {"loaded": 1}
    assert env.sql("SELECT detail FROM audit.deliveries") == [
        ("not in the manifest, not loaded: health_records.csv",)]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(0,)]
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(1,)]


@pytest.mark.parametrize("wrong, right", [("id_card_no ", "id_card_no"),
                                          ("Team_Code", "team_code"),
                                          ("\ufeffdoctor_id", "doctor_id")])
def test_a_near_miss_header_is_reported_not_loaded_as_null(env: Env, wrong: str,
                                                            right: str) -> None:
    header = [wrong if h == right else h for h in VISIT_HEADER]
    rows = [{wrong: v[right], **v} for v in [visit("V1", id_card_no=ID)]]
    env.landing.delivery(BD, C, {"outpatient_visits": (header, rows),
                                 "health_records": (RECORD_HEADER, [record("R0000000001")])})
    env.run()
    q = env.sql("SELECT dataset, line_no, reason, detail FROM audit.quarantine")
    assert [r[:3] for r in q] == [("outpatient_visits", None, "missing_column")]
    assert f"is not '{right}'" in q[0][3] and "case-sensitive" in q[0][3]
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(1,)]


def test_utf8_bytes_declared_gbk_are_bad_encoding(env: Env) -> None:
    ascii_only = dict(name="Wang", allergy_history="none", past_history="none",
                      family_history="none", education="none")
    utf8 = to_csv(RECORD_HEADER, [record("R0000000001", occupation="农民", **ascii_only)]
                  ).encode("utf-8")
    assert utf8.decode("gb18030")  # decodes without error: mojibake
    env.landing.delivery(BD, C, {
        "health_records": utf8,
        "outpatient_visits": to_csv(VISIT_HEADER, [visit("V1", department_code="内科")])
        .encode("gbk")}, encoding="gbk")
    env.run()
    assert env.sql("SELECT dataset, reason FROM audit.quarantine") == [
        ("health_records", "bad_encoding")]
    assert env.sql("SELECT department_code FROM raw.outpatient_visits") == [("内科",)]


def test_gbk_text_that_is_valid_utf8_by_accident_still_loads(env: Env) -> None:
    """元 is D4 AA in GBK, a valid 2-byte UTF-8 sequence (Ԫ): not UTF-8 Chinese text."""
    data = to_csv(VISIT_HEADER, [visit("V1", department_code="元")]).encode("gbk")
    assert data.decode("utf-8") and "元" not in data.decode("utf-8")
    env.landing.delivery(BD, C, {"outpatient_visits": data}, encoding="gbk")
    env.run()
    assert env.sql("SELECT count(*) FROM audit.quarantine") == [(0,)]
    assert env.sql("SELECT department_code FROM raw.outpatient_visits") == [("元",)]


# -- symbolic links and the archive -------------------------------------------------------------


def _link(folder: Path, name: str, target: Path) -> None:
    """Replace a listed file by a link to ``target``, the manifest stating the target's bytes
    (a sender who knows them)."""
    (folder / name).unlink()
    (folder / name).symlink_to(target)
    m = json.loads((folder / "manifest.json").read_text())
    for f in m["files"]:
        if f["file"] == name:
            f["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
            f["rows"] = target.read_bytes().count(b"\n") - 1
    (folder / "manifest.json").write_text(json.dumps(m))


def test_a_symlinked_file_is_rejected_and_never_followed(env: Env) -> None:
    secret = env.tmp / "outside" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text(to_csv(VISIT_HEADER, [visit("SECRET1"), visit("SECRET2")]))
    folder = env.landing.delivery(BD, C, {
        "outpatient_visits": (VISIT_HEADER, [visit("V1")]),
        "health_records": (RECORD_HEADER, [record("R0000000001")])})
    _link(folder, "outpatient_visits.csv", secret)
    report = env.run()
    assert report.statuses == {"loaded": 1} and report.files_rejected == 1
    assert env.sql("SELECT dataset, line_no, reason FROM audit.quarantine") == [
        ("outpatient_visits", None, "symlink")]
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(1,)]
    kept = env.archive_files()
    copies = [Path(name).name for name in kept]
    assert "health_records.csv" in copies and "outpatient_visits.csv" not in copies
    assert not any(b"SECRET1" in data for data, _ in kept.values())


@pytest.mark.parametrize("what", ["manifest", "facility_folder", "date_folder"])
def test_a_symlinked_manifest_or_folder_is_rejected(env: Env, what: str) -> None:
    elsewhere = env.tmp / "elsewhere"
    real = env.landing.delivery(BD, C, {"outpatient_visits": (VISIT_HEADER, [visit("V1")])})
    elsewhere.mkdir()
    if what == "manifest":
        os.replace(real / "manifest.json", elsewhere / "manifest.json")
        (real / "manifest.json").symlink_to(elsewhere / "manifest.json")
    elif what == "facility_folder":
        os.replace(real, elsewhere / C)
        real.symlink_to(elsewhere / C)
    else:
        os.replace(real.parent, elsewhere / BD)
        real.parent.symlink_to(elsewhere / BD)
    report = env.run()
    assert report.statuses == {"rejected": 1}
    (detail,) = env.sql("SELECT detail FROM audit.deliveries")[0]
    assert "symbolic link: not followed" in detail
    assert env.sql("SELECT count(*) FROM raw.outpatient_visits") == [(0,)]
    assert not [name for name in env.archive_files()
                if name.startswith("extracts/") and name.endswith(".csv")]


def test_a_symlinked_reference_file_is_not_followed(env: Env) -> None:
    env.run()
    drugs = env.landing.root / "reference" / "drugs.csv"
    outside = env.tmp / "drugs-elsewhere.csv"
    os.replace(drugs, outside)
    outside.write_text(outside.read_text() + "D004,阿托伐他汀,C10AA05,Y,N,Y\n")
    drugs.symlink_to(outside)
    env.run()
    assert env.sql("SELECT dataset, reason FROM audit.quarantine") == [("drugs", "symlink")]
    assert env.sql("SELECT count(*) FROM raw.drugs") == [(3,)]  # the loaded snapshot serves
    assert env.run().changed is False  # reported once
    fresh = Env(env.tmp / "fresh")
    (fresh.landing.root / "reference" / "drugs.csv").unlink()
    (fresh.landing.root / "reference" / "drugs.csv").symlink_to(outside)
    with pytest.raises(IngestError, match="drugs.csv is a symbolic link"):
        fresh.run()


def test_the_archive_is_readable_by_its_owner_only(env: Env) -> None:
    env.landing.delivery(BD, C, {"health_records": (RECORD_HEADER, [record("R0000000001")])})
    env.landing.delivery("2025-03-02", "X999999999", {"outpatient_visits": (VISIT_HEADER, [])})
    env.run()
    archive = env.warehouse.parent / "archive"
    entries = [archive, *archive.rglob("*")]
    for p in entries:  # folders, the reference files and the zips
        mode = stat.S_IMODE(p.lstat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    kept = env.archive_files()  # and every file inside the zips
    assert any(name.endswith("/health_records.csv") for name in kept)
    assert any(name.endswith("/regions.csv") for name in kept)
    for name, (_, mode) in kept.items():
        assert mode == 0o600, (name, oct(mode))
