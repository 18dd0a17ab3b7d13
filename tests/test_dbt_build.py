"""Build the dbt project on a tiny hand-made warehouse and check mart values.

The fixture (raw + audit rows written with warehouse.ensure_schema and INSERTs) covers the edge
cases the marts must get right: latest-wins corrections, a station reporting inside its centre's
folder, expired/renewed/terminated contracts, the 65+ blood-pressure threshold, a same-day stay,
last year's month for growth rates, late and incomplete deliveries.  A second batch (a redelivery
dropping a visit and adding one) checks that the incremental run equals a full refresh.

    uv run python tests/test_dbt_build.py /tmp/fixture.duckdb   # write the fixture for development
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from grassroots.build import build
from grassroots.warehouse import ensure_schema

CITY, D1, D2 = "330100000000", "330102000000", "330106000000"
S1, S2 = "330102001000", "330106001000"
K1, K2, K3 = "330102001001", "330102001002", "330106001001"
H3, H2, C1, ST1, C2 = "H330102001", "H330106001", "C330102001", "S330102001", "C330106001"

_line = {"n": 1}


def _insert(con, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    df = pd.DataFrame(rows)  # noqa: F841 (read by DuckDB)
    con.execute(f"insert into {table} by name select * from df")


def _daily(
    dataset: str, bd: str, rows: list[dict], *, folder: str | None = None, version=1, batch=1
) -> list[dict]:
    out = []
    for r in rows:
        _line["n"] += 1
        out.append(
            {
                **r,
                "_delivery_facility": folder or r["facility_code"],
                "_business_date": date.fromisoformat(bd),
                "_delivery_version": version,
                "_file_name": f"{dataset}.csv",
                "_line_no": _line["n"],
                "_batch_id": batch,
            }
        )
    return out


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


def _d(s: str) -> date:
    return date.fromisoformat(s)


def visit(vid, fac, res, t, dx, total, drug, *, vtype="outpatient", team=None, ins=None):
    rest = total - drug
    ins = round(total * 0.7, 2) if ins is None else ins
    return {
        "visit_id": vid,
        "facility_code": fac,
        "resident_id": res,
        "visit_time": _ts(t),
        "visit_type": vtype,
        "team_code": team,
        "diagnosis_code": dx,
        "total_fee": total,
        "drug_fee": drug,
        "exam_fee": rest,
        "treatment_fee": 0,
        "other_fee": 0,
        "insurance_paid": ins,
        "self_paid": round(total - ins, 2),
    }


def record(
    res, fac, birth, region, *, reg="2020-01-01", htn=False, dm=False, complete=True, updated=None
):
    six = ("A", "none", "none", "none", "worker", "secondary" if complete else None)
    return {
        "resident_id": res,
        "facility_code": fac,
        "sex": "F",
        "birth_date": _d(birth),
        "region_code": region,
        "registered_date": _d(reg),
        "updated_date": _d(updated) if updated else None,
        "hypertension": htn,
        "diabetes": dm,
        "tuberculosis": False,
        "severe_mental_disorder": False,
        "disability": False,
        "pregnant": False,
        "low_income": False,
        **dict(
            zip(
                (
                    "blood_type",
                    "allergy_history",
                    "past_history",
                    "family_history",
                    "occupation",
                    "education",
                ),
                six,
                strict=True,
            )
        ),
    }


def followup(fid, fac, team, res, disease, day, mode, sbp=None, dbp=None, glucose=None):
    return {
        "followup_id": fid,
        "facility_code": fac,
        "team_code": team,
        "resident_id": res,
        "disease": disease,
        "followup_date": _d(day),
        "mode": mode,
        "sbp": sbp,
        "dbp": dbp,
        "fasting_glucose": glucose,
    }


def contract(
    cid, fac, team, res, pkg, start, end, status, *, renewal_of=None, combo=False, sign=None
):
    return {
        "contract_id": cid,
        "facility_code": fac,
        "team_code": team,
        "resident_id": res,
        "package_code": pkg,
        "sign_date": _d(sign or start),
        "start_date": _d(start),
        "end_date": _d(end),
        "status": status,
        "fee_total": 0,
        "fee_city": 0,
        "fee_district": 0,
        "fee_self": 0,
        "district_hospital_code": H2 if combo else None,
        "city_hospital_code": H3 if combo else None,
        "renewal_of": renewal_of,
    }


def build_fixture(path: Path) -> Path:
    path = Path(path)
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    ensure_schema(con)
    _insert(
        con,
        "raw.regions",
        [
            {"region_code": CITY, "region_name": "杭州市", "level": "city"},
            {"region_code": D1, "region_name": "上城区", "level": "district", "parent_code": CITY},
            {"region_code": D2, "region_name": "西湖区", "level": "district", "parent_code": CITY},
            {"region_code": S1, "region_name": "街道1", "level": "street", "parent_code": D1},
            {"region_code": S2, "region_name": "街道2", "level": "street", "parent_code": D2},
            {
                "region_code": K1,
                "region_name": "社区1",
                "level": "community",
                "parent_code": S1,
                "urban_rural": "urban",
            },
            {
                "region_code": K2,
                "region_name": "社区2",
                "level": "community",
                "parent_code": S1,
                "urban_rural": "urban",
            },
            {
                "region_code": K3,
                "region_name": "村3",
                "level": "community",
                "parent_code": S2,
                "urban_rural": "rural",
            },
        ],
    )
    pop = []
    for year in (2024, 2025):
        for region, bands in {
            K1: {"0-6": 50, "18-44": 830, "65-79": 100, "80+": 20},
            K2: {"18-44": 450, "65-79": 50},
            K3: {"0-6": 40, "18-44": 360},
        }.items():
            pop += [
                {"region_code": region, "year": year, "sex": "F", "age_band": b, "population": n}
                for b, n in bands.items()
            ]
    _insert(con, "raw.population", pop)
    fac = [
        (H3, "市一医院", "general_hospital", 3, "A", S1, D1, "A1", None, 500),
        (H2, "区医院", "general_hospital", 2, "B", S2, D2, "A2", None, 200),
        (C1, "社区中心1", "community_health_centre", 0, None, S1, D1, "A1", None, 30),
        (ST1, "服务站1", "community_health_station", 0, None, K1, D1, "A1", C1, 0),
        (C2, "乡镇卫生院2", "township_health_centre", 0, None, S2, D2, "A2", None, 40),
    ]
    _insert(
        con,
        "raw.facilities",
        [
            dict(
                zip(
                    (
                        "facility_code",
                        "facility_name",
                        "facility_type",
                        "level",
                        "grade",
                        "region_code",
                        "district_code",
                        "alliance_code",
                        "parent_facility_code",
                        "approved_beds",
                    ),
                    f,
                    strict=True,
                )
            )
            for f in fac
        ],
    )
    _insert(
        con,
        "raw.teams",
        [
            {
                "team_code": t,
                "facility_code": f,
                "team_name": t,
                "gp_count": 1,
                "nurse_count": 1,
                "public_health_count": 1,
                "specialist_count": 0,
                "volunteer_count": 0,
            }
            for t, f in (("T1", C1), ("T2", C2))
        ],
    )
    _insert(
        con,
        "raw.drugs",
        [
            {
                "drug_code": "AML",
                "generic_name": "amlodipine",
                "atc_code": "C08CA01",
                "is_essential": True,
                "is_antibiotic": False,
                "is_vbp": True,
            },
            {
                "drug_code": "AMX",
                "generic_name": "amoxicillin",
                "atc_code": "J01CA04",
                "is_essential": True,
                "is_antibiotic": True,
                "is_vbp": False,
            },
            {
                "drug_code": "MET",
                "generic_name": "metformin",
                "atc_code": "A10BA02",
                "is_essential": True,
                "is_antibiotic": False,
                "is_vbp": True,
            },
        ],
    )

    rows: dict[str, list[dict]] = {}

    def add(ds, bd, rs, **kw):
        rows.setdefault(ds, []).extend(_daily(ds, bd, rs, **kw))

    # health records: R4 first placed in K1, corrected to K3 on a later day (latest wins)
    add(
        "health_records",
        "2025-03-01",
        [
            record("R1", C1, "1950-06-01", K1, htn=True, updated="2025-02-01"),
            record("R2", C1, "1980-05-05", K2, dm=True, complete=False, reg="2021-01-01"),
            record("R5", C1, "1990-02-01", K1, htn=True, reg="2024-01-01"),
            record("R6", C1, "1995-01-01", K1, htn=True, reg="2025-03-01"),
        ],
    )
    add(
        "health_records",
        "2025-03-01",
        [
            record("R3", C2, "2021-01-01", K3, reg="2021-02-01"),
            record("R4", C2, "1960-01-15", K1, htn=True, reg="2019-01-01"),
        ],
    )
    add(
        "health_records",
        "2025-03-05",
        [record("R4", C2, "1960-01-15", K3, htn=True, reg="2019-01-01")],
    )
    # outpatient visits: V1's fees corrected on 03-02 (latest wins); V3 at the station arrives
    # in its centre's folder; V5 is last year's March at H3
    add(
        "outpatient_visits",
        "2025-03-01",
        [visit("V1", C1, "R1", "2025-03-01T09:00", "I10", 100, 60, team="T1")],
    )
    add(
        "outpatient_visits",
        "2025-03-02",
        [
            visit("V1", C1, "R1", "2025-03-01T09:00", "I10", 120, 70, team="T1"),
            visit("V6", C1, "R3", "2025-03-02T10:00", "J06.9", 30, 15),
        ],
    )
    add(
        "outpatient_visits",
        "2025-03-02",
        [visit("V3", ST1, "R4", "2025-03-02T11:00", "I10", 50, 50, vtype="home_visit")],
        folder=C1,
    )
    add(
        "outpatient_visits",
        "2025-03-02",
        [visit("V2", H3, "R2", "2025-03-02T08:00", "I11.9", 200, 100, vtype="emergency")],
    )
    add(
        "outpatient_visits",
        "2025-03-05",
        [visit("V4", H2, "R4", "2025-03-05T08:00", "E11.9", 300, 100)],
    )
    add(
        "outpatient_visits",
        "2024-03-10",
        [visit("V5", H3, "R1", "2024-03-10T08:00", "I10", 80, 40)],
    )
    add(
        "prescriptions",
        "2025-03-01",
        [
            {
                "prescription_id": "P1",
                "line_no": 1,
                "facility_code": C1,
                "visit_id": "V1",
                "drug_code": "AML",
                "quantity": 30,
                "days_supply": 28,
                "amount": 40,
                "is_extended": True,
            },
            {
                "prescription_id": "P1",
                "line_no": 2,
                "facility_code": C1,
                "visit_id": "V1",
                "drug_code": "AMX",
                "quantity": 10,
                "days_supply": 5,
                "amount": 20,
                "is_extended": False,
            },
        ],
    )
    add(
        "prescriptions",
        "2025-03-02",
        [
            {
                "prescription_id": "P2",
                "line_no": 1,
                "facility_code": C1,
                "visit_id": "V6",
                "drug_code": "AMX",
                "quantity": 7,
                "days_supply": 7,
                "amount": 15,
                "is_extended": False,
            },
        ],
    )
    add(
        "prescriptions",
        "2025-03-02",
        [
            {
                "prescription_id": "P3",
                "line_no": 1,
                "facility_code": H3,
                "visit_id": "V2",
                "drug_code": "MET",
                "quantity": 60,
                "days_supply": 30,
                "amount": 50,
                "is_extended": False,
            },
        ],
    )
    add(
        "inpatient_discharges",
        "2025-03-02",
        [
            {
                "stay_id": "IP1",
                "facility_code": H3,
                "resident_id": "R2",
                "admit_time": _ts("2025-03-01T10:00"),
                "discharge_time": _ts("2025-03-01T18:00"),
                "diagnosis_code": "E11.9",
                "total_fee": 1000,
                "drug_fee": 300,
                "insurance_paid": 800,
                "self_paid": 200,
                "discharge_status": "cured",
            },
            {
                "stay_id": "IP2",
                "facility_code": H3,
                "resident_id": "R1",
                "admit_time": _ts("2025-02-25T10:00"),
                "discharge_time": _ts("2025-03-02T09:00"),
                "diagnosis_code": "I10",
                "total_fee": 5000,
                "drug_fee": 2000,
                "insurance_paid": 4000,
                "self_paid": 1000,
                "discharge_status": "improved",
            },
        ],
    )
    add(
        "bed_census",
        "2025-03-02",
        [
            {
                "facility_code": H3,
                "census_date": _d(d),
                "department_code": dep,
                "open_beds": o,
                "occupied_beds": oc,
                "admissions": 0,
                "discharges": 0,
            }
            for d, dep, o, oc in (
                ("2025-03-01", "MED", 10, 8),
                ("2025-03-02", "MED", 10, 11),
                ("2025-03-01", "SURG", 5, 5),
            )
        ],
    )
    ref1 = {
        "referral_id": "F1",
        "facility_code": C1,
        "to_facility_code": H3,
        "resident_id": "R1",
        "referral_time": _ts("2025-03-01T09:30"),
        "direction": "up",
        "referral_kind": "outpatient",
        "diagnosis_code": "I10",
        "team_code": "T1",
        "priority_slot": True,
        "status": "requested",
    }
    add("referrals", "2025-03-01", [ref1])
    add("referrals", "2025-03-02", [{**ref1, "status": "arrived"}])
    add(
        "referrals",
        "2025-03-02",
        [
            {
                "referral_id": "F2",
                "facility_code": H3,
                "to_facility_code": C1,
                "resident_id": "R2",
                "referral_time": _ts("2025-03-02T15:00"),
                "direction": "down",
                "referral_kind": "outpatient",
                "diagnosis_code": "I11",
                "team_code": None,
                "priority_slot": False,
                "status": "accepted",
            }
        ],
    )
    # contracts: SG5 terminated by a later delivery that carries the day it ended (latest wins);
    # SG2 expired and renewed by SG3; SG4 was terminated in February
    add(
        "signings",
        "2025-03-01",
        [
            contract(
                "SG1",
                C1,
                "T1",
                "R1",
                "basic",
                "2025-01-01",
                "2025-12-31",
                "active",
                combo=True,
                sign="2024-12-20",
            ),
            contract("SG2", C1, "T1", "R5", "free", "2024-03-01", "2025-02-28", "expired"),
            contract(
                "SG3",
                C1,
                "T1",
                "R5",
                "free",
                "2025-03-01",
                "2026-02-28",
                "active",
                renewal_of="SG2",
            ),
            contract("SG5", C1, "T1", "R2", "personalized", "2025-01-01", "2025-12-31", "active"),
        ],
    )
    add(
        "signings",
        "2025-03-05",
        [contract("SG5", C1, "T1", "R2", "personalized", "2025-01-01", "2025-03-04", "terminated")],
    )
    add(
        "signings",
        "2025-03-01",
        [contract("SG4", C2, "T2", "R4", "basic", "2025-01-01", "2025-02-14", "terminated")],
    )
    # follow-ups: R1 4 face-to-face, latest sbp 150 at 75 -> not controlled; R5 3 face-to-face
    # + 1 phone, latest 139/89 -> controlled, not standard; R4 (65 at year end) latest 145/85
    # -> controlled; R6 is 30 -> not in the programme; R2 diabetes latest glucose 6.9
    fu = [
        followup("FU1", C1, "T1", "R1", "hypertension", "2025-01-05", "clinic", 120, 80),
        followup("FU2", C1, "T1", "R1", "hypertension", "2025-01-20", "home", 130, 80),
        followup("FU3", C1, "T1", "R1", "hypertension", "2025-02-10", "clinic", 130, 80),
        followup("FU4", C1, "T1", "R1", "hypertension", "2025-03-01", "clinic", 150, 80),
        followup("FU5", C1, "T1", "R5", "hypertension", "2025-01-05", "clinic", 160, 95),
        followup("FU6", C1, "T1", "R5", "hypertension", "2025-01-25", "phone", 150, 90),
        followup("FU7", C1, "T1", "R5", "hypertension", "2025-02-15", "clinic", 142, 90),
        followup("FU8", C1, "T1", "R5", "hypertension", "2025-03-01", "home", 139, 89),
        followup("FU9", C1, "T1", "R6", "hypertension", "2025-03-01", "clinic", 120, 80),
        followup("FU10", C1, "T1", "R2", "diabetes", "2025-02-01", "clinic", glucose=8.0),
        followup("FU11", C1, "T1", "R2", "diabetes", "2025-03-01", "online", glucose=6.9),
    ]
    add("chronic_followups", "2025-03-01", fu)
    add(
        "chronic_followups",
        "2025-03-01",
        [followup("FU12", C2, "T2", "R4", "hypertension", "2025-03-01", "clinic", 145, 85)],
    )
    add(
        "health_checkups",
        "2025-03-01",
        [
            {
                "checkup_id": "CK1",
                "facility_code": C1,
                "resident_id": "R1",
                "checkup_date": _d("2025-03-01"),
                "checkup_type": "elderly_annual",
                "items_completed": 8,
                "abnormal_findings": 1,
            },
            {
                "checkup_id": "CK2",
                "facility_code": C1,
                "resident_id": "R5",
                "checkup_date": _d("2025-03-01"),
                "checkup_type": "general",
                "items_completed": 3,
                "abnormal_findings": 0,
            },
        ],
    )
    add(
        "health_checkups",
        "2025-03-01",
        [
            {
                "checkup_id": "CK3",
                "facility_code": C2,
                "resident_id": "R4",
                "checkup_date": _d("2025-03-01"),
                "checkup_type": "elderly_annual",
                "items_completed": 7,
                "abnormal_findings": 0,
            }
        ],
    )
    for ds, rs in rows.items():
        _insert(con, f"raw.{ds}", rs)

    # audit: months touched by batch 1
    con.execute("""
        insert into audit.load_changes
        select distinct 1, ds, fac, m, 'loaded' from (
            select 'outpatient_visits' ds, facility_code fac,
                   cast(date_trunc('month', visit_time) as date) as m from raw.outpatient_visits
            union all select 'prescriptions', p.facility_code,
                   cast(date_trunc('month', v.visit_time) as date)
            from raw.prescriptions p join raw.outpatient_visits v using (facility_code, visit_id)
            union all select 'inpatient_discharges', facility_code,
                   cast(date_trunc('month', discharge_time) as date) from raw.inpatient_discharges
            union all select 'bed_census', facility_code,
                   cast(date_trunc('month', census_date) as date) from raw.bed_census
            union all select 'referrals', facility_code,
                   cast(date_trunc('month', referral_time) as date) from raw.referrals
            union all select 'signings', facility_code,
                   cast(date_trunc('month', sign_date) as date) from raw.signings
            union all select 'chronic_followups', facility_code,
                   cast(date_trunc('month', followup_date) as date) from raw.chronic_followups
            union all select 'health_checkups', facility_code,
                   cast(date_trunc('month', checkup_date) as date) from raw.health_checkups
            union all select 'health_records', facility_code,
                   cast(date_trunc('month', registered_date) as date) from raw.health_records
        )
    """)
    con.execute("insert into audit.batches (batch_id, started_at) values (1, now())")
    deliveries = [
        (C1, "2025-03-01", 1, "loaded", "2025-03-02T02:00", 20, 2, 0),
        (C1, "2025-03-02", 1, "superseded", "2025-03-03T05:00", 5, 0, 0),
        (C1, "2025-03-02", 2, "loaded", "2025-03-04T10:00", 6, 0, 0),
        (C1, "2025-03-05", 1, "loaded", "2025-03-06T01:00", 1, 0, 0),
        (H3, "2025-03-01", 1, "loaded", "2025-03-02T07:00", 0, 0, 0),
        (H3, "2025-03-02", 1, "incomplete", None, 0, 0, 1),
        (H3, "2024-03-10", 1, "loaded", "2024-03-11T01:00", 1, 0, 0),
        (H2, "2025-03-05", 1, "loaded", "2025-03-06T05:59", 1, 0, 0),
        (C2, "2025-03-01", 1, "loaded", "2025-03-02T03:00", 4, 0, 0),
        (C2, "2025-03-05", 1, "loaded", "2025-03-06T03:00", 1, 0, 0),
        # a folder dated after the day it was received (rejected by the loader)
        (C2, "2030-06-01", 1, "rejected", "2025-03-06T03:00", 0, 0, 0),
    ]
    _insert(
        con,
        "audit.deliveries",
        [
            {
                "facility_code": f,
                "business_date": _d(bd),
                "delivery_version": v,
                "status": s,
                "generated_at": _ts(g) if g else None,
                "rows_loaded": rl,
                "rows_quarantined": rq,
                "files_rejected": fr,
                "received_at": _ts("2025-03-06T00:00"),
                "batch_id": 1,
            }
            for f, bd, v, s, g, rl, rq, fr in deliveries
        ],
    )
    _insert(
        con,
        "audit.quarantine",
        [
            {
                "facility_code": C1,
                "business_date": _d("2025-03-01"),
                "delivery_version": 1,
                "dataset": "outpatient_visits",
                "file_name": "outpatient_visits.csv",
                "line_no": 5,
                "reason": "bad_icd10",
                "batch_id": 1,
            },
            {
                "facility_code": C1,
                "business_date": _d("2025-03-01"),
                "delivery_version": 1,
                "dataset": "outpatient_visits",
                "file_name": "outpatient_visits.csv",
                "line_no": 6,
                "reason": "fee_mismatch",
                "batch_id": 1,
            },
            {
                "facility_code": H3,
                "business_date": _d("2025-03-02"),
                "delivery_version": 1,
                "dataset": "bed_census",
                "file_name": "bed_census.csv",
                "line_no": None,
                "reason": "row_count_mismatch",
                "batch_id": 1,
            },
        ],
    )
    con.close()
    return path


def _add_batch(con, batch: int, business_date: str, visits: list[dict], changes: list[dict], *,
               version: int = 1) -> None:
    """A batch of visits delivered by C1 on ``business_date``, with its load_changes rows."""
    _insert(con, "raw.outpatient_visits",
            _daily("outpatient_visits", business_date, visits, version=version, batch=batch))
    _insert(con, "audit.load_changes", [{"batch_id": batch, "facility_code": C1, **c}
                                        for c in changes])
    con.execute(f"insert into audit.batches (batch_id, started_at) values ({batch}, now())")


def apply_batch_2(path: Path) -> None:
    """A second batch: C1 redelivers 2025-03-02 without V6 (and its prescription) and adds V7."""
    con = duckdb.connect(str(path))
    con.execute("delete from raw.outpatient_visits where visit_id = 'V6'")
    con.execute("delete from raw.prescriptions where visit_id = 'V6'")
    # kind left null, as in a warehouse older than the column: read as a deletion (the
    # redelivery does retract V6)
    _add_batch(con, 2, "2025-03-02", [visit("V7", C1, "R5", "2025-03-02T15:00", "I10", 40, 20)],
               [{"dataset": ds, "month": _d("2025-03-01")}
                for ds in ("outpatient_visits", "prescriptions")], version=3)
    # V7's prescription line carries V7's resident (int_prescriptions_current)
    _insert(con, "raw.prescriptions", _daily("prescriptions", "2025-03-02", [
        {"prescription_id": "P7", "line_no": 1, "facility_code": C1, "visit_id": "V7",
         "drug_code": "MET", "quantity": 60, "days_supply": 30, "amount": 50,
         "is_extended": False}], version=3, batch=2))
    con.close()


def apply_batch_3(path: Path) -> None:
    """A third batch without deletions: C1's delivery of 2025-03-03 corrects V7 (R5's visit of
    batch 2) and contract SG3 (R5's renewal) to R6, as a later business date's version of the
    same key, and delivers R1's contract SG1 again unchanged (a third version naming R1)."""
    con = duckdb.connect(str(path))
    _add_batch(con, 3, "2025-03-03", [visit("V7", C1, "R6", "2025-03-02T15:00", "I10", 40, 20)],
               [{"dataset": ds, "month": _d("2025-03-01"), "kind": "loaded"}
                for ds in ("outpatient_visits", "signings")])
    _insert(con, "raw.signings", _daily("signings", "2025-03-03", [
        contract("SG3", C1, "T1", "R6", "free", "2025-03-01", "2026-02-28", "active",
                 renewal_of="SG2"),
        contract("SG1", C1, "T1", "R1", "basic", "2025-01-01", "2025-12-31", "active",
                 combo=True, sign="2024-12-20")], batch=3))
    con.close()


# ---------------------------------------------------------------------------------------------


def _q(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = build_fixture(tmp_path_factory.mktemp("dbt") / "fixture.duckdb")
    # seeds, models, unit tests and data tests: raises DbtError on any failure
    log = build(path, unit_tests=True)
    assert "START unit_test" in log
    return path


def test_outpatient_latest_wins_and_growth(built):
    rows = dict(
        (r[0], r[1:])
        for r in _q(
            built,
            "select facility_code, visits, total_fee, avg_fee_growth "
            "from marts.mart_outpatient_cost where month = date '2025-03-01'",
        )
    )
    assert rows[C1][:2] == (2, 150)  # V1's corrected fee (120) wins over 100
    assert rows[H3][2] == pytest.approx(1.5)  # 200 vs 80 a year earlier
    assert rows[H2][2] is None  # no month a year earlier -> null
    assert rows[ST1][0] == 1  # station's visit placed at the station, not the centre


def test_chronic_followup(built):
    htn = _q(
        built,
        "select team_code, managed_patients, standard_managed, controlled "
        "from marts.mart_hypertension_followup order by team_code",
    )
    # 2025 is still running (data to 03-05): one quarter begun, one face-to-face follow-up
    # makes standard management.  T1: R1 (standard, 150 at 74 not controlled), R5 (3
    # face-to-face: standard; 139/89 controlled); R6 is 30 -> out.  T2: R4 at 65, 145/85 ->
    # controlled under the 65+ threshold, standard with its one clinic follow-up.
    assert htn == [("T1", 2, 2, 1), ("T2", 1, 1, 1)]
    req = _q(built, "select distinct as_of_date, is_complete, required_followups "
                    "from marts.mart_hypertension_followup")
    assert req == [(date(2025, 3, 5), False, 1)]
    dm = _q(built, "select managed_patients, controlled from marts.mart_diabetes_followup")
    assert dm == [(1, 1)]


def test_grassroots_visits_and_in_county(built):
    rows = {
        r[0]: r[1:]
        for r in _q(
            built,
            "select district_code, total_visits, grassroots_visits, signed_visits, "
            "signed_grassroots_visits, in_county_visits, county_resident_visits "
            "from marts.mart_grassroots_visits where month = date '2025-03-01'",
        )
    }
    # signed: V1 (R1) and V2 (R2 on 03-02, two days before SG5 was terminated); V3's R4 lost
    # SG4 in February
    assert rows[D1] == (4, 3, 2, 1, 2, 2)
    assert rows[D2] == (1, 0, 0, 0, 1, 3)


def test_signing_expired_renewed_terminated(built):
    feb = _q(
        built,
        "select signed_residents, contracts_ending, renewals "
        f"from marts.mart_signing_coverage where as_of_date = date '2025-02-28' "
        f"and region_code = '{K1}' and team_code = 'T1'",
    )
    # R1, and R5: SG2 is `expired` now but was in force on its last day, 02-28; SG2 ending in
    # February was renewed by SG3
    assert feb == [(2, 1, 1)]
    k2 = _q(
        built,
        "select as_of_date, sum(signed_residents) from marts.mart_signing_coverage "
        f"where as_of_date >= date '2025-03-01' and region_code = '{K2}' group by as_of_date",
    )
    # March is measured at the last day loaded; SG5 was terminated on 03-04
    assert k2 == [(date(2025, 3, 5), 0)]


def test_referrals_beds_checkups_records(built):
    assert _q(
        built,
        "select up_out, down_in, arrival_rate, referral_rate from marts.mart_referrals "
        f"where facility_code = '{C1}'",
    ) == [(1, 1, 1.0, 0.5)]
    beds = _q(
        built,
        "select open_bed_days, occupied_bed_days, discharges, discharged_bed_days "
        f"from marts.mart_bed_utilization where facility_code = '{H3}'",
    )
    assert beds == [(25, 24, 2, 6)]  # same-day stay = 1 + 5 days
    chk = _q(
        built,
        "select population_65plus, checked_65plus from marts.mart_health_checkups "
        f"where year = 2025 and region_code = '{K1}'",
    )
    assert chk == [(120, 1)]
    rec = _q(
        built,
        "select records, complete_records from marts.mart_health_records "
        f"where as_of_date = date '2025-03-05' and region_code = '{K3}'",
    )
    assert rec == [(2, 2)]  # R4 moved to K3 by the later record


def test_delivery_quality(built):
    rows = {
        (str(r[0]), r[1]): r[2:]
        for r in _q(
            built,
            "select business_date, facility_code, delivered, on_time, files_rejected, "
            "q_bad_icd10 from marts.mart_delivery_quality",
        )
    }
    assert rows[("2025-03-01", C1)] == (1, 1, 0, 1)
    assert rows[("2025-03-01", H3)] == (1, 0, 0, 0)  # generated 07:00 next day: late
    assert rows[("2025-03-02", C1)] == (1, 1, 0, 0)  # first complete version was on time
    assert rows[("2025-03-02", H3)] == (0, 0, 1, 0)  # incomplete folder
    assert rows[("2025-03-05", H2)][:2] == (1, 1)  # 05:59 is on time
    assert ("2025-03-01", ST1) not in rows  # stations report inside their centre
    assert max(bd for bd, _ in rows) == "2025-03-05"  # not stretched to the future folder


def test_metric_catalogue_covers_every_rate(built):
    catalogue = {r[0] for r in _q(built, "select column_name from reference.metric_catalogue")}
    rates = {
        r[0]
        for r in _q(
            built,
            "select distinct column_name from information_schema.columns "
            "where table_schema = 'marts' and (column_name like '%\\_rate' escape '\\' "
            "or column_name like '%\\_share' escape '\\' or column_name like 'avg\\_%' escape '\\' "
            "or column_name in ('yoy_growth', 'avg_fee_growth', 'bed_turnover'))",
        )
    }
    assert rates - catalogue == set()


def _assert_equals_full_refresh(inc: Path, full: Path) -> None:
    """Every table of ``inc`` (built incrementally) equals its full refresh, built in ``full``."""
    import shutil

    shutil.copy(inc, full)
    build(full, full_refresh=True)
    # every table, the incremental intermediate ones included
    tables = _q(
        full,
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema in ('marts', 'intermediate') and table_type = 'BASE TABLE'",
    )
    assert ("intermediate.int_resident_event_months",) in tables
    assert ("intermediate.int_resident_active_spans",) in tables

    def rows(path: Path, table: str) -> list[str]:
        with duckdb.connect(str(path), read_only=True) as con:
            df = con.execute(f"select * from {table}").df()
        return sorted(map(repr, df.drop(columns=["_processed_batch_id", "_is_deleted"],
                                        errors="ignore").itertuples(index=False)))

    for (t,) in tables:
        assert rows(inc, t) == rows(full, t), t


def test_incremental_equals_full_refresh(built, tmp_path):
    import shutil

    inc = tmp_path / "inc.duckdb"
    shutil.copy(built, inc)
    apply_batch_2(inc)
    log = build(inc)
    assert "unit_test" not in log  # a night runs the data tests; the unit tests run above
    _assert_equals_full_refresh(inc, tmp_path / "full.duckdb")
    visits = _q(
        inc,
        "select visits from marts.mart_outpatient_visits "
        f"where month = date '2025-03-01' and facility_code = '{C1}'",
    )
    assert visits == [(2,)]  # V6 retracted by the redelivery, V7 added
    untouched = _q(
        inc,
        "select _processed_batch_id from marts.mart_outpatient_visits "
        "where month = date '2024-03-01'",
    )
    assert untouched == [(1,)]  # a month without changes is not rebuilt
    # nor a year: the year-grain disease cost rebuilds the year still running only
    years = _q(inc, "select year, min(_processed_batch_id), max(_processed_batch_id) "
                    "from marts.mart_disease_cost group by year order by year")
    assert years == [(2024, 1, 1), (2025, 2, 2)]

    # a night without deletions: the activity spans are rewritten for the residents it touches
    # only, the one who lost the corrected visit (R5) included
    apply_batch_3(inc)
    build(inc)
    _assert_equals_full_refresh(inc, tmp_path / "full3.duckdb")
    for model in ("int_resident_active_spans", "int_contracts_in_force"):
        rewritten = _q(inc, f"select distinct resident_id from intermediate.{model} "
                            "where _processed_batch_id = 3 order by 1")
        assert rewritten == [("R1",), ("R5",), ("R6",)], model
    # the grassroots visits rebuild the months whose visits changed class only
    assert _q(inc, "select _processed_batch_id from marts.mart_grassroots_visits "
                   "where month = date '2024-03-01'") == [(1,)]
    assert _q(inc, "select distinct month from intermediate.int_outpatient_visits_classified "
                   "where _processed_batch_id = 3") == [(_d("2025-03-01"),)]
    # R5's only diagnosed visit went to R6: R5's first diagnoses go (a tombstone), R6's come
    assert _q(inc, "select resident_id, first_hypertension_dx_date, _processed_batch_id "
                   "from intermediate.int_chronic_diagnoses_first "
                   "where resident_id in ('R5', 'R6')") == [("R6", _d("2025-03-02"), 3)]
    assert _q(inc, "select resident_id, contract_id from intermediate.int_contracts_in_force "
                   "where resident_id in ('R5', 'R6') order by 1, 2"
              ) == [("R5", "SG2"), ("R6", "SG3")]
    # V7's prescription line follows its visit to R6 (its own row did not change), and so do
    # the disease years: only R5 and R6 are rewritten
    assert _q(inc, "select resident_id, _processed_batch_id from "
                   "intermediate.int_prescriptions_current where visit_id = 'V7'") == [("R6", 3)]
    assert _q(inc, "select distinct resident_id from intermediate.int_resident_disease_years "
                   "where _processed_batch_id = 3 order by 1") == [("R6",)]
    # R5's visit of 2025-03-02 is R6's now
    assert _q(inc, "select resident_id from intermediate.int_resident_active_spans "
                   "where last_event = date '2025-03-02' and resident_id in ('R5', 'R6')"
              ) == [("R6",)]


def test_build_on_empty_raw(tmp_path):
    path = tmp_path / "empty.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con)
    con.close()
    build(path)
    assert _q(path, "select count(*) from marts.mart_outpatient_visits") == [(0,)]


if __name__ == "__main__":
    print(build_fixture(Path(sys.argv[1] if len(sys.argv) > 1 else "fixture.duckdb")))


def test_changed_incremental_model_is_rebuilt_in_full(built, tmp_path):
    """A release that changes a mart's columns: the next build notices the existing table is out
    of sync (on_schema_change: fail) and rebuilds from raw instead of failing every night."""
    import shutil

    import duckdb

    wh = tmp_path / "copy.duckdb"
    shutil.copy(built, wh)
    with duckdb.connect(str(wh)) as con:
        con.execute("ALTER TABLE marts.mart_outpatient_visits ADD COLUMN stale_column INTEGER")
        before = con.execute("SELECT count(*) FROM marts.mart_outpatient_visits").fetchone()
    from grassroots.build import DbtError, _run

    with pytest.raises(DbtError, match="out of sync"):  # what a plain incremental build does
        _run(["build", "--select", "mart_outpatient_visits"], wh)
    build(wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND table_name = 'mart_outpatient_visits'").fetchall()]
        after = con.execute("SELECT count(*) FROM marts.mart_outpatient_visits").fetchone()
    assert "stale_column" not in cols
    assert after == before


def test_a_mart_that_became_incremental_is_rebuilt_in_full(built, tmp_path):
    """A release that makes a table mart incremental: the existing table has no watermark
    column to read; the next build rebuilds from raw instead of failing every night."""
    import shutil

    import duckdb

    wh = tmp_path / "copy.duckdb"
    shutil.copy(built, wh)
    with duckdb.connect(str(wh)) as con:
        con.execute("ALTER TABLE marts.mart_disease_cost DROP COLUMN _processed_batch_id")
        before = con.execute("SELECT * FROM marts.mart_disease_cost ORDER BY ALL").fetchall()
    from grassroots.build import DbtError, _run

    with pytest.raises(DbtError, match="_processed_batch_id"):  # a plain incremental build
        _run(["build", "--select", "mart_disease_cost"], wh)
    build(wh)
    with duckdb.connect(str(wh), read_only=True) as con:
        after = con.execute("SELECT * EXCLUDE (_processed_batch_id) FROM marts.mart_disease_cost "
                            "ORDER BY ALL").fetchall()
    assert after == before


def test_grain_tests_catch_a_duplicate_key(built, tmp_path):
    """The grain test of a latest-wins model (hash first, then the values) fails on a key that
    occurs twice, and only on that model."""
    import shutil

    from grassroots.build import DbtError, _run

    wh = tmp_path / "dup.duckdb"
    shutil.copy(built, wh)
    with duckdb.connect(str(wh)) as con:
        con.execute("INSERT INTO intermediate.int_prescriptions_current "
                    "SELECT * FROM intermediate.int_prescriptions_current LIMIT 1")
    _run(["test", "--select", "int_outpatient_visits_current"], wh)  # untouched: passes
    with pytest.raises(DbtError, match="unique_combination_int_prescriptions_current"):
        _run(["test", "--select", "int_prescriptions_current"], wh)


def test_mart_constraints_are_enforced_as_they_are_built(built, tmp_path):
    """Every mart's not-null and check constraints (nulls, code lists, rate bounds) are in its
    table, and a row breaking one fails that mart's build and keeps its previous table."""
    import shutil

    from grassroots.build import DbtError, _run
    from grassroots.quality import checks

    declared = {(m["name"], c["name"], k.get("expression"))
                for m in checks.mart_models() for c in m["columns"]
                for k in c.get("constraints", []) or []}
    assert len(declared) > 100
    rows = _q(built, "select table_name, constraint_type, constraint_column_names, expression "
                     "from duckdb_constraints() where schema_name = 'marts' "
                     "and constraint_type in ('NOT NULL', 'CHECK')")
    enforced = {(t, cols[0], expr and expr.lower()) for t, _, cols, expr in rows}
    missing = {(t, c, e) for t, c, e in declared
               if (t, c, e and f"({e})".lower()) not in enforced}
    assert not missing, sorted(missing)[:5]

    wh = tmp_path / "bad.duckdb"
    shutil.copy(built, wh)
    query = "select level_group, referrals_sent from marts.mart_referrals_by_level order by all"
    before = _q(wh, query)
    with duckdb.connect(str(wh)) as con:
        con.execute("update marts.mart_referrals set level_group = 'level_9'")
    with pytest.raises(DbtError, match="(?i)constraint"):
        _run(["run", "--select", "mart_referrals_by_level"], wh)
    assert _q(wh, query) == before and before


def test_dbt_runs_within_the_memory_limit_and_keeps_its_parse(tmp_path, monkeypatch):
    """dbt's DuckDB connection gets its share of GRASSROOTS_MEMORY_LIMIT, and the parse of one
    night is reused the next (target folder beside the warehouse, profile unchanged)."""
    from grassroots import settings
    from grassroots.build import shared_parse, show, work_dir

    monkeypatch.setenv("GRASSROOTS_HOME", str(tmp_path / "home"))  # no parse shared yet
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    monkeypatch.setenv("GRASSROOTS_MEMORY_LIMIT", "1GB")
    first = show("select current_setting('memory_limit') as limit_now", wh)
    assert "572.2 MiB" in first  # DuckDB gets 60 % of 1 GB, reported in MiB
    assert (work_dir(wh) / "target" / "partial_parse.msgpack").is_file()
    again = show("select 1 as one", wh)
    assert "full parse" not in again and "Unable to do partial parsing" not in again
    # a new warehouse of the same name elsewhere starts from that parse (a full parse of the
    # project costs seconds of every first build)
    other = tmp_path / "elsewhere" / "w.duckdb"
    other.parent.mkdir()
    duckdb.connect(str(other)).close()
    assert not (work_dir(other) / "target" / "partial_parse.msgpack").exists()
    assert shared_parse(other).is_file()
    show("select 2 as two", other)
    first, log = ((work_dir(w) / "logs" / "dbt.log").read_text() for w in (wh, other))
    assert "Starting full parse" in first  # the test's own: no parse was shared before it
    assert "Starting full parse" not in log and "skipping parsing" in log, log[-3000:]
    monkeypatch.delenv("GRASSROOTS_MEMORY_LIMIT")
    default = settings.memory_limit()  # half of this machine's memory
    assert default.endswith("GB") and int(default[:-2]) >= 1
