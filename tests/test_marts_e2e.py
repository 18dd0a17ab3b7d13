"""End to end: generate a region, run the pipeline, check every mart against the oracle.

The oracle (tests/oracle) recomputes each mart straight from the generated CSV files with pandas,
from the specs alone. The region has no bad rows (the oracle does not re-implement validation)
but has every delivery anomaly: late entries, corrections re-sent on later days, redelivered
facility-days (loaded first as version 1, then replaced by version 2 in a later run), a GBK
centre, BOMs, omitted empty datasets and a missing facility-day. Two runs exercise the
incremental models too.  A second, small region goes live a fortnight before New Year: two
months and two years of a few days each, the second one still running, and no referral at all.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import TEST_KEY
from oracle import MARTS, compare_warehouse, expected_all, load_landing
from privacy import leaks

from grassroots.generate import generate
from grassroots.pipeline import run_pipeline

pytestmark = pytest.mark.slow


# (residents, first and last business date, seed, the first night's last date)
REGIONS = {
    "year": (4000, date(2024, 1, 1), date(2025, 2, 28), 11, date(2024, 12, 31)),
    "new-year": (900, date(2024, 12, 20), date(2025, 1, 12), 5, date(2024, 12, 30)),
}


@pytest.fixture(scope="module", params=sorted(REGIONS))
def region(request, tmp_path_factory) -> dict:
    residents, start, end, seed, first_night = REGIONS[request.param]
    root = tmp_path_factory.mktemp("e2e")
    landing = root / "landing"
    generate(landing, residents=residents, start=start, end=end, seed=seed,
             bad_row_share=0.0, anomalies=True, progress=False)
    truth = json.loads((landing / "_generator" / "truth.json").read_text())
    assert truth["redeliveries"] and truth["late_entries"]
    if request.param == "year":
        assert truth["corrections"]
    else:  # the referral marts are built, and checked, from visits alone
        assert not any(len(f.read_bytes().splitlines()) > 1
                       for f in (landing / "extracts").glob("*/*/referrals.csv"))
    # First the redelivered facility-days' version 1, as it was on the first night …
    aside = root / "v2"
    for r in truth["redeliveries"]:
        rel = Path(r["business_date"]) / r["facility"]
        shutil.move(landing / "extracts" / rel, aside / rel)
        shutil.copytree(landing / "_generator" / "superseded" / rel, landing / "extracts" / rel)
    warehouse = root / "wh" / "warehouse.duckdb"
    log: list[str] = []
    cut = max([first_night] + [date.fromisoformat(r["business_date"])
                                      for r in truth["redeliveries"]])
    first = run_pipeline(landing, warehouse, key=TEST_KEY, date_to=cut, validate=False,
                         log=log.append)
    # … then version 2 arrives, with the rest of the days: an incremental second run.
    for r in truth["redeliveries"]:
        rel = Path(r["business_date"]) / r["facility"]
        shutil.rmtree(landing / "extracts" / rel)
        shutil.move(aside / rel, landing / "extracts" / rel)
    second = run_pipeline(landing, warehouse, key=TEST_KEY, validate=False, log=log.append)
    return dict(landing=landing, warehouse=warehouse, truth=truth, first=first, second=second)


def test_redeliveries_replaced_version_1(region) -> None:
    import duckdb

    with duckdb.connect(str(region["warehouse"]), read_only=True) as con:
        for r in region["truth"]["redeliveries"]:
            statuses = con.execute(
                "SELECT delivery_version, status FROM audit.deliveries WHERE facility_code = ? "
                "AND business_date = ? ORDER BY 1", [r["facility"], r["business_date"]]).fetchall()
            assert statuses == [(1, "superseded"), (2, "loaded")]
        assert con.execute("SELECT count(*) FROM audit.quarantine").fetchone()[0] == 0


# The columns the indicator definitions require of each mart (beyond its grain keys).
SPEC_COLUMNS: dict[str, list[str]] = {
    "mart_health_checkups": ["population_65plus", "checked_65plus", "elderly_health_mgmt_rate",
                             "checkups", "abnormal_checkups", "as_of_date", "is_complete"],
    "mart_drug_usage": ["prescription_lines", "quantity", "amount", "is_essential",
                        "is_antibiotic", "is_vbp", "atc_code"],
    "mart_health_records": ["population", "records", "record_rate", "complete_records",
                            "completeness_rate", "active_records", "activation_rate"],
    "mart_hypertension_followup": ["managed_patients", "standard_managed", "standard_mgmt_rate",
                                   "controlled", "control_rate", "as_of_date", "is_complete",
                                   "required_followups"],
    "mart_diabetes_followup": ["managed_patients", "standard_managed", "standard_mgmt_rate",
                               "controlled", "control_rate", "as_of_date", "is_complete",
                               "required_followups"],
    "mart_chronic_followup": ["managed_patients", "standard_managed", "standard_mgmt_rate", "controlled",
                              "control_rate", "as_of_date", "is_complete", "required_followups",
                              "standard_mgmt_target", "control_target"],
    "mart_outpatient_visits": ["visits", "emergency_visits", "home_visits", "patients",
                               "visits_same_month_last_year", "yoy_growth"],
    "mart_medication_management": [
        "visits_with_rx", "antibiotic_visits", "antibiotic_rx_rate", "essential_amount_share",
        "vbp_amount_share", "long_rx_lines", "long_rx_share", "extended_rx_lines",
        "avg_lines_per_prescription", "drug_fee_share"],
    "mart_outpatient_cost": ["visits", "total_fee", "drug_fee", "exam_fee", "avg_fee_per_visit",
                             "avg_drug_fee_per_visit", "insurance_share", "avg_fee_growth"],
    "mart_outpatient_disease": ["visits", "patients", "share_of_visits", "rank"],
    "mart_grassroots_visits": [
        "total_visits", "grassroots_visits", "grassroots_share", "signed_visits",
        "signed_grassroots_visits", "signed_grassroots_share", "in_county_visits",
        "county_resident_visits", "in_county_rate"],
    "mart_disease_cost": ["episodes", "patients", "total_fee", "avg_fee_per_episode",
                          "insurance_paid", "self_paid", "cost_per_patient", "as_of_date",
                          "is_complete"],
    "mart_signing_coverage": ["population", "signed_residents", "signing_rate", "key_population",
                              "key_signed", "key_signing_rate", "combo_111_signed", "renewals",
                              "renewal_rate"],
    "mart_referrals": ["up_out", "down_out", "up_in", "down_in", "down_share", "arrival_rate",
                       "family_doctor_share", "priority_slot_share", "referral_rate",
                       "referrals_sent"],
    "mart_bed_utilization": ["open_bed_days", "occupied_bed_days", "bed_utilization_rate",
                             "census_days", "avg_open_beds", "discharges", "discharged_bed_days",
                             "avg_length_of_stay", "bed_turnover"],
    "mart_chronic_settlement": ["patients", "budget", "tier_full", "tier_partial", "tier_none",
                                "payable", "as_of_date", "is_complete", "required_days"],
    "mart_delivery_quality": ["expected", "delivered", "on_time", "rows_loaded",
                              "rows_quarantined", "files_rejected"],
}


def test_spec_columns_cover_every_mart() -> None:
    assert set(SPEC_COLUMNS) == set(MARTS)


@pytest.mark.parametrize("mart", sorted(MARTS))
def test_mart_matches_independent_computation(region, oracle_expected, mart: str) -> None:
    import duckdb

    keys = MARTS[mart][1]
    with duckdb.connect(str(region["warehouse"]), read_only=True) as con:
        actual = {c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' "
            "AND table_name = ?", [mart]).fetchall()}
    missing = [c for c in keys + SPEC_COLUMNS[mart] if c not in actual]
    assert not missing, f"{mart} lacks the spec's columns {missing}"
    # every column both sides compute is compared: the spec's, and extras such as the
    # numerators and denominators that share a name
    expected = oracle_expected[mart]
    columns = [c for c in expected.columns if c in actual and c not in keys]
    assert set(SPEC_COLUMNS[mart]) - {"files_rejected"} <= set(columns)
    compare_warehouse({mart: expected}, region["warehouse"], {mart: keys}, {mart: columns})


@pytest.fixture(scope="module")
def oracle_expected(region) -> dict:
    data = load_landing(region["landing"])
    expected = expected_all(data)
    # Timeliness is judged on a facility-day's first complete delivery: the oracle sees only the
    # folder on disk (version 2), so take the redelivered days' on_time from version 1.
    dq = expected["mart_delivery_quality"]
    for r in region["truth"]["redeliveries"]:
        v1 = json.loads((region["landing"] / "_generator" / "superseded" / r["business_date"]
                         / r["facility"] / "manifest.json").read_text())
        deadline = (date.fromisoformat(r["business_date"]) + timedelta(days=1)).isoformat() + "T06:00:00"
        on_time = v1["generated_at"] < deadline
        row = (dq["business_date"].astype(str).str[:10] == r["business_date"]) & (
            dq["facility_code"] == r["facility"])
        dq.loc[row, "on_time"] = int(on_time)
    return expected


def test_no_personal_data_in_the_warehouse(region) -> None:
    assert leaks(region["warehouse"], region["landing"]) == []
