"""The oracle's v1.1 readings (the indicator definitions) on a second hand-made region, answers by hand.

One community C1 (district A) with population 100 in 2024 and 102 in 2025. Facilities: centre
C01 (registry level 1, still grassroots) with station S01, township centre C02, H2 (level 2),
H0 (specialty hospital, level 0 = unrated). Teams T1 (C01), T2 (C02). C01 goes live on
2024-10-01 with its opening stock; the last complete folder is 2025-03-11 (data_as_of), a
2025-03-12 folder is incomplete. Snapshots: 2024-10-31, 11-30, 12-31, 2025-01-31, 02-28 and
2025-03-11 (the running month).

Residents (all with a record in C1; ages on 2025-03-11):

* RA 75, hypertension. KA 2024-01-01..12-31, redelivered ``expired`` on 2025-01-01.
* RB 44. KB 2024-03-01..2025-02-28, terminated: redelivered on 2024-11-15 with end 11-15.
* RC 79, hypertension. KC1 2024 (expired), renewed by KC2 2025-01-01..12-31 (renewal_of KC1).
* RD 55, diabetes. KD1 at C01/T1 from 2024-06-01 and KD2 at C02/T2 from 2024-10-15 overlap.
* RF 69, hypertension. KF 2024-03-21..2025-03-20 (still in force on 03-11).
* RG 64 (65 in August 2025), hypertension. KG 2024-03-06..2025-03-05, redelivered ``expired``.
* RE born 2025-02-15, record registered 2025-02-20, no contract.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from tests.oracle import load_landing
from tests.oracle import marts as m
from tests.oracle_builders import (
    followup_row,
    record_row,
    rx_row,
    visit_row,
    write_folder,
    write_reference,
)

CITY, DA, SA, C1 = "330100000000", "330102000000", "330102001000", "330102001001"
D = pd.Timestamp


def _reference(root: Path) -> None:
    write_reference(
        root,
        "regions",
        [
            {"region_code": CITY, "region_name": "市", "level": "city"},
            {"region_code": DA, "region_name": "甲区", "level": "district", "parent_code": CITY},
            {"region_code": SA, "region_name": "街道", "level": "street", "parent_code": DA},
            {
                "region_code": C1,
                "region_name": "社区",
                "level": "community",
                "parent_code": SA,
                "urban_rural": "urban",
            },
        ],
    )
    population = []
    for year, old in (("2024", "20"), ("2025", "22")):
        for sex, band, n in (("M", "65-79", old), ("F", "0-6", "10"), ("M", "18-44", "70")):
            population.append(
                {"region_code": C1, "year": year, "sex": sex, "age_band": band, "population": n}
            )
    write_reference(root, "population", population)

    def fac(code: str, typ: str, level: str, parent: str = "") -> dict[str, str]:
        return {
            "facility_code": code,
            "facility_name": code,
            "facility_type": typ,
            "level": level,
            "region_code": SA,
            "district_code": DA,
            "parent_facility_code": parent,
            "approved_beds": "30",
        }

    write_reference(
        root,
        "facilities",
        [
            fac("C01", "community_health_centre", "1"),
            fac("S01", "community_health_station", "0", parent="C01"),
            fac("C02", "township_health_centre", "0"),
            fac("H2", "general_hospital", "2"),
            fac("H0", "specialty_hospital", "0"),
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
                "drug_code": "D3",
                "generic_name": "metformin",
                "atc_code": "A10BA02",
                "is_essential": "Y",
                "is_antibiotic": "N",
                "is_vbp": "Y",
            },
        ],
    )


def _contract(cid: str, rid: str, start: str, end: str, status: str = "active", **kw: str) -> dict:
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


def _visit(vid: str, fac: str, rid: str, day: str, dx: str) -> dict[str, str]:
    return visit_row(
        vid,
        fac,
        rid,
        f"{day}T09:00:00",
        dx,
        total_fee="10",
        other_fee="10",
        insurance_paid="5",
        self_paid="5",
    )


def _stay(sid: str, fac: str, rid: str, admit: str, discharge: str, dx: str) -> dict[str, str]:
    return {
        "stay_id": sid,
        "facility_code": fac,
        "resident_id": rid,
        "admit_time": f"{admit}T08:00:00",
        "discharge_time": f"{discharge}T10:00:00",
        "diagnosis_code": dx,
        "total_fee": "1000",
        "drug_fee": "100",
        "insurance_paid": "800",
        "self_paid": "200",
        "discharge_status": "cured",
    }


def _census(day: str) -> dict[str, str]:
    return {
        "facility_code": "H2",
        "census_date": day,
        "department_code": "IM",
        "open_beds": "30",
        "occupied_beds": "20",
    }


def _referral(rid: str, frm: str, to: str, direction: str, day: str, status: str, **kw: str):
    row = {
        "referral_id": rid,
        "facility_code": frm,
        "to_facility_code": to,
        "resident_id": "RB",
        "referral_time": f"{day}T10:00:00",
        "direction": direction,
        "referral_kind": "outpatient",
        "priority_slot": "N",
        "status": status,
    }
    row.update(kw)
    return row


def _checkup(cid: str, rid: str, day: str, items: str, abnormal: str) -> dict[str, str]:
    return {
        "checkup_id": cid,
        "facility_code": "C01",
        "resident_id": rid,
        "checkup_date": day,
        "checkup_type": "elderly_annual",
        "items_completed": items,
        "abnormal_findings": abnormal,
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    root = tmp_path_factory.mktemp("landing_v11")
    _reference(root)
    out: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))

    def deliver(day: str, fac: str, dataset: str, *rows: dict) -> None:
        out[(day, fac)][dataset].extend(rows)

    def record(rid: str, birth: str, registered: str, **flags: str) -> dict[str, str]:
        return record_row(rid, "C01", birth, C1, registered_date=registered, **flags)

    # go-live: every record kept and every contract in force, with their own dates
    deliver(
        "2024-10-01",
        "C01",
        "health_records",
        record("RA", "1950-01-10", "2015-03-01", hypertension="Y"),
        record("RB", "1980-05-05", "2016-01-01"),
        record("RC", "1945-06-01", "2014-05-05", hypertension="Y"),
        record("RD", "1970-02-02", "2019-07-07", diabetes="Y"),
        record("RF", "1955-03-15", "2017-02-02", hypertension="Y"),
        record("RG", "1960-08-08", "2018-08-08", hypertension="Y"),
    )
    ka = _contract("KA", "RA", "2024-01-01", "2024-12-31")
    kb = _contract("KB", "RB", "2024-03-01", "2025-02-28")
    kc1 = _contract("KC1", "RC", "2024-01-01", "2024-12-31")
    kg = _contract("KG", "RG", "2024-03-06", "2025-03-05")
    deliver(
        "2024-10-01",
        "C01",
        "signings",
        ka,
        kb,
        kc1,
        kg,
        _contract("KD1", "RD", "2024-06-01", "2025-05-31"),
        _contract("KF", "RF", "2024-03-21", "2025-03-20"),
    )
    deliver(
        "2024-10-15",
        "C02",
        "signings",
        _contract("KD2", "RD", "2024-10-15", "2025-10-14", facility_code="C02", team_code="T2"),
    )
    deliver("2024-11-15", "C01", "signings", dict(kb, status="terminated", end_date="2024-11-15"))
    deliver(
        "2024-12-20",
        "C01",
        "signings",
        _contract(
            "KC2", "RC", "2025-01-01", "2025-12-31", sign_date="2024-12-20", renewal_of="KC1"
        ),
    )
    deliver(
        "2025-01-01", "C01", "signings", dict(ka, status="expired"), dict(kc1, status="expired")
    )
    deliver("2025-03-06", "C01", "signings", dict(kg, status="expired"))
    deliver(
        "2025-02-20", "C01", "health_records", record("RE", "2025-02-15", "2025-02-20", sex="F")
    )

    for fid, rid, day, mode, sbp in (
        ("FC1", "RC", "2024-10-05", "clinic", "135"),
        ("FA1", "RA", "2024-10-10", "clinic", "150"),
        ("FC2", "RC", "2024-10-25", "clinic", "132"),
        ("FA2", "RA", "2024-11-10", "clinic", "145"),
        ("FC3", "RC", "2024-11-20", "home", "128"),
        ("FG1", "RG", "2024-12-01", "clinic", "145"),
        ("FC4", "RC", "2024-12-15", "clinic", "130"),
        ("FF1", "RF", "2025-01-20", "clinic", "138"),
        ("FC5", "RC", "2025-02-01", "phone", "130"),
        ("FG2", "RG", "2025-03-01", "clinic", "145"),
    ):
        deliver(
            day, "C01", "chronic_followups", followup_row(fid, rid, day, mode, sbp=sbp, dbp="85")
        )
    deliver(
        "2025-02-10",
        "C02",
        "chronic_followups",
        followup_row(
            "GD1",
            "RD",
            "2025-02-10",
            "clinic",
            facility_code="C02",
            team_code="T2",
            disease="diabetes",
            fasting_glucose="6.9",
        ),
    )
    deliver("2024-11-05", "C01", "health_checkups", _checkup("CKA", "RA", "2024-11-05", "8", "1"))
    deliver("2024-11-06", "C01", "health_checkups", _checkup("CKC", "RC", "2024-11-06", "7", "0"))
    deliver("2025-02-01", "C01", "health_checkups", _checkup("CKG", "RG", "2025-02-01", "8", "0"))
    deliver("2025-03-02", "C01", "health_checkups", _checkup("CKF", "RF", "2025-03-02", "8", "0"))

    # visits (delivery folder = the centre for S01) and their prescription lines (days_supply)
    for vid, fac, folder, rid, day, dx, lines in (
        ("VB1", "C01", "C01", "RB", "2024-11-15", "J06.9", ()),
        ("VB2", "C01", "C01", "RB", "2024-11-16", "J06.9", ()),
        ("VA1", "C01", "C01", "RA", "2024-12-31", "I10", (("D1", 90), ("D1", 90), ("D1", 76))),
        ("VA2", "C01", "C01", "RA", "2025-01-05", "I10", ()),
        ("VC1", "C01", "C01", "RC", "2025-01-10", "I10", (("D1", 49),)),
        ("VF1", "C01", "C01", "RF", "2025-01-15", "I10", (("D1", 20),)),
        ("VF2", "S01", "C01", "RF", "2025-01-25", "I10", (("D1", 15),)),
        ("VF3", "H2", "H2", "RF", "2025-02-05", "I10", (("D1", 10),)),
        ("VC2", "H2", "H2", "RC", "2025-02-06", "I10", ()),
        ("VD1", "C01", "C01", "RD", "2025-02-10", "E11.9", (("D3", 70),)),
        ("VH0", "H0", "H0", "RB", "2025-02-12", "F32.1", ()),
        ("VG1", "C01", "C01", "RG", "2025-02-20", "I10", (("D1", 34),)),
    ):
        deliver(day, folder, "outpatient_visits", _visit(vid, fac, rid, day, dx))
        for i, (drug, days) in enumerate(lines, start=1):
            deliver(day, folder, "prescriptions", rx_row(f"P{vid}", i, fac, vid, drug, days, "9"))

    for day in ("2025-02-01", "2025-02-02", "2025-02-10"):
        deliver(day, "H2", "bed_census", _census(day))
    for sid, fac, rid, admit, discharge, dx in (
        ("ST1", "H2", "RB", "2025-02-01", "2025-02-04", "K35.8"),
        ("ST2", "H2", "RC", "2025-02-03", "2025-02-10", "S72.0"),
        ("ST3", "H2", "RD", "2025-02-15", "2025-02-20", "J18.9"),
        ("ST4", "H0", "RB", "2025-02-12", "2025-02-14", "F32.1"),  # H0 has no census
    ):
        deliver(discharge, fac, "inpatient_discharges", _stay(sid, fac, rid, admit, discharge, dx))

    family_doctor_slot = {"team_code": "T1", "priority_slot": "Y"}
    for ref, frm, to, direction, day, status, extra in (
        ("RD1", "H2", "C01", "down", "2025-02-04", "arrived", {}),
        ("RD2", "H2", "C01", "down", "2025-02-10", "requested", {}),
        ("RD3", "H2", "C01", "down", "2025-02-20", "cancelled", {}),
        ("RD4", "H2", "C01", "down", "2025-02-25", "requested", {}),
        ("RU1", "C01", "H2", "up", "2025-02-10", "accepted", family_doctor_slot),
        ("RU2", "C01", "H2", "up", "2025-02-20", "rejected", {}),
    ):
        deliver(day, frm, "referrals", _referral(ref, frm, to, direction, day, status, **extra))
    rd2 = _referral("RD2", "H2", "C01", "down", "2025-02-10", "rejected")
    deliver("2025-02-11", "H2", "referrals", rd2)  # RD2 is rejected the next day

    deliver("2025-03-11", "C01", "chronic_followups")  # a complete folder with an empty file
    for (day, fac), files in sorted(out.items()):
        write_folder(root, day, fac, dict(files))
    # incomplete: would make RG controlled and move data_as_of, if it were loaded
    write_folder(
        root,
        "2025-03-12",
        "C01",
        {
            "chronic_followups": [
                followup_row("FG3", "RG", "2025-03-12", "clinic", sbp="120", dbp="80")
            ]
        },
        corrupt="chronic_followups",
    )
    return load_landing(root)


def _row(df: pd.DataFrame, **keys: object) -> pd.Series:
    sel = pd.Series(True, index=df.index)
    for k, v in keys.items():
        sel &= df[k].isna() if v is None else df[k] == v
    assert sel.sum() == 1, (keys, df[sel])
    return df[sel].iloc[0]


SNAPSHOTS = [D(x) for x in ("2024-10-31", "2024-11-30", "2024-12-31", "2025-01-31", "2025-02-28")]
RUNNING = D("2025-03-11")


def test_snapshot_dates_end_at_data_as_of(data: dict[str, pd.DataFrame]) -> None:
    hr = m.expected_health_records(data)
    assert sorted(hr["as_of_date"].unique()) == [*SNAPSHOTS, RUNNING]
    got = {d: _row(hr, as_of_date=d, region_code=C1) for d in (D("2024-12-31"), *SNAPSHOTS[3:])}
    # RE, born 02-15 and registered 02-20, is a record from February's month-end on
    assert [(r.population, r.records) for r in got.values()] == [(100, 6), (102, 6), (102, 7)]


def test_signed_means_a_contract_in_force(data: dict[str, pd.DataFrame]) -> None:
    sc = m.expected_signing_coverage(data)

    def signed(d: pd.Timestamp, team: str) -> int:
        return int(_row(sc, as_of_date=d, region_code=C1, team_code=team).signed_residents)

    # 10-31: RA, RB, RC, RF, RG at T1; RD once, under KD2 (C02/T2, the later start), not T1.
    # 11-30: KB terminated on 11-15 is out. 12-31: KA in force on its last day although expired
    # today; RC once (KC1; KC2 starts the next day). 01-31: RA out, RC once again (KC2).
    # 03-11 (running month): KG ended 03-05, KF (ends 03-20) is still in force.
    t1 = [signed(d, "T1") for d in [*SNAPSHOTS, RUNNING]]
    t2 = [signed(d, "T2") for d in [*SNAPSHOTS, RUNNING]]
    assert t1 == [5, 4, 4, 3, 3, 2]
    assert t2 == [1, 1, 1, 1, 1, 1]
    com = m.expected_signing_coverage_community(data)
    assert _row(com, as_of_date=D("2024-10-31"), region_code=C1).signed_residents == 6
    r = _row(sc, as_of_date=RUNNING, region_code=C1, team_code="T1")
    assert (r.population, r.signing_rate) == (102, pytest.approx(2 / 102))
    assert (r.key_signed, r.signed_age65plus, r.signed_hypertension) == (2, 2, 2)


def test_renewals_and_contracts_ending(data: dict[str, pd.DataFrame]) -> None:
    sc = m.expected_signing_coverage(data)
    dec = _row(sc, as_of_date=D("2024-12-31"), region_code=C1, team_code="T1")
    # KA (not renewed) and KC1 (renewed by KC2) end in December
    assert (dec.contracts_ending, dec.renewals, dec.renewal_rate) == (2, 1, 0.5)
    # KB ended 11-15 by termination: not due for renewal
    nov = _row(sc, as_of_date=D("2024-11-30"), region_code=C1, team_code="T1")
    assert (nov.contracts_ending, nov.renewals) == (0, 0) and pd.isna(nov.renewal_rate)
    # the running month up to 03-11: KG ended 03-05; KF ends 03-20, after data_as_of
    mar = _row(sc, as_of_date=RUNNING, region_code=C1, team_code="T1")
    assert (mar.contracts_ending, mar.renewals, mar.renewal_rate) == (1, 0, 0.0)


def test_counted_from_birth(data: dict[str, pd.DataFrame]) -> None:
    com = m.expected_signing_coverage_community(data)
    jan = _row(com, as_of_date=D("2025-01-31"), region_code=C1)
    feb = _row(com, as_of_date=D("2025-02-28"), region_code=C1)
    # key: RA, RC, RF, RG (hypertension), RD (diabetes); RE only once born (02-15)
    assert (jan.key_population, jan.residents_age0_6, jan.residents_age65plus) == (5, 0, 3)
    assert (feb.key_population, feb.residents_age0_6, feb.residents_age65plus) == (6, 1, 3)
    assert (feb.signed_residents, feb.signed_age0_6) == (4, 0)


def test_chronic_followup_completed_and_running_year(data: dict[str, pd.DataFrame]) -> None:
    ht = m.expected_hypertension_followup(data)
    y24 = _row(ht, year=2024, team_code="T1")
    # q = 4: RC has 4 face to face (standard); RA 2, RG 1. Controlled: RA (74, 145 < 150),
    # RC (130); RG is 64 (145 >= 140).
    assert (y24.as_of_date, y24.is_complete, y24.required_followups) == (
        D("2024-12-31"),
        True,
        4,
    )
    assert (y24.managed_patients, y24.standard_managed, y24.controlled) == (3, 1, 2)
    y25 = _row(ht, year=2025, team_code="T1")
    # q = 1 on 03-11: RF and RG have a clinic visit; RC only a phone call. Controlled: RC (130),
    # RF (138); RG is 64 until August, so 145 is not controlled (the incomplete 03-12 folder
    # with RG at 120 is not loaded).
    assert (y25.as_of_date, y25.is_complete, y25.required_followups) == (RUNNING, False, 1)
    assert (y25.managed_patients, y25.standard_managed, y25.controlled) == (3, 2, 2)
    dm = m.expected_diabetes_followup(data)
    assert len(dm) == 1
    d25 = _row(dm, year=2025, team_code="T2")
    assert (d25.managed_patients, d25.standard_managed, d25.controlled) == (1, 1, 1)


def test_health_checkups_age_at_as_of(data: dict[str, pd.DataFrame]) -> None:
    hc = m.expected_health_checkups(data)
    y24 = _row(hc, year=2024, region_code=C1)
    # RA's full check counts; RC's has 7 item groups
    assert (y24.population_65plus, y24.checked_65plus, y24.checkups, y24.abnormal_checkups) == (
        20,
        1,
        2,
        1,
    )
    assert (y24.as_of_date, y24.is_complete) == (D("2024-12-31"), True)
    y25 = _row(hc, year=2025, region_code=C1)
    # RF (69) counts; RG's full check does not: RG is 64 on 03-11
    assert (y25.population_65plus, y25.checked_65plus, y25.checkups) == (22, 1, 2)
    assert (y25.as_of_date, y25.is_complete) == (RUNNING, False)


def test_settlement_pro_rated_tiers(data: dict[str, pd.DataFrame]) -> None:
    cs = m.expected_chronic_settlement(data)
    assert set(zip(cs["year"], cs["facility_code"], cs["disease"], strict=True)) == {
        (2024, "C01", "hypertension"),
        (2024, "C02", "diabetes"),
        (2025, "C01", "hypertension"),
        (2025, "C02", "diabetes"),
    }  # RD counts under KD2 (C02), its later contract; the metformin at C01 is not C02's
    h24 = _row(cs, year=2024, facility_code="C01", disease="hypertension")
    # completed year, need 365: RA 256 days -> 0.701 full; RC, RF, RG no drugs in 2024 -> none
    assert (h24.required_days, h24.is_complete, h24.as_of_date) == (365.0, True, D("2024-12-31"))
    assert (h24.patients, h24.tier_full, h24.tier_partial, h24.tier_none) == (4, 1, 0, 3)
    assert (h24.budget, h24.payable) == (5600.0, 1400.0)
    h25 = _row(cs, year=2025, facility_code="C01", disease="hypertension")
    # 70 days elapsed by 03-11, need 365 x 70 / 365 = 70 days. RC 49 = exactly 70 % -> full;
    # RF 20 at C01 + 15 at its station S01 = 35 = exactly 50 % -> partial (H2's 10 days do not
    # count); RG 34 -> none. RA (KA ended 2024-12-31) is no longer C01's patient.
    assert (h25.required_days, h25.is_complete, h25.as_of_date) == (70.0, False, RUNNING)
    assert (h25.patients, h25.tier_full, h25.tier_partial, h25.tier_none) == (3, 1, 1, 1)
    assert (h25.budget, h25.payable) == (4200.0, pytest.approx(2380.0))
    d25 = _row(cs, year=2025, facility_code="C02", disease="diabetes")
    assert (d25.patients, d25.tier_none, d25.payable) == (1, 1, 0.0)


def test_signed_visits_on_the_visit_date(data: dict[str, pd.DataFrame]) -> None:
    gv = m.expected_grassroots_visits(data)
    nov = _row(gv, month=D("2024-11-01"), district_code=DA)
    # RB on 11-15 (KB's end date: in force) and on 11-16 (after the termination)
    assert (nov.total_visits, nov.signed_visits, nov.unsigned_visits) == (2, 1, 1)
    assert _row(gv, month=D("2024-12-01"), district_code=DA).signed_visits == 1  # RA on 12-31
    jan = _row(gv, month=D("2025-01-01"), district_code=DA)
    assert (jan.total_visits, jan.signed_visits, jan.unsigned_visits) == (4, 3, 1)  # RA 01-05
    feb = _row(gv, month=D("2025-02-01"), district_code=DA)
    assert (feb.total_visits, feb.grassroots_visits, feb.signed_visits) == (5, 2, 4)
    assert (feb.signed_grassroots_visits, feb.unsigned_grassroots_visits) == (2, 0)


def test_referrals_that_went_ahead(data: dict[str, pd.DataFrame]) -> None:
    rf = m.expected_referrals(data)
    feb = D("2025-02-01")
    h2 = _row(rf, month=feb, facility_code="H2")
    # sent down: RD1 arrived, RD2 rejected (latest status), RD3 cancelled, RD4 requested
    assert (h2.referrals_sent, h2.down_out, h2.up_out, h2.arrived_out) == (4, 2, 0, 1)
    assert (h2.down_share, h2.arrival_rate) == (1.0, 0.25)
    assert (h2.referrals_in, h2.up_in, h2.outpatient_visits, h2.referral_rate) == (2, 1, 2, 2.0)
    c01 = _row(rf, month=feb, facility_code="C01")
    assert (c01.referrals_sent, c01.up_out, c01.down_out, c01.down_share) == (2, 1, 0, 0.0)
    assert (c01.referrals_in, c01.down_in, c01.arrival_rate) == (4, 2, 0.0)
    assert (c01.family_doctor_share, c01.priority_slot_share, c01.referral_rate) == (0.5, 0.5, 1.0)
    h0 = _row(rf, month=feb, facility_code="H0")  # visits only
    assert (h0.referrals_sent, h0.outpatient_visits, h0.referral_rate) == (0, 1, 0.0)
    assert pd.isna(h0.down_share) and pd.isna(h0.arrival_rate)
    assert _row(rf, month=D("2025-01-01"), facility_code="S01").outpatient_visits == 1


def test_beds_over_census_days(data: dict[str, pd.DataFrame]) -> None:
    bu = m.expected_bed_utilization(data)
    feb = D("2025-02-01")
    h2 = _row(bu, month=feb, facility_code="H2")
    assert (h2.census_days, h2.open_bed_days, h2.avg_open_beds) == (3, 90, 30.0)
    assert (h2.discharges, h2.discharged_bed_days, h2.avg_length_of_stay) == (3, 15, 5.0)
    assert h2.bed_turnover == pytest.approx(0.1)
    h0 = _row(bu, month=feb, facility_code="H0")  # discharges, no census
    assert (h0.census_days, h0.discharges) == (0, 1)
    assert pd.isna(h0.avg_open_beds) and pd.isna(h0.bed_turnover)


def test_outpatient_disease_by_level_group(data: dict[str, pd.DataFrame]) -> None:
    od = m.expected_outpatient_disease(data)
    # C01's registry level 1 does not make it level_1: it is grassroots
    assert set(od["level_group"]) == {"grassroots", "level_2", "unrated"}
    feb = D("2025-02-01")
    l2 = _row(od, month=feb, level_group="level_2", icd10_category="I10")
    assert (l2.visits, l2.patients, l2.share_of_visits, l2["rank"]) == (2, 2, 1.0, 1)
    assert _row(od, month=feb, level_group="unrated", icd10_category="F32").visits == 1
    for cat in ("I10", "E11"):
        g = _row(od, month=feb, level_group="grassroots", icd10_category=cat)
        assert (g.visits, g.share_of_visits, g["rank"]) == (1, 0.5, 1)


def test_disease_cost_year_columns(data: dict[str, pd.DataFrame]) -> None:
    dc = m.expected_disease_cost(data)
    j06 = _row(dc, year=2024, icd10_category="J06", setting="outpatient")
    assert (j06.episodes, j06.patients, j06.as_of_date, j06.is_complete) == (
        2,
        1,
        D("2024-12-31"),
        True,
    )
    i10 = _row(dc, year=2025, icd10_category="I10", setting="outpatient")
    assert (i10.episodes, i10.patients, i10.as_of_date, i10.is_complete) == (7, 4, RUNNING, False)


# ---------------------------------------------------------------- quarters begun


def _year_landing(root: Path, last: str) -> dict[str, pd.DataFrame]:
    """RP (hypertension, contract at C01 all year) with follow-ups on 01-15 (clinic), 02-15
    (home), 03-15 (phone): 3 follow-ups, 2 face to face; the last complete folder is ``last``."""
    y = last[:4]
    _reference(root)
    write_folder(
        root,
        f"{y}-01-01",
        "C01",
        {
            "health_records": [record_row("RP", "C01", "1950-01-01", C1, hypertension="Y")],
            "signings": [_contract("KP", "RP", f"{y}-01-01", f"{y}-12-31")],
        },
    )
    for fid, md, mode in (
        ("FP1", "01-15", "clinic"),
        ("FP2", "02-15", "home"),
        ("FP3", "03-15", "phone"),
    ):
        day = f"{y}-{md}"
        write_folder(
            root,
            day,
            "C01",
            {"chronic_followups": [followup_row(fid, "RP", day, mode, sbp="130", dbp="80")]},
        )
    write_folder(root, last, "C01", {"chronic_followups": []})
    return load_landing(root)


@pytest.mark.parametrize(
    ("last", "q", "standard", "required_days", "complete"),
    [
        ("2025-03-31", 1, 1, 90.0, False),
        ("2025-04-01", 2, 1, 91.0, False),
        ("2025-06-30", 2, 1, 181.0, False),
        ("2025-07-01", 3, 0, 182.0, False),
        ("2025-09-30", 3, 0, 273.0, False),
        ("2025-10-01", 4, 0, 274.0, False),
        ("2025-12-31", 4, 0, 365.0, True),
        ("2024-03-31", 1, 1, 365 * 91 / 366, False),  # leap year: 91 of 366 days
    ],
)
def test_quarters_begun(
    tmp_path: Path, last: str, q: int, standard: int, required_days: float, complete: bool
) -> None:
    data = _year_landing(tmp_path, last)
    year = int(last[:4])
    ht = _row(m.expected_hypertension_followup(data), year=year, team_code="T1")
    assert (ht.as_of_date, ht.is_complete, ht.required_followups) == (D(last), complete, q)
    assert (ht.managed_patients, ht.standard_managed) == (1, standard)
    cs = _row(m.expected_chronic_settlement(data), year=year, facility_code="C01")
    assert (cs.as_of_date, cs.is_complete) == (D(last), complete)
    assert cs.required_days == pytest.approx(required_days, rel=1e-12)
