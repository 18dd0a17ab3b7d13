"""One test per quarantine reason: the bad row is quarantined with that code, good rows load."""

from __future__ import annotations

import pytest
from handmade import (
    RECORD_HEADER,
    REFERRAL_HEADER,
    RX_HEADER,
    VISIT_HEADER,
    id_card,
    record,
    rx,
    visit,
)

from grassroots.contract import ROW_PRECEDENCE

BD = "2025-03-01"
CENTRE = "C330102001"


def referral(rid: str, **over: str) -> dict:
    row = dict(referral_id=rid, facility_code=CENTRE, to_facility_code="H330102001",
               resident_id="R0000000001", referral_time=f"{BD}T10:00:00", direction="up",
               referral_kind="outpatient", diagnosis_code="I10", team_code="T0001",
               priority_slot="N", status="requested")
    row.update(over)
    return row


GOOD_VISITS = [visit("G1"), visit("G2")]

# reason -> (dataset, header, bad rows, good rows)
CASES: dict[str, tuple[str, list[str], list[dict], list[dict]]] = {
    "type_error": ("outpatient_visits", VISIT_HEADER, [visit("B1", total_fee="12,5")], GOOD_VISITS),
    "missing_required": ("outpatient_visits", VISIT_HEADER, [visit("B1", resident_id="")],
                         GOOD_VISITS),
    "unknown_facility": ("outpatient_visits", VISIT_HEADER, [visit("B1", facility="X000000001")],
                         GOOD_VISITS),
    "unknown_team": ("outpatient_visits", VISIT_HEADER, [visit("B1", team_code="T9999")],
                     GOOD_VISITS),
    "unknown_drug": ("prescriptions", RX_HEADER, [rx("P9", 1, "G1", drug_code="D999")],
                     [rx("P1", 1, "G1")]),
    "bad_icd10": ("outpatient_visits", VISIT_HEADER, [visit("B1", diagnosis_code="I1O")],
                  GOOD_VISITS),
    "bad_id_checksum": ("outpatient_visits", VISIT_HEADER,
                        [visit("B1", id_card_no=id_card("330102", "1950-04-02")[:-1] + "0")
                         if not id_card("330102", "1950-04-02").endswith("0")
                         else visit("B1", id_card_no=id_card("330102", "1950-04-02")[:-1] + "1")],
                        GOOD_VISITS),
    "id_birthdate_mismatch": ("health_records", RECORD_HEADER,
                              [record("R0000000009", birth="1950-04-02",
                                      id_card_no=id_card("330102", "1950-04-03"))],
                              [record("R0000000001")]),
    "future_date": ("outpatient_visits", VISIT_HEADER, [visit("B1", when="2025-03-02T08:00:00")],
                    GOOD_VISITS),
    "negative_amount": ("outpatient_visits", VISIT_HEADER,
                        [visit("B1", other_fee="-5.00", total_fee="90.00", self_paid="20.00")],
                        GOOD_VISITS),
    "fee_mismatch": ("outpatient_visits", VISIT_HEADER, [visit("B1", total_fee="100.05")],
                     GOOD_VISITS),
    "bad_enum": ("outpatient_visits", VISIT_HEADER, [visit("B1", visit_type="inpatient")],
                 GOOD_VISITS),
    "bad_direction": ("referrals", REFERRAL_HEADER, [referral("RF9", direction="down")],
                      [referral("RF1")]),
    "duplicate_key": ("outpatient_visits", VISIT_HEADER, [visit("B1"), visit("B1")], GOOD_VISITS),
    "orphan_row": ("prescriptions", RX_HEADER, [rx("P9", 1, "NOVISIT")], [rx("P1", 1, "G1")]),
    "out_of_range": ("prescriptions", RX_HEADER, [rx("P9", 1, "G1", days_supply="91")],
                     [rx("P1", 1, "G1")]),
    "bad_identifier": ("outpatient_visits", VISIT_HEADER, [visit("B1", resident="R12")],
                       GOOD_VISITS),
    "personal_data": ("outpatient_visits", VISIT_HEADER,
                      [visit("B1", doctor_id="DOC 139-1234-5678")], GOOD_VISITS),
}


def test_every_row_reason_has_a_case() -> None:
    file_level = {"bad_encoding", "missing_column"}
    assert set(CASES) == set(ROW_PRECEDENCE) - file_level


@pytest.mark.parametrize("reason", sorted(CASES))
def test_bad_row_is_quarantined_and_good_rows_load(env, reason: str) -> None:
    dataset, header, bad, good = CASES[reason]
    files = {dataset: (header, good + bad)}
    if dataset == "prescriptions":  # their visits, loaded alongside
        files = {"outpatient_visits": (VISIT_HEADER, GOOD_VISITS), **files}
    env.landing.delivery(BD, CENTRE, files)
    report = env.run()
    q = env.sql("SELECT reason, line_no, file_name FROM audit.quarantine WHERE dataset = ?",
                [dataset])
    assert {r for r, _, _ in q} == {reason}, q
    assert sorted(line for _, line, _ in q) == list(range(len(good) + 2, len(good) + 2 + len(bad)))
    assert all(f == f"{dataset}.csv" for _, _, f in q)
    loaded = env.sql(f"SELECT count(*) FROM raw.{dataset}")[0][0]
    assert loaded == len(good)
    assert report.rows_quarantined == len(bad)
    assert env.sql("SELECT status, rows_quarantined FROM audit.deliveries") == [("loaded", len(bad))]


def test_station_rows_load_but_another_facilitys_rows_do_not(env) -> None:
    env.landing.delivery(BD, CENTRE, {"outpatient_visits": (VISIT_HEADER, [
        visit("V1", facility="S330102001"), visit("V2", facility="H330102001")])})
    env.run()
    assert env.sql("SELECT facility_code FROM raw.outpatient_visits") == [("S330102001",)]
    assert env.sql("SELECT reason FROM audit.quarantine") == [("unknown_facility",)]


def test_conditional_required_and_range_on_followups(env) -> None:
    header = ["followup_id", "facility_code", "team_code", "resident_id", "disease",
              "followup_date", "mode", "sbp", "dbp", "fasting_glucose", "medication_adherence",
              "referred"]
    base = dict(facility_code=CENTRE, team_code="T0001", resident_id="R0000000001",
                followup_date=BD, mode="clinic", medication_adherence="regular", referred="N")
    rows = [
        dict(base, followup_id="F1", disease="hypertension", sbp="150", dbp="85"),
        dict(base, followup_id="F2", disease="hypertension", sbp="", dbp="85"),
        dict(base, followup_id="F3", disease="diabetes", fasting_glucose=""),
        dict(base, followup_id="F4", disease="hypertension", sbp="301", dbp="85"),
        dict(base, followup_id="F5", disease="diabetes", fasting_glucose="6.8"),
    ]
    env.landing.delivery(BD, CENTRE, {"chronic_followups": (header, rows)})
    env.run()
    assert env.quarantine() == [
        ("chronic_followups", 3, "missing_required", "missing_required|sbp required when disease = hypertension"),
        ("chronic_followups", 4, "missing_required", "missing_required|fasting_glucose required when disease = diabetes"),
        ("chronic_followups", 5, "out_of_range", "out_of_range|sbp outside [50, 300]: 301"),
    ]
    assert env.sql("SELECT followup_id FROM raw.chronic_followups ORDER BY 1") == [("F1",), ("F5",)]


def test_bad_encoding_rejects_the_file_and_keeps_the_rest(env) -> None:
    from handmade import to_csv

    gbk = to_csv(VISIT_HEADER, [visit("V1", department_code="内科")]).encode("gbk")
    env.landing.delivery(BD, CENTRE, {
        "outpatient_visits": gbk,  # declared utf-8 by the manifest, but GBK bytes
        "health_records": (RECORD_HEADER, [record("R0000000001")]),
    })
    env.run()
    assert env.sql("SELECT dataset, line_no, reason FROM audit.quarantine") == [
        ("outpatient_visits", None, "bad_encoding")]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(1,)]
    assert env.sql("SELECT status, files_rejected, detail FROM audit.deliveries") == [
        ("loaded", 1, "files rejected: outpatient_visits.csv (bad_encoding)")]


def test_missing_column_rejects_the_file(env) -> None:
    header = [h for h in VISIT_HEADER if h != "total_fee"]
    env.landing.delivery(BD, CENTRE, {
        "outpatient_visits": (header, [visit("V1")]),
        "health_records": (RECORD_HEADER, [record("R0000000001")]),
    })
    env.run()
    assert env.sql("SELECT dataset, reason, detail FROM audit.quarantine") == [
        ("outpatient_visits", "missing_column", "missing columns: total_fee")]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(1,)]


def test_optional_column_may_be_absent(env) -> None:
    header = [h for h in VISIT_HEADER if h not in ("id_card_no", "team_code")]
    env.landing.delivery(BD, CENTRE, {"outpatient_visits": (header, [visit("V1")])})
    env.run()
    assert env.sql("SELECT visit_id, team_code, id_card_hash FROM raw.outpatient_visits") == [
        ("V1", None, None)]


def test_malformed_record_is_quarantined_with_its_line(env) -> None:
    from handmade import to_csv

    text = to_csv(VISIT_HEADER, [visit("V1"), visit("V2")])
    lines = text.split("\r\n")
    lines.insert(2, "V9,C330102001,R1")  # too few fields
    env.landing.delivery(BD, CENTRE, {"outpatient_visits": "\r\n".join(lines)})
    env.run()
    q = env.sql("SELECT line_no, reason FROM audit.quarantine")
    assert q == [(3, "type_error")]
    assert env.sql("SELECT visit_id, _line_no FROM raw.outpatient_visits ORDER BY 1") == [
        ("V1", 2), ("V2", 4)]


def test_quoted_fields_commas_and_line_breaks(env) -> None:
    env.landing.delivery(BD, CENTRE, {"health_records": (RECORD_HEADER, [
        record("R0000000001", allergy_history='青霉素, "头孢"\n过敏')])})
    env.run()
    assert env.sql("SELECT allergy_history FROM raw.health_records") == [('青霉素, "头孢"\n过敏',)]



def test_records_are_numbered_alike_whether_files_are_streamed_or_read_one_by_one(env) -> None:
    """Files without quotes are read as one concatenated stream, the others file by file
    (``grassroots.ingest.stage``): every record keeps its own file's record number either way, across line
    endings, encodings, a BOM, column orders, short records and a missing final line break."""
    from datetime import date

    from handmade import to_csv

    def lines(day: int, n: int, header: list[str] = VISIT_HEADER) -> list[str]:
        """The header and n records, without line breaks."""
        rows = [visit(f"V{day}{k}", when=f"2025-03-0{day}T09:00:00", department_code="内科")
                for k in range(1, n + 1)]
        return to_csv(header, rows).split("\r\n")[:-1]

    short = "V9,C330102001,R1"  # too few fields
    h1, v11, v12 = lines(1, 2)
    h2, v21, v22, v23 = lines(2, 3)
    h3, v31, v32, v33 = lines(3, 3)
    h5, v51, v52 = lines(5, 2)
    deliveries = {
        1: ("\r\n".join([h1, v11, short, v12]) + "\r\n", {}),  # CRLF
        2: ("\n".join([h2, short, v21, v22, v23, short]), {}),  # LF, no final line break
        3: (("\r\n".join([h3, v31, v32, short, v33]) + "\r\n").encode("gbk"), {"encoding": "gbk"}),
        4: ("\r\n".join(lines(4, 2, VISIT_HEADER[::-1])) + "\r\n", {"bom": True}),
        # a quoted line break: read on its own; V51 is record 2 on lines 2-3
        5: ("\r\n".join([h5, v51.replace("内科", '"内\r\n科"'), short, v52]) + "\r\n", {}),
        6: (lines(6, 0)[0] + "\r\n", {}),  # the header only
    }
    for day, (content, kw) in deliveries.items():
        env.landing.delivery(f"2025-03-0{day}", CENTRE, {"outpatient_visits": content}, **kw)
    report = env.run(date_to=date(2025, 3, 6))
    assert report.statuses == {"loaded": 6}
    assert env.sql("SELECT business_date::VARCHAR, line_no, reason FROM audit.quarantine "
                   "ORDER BY 1, 2") == [
        ("2025-03-01", 3, "type_error"), ("2025-03-02", 2, "type_error"),
        ("2025-03-02", 6, "type_error"), ("2025-03-03", 4, "type_error"),
        ("2025-03-05", 3, "type_error")]
    assert env.sql("SELECT visit_id, _line_no, department_code FROM raw.outpatient_visits "
                   "ORDER BY 1") == [
        ("V11", 2, "内科"), ("V12", 4, "内科"),
        ("V21", 3, "内科"), ("V22", 4, "内科"), ("V23", 5, "内科"),
        ("V31", 2, "内科"), ("V32", 3, "内科"), ("V33", 5, "内科"),
        ("V41", 2, "内科"), ("V42", 3, "内科"),
        ("V51", 2, "内\r\n科"), ("V52", 4, "内科")]


def test_a_file_the_csv_reader_cannot_parse_is_rejected_and_the_run_goes_on(env) -> None:
    """Records ending in both CRLF and LF: without quotes the lines still load (each line is a
    record); with quotes DuckDB's reader fails on the file, which is rejected whole instead of
    failing the run."""
    from handmade import to_csv

    def visits(day: int, ids: list[str], **over: str) -> list[str]:
        rows = [visit(i, when=f"2025-03-0{day}T09:00:00", **over) for i in ids]
        return to_csv(VISIT_HEADER, rows).split("\r\n")[:-1]

    h, a1, a2 = visits(1, ["A1", "A2"])
    env.landing.delivery("2025-03-01", CENTRE, {"outpatient_visits": f"{h}\r\n{a1}\n{a2}\r\n"})
    h, b1, b2 = visits(2, ["B1", "B2"], department_code="内,科")
    env.landing.delivery("2025-03-02", CENTRE, {
        "outpatient_visits": f"{h}\r\n{b1}\n{b2}\r\n",
        "health_records": (RECORD_HEADER, [record("R0000000001")])})
    report = env.run()
    assert report.statuses == {"loaded": 2}
    assert env.sql("SELECT visit_id, _line_no FROM raw.outpatient_visits ORDER BY 1") == [
        ("A1", 2), ("A2", 3)]
    assert env.sql("SELECT count(*) FROM raw.health_records") == [(1,)]
    q = env.sql("SELECT business_date::VARCHAR, file_name, line_no, reason, detail "
                "FROM audit.quarantine")
    assert len(q) == 1 and q[0][:4] == ("2025-03-02", "outpatient_visits.csv", None, "type_error")
    assert q[0][4].startswith("unreadable CSV: ")
    assert env.sql("SELECT files_rejected FROM audit.deliveries WHERE business_date = "
                   "DATE '2025-03-02'") == [(1,)]
