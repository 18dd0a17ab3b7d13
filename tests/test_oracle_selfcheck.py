"""The oracle checked against a landing zone written by hand, with hand-computed answers.

The region: one city, districts A (330102) and B (330103), communities C1 (in A) and C2 (in B).
Facilities: H1 tertiary hospital (A), C01 community centre (A) with station S01, C02 township
centre (B, delivers GBK). Business dates 2025-03-01..03; data_as_of = 2025-03-03 (H1's complete
folder), so March is a running month and 2025 a running year measured at 03-03 (q = 1):

* 03-01 H1 v1 (on time): visits V1 (R1, I10, fee 100), V2 (R3, J06.9, emergency); rx for V1;
  a same-day stay S1; census 03-01; referral RF1 H1 -> C01 down, ``requested``.
* 03-01 C01 v2 (a redelivery: only the v2 folder is on disk; generated 09:00 = late): health
  records R1 (64 on 03-03, 65 in June; hypertension), R2 (35, record incomplete), R4 (54,
  hypertension); contracts K1 (R1), K2 (R4, terminated: ended 02-28), K3 (R2, starts 04-01);
  follow-ups (R1's and R4's latest sbp 145 — not controlled below 65); visits V3 (S01), V4
  (R2, E11.9), late entry V6 (Feb); checkups. health_records.csv has a UTF-8 BOM.
* 03-01 C02 v1 (gbk): record R3 (aged 4, C2) with Chinese text; visit V5.
* 03-02 H1: V1 corrected (fee 120), RF1 now ``arrived`` (latest wins).
* 03-02 C01: INCOMPLETE (checksum mismatch) — a follow-up that would make R4 controlled.
* 03-03 H1: census 03-03. C02 delivers nothing on 03-02/03 (missing days).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.oracle import compare_frames, load_landing
from tests.oracle import marts as m
from tests.oracle_builders import (
    followup_row,
    record_row,
    rx_row,
    visit_row,
    write_folder,
    write_reference,
)

CITY, DA, DB = "330100000000", "330102000000", "330103000000"
SA, SB = "330102001000", "330103001000"
C1, C2 = "330102001001", "330103001001"


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    write_reference(
        root,
        "regions",
        [
            {"region_code": CITY, "region_name": "市", "level": "city"},
            {"region_code": DA, "region_name": "甲区", "level": "district", "parent_code": CITY},
            {"region_code": DB, "region_name": "乙县", "level": "district", "parent_code": CITY},
            {"region_code": SA, "region_name": "街道", "level": "street", "parent_code": DA},
            {"region_code": SB, "region_name": "镇", "level": "street", "parent_code": DB},
            {
                "region_code": C1,
                "region_name": "社区",
                "level": "community",
                "parent_code": SA,
                "urban_rural": "urban",
            },
            {
                "region_code": C2,
                "region_name": "村",
                "level": "community",
                "parent_code": SB,
                "urban_rural": "rural",
            },
        ],
    )
    write_reference(
        root,
        "population",
        [
            {
                "region_code": C1,
                "year": "2025",
                "sex": "M",
                "age_band": "65-79",
                "population": "10",
            },
            {"region_code": C1, "year": "2025", "sex": "F", "age_band": "80+", "population": "5"},
            {
                "region_code": C1,
                "year": "2025",
                "sex": "M",
                "age_band": "18-44",
                "population": "100",
            },
            {
                "region_code": C2,
                "year": "2025",
                "sex": "F",
                "age_band": "18-44",
                "population": "50",
            },
        ],
    )

    def fac(code: str, typ: str, level: str, district: str, region: str, parent: str = "") -> dict:
        return {
            "facility_code": code,
            "facility_name": code,
            "facility_type": typ,
            "level": level,
            "region_code": region,
            "district_code": district,
            "parent_facility_code": parent,
            "approved_beds": "10",
        }

    write_reference(
        root,
        "facilities",
        [
            fac("H1", "general_hospital", "3", DA, SA),
            fac("C01", "community_health_centre", "0", DA, SA),
            fac("S01", "community_health_station", "0", DA, C1, parent="C01"),
            fac("C02", "township_health_centre", "0", DB, SB),
        ],
    )
    write_reference(
        root,
        "teams",
        [
            {"team_code": t, "facility_code": f, "team_name": t, "gp_count": "1"}
            for t, f in (("T1", "C01"), ("T2", "C02"))
        ],
    )
    write_reference(
        root,
        "drugs",
        [
            {
                "drug_code": "D1",
                "generic_name": "amlodipine",
                "atc_code": "C08CA01",
                "is_essential": "Y",
                "is_antibiotic": "N",
                "is_vbp": "Y",
            },
            {
                "drug_code": "D2",
                "generic_name": "amoxicillin",
                "atc_code": "J01CA04",
                "is_essential": "Y",
                "is_antibiotic": "Y",
                "is_vbp": "N",
            },
            {
                "drug_code": "D3",
                "generic_name": "metformin",
                "atc_code": "A10BA02",
                "is_essential": "Y",
                "is_antibiotic": "N",
                "is_vbp": "Y",
            },
        ],
    )

    v1 = visit_row("V1", "H1", "R1", "2025-03-01T08:15:00", "I10", total_fee="100", drug_fee="60")
    v1.update(exam_fee="20", treatment_fee="10", other_fee="10", insurance_paid="70")
    v1.update(self_paid="30")
    v2 = visit_row("V2", "H1", "R3", "2025-03-01T21:00:00", "J06.9", total_fee="50", drug_fee="20")
    v2.update(exam_fee="30", insurance_paid="25", self_paid="25", visit_type="emergency")
    referral = {
        "referral_id": "RF1",
        "facility_code": "H1",
        "to_facility_code": "C01",
        "resident_id": "R1",
        "referral_time": "2025-03-01T10:00:00",
        "direction": "down",
        "referral_kind": "outpatient",
        "priority_slot": "N",
        "status": "requested",
    }
    write_folder(
        root,
        "2025-03-01",
        "H1",
        {
            "outpatient_visits": [v1, v2],
            "prescriptions": [rx_row("P1", 1, "H1", "V1", "D1", 30, "25")],
            "inpatient_discharges": [
                {
                    "stay_id": "S1",
                    "facility_code": "H1",
                    "resident_id": "R1",
                    "admit_time": "2025-03-01T08:00:00",
                    "discharge_time": "2025-03-01T17:00:00",
                    "diagnosis_code": "I10",
                    "total_fee": "2000",
                    "drug_fee": "500",
                    "insurance_paid": "1500",
                    "self_paid": "500",
                    "discharge_status": "cured",
                }
            ],
            "bed_census": [
                {
                    "facility_code": "H1",
                    "census_date": "2025-03-01",
                    "department_code": "IM",
                    "open_beds": "10",
                    "occupied_beds": "8",
                    "admissions": "1",
                    "discharges": "1",
                }
            ],
            "referrals": [referral],
        },
    )

    v3 = visit_row("V3", "S01", "R1", "2025-03-01T09:00:00", "I10", total_fee="40")
    v3.update(treatment_fee="40", insurance_paid="20", self_paid="20", visit_type="home_visit")
    v4 = visit_row("V4", "C01", "R2", "2025-03-01T10:00:00", "E11.9", total_fee="60", drug_fee="60")
    v4.update(insurance_paid="40", self_paid="20")
    v6 = visit_row("V6", "C01", "R1", "2025-02-20T10:00:00", "I10", total_fee="90", drug_fee="90")
    v6.update(insurance_paid="60", self_paid="30")

    def contract(cid: str, rid: str, start: str, end: str, status: str, **kw: str) -> dict:
        row = {
            "contract_id": cid,
            "facility_code": "C01",
            "team_code": "T1",
            "resident_id": rid,
            "package_code": "basic",
            "sign_date": start,
            "start_date": start,
            "end_date": end,
            "status": status,
            "fee_total": "120",
            "fee_city": "30",
            "fee_district": "78",
            "fee_self": "12",
        }
        row.update(kw)
        return row

    c01_files = {
        "health_records": [
            record_row("R1", "C01", "1960-06-15", C1, hypertension="Y"),
            record_row("R2", "C01", "1990-01-01", C1, blood_type=""),
            record_row(
                "R4", "C01", "1970-05-05", C1, hypertension="Y", registered_date="2024-05-01"
            ),
        ],
        "signings": [
            contract("K1", "R1", "2025-01-01", "2025-12-31", "active", district_hospital_code="H1"),
            contract("K2", "R4", "2025-01-01", "2025-02-28", "terminated"),
            contract("K3", "R2", "2025-04-01", "2026-03-31", "active", sign_date="2025-03-01"),
        ],
        "chronic_followups": [
            followup_row("F1", "R1", "2025-01-10", "clinic", sbp="150", dbp="85"),
            followup_row("F2", "R1", "2025-02-10", "home", sbp="148", dbp="88"),
            followup_row("F3", "R1", "2025-02-20", "phone", sbp="146", dbp="86"),
            followup_row("F4", "R1", "2025-02-25", "clinic", sbp="150", dbp="92"),
            followup_row("F5", "R1", "2025-03-01", "clinic", sbp="145", dbp="85"),
            followup_row("F6", "R4", "2025-02-01", "clinic", sbp="145", dbp="80"),
            followup_row(
                "G1", "R2", "2025-02-01", "clinic", disease="diabetes", fasting_glucose="7.5"
            ),
            followup_row(
                "G2", "R2", "2025-03-01", "phone", disease="diabetes", fasting_glucose="6.8"
            ),
        ],
        "outpatient_visits": [v3, v4, v6],
        "prescriptions": [
            rx_row("P2", 1, "C01", "V4", "D3", 90, "50"),
            rx_row("P2", 2, "C01", "V4", "D2", 5, "10"),
            rx_row("P3", 1, "C01", "V6", "D1", 90, "30"),
            rx_row("P3", 2, "C01", "V6", "D1", 90, "30"),
            rx_row("P3", 3, "C01", "V6", "D1", 45, "30"),
        ],
        "health_checkups": [
            {
                "checkup_id": "CK1",
                "facility_code": "C01",
                "resident_id": "R1",
                "checkup_date": "2025-02-15",
                "checkup_type": "elderly_annual",
                "items_completed": "8",
                "abnormal_findings": "1",
            },
            {
                "checkup_id": "CK2",
                "facility_code": "C01",
                "resident_id": "R4",
                "checkup_date": "2025-02-16",
                "checkup_type": "elderly_annual",
                "items_completed": "8",
                "abnormal_findings": "0",
            },
        ],
    }
    write_folder(
        root,
        "2025-03-01",
        "C01",
        c01_files,
        version=2,
        generated_at="2025-03-02T09:00:00",
        bom=True,
    )

    v5 = visit_row("V5", "C02", "R3", "2025-03-01T11:00:00", "J06.9", total_fee="30")
    v5.update(exam_fee="30", insurance_paid="15", self_paid="15")
    write_folder(
        root,
        "2025-03-01",
        "C02",
        {
            "health_records": [
                record_row(
                    "R3",
                    "C02",
                    "2021-03-01",
                    C2,
                    name="张小明",
                    occupation="学龄前儿童",
                    education="幼儿园",
                )
            ],
            "outpatient_visits": [v5],
        },
        encoding="gbk",
    )

    v1b = dict(v1, total_fee="120", exam_fee="40", insurance_paid="84", self_paid="36")
    write_folder(
        root,
        "2025-03-02",
        "H1",
        {"outpatient_visits": [v1b], "referrals": [dict(referral, status="arrived")]},
    )
    write_folder(
        root,
        "2025-03-02",
        "C01",
        {
            "chronic_followups": [
                followup_row("F7", "R4", "2025-03-02", "clinic", sbp="120", dbp="80")
            ]
        },
        corrupt="chronic_followups",
    )
    write_folder(
        root,
        "2025-03-03",
        "H1",
        {
            "bed_census": [
                {
                    "facility_code": "H1",
                    "census_date": "2025-03-03",
                    "department_code": "IM",
                    "open_beds": "10",
                    "occupied_beds": "9",
                    "admissions": "0",
                    "discharges": "0",
                }
            ]
        },
    )
    return root


@pytest.fixture(scope="module")
def data(landing: Path) -> dict[str, pd.DataFrame]:
    return load_landing(landing)


MAR = pd.Timestamp("2025-03-01")
FEB = pd.Timestamp("2025-02-01")


def _row(df: pd.DataFrame, **keys: object) -> pd.Series:
    sel = pd.Series(True, index=df.index)
    for k, v in keys.items():
        sel &= df[k].isna() if v is None else df[k] == v
    assert sel.sum() == 1, (keys, df[sel])
    return df[sel].iloc[0]


def test_landing_reader(data: dict[str, pd.DataFrame]) -> None:
    dl = data["_deliveries"].set_index(["business_date", "facility_code"])
    assert len(dl) == 6
    assert not dl.loc[(pd.Timestamp("2025-03-02"), "C01"), "complete"]
    assert dl.loc[(MAR, "C01"), "delivery_version"] == 2
    assert set(data["chronic_followups"]["followup_id"]) == {f"F{i}" for i in range(1, 7)} | {
        "G1",
        "G2",
    }
    rec = data["health_records"].set_index("resident_id")
    assert rec.loc["R3", "occupation"] == "学龄前儿童"  # gbk decoded
    assert rec.loc["R1", "region_code"] == C1  # BOM stripped (resident_id header found)
    assert pd.isna(rec.loc["R2", "blood_type"])  # empty field = null
    v = data["outpatient_visits"].set_index("visit_id")
    assert v.loc["V1", "total_fee"] == 120.0  # correction on a later day wins
    assert len(v) == 6
    assert data["referrals"].set_index("referral_id").loc["RF1", "status"] == "arrived"


def test_bed_utilization_same_day_stay(data: dict[str, pd.DataFrame]) -> None:
    r = _row(m.expected_bed_utilization(data), month=MAR, facility_code="H1")
    assert (r.open_bed_days, r.occupied_bed_days) == (20, 17)
    assert r.bed_utilization_rate == pytest.approx(0.85)
    # census on 03-01 and 03-03 only: open beds average over the 2 days reported, not 31
    assert r.census_days == 2 and r.avg_open_beds == 10.0
    assert (r.discharges, r.discharged_bed_days, r.avg_length_of_stay) == (1, 1, 1.0)
    assert r.bed_turnover == pytest.approx(0.1)


def test_referrals_latest_status(data: dict[str, pd.DataFrame]) -> None:
    df = m.expected_referrals(data)
    h1 = _row(df, month=MAR, facility_code="H1")
    assert (h1.up_out, h1.down_out, h1.up_in, h1.down_in) == (0, 1, 0, 0)
    assert h1.arrival_rate == 1.0  # 'requested' on 03-01, 'arrived' on 03-02
    assert h1.down_share == 1.0
    assert h1.referral_rate == pytest.approx(0.5)  # 1 referral / 2 visits at H1 in March
    assert h1.family_doctor_share == 0.0 and h1.priority_slot_share == 0.0
    c01 = _row(df, month=MAR, facility_code="C01")
    assert (c01.down_in, c01.down_out, c01.referrals_sent, c01.outpatient_visits) == (1, 0, 0, 1)
    assert pd.isna(c01.arrival_rate) and c01.referral_rate == 0.0
    # a facility-month with visits but no referral has its row, so rates roll up over visits
    s01 = _row(df, month=MAR, facility_code="S01")
    assert (s01.referrals_sent, s01.outpatient_visits, s01.referral_rate) == (0, 1, 0.0)
    assert pd.isna(s01.down_share)
    assert _row(df, month=FEB, facility_code="C01").outpatient_visits == 1


def test_chronic_followup_year_to_date(data: dict[str, pd.DataFrame]) -> None:
    r = _row(m.expected_hypertension_followup(data), year=2025, team_code="T1")
    assert (r.as_of_date, r.is_complete, r.required_followups) == (
        pd.Timestamp("2025-03-03"),
        False,
        1,
    )
    # q = 1: R1 (5 follow-ups, 4 face to face) and R4 (1 clinic) are both standard.
    # R1 is 64 on 03-03 (65 only in June): latest 145/85 fails sbp < 140. R4 (54): 145/80 fails;
    # the incomplete 03-02 folder with a 120/80 follow-up for R4 is not loaded.
    assert (r.managed_patients, r.standard_managed, r.controlled) == (2, 2, 0)
    assert r.control_rate == 0.0 and r.standard_mgmt_rate == 1.0
    d = _row(m.expected_diabetes_followup(data), year=2025, team_code="T1")
    # R2: diabetes by diagnosis E11.9 only, aged exactly 35; G1 clinic + G2 phone >= q = 1 face
    # to face; latest glucose 6.8.
    assert (d.managed_patients, d.standard_managed, d.controlled) == (1, 1, 1)


def test_visits_cost_and_disease(data: dict[str, pd.DataFrame]) -> None:
    ov = m.expected_outpatient_visits(data)
    h1 = _row(ov, month=MAR, facility_code="H1")
    assert (h1.visits, h1.emergency_visits, h1.home_visits, h1.patients) == (2, 1, 0, 2)
    assert pd.isna(h1.visits_same_month_last_year) and pd.isna(h1.yoy_growth)
    assert _row(ov, month=MAR, facility_code="S01").home_visits == 1
    assert _row(ov, month=FEB, facility_code="C01").visits == 1  # late entry, event date
    cost = _row(m.expected_outpatient_cost(data), month=MAR, facility_code="H1")
    assert (cost.total_fee, cost.drug_fee, cost.exam_fee) == (170.0, 80.0, 70.0)
    assert cost.avg_fee_per_visit == 85.0
    assert cost.insurance_share == pytest.approx(109 / 170)
    dis = m.expected_outpatient_disease(data)
    assert _row(dis, month=MAR, level_group="level_3", icd10_category="I10")["rank"] == 1
    # grassroots in March: V3 (S01, I10), V4 (C01, E11), V5 (C02, J06)
    j06 = _row(dis, month=MAR, level_group="grassroots", icd10_category="J06")
    assert j06.share_of_visits == pytest.approx(1 / 3)
    dc = _row(m.expected_disease_cost(data), year=2025, icd10_category="I10", setting="outpatient")
    assert (dc.episodes, dc.patients, dc.total_fee, dc.cost_per_patient) == (3, 1, 250.0, 250.0)
    assert (dc.as_of_date, dc.is_complete) == (pd.Timestamp("2025-03-03"), False)


def test_medication_management(data: dict[str, pd.DataFrame]) -> None:
    r = _row(m.expected_medication_management(data), month=MAR, facility_code="C01")
    assert (r.visits_with_rx, r.antibiotic_visits, r.long_rx_lines) == (1, 1, 1)
    assert r.antibiotic_rx_rate == 1.0
    assert r.essential_amount_share == 1.0
    assert r.vbp_amount_share == pytest.approx(50 / 60)
    assert r.long_rx_share == 0.5 and r.avg_lines_per_prescription == 2.0
    assert r.drug_fee_share == 1.0
    du = _row(m.expected_drug_usage(data), month=FEB, facility_code="C01", drug_code="D1")
    assert (du.prescription_lines, du.amount, du.atc_code) == (3, 90.0, "C08CA01")


def test_grassroots_and_county(data: dict[str, pd.DataFrame]) -> None:
    df = m.expected_grassroots_visits(data)
    a = _row(df, month=MAR, district_code=DA)
    assert (a.total_visits, a.grassroots_visits, a.signed_visits) == (4, 2, 2)
    assert (a.signed_grassroots_visits, a.unsigned_visits, a.unsigned_grassroots_visits) == (
        1,
        2,
        1,
    )
    assert (a.county_resident_visits, a.in_county_visits) == (3, 3)
    b = _row(df, month=MAR, district_code=DB)
    assert (b.total_visits, b.grassroots_visits, b.signed_visits) == (1, 1, 0)
    assert (b.county_resident_visits, b.in_county_visits, b.in_county_rate) == (2, 1, 0.5)


def test_population_marts(data: dict[str, pd.DataFrame]) -> None:
    hc = _row(m.expected_health_checkups(data), year=2025, region_code=C1)
    # R1's and R4's full elderly_annual checks count for checkups, but neither is 65 on 03-03
    assert (hc.population_65plus, hc.checked_65plus, hc.checkups, hc.abnormal_checkups) == (
        15,
        0,
        2,
        1,
    )
    assert hc.elderly_health_mgmt_rate == 0.0
    assert (hc.as_of_date, hc.is_complete) == (pd.Timestamp("2025-03-03"), False)
    end = pd.Timestamp("2025-03-03")  # the running month is measured at data_as_of
    hr = m.expected_health_records(data)
    assert list(hr["as_of_date"].unique()) == [end]
    r1 = _row(hr, as_of_date=end, region_code=C1)
    assert (r1.population, r1.records, r1.complete_records, r1.active_records) == (115, 3, 2, 3)
    r2 = _row(hr, as_of_date=end, region_code=C2)
    assert (r2.population, r2.records, r2.complete_records, r2.active_records) == (50, 1, 1, 1)

    sc = m.expected_signing_coverage(data)
    t1 = _row(sc, as_of_date=end, region_code=C1, team_code="T1")
    assert (t1.population, t1.signed_residents, t1.key_population, t1.key_signed) == (115, 1, 3, 1)
    # R4's K2 ended 02-28 (terminated) and R2's K3 starts 04-01: only R1 is signed. R1 turns 65
    # on 2025-06-15: still 64 on 03-03 (age at the as-of date), key by hypertension; K1 has a
    # district hospital but no city hospital -> not 1+1+1.
    assert (t1.package_basic, t1.combo_111_signed, t1.signed_age65plus) == (1, 0, 0)
    assert (t1.signed_hypertension, t1.residents_age65plus) == (1, 0)
    lonely = _row(sc, as_of_date=end, region_code=C2, team_code=None)
    assert (lonely.signed_residents, lonely.key_population, lonely.residents_age0_6) == (0, 1, 1)
    com = m.expected_signing_coverage_community(data)
    assert _row(com, as_of_date=end, region_code=C1).residents_hypertension == 2


def test_chronic_settlement(data: dict[str, pd.DataFrame]) -> None:
    df = m.expected_chronic_settlement(data)
    h = _row(df, year=2025, facility_code="C01", disease="hypertension")
    # 2025 up to 03-03: 62 days elapsed, need 365 x 62 / 365 = 62 days. R1: 225 days at C01
    # (V1's 30 days at H1 do not count) -> full. R4: K2 was in force until its termination on
    # 02-28, so R4 is a patient of C01 this year; no drugs -> none.
    assert (h.as_of_date, h.is_complete, h.required_days) == (
        pd.Timestamp("2025-03-03"),
        False,
        62.0,
    )
    assert (h.patients, h.tier_full, h.tier_partial, h.tier_none) == (2, 1, 0, 1)
    assert (h.budget, h.payable) == (2800.0, 1400.0)
    # R2's only contract starts 04-01, after data_as_of: no diabetes patient yet.
    assert df[df["disease"] == "diabetes"].empty


def test_delivery_quality(data: dict[str, pd.DataFrame]) -> None:
    df = m.expected_delivery_quality(data)
    assert len(df) == 9  # 3 days x (H1, C01, C02); the station reports inside C01
    got = {
        (r.business_date.day, r.facility_code): (r.delivered, r.on_time) for r in df.itertuples()
    }
    assert got[(1, "H1")] == (1, 1)
    assert got[(1, "C01")] == (1, 0)  # generated 09:00 the next day
    assert got[(2, "C01")] == (0, 0)  # incomplete folder
    assert got[(2, "C02")] == (0, 0)  # missing day
    assert df["expected"].sum() == 9


def test_compare_frames_reports_differences(data: dict[str, pd.DataFrame]) -> None:
    keys = ["month", "facility_code"]
    exp = m.expected_outpatient_cost(data)
    compare_frames("mart_outpatient_cost", exp, exp.copy(), keys)
    act = exp.copy()
    act["month"] = act["month"].dt.date  # a DATE column from DuckDB aligns with datetime64
    act["visits"] = act["visits"].astype("int32")
    compare_frames("mart_outpatient_cost", exp, act, keys)
    act.loc[0, "total_fee"] = act.loc[0, "total_fee"] + 0.01
    act = act.iloc[:-1]
    with pytest.raises(AssertionError) as err:
        compare_frames("mart_outpatient_cost", exp, act, keys)
    msg = str(err.value)
    assert "total_fee" in msg and "missing from actual" in msg


def test_every_mart_runs(data: dict[str, pd.DataFrame]) -> None:
    out = m.expected_all(data)
    for name, (_, keys) in m.MARTS.items():
        df = out[name]
        assert set(keys) <= set(df.columns), name
        assert not df.duplicated(keys).any(), name


def test_compare_warehouse_reads_duckdb(data: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    import duckdb

    from tests.oracle import compare_warehouse

    exp = {n: m.MARTS[n][0](data) for n in ("mart_referrals", "mart_health_checkups")}
    path = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    for name, df in exp.items():
        con.register("df", df)
        con.execute(f"create table marts.{name} as select * from df")
        con.unregister("df")
    con.execute("alter table marts.mart_referrals alter month type date")
    con.close()
    keys = {n: k for n, (_, k) in m.MARTS.items()}
    compare_warehouse(exp, path, keys)
    with pytest.raises(AssertionError, match="cannot read actual mart"):
        compare_warehouse({"mart_bed_utilization": exp["mart_referrals"]}, path, keys)
