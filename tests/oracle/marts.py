"""Expected marts, recomputed with pandas straight from the landing zone (the indicator definitions v1.1).

Every ``expected_<mart>(data)`` takes the dict returned by ``landing.load_landing`` and returns
one row per grain value with the spec's key columns and metric columns. ``MARTS`` maps each
mart name to (function, key columns). Rates whose denominator is 0 are null (NaN).

Interpretations — every choice the spec leaves open, for reconciliation with dbt:

General
 1. data_as_of = the latest business_date with a complete folder on disk (what the warehouse
    has loaded). Reporting period = first to last business_date of a complete folder. Year-grain
    marts cover the calendar years touched by the period; activity marts only have rows where an
    event exists; mart_delivery_quality alone spans every folder on disk (22).
 2. Month-end snapshots (health records, signing) have one as_of_date per calendar month touched
    by the period: the month's last day, except the month of data_as_of when data_as_of is before
    its month end: then data_as_of (the running month is measured at the latest day loaded).
    Everything (contract in force, age, diagnoses, records registered, the activity window) is
    evaluated at that date; the population is population.csv for the year of the as_of_date.
 3. Year as-of: a year's as_of_date = min(Dec 31, data_as_of); is_complete = data_as_of >= Dec
    31 (a completed year is final). Quarters begun q = quarter of as_of_date (4 for a completed
    year); days_elapsed = as_of_date - Jan 1 + 1; days_in_year = 365 or 366.
 4. Population-based marts (checkups, health records, hypertension/diabetes, signing) only see
    residents with a health record (latest-wins row; only mart_health_records asks that it was
    registered by the date), placed in that record's ``region_code`` and aged from its
    ``birth_date``. The latest record is used for every as-of date (no history of record
    changes exists once latest-wins is applied).
    A resident's district = the ``district``-level ancestor of that community in regions.csv.
 5. Age = completed years at the as_of_date; a birthday on that date counts; Feb-29 births turn
    a year older on Mar 1 in non-leap years. A resident counts from the birth date on: one born
    after the as_of_date is in no count of that date (not in key_population, any group, signed,
    or records).
 6. Denominator populations come from population.csv for the year (summed over sex and age
    bands; 65+ = bands ``65-79`` + ``80+``).
 7. Event dates: visit_time, discharge_time (inpatient diagnoses and discharges),
    census_date, referral_time, followup_date, checkup_date, sign_date. Prescriptions take the
    visit_time of their visit (facility_code, visit_id); lines without a visit are dropped.
 8. Disease patients as of a date D = record flag True OR an outpatient (visit date) / inpatient
    (discharge date) diagnosis with event date <= D whose code starts with I10, I11, I12, I13
    (hypertension) or E11, E14 (diabetes).
 9. Contract in force on day d: start_date <= d <= end_date, whatever its status (an expired
    contract was in force its whole term, a terminated one until its end_date); a null start or
    end date is never in force. Of several contracts of one resident, the counted one is the one
    that started last: greatest start_date, then sign_date, then contract_id (a null sign_date
    ranks lowest). It gives the team / package / 1+1+1 / settlement centre of that resident.

Per mart
10. mart_health_checkups: every community x every year of the period, with the year's
    as_of_date and is_complete (3). checkups / abnormal_checkups count checkups in the year of
    residents placed in the community (any age, any checkup_type). checked_65plus = distinct
    residents aged >= 65 at as_of_date with an ``elderly_annual`` checkup in the year with
    items_completed == 8.
11. mart_health_records: records = residents with registered_date <= D (and born by D);
    complete = the six fields plus resident_id, sex, birth_date, region_code non-empty; active =
    a record whose resident had, in the 365 days D-364..D inclusive, an outpatient visit (any
    facility), a chronic follow-up, a checkup, a contract sign_date, or a record update: the
    updated_date of ANY delivered version of the record (latest-wins keeps only the newest, and
    an earlier update stays an event). (Registration alone is not activity; inpatient stays are
    not "visits".)
12. Hypertension/diabetes follow-up (year x team): eligible = disease patients (8) as of the
    year's as_of_date, aged >= 35 then; managed = eligible with >= 1 follow-up of that disease in
    [Jan 1, as_of_date]; required_followups = q; standard = >= q follow-ups of which >= q with
    mode clinic/home; controlled from the LATEST follow-up in the year (ties on followup_date
    broken by the greatest followup_id); missing sbp/dbp/glucose = not controlled. Age >= 65 at
    as_of_date uses sbp < 150. TEAM: a patient is counted once, at the team_code of their latest
    follow-up in the year. Rows: (year, team) pairs with >= 1 managed patient.
13. mart_outpatient_visits: visits = all rows (the three visit types); history exists when the
    same facility has a row for the same month a year earlier; yoy_growth = visits / last - 1
    (null when no history). Same rule for mart_outpatient_cost.avg_fee_growth (ratio of the
    average fees).
14. mart_medication_management: rows = facility-months with outpatient visits. Antibiotic =
    the drug catalogue's is_antibiotic flag. visits_with_rx = distinct visits with >= 1 line;
    shares of amount over all prescription lines of the month; long_rx_share = long lines /
    all lines; avg_lines_per_prescription = lines / distinct prescription_id; drug_fee_share =
    Σ drug_fee / Σ total_fee over all outpatient visits of the facility-month.
15. mart_outpatient_disease: key columns month, level_group, icd10_category (first 3
    characters of diagnosis_code, upper case). level_group = ``grassroots`` for the four
    grassroots facility types, else ``level_3`` / ``level_2`` / ``level_1`` by the registry level
    and ``unrated`` for level 0. share_of_visits and rank (method 'min', by visits descending)
    are within (month, level_group). Chapter and titles are not computed by the oracle.
16. mart_grassroots_visits: total/grassroots/signed/unsigned counts at the facility's district;
    a visit is signed when its resident had a contract in force (9) on the visit date.
    county_resident_visits = visits (at any facility) by residents whose record's district is
    the row's district; in_county_visits = those made at facilities of that same district.
    A visit of a resident without a health record still counts in total/grassroots and as
    signed or unsigned (signing needs no record), but in neither county measure.
17. mart_disease_cost: outpatient episodes = visits (year of visit_time), inpatient episodes =
    discharges (year of discharge_time); cost_per_patient = total_fee / distinct residents;
    as_of_date and is_complete of the year (3).
18. mart_signing_coverage: at each as_of_date (2), signed = the counted contract in force (9).
    Rows (as_of_date, region_code, team_code) for every team with a signed resident or an
    ending contract in the community; a community with neither gets one row with team_code
    null. Signed residents without a health record cannot be placed and are not counted.
    Community-level denominators (population, key_population, residents_<group>) are REPEATED
    on each team row (not additive over teams); signed_*, package_*, combo_111_signed,
    contracts_ending and renewals belong to the team. See also
    ``expected_signing_coverage_community`` (one row per community, fully additive).
    Key groups (no age >= 35 restriction for hypertension/diabetes here): age65plus, age0_6
    (age <= 6), pregnant, hypertension, diabetes, tuberculosis, severe_mental (record flag
    severe_mental_disorder), disability, low_income; a resident counts once in key_population.
    combo_111_signed = counted contract has both district_hospital_code and city_hospital_code.
    contracts_ending = contracts with end_date from the first of the month to the as_of_date
    (a contract of the running month that ends after data_as_of has not ended yet), not
    terminated (a terminated contract ended early and is not due for renewal), placed at the
    resident's community and the contract's team; renewals = those whose contract_id is the
    renewal_of of some other contract.
19. mart_referrals: rows = facility-months with outpatient visits, a referral sent or a
    referral received. Went ahead = current status not ``rejected`` and not ``cancelled``:
    up_out / down_out / up_in / down_in count only those. referrals_sent and referrals_in count
    every status; arrival_rate = arrived_out / referrals_sent; family_doctor_share and
    priority_slot_share are over referrals_sent; referral_rate = referrals_sent / outpatient
    visits of the facility-month (null when no visits).
20. mart_bed_utilization: rows = facility-months with census rows or discharges; census_days =
    distinct census dates of the facility in the month; avg_open_beds = open_bed_days /
    census_days (null without a census); bed_turnover = discharges / avg_open_beds.
21. mart_chronic_settlement (year x facility_code x disease): the counted contract of a
    resident is rule 9's ranking over the contracts in force on at least one day of [Jan 1,
    as_of_date]; its facility_code is the row's facility. Patients = such residents who are
    patients of the disease (8) as of as_of_date — no health record needed, NO age limit.
    Volume = Σ days_supply of the patient's prescription lines whose visit is in [Jan 1,
    as_of_date], prescribed at that facility or at a facility whose parent_facility_code is it
    (its stations and village clinics), drug ATC starting C02..C10 (hypertension) / A10
    (diabetes). required_days = 365 x days_elapsed / days_in_year; coverage = volume /
    required_days: >= 0.70 full, >= 0.50 partial (70 % of the amount), else none, the
    thresholds compared exactly (in integers, so a coverage of exactly 0.70 is full whatever
    floating point makes of it). budget = patients x rate; payable = full x rate + partial x
    rate x 0.7.
22. mart_delivery_quality: facilities = every hospital and centre in facilities.csv; dates =
    every day from the first to the last business_date of any folder on disk; expected = 1;
    delivered = a complete folder for that facility-day; on_time = delivered and generated_at
    < business_date + 1 day 06:00; rows_loaded = data rows of the complete folder;
    rows_quarantined = 0 (clean region). Per-reason counts and files_rejected are not computed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from grassroots.contract import CENTRE_TYPES, GRASSROOTS_TYPES, HOSPITAL_TYPES

Data = dict[str, pd.DataFrame]

HYPERTENSION_ICD = ("I10", "I11", "I12", "I13")
DIABETES_ICD = ("E11", "E14")
HYPERTENSION_ATC = tuple(f"C{n:02d}" for n in range(2, 11))  # C02..C10
DIABETES_ATC = ("A10",)
SETTLEMENT_RATE = {"hypertension": 1400.0, "diabetes": 1300.0}
# thresholds in percent, so that they compare exactly in integers (interpretation 21)
SETTLEMENT_FULL_PCT, SETTLEMENT_PARTIAL_PCT, SETTLEMENT_PARTIAL_PAY = 70, 50, 0.70
FACE_TO_FACE = ("clinic", "home")
WENT_AHEAD_EXCLUDES = ("rejected", "cancelled")
KEY_GROUPS = (
    "age65plus",
    "age0_6",
    "pregnant",
    "hypertension",
    "diabetes",
    "tuberculosis",
    "severe_mental",
    "disability",
    "low_income",
)
PACKAGES = ("free", "basic", "personalized", "checkup")


# ---------------------------------------------------------------- helpers


def _rate(num: pd.Series, den: pd.Series) -> pd.Series:
    num = num.astype("float64")
    den = den.astype("float64")
    return (num / den.where(den != 0)).astype("float64")


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").dt.to_timestamp().astype("datetime64[us]")


def _data_as_of(data: Data) -> pd.Timestamp:
    """The latest business_date with a complete folder (interpretation 1); NaT if none."""
    dl = data["_deliveries"]
    return dl.loc[dl["complete"].astype(bool), "business_date"].max()


def _period(data: Data) -> tuple[pd.Timestamp, pd.Timestamp]:
    dl = data["_deliveries"]
    return dl.loc[dl["complete"].astype(bool), "business_date"].min(), _data_as_of(data)


def _snapshot_dates(data: Data) -> list[pd.Timestamp]:
    """One as_of_date per month of the period: its last day, or data_as_of in the running month."""
    start, as_of = _period(data)
    if pd.isna(start):
        return []
    months = pd.period_range(start, as_of, freq="M")
    return [min(p.to_timestamp(how="end").normalize(), as_of) for p in months]


def _years(data: Data) -> list[int]:
    start, end = _period(data)
    if pd.isna(start):
        return []
    return list(range(start.year, end.year + 1))


@dataclass(frozen=True)
class YearAsOf:
    """How far a calendar year has been loaded (interpretation 3)."""

    year: int
    as_of_date: pd.Timestamp
    is_complete: bool
    quarters: int  # quarters begun by as_of_date: the required follow-ups
    days_elapsed: int
    days_in_year: int

    @property
    def start(self) -> pd.Timestamp:
        return pd.Timestamp(self.year, 1, 1)

    @property
    def required_days(self) -> float:
        return 365 * self.days_elapsed / self.days_in_year


def _year_as_of(year: int, data_as_of: pd.Timestamp) -> YearAsOf:
    dec31 = pd.Timestamp(year, 12, 31)
    as_of = min(dec31, data_as_of)
    return YearAsOf(
        year=year,
        as_of_date=as_of,
        is_complete=bool(data_as_of >= dec31),
        quarters=(as_of.month - 1) // 3 + 1,
        days_elapsed=(as_of - pd.Timestamp(year, 1, 1)).days + 1,
        days_in_year=366 if pd.Timestamp(year, 1, 1).is_leap_year else 365,
    )


def _year_columns(out: pd.DataFrame, data_as_of: pd.Timestamp) -> pd.DataFrame:
    """Attach as_of_date and is_complete of each row's ``year``."""
    ya = out["year"].map(lambda y: _year_as_of(int(y), data_as_of))
    out["as_of_date"] = ya.map(lambda a: a.as_of_date).astype("datetime64[us]")
    out["is_complete"] = ya.map(lambda a: a.is_complete).astype("bool")
    return out


def _age(birth: pd.Series, at: pd.Timestamp) -> pd.Series:
    before = (birth.dt.month > at.month) | ((birth.dt.month == at.month) & (birth.dt.day > at.day))
    return (at.year - birth.dt.year - before.astype("int64")).astype("Int64")


def _born_by(res: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """Residents counted on ``at``: born on or before it (interpretation 5)."""
    return res[res["birth_date"].notna() & (res["birth_date"] <= at)]


def _district_map(regions: pd.DataFrame) -> dict[str, str]:
    """region_code -> its district-level ancestor (itself for a district)."""
    parent = dict(zip(regions["region_code"], regions["parent_code"], strict=True))
    level = dict(zip(regions["region_code"], regions["level"], strict=True))
    out: dict[str, str] = {}
    for code in regions["region_code"]:
        c, hops = code, 0
        while c is not None and level.get(c) != "district" and hops < 10:
            c, hops = parent.get(c), hops + 1
        if c is not None and level.get(c) == "district":
            out[code] = c
    return out


def _communities(data: Data) -> list[str]:
    r = data["regions"]
    return sorted(r.loc[r["level"] == "community", "region_code"])


def _residents(data: Data) -> pd.DataFrame:
    """Latest health record per resident with its community and district."""
    rec = data["health_records"].copy()
    rec["district_code"] = rec["region_code"].map(_district_map(data["regions"]))
    return rec


def _population(data: Data, bands: tuple[str, ...] | None = None) -> pd.DataFrame:
    p = data["population"]
    if bands is not None:
        p = p[p["age_band"].isin(bands)]
    return (
        p.groupby(["region_code", "year"], as_index=False)["population"]
        .sum()
        .astype({"year": "int64", "population": "int64"})
    )


def _visits(data: Data) -> pd.DataFrame:
    v = data["outpatient_visits"].copy()
    v["date"] = v["visit_time"].dt.normalize()
    v["month"] = _month(v["visit_time"])
    fac = data["facilities"][["facility_code", "facility_type", "level", "district_code"]]
    return v.merge(fac, on="facility_code", how="left")


def _rx(data: Data) -> pd.DataFrame:
    """Prescription lines with their visit's date/resident and the drug catalogue flags."""
    v = data["outpatient_visits"][["facility_code", "visit_id", "visit_time", "resident_id"]]
    rx = data["prescriptions"].merge(v, on=["facility_code", "visit_id"], how="inner")
    rx["month"] = _month(rx["visit_time"])
    drugs = data["drugs"][["drug_code", "atc_code", "is_essential", "is_antibiotic", "is_vbp"]]
    return rx.merge(drugs, on="drug_code", how="left")


def _diagnoses(data: Data) -> pd.DataFrame:
    v = data["outpatient_visits"]
    d = data["inpatient_discharges"]
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "resident_id": v["resident_id"],
                    "date": v["visit_time"].dt.normalize(),
                    "code": v["diagnosis_code"],
                }
            ),
            pd.DataFrame(
                {
                    "resident_id": d["resident_id"],
                    "date": d["discharge_time"].dt.normalize(),
                    "code": d["diagnosis_code"],
                }
            ),
        ],
        ignore_index=True,
    ).dropna(subset=["code"])


def _disease_patients(
    data: Data, disease: str, at: pd.Timestamp, diagnoses: pd.DataFrame | None = None
) -> set[str]:
    """Residents with the record flag or a matching diagnosis dated on or before ``at``."""
    prefixes = HYPERTENSION_ICD if disease == "hypertension" else DIABETES_ICD
    dx = _diagnoses(data) if diagnoses is None else diagnoses
    hit = dx["code"].str.upper().str.startswith(prefixes) & (dx["date"] <= at)
    rec = data["health_records"]
    flagged = rec.loc[rec[disease].fillna(False).astype(bool), "resident_id"]
    return set(flagged) | set(dx.loc[hit, "resident_id"])


def _in_force_between(
    signings: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
) -> pd.DataFrame:
    """Contracts in force on at least one day of [first, last], whatever their status."""
    s = signings.dropna(subset=["start_date", "end_date"])
    return s[(s["start_date"] <= last) & (s["end_date"] >= first)]


def _counted(contracts: pd.DataFrame) -> pd.DataFrame:
    """One contract per resident: the one that started last (interpretation 9)."""
    s = contracts.sort_values(
        ["resident_id", "start_date", "sign_date", "contract_id"], na_position="first"
    )
    return s.drop_duplicates("resident_id", keep="last")


def _in_force(signings: pd.DataFrame, d: pd.Timestamp) -> pd.DataFrame:
    """The counted contract in force on day ``d`` of each resident who has one."""
    return _counted(_in_force_between(signings, d, d))


def _finish(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys, na_position="first").reset_index(drop=True)


# ---------------------------------------------------------------- A. the eleven analyses


def expected_health_checkups(data: Data) -> pd.DataFrame:
    keys = ["year", "region_code"]
    grid = pd.MultiIndex.from_product([_years(data), _communities(data)], names=keys).to_frame(
        index=False
    )
    grid["year"] = grid["year"].astype("int64")
    pop65 = _population(data, ("65-79", "80+")).rename(columns={"population": "population_65plus"})
    res = _residents(data)[["resident_id", "region_code", "birth_date"]]
    ck = data["health_checkups"].merge(res, on="resident_id", how="inner")
    ck["year"] = ck["checkup_date"].dt.year.astype("int64")
    ck["abnormal"] = ck["abnormal_findings"].fillna(0) > 0
    counts = ck.groupby(keys, as_index=False).agg(
        checkups=("checkup_id", "size"), abnormal_checkups=("abnormal", "sum")
    )
    data_as_of = _data_as_of(data)
    full = ck[(ck["checkup_type"] == "elderly_annual") & (ck["items_completed"] == 8)].copy()
    as_of = full["year"].map(lambda y: _year_as_of(int(y), data_as_of).as_of_date)
    full["age"] = _age_per_row(full["birth_date"], as_of.astype("datetime64[us]"))
    checked = (
        full[full["age"] >= 65]
        .groupby(keys, as_index=False)["resident_id"]
        .nunique()
        .rename(columns={"resident_id": "checked_65plus"})
    )
    out = grid.merge(pop65, on=keys, how="left").merge(counts, on=keys, how="left")
    out = out.merge(checked, on=keys, how="left")
    for c in ("population_65plus", "checkups", "abnormal_checkups", "checked_65plus"):
        out[c] = out[c].fillna(0).astype("int64")
    out["elderly_health_mgmt_rate"] = _rate(out["checked_65plus"], out["population_65plus"])
    return _finish(_year_columns(out, data_as_of), keys)


def _age_per_row(birth: pd.Series, at: pd.Series) -> pd.Series:
    before = (birth.dt.month > at.dt.month) | (
        (birth.dt.month == at.dt.month) & (birth.dt.day > at.dt.day)
    )
    return at.dt.year - birth.dt.year - before.astype("int64")


def expected_drug_usage(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code", "drug_code"]
    rx = _rx(data)
    out = rx.groupby(keys, as_index=False).agg(
        prescription_lines=("line_no", "size"),
        quantity=("quantity", "sum"),
        amount=("amount", "sum"),
    )
    drugs = data["drugs"][["drug_code", "atc_code", "is_essential", "is_antibiotic", "is_vbp"]]
    out = out.merge(drugs, on="drug_code", how="left")
    return _finish(out, keys)


def expected_health_records(data: Data) -> pd.DataFrame:
    keys = ["as_of_date", "region_code"]
    res = _residents(data)
    complete_cols = [
        "resident_id",
        "sex",
        "birth_date",
        "region_code",
        "blood_type",
        "allergy_history",
        "past_history",
        "family_history",
        "occupation",
        "education",
    ]
    res["complete"] = res[complete_cols].notna().all(axis=1)
    for c in complete_cols[4:]:
        res["complete"] &= res[c].astype("string").str.strip().fillna("") != ""
    events = pd.concat(
        [
            pd.DataFrame({"resident_id": df[rid], "date": df[col].dt.normalize()})
            for df, rid, col in (
                (data["outpatient_visits"], "resident_id", "visit_time"),
                (data["chronic_followups"], "resident_id", "followup_date"),
                (data["health_checkups"], "resident_id", "checkup_date"),
                (data["signings"], "resident_id", "sign_date"),
                (data["_health_record_versions"], "resident_id", "updated_date"),
            )
        ],
        ignore_index=True,
    ).dropna()
    pop = _population(data)
    frames = []
    for d in _snapshot_dates(data):
        r = _born_by(res, d)
        r = r[r["registered_date"] <= d].copy()
        window = events[(events["date"] <= d) & (events["date"] > d - pd.Timedelta(days=365))]
        r["active"] = r["resident_id"].isin(set(window["resident_id"]))
        g = r.groupby("region_code", as_index=False).agg(
            records=("resident_id", "size"),
            complete_records=("complete", "sum"),
            active_records=("active", "sum"),
        )
        grid = pd.DataFrame({"region_code": _communities(data)})
        g = grid.merge(g, on="region_code", how="left")
        p = pop[pop["year"] == d.year][["region_code", "population"]]
        g = g.merge(p, on="region_code", how="left")
        g.insert(0, "as_of_date", d)
        frames.append(g)
    cols = ["population", "records", "complete_records", "active_records"]
    if not frames:
        return pd.DataFrame(columns=keys + cols)
    out = pd.concat(frames, ignore_index=True)
    out["as_of_date"] = out["as_of_date"].astype("datetime64[us]")
    for c in cols:
        out[c] = out[c].fillna(0).astype("int64")
    out["record_rate"] = _rate(out["records"], out["population"])
    out["completeness_rate"] = _rate(out["complete_records"], out["records"])
    out["activation_rate"] = _rate(out["active_records"], out["records"])
    return _finish(out, keys)


def _chronic_followup(data: Data, disease: str) -> pd.DataFrame:
    keys = ["year", "team_code"]
    res = _residents(data)[["resident_id", "birth_date"]]
    fu_all = data["chronic_followups"]
    fu_all = fu_all[fu_all["disease"] == disease]
    dx = _diagnoses(data)
    data_as_of = _data_as_of(data)
    frames = []
    for year in _years(data):
        ya = _year_as_of(year, data_as_of)
        pats = res[res["resident_id"].isin(_disease_patients(data, disease, ya.as_of_date, dx))]
        pats = pats.assign(age=_age(pats["birth_date"], ya.as_of_date))
        pats = pats[pats["age"] >= 35]
        in_year = fu_all["followup_date"].between(ya.start, ya.as_of_date)
        fu = fu_all[in_year].merge(pats[["resident_id", "age"]], on="resident_id", how="inner")
        if fu.empty:
            continue
        fu = fu.assign(f2f=fu["mode"].isin(FACE_TO_FACE))
        per = fu.groupby("resident_id").agg(n=("followup_id", "size"), f2f=("f2f", "sum"))
        latest = (
            fu.sort_values(["resident_id", "followup_date", "followup_id"])
            .drop_duplicates("resident_id", keep="last")
            .set_index("resident_id")
        )
        per = per.join(latest[["team_code", "age", "sbp", "dbp", "fasting_glucose"]])
        per["standard"] = (per["n"] >= ya.quarters) & (per["f2f"] >= ya.quarters)
        if disease == "hypertension":
            limit = np.where(per["age"] >= 65, 150, 140)
            ctl = (per["sbp"].astype("float64") < limit) & (per["dbp"].astype("float64") < 90)
        else:
            ctl = per["fasting_glucose"].astype("float64") < 7.0
        per["controlled"] = ctl.fillna(False).astype(bool)
        g = per.groupby("team_code", as_index=False, dropna=False).agg(
            managed_patients=("n", "size"),
            standard_managed=("standard", "sum"),
            controlled=("controlled", "sum"),
        )
        g.insert(0, "year", year)
        g["required_followups"] = ya.quarters
        frames.append(g)
    cols = ["managed_patients", "standard_managed", "controlled", "required_followups"]
    if not frames:
        out = pd.DataFrame(columns=keys + cols)
    else:
        out = pd.concat(frames, ignore_index=True)
    out["year"] = out["year"].astype("int64")
    for c in cols:
        out[c] = out[c].astype("int64")
    out["standard_mgmt_rate"] = _rate(out["standard_managed"], out["managed_patients"])
    out["control_rate"] = _rate(out["controlled"], out["managed_patients"])
    return _finish(_year_columns(out, data_as_of), keys)


def expected_hypertension_followup(data: Data) -> pd.DataFrame:
    return _chronic_followup(data, "hypertension")


def expected_diabetes_followup(data: Data) -> pd.DataFrame:
    return _chronic_followup(data, "diabetes")


CATALOGUE_CSV = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "metric_catalogue.csv"


def _target(code: str) -> float:
    """The catalogue's target of an indicator, by its code (htn_* for hypertension, dm_* diabetes)."""
    with CATALOGUE_CSV.open(encoding="utf-8") as f:
        row = next(r for r in csv.DictReader(f) if r["code"] == code)
    return float(row["target"]) if row["target"] else np.nan


def expected_chronic_followup(data: Data) -> pd.DataFrame:
    """Both diseases' follow-up marts in one, each row with its own disease's targets."""
    parts = []
    for disease, prefix in (("hypertension", "htn"), ("diabetes", "dm")):
        df = _chronic_followup(data, disease).assign(disease=disease)
        df["standard_mgmt_target"] = _target(f"{prefix}_standard_mgmt_rate")
        df["control_target"] = _target(f"{prefix}_control_rate")
        parts.append(df)
    return _finish(pd.concat(parts, ignore_index=True), ["year", "team_code", "disease"])


def _with_last_year(df: pd.DataFrame, keys: list[str], cols: dict[str, str]) -> pd.DataFrame:
    """Attach ``cols`` (source -> new name) from the same facility 12 months earlier."""
    prev = df[keys + list(cols)].rename(columns=cols).copy()
    prev["month"] = (prev["month"] + pd.DateOffset(years=1)).astype("datetime64[us]")
    return df.merge(prev, on=keys, how="left")


def expected_outpatient_visits(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code"]
    v = _visits(data)
    v["emergency"] = v["visit_type"] == "emergency"
    v["home"] = v["visit_type"] == "home_visit"
    out = v.groupby(keys, as_index=False).agg(
        visits=("visit_id", "size"),
        emergency_visits=("emergency", "sum"),
        home_visits=("home", "sum"),
        patients=("resident_id", "nunique"),
    )
    out = _with_last_year(out, keys, {"visits": "visits_same_month_last_year"})
    out["yoy_growth"] = _rate(out["visits"], out["visits_same_month_last_year"]) - 1
    fac = data["facilities"][["facility_code", "district_code"]]
    return _finish(out.merge(fac, on="facility_code", how="left"), keys)


def expected_medication_management(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code"]
    v = _visits(data)
    base = v.groupby(keys, as_index=False).agg(
        visits=("visit_id", "size"), drug_fee=("drug_fee", "sum"), total_fee=("total_fee", "sum")
    )
    rx = _rx(data)
    rx["antibiotic"] = rx["is_antibiotic"].fillna(False).astype(bool)
    rx["ess_amt"] = rx["amount"].where(rx["is_essential"].fillna(False).astype(bool), 0.0)
    rx["vbp_amt"] = rx["amount"].where(rx["is_vbp"].fillna(False).astype(bool), 0.0)
    rx["long"] = rx["days_supply"] >= 28
    rx["ext"] = rx["is_extended"].fillna(False).astype(bool)
    lines = rx.groupby(keys, as_index=False).agg(
        prescription_lines=("line_no", "size"),
        prescriptions=("prescription_id", "nunique"),
        visits_with_rx=("visit_id", "nunique"),
        rx_amount=("amount", "sum"),
        essential_amount=("ess_amt", "sum"),
        vbp_amount=("vbp_amt", "sum"),
        long_rx_lines=("long", "sum"),
        extended_rx_lines=("ext", "sum"),
    )
    abx = (
        rx[rx["antibiotic"]]
        .groupby(keys, as_index=False)["visit_id"]
        .nunique()
        .rename(columns={"visit_id": "antibiotic_visits"})
    )
    out = base.merge(lines, on=keys, how="left").merge(abx, on=keys, how="left")
    for c in (
        "prescription_lines",
        "prescriptions",
        "visits_with_rx",
        "long_rx_lines",
        "extended_rx_lines",
        "antibiotic_visits",
    ):
        out[c] = out[c].fillna(0).astype("int64")
    for c in ("rx_amount", "essential_amount", "vbp_amount"):
        out[c] = out[c].fillna(0.0)
    out["antibiotic_rx_rate"] = _rate(out["antibiotic_visits"], out["visits_with_rx"])
    out["essential_amount_share"] = _rate(out["essential_amount"], out["rx_amount"])
    out["vbp_amount_share"] = _rate(out["vbp_amount"], out["rx_amount"])
    out["long_rx_share"] = _rate(out["long_rx_lines"], out["prescription_lines"])
    out["avg_lines_per_prescription"] = _rate(out["prescription_lines"], out["prescriptions"])
    out["drug_fee_share"] = _rate(out["drug_fee"], out["total_fee"])
    return _finish(out, keys)


def expected_outpatient_cost(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code"]
    v = _visits(data)
    out = v.groupby(keys, as_index=False).agg(
        visits=("visit_id", "size"),
        total_fee=("total_fee", "sum"),
        drug_fee=("drug_fee", "sum"),
        exam_fee=("exam_fee", "sum"),
        insurance_paid=("insurance_paid", "sum"),
        self_paid=("self_paid", "sum"),
    )
    out["avg_fee_per_visit"] = _rate(out["total_fee"], out["visits"])
    out["avg_drug_fee_per_visit"] = _rate(out["drug_fee"], out["visits"])
    out["insurance_share"] = _rate(out["insurance_paid"], out["total_fee"])
    out = _with_last_year(out, keys, {"avg_fee_per_visit": "avg_fee_per_visit_last_year"})
    out["avg_fee_growth"] = _rate(out["avg_fee_per_visit"], out["avg_fee_per_visit_last_year"]) - 1
    fac = data["facilities"][["facility_code", "district_code", "level"]]
    return _finish(out.merge(fac, on="facility_code", how="left"), keys)


def _level_group(facility_type: pd.Series, level: pd.Series) -> pd.Series:
    """grassroots for the four grassroots types, else the hospital's registry level."""
    by_level = level.map({3: "level_3", 2: "level_2", 1: "level_1", 0: "unrated"})
    return by_level.where(~facility_type.isin(GRASSROOTS_TYPES), "grassroots")


def expected_outpatient_disease(data: Data) -> pd.DataFrame:
    keys = ["month", "level_group", "icd10_category"]
    v = _visits(data)
    v["level_group"] = _level_group(v["facility_type"], v["level"])
    v["icd10_category"] = v["diagnosis_code"].str.strip().str.upper().str[:3]
    out = v.groupby(keys, as_index=False).agg(
        visits=("visit_id", "size"), patients=("resident_id", "nunique")
    )
    tot = out.groupby(["month", "level_group"])["visits"].transform("sum")
    out["share_of_visits"] = _rate(out["visits"], tot)
    out["rank"] = (
        out.groupby(["month", "level_group"])["visits"]
        .rank(method="min", ascending=False)
        .astype("int64")
    )
    return _finish(out, keys)


def _signed_flag(visits: pd.DataFrame, signings: pd.DataFrame) -> pd.Series:
    """True where the visit's resident had a contract in force on the visit date."""
    s = signings.dropna(subset=["start_date", "end_date"])[
        ["resident_id", "start_date", "end_date"]
    ]
    m = visits[["resident_id", "date"]].reset_index().merge(s, on="resident_id", how="inner")
    hit = m[(m["start_date"] <= m["date"]) & (m["end_date"] >= m["date"])]["index"].unique()
    return pd.Series(visits.index.isin(hit), index=visits.index)


def expected_grassroots_visits(data: Data) -> pd.DataFrame:
    keys = ["month", "district_code"]
    v = _visits(data)
    v["grassroots"] = v["facility_type"].isin(GRASSROOTS_TYPES)
    v["signed"] = _signed_flag(v, data["signings"])
    v["signed_gr"] = v["signed"] & v["grassroots"]
    v["unsigned"] = ~v["signed"]
    v["unsigned_gr"] = v["unsigned"] & v["grassroots"]
    out = v.groupby(keys, as_index=False).agg(
        total_visits=("visit_id", "size"),
        grassroots_visits=("grassroots", "sum"),
        signed_visits=("signed", "sum"),
        signed_grassroots_visits=("signed_gr", "sum"),
        unsigned_visits=("unsigned", "sum"),
        unsigned_grassroots_visits=("unsigned_gr", "sum"),
    )
    res = _residents(data)[["resident_id", "district_code"]].rename(
        columns={"district_code": "res_district"}
    )
    rv = v.merge(res, on="resident_id", how="inner").dropna(subset=["res_district"])
    rv["in_county"] = rv["res_district"] == rv["district_code"]
    county = (
        rv.groupby(["month", "res_district"], as_index=False)
        .agg(county_resident_visits=("visit_id", "size"), in_county_visits=("in_county", "sum"))
        .rename(columns={"res_district": "district_code"})
    )
    out = out.merge(county, on=keys, how="outer")
    for c in out.columns:
        if c not in keys:
            out[c] = out[c].fillna(0).astype("int64")
    out["grassroots_share"] = _rate(out["grassroots_visits"], out["total_visits"])
    out["signed_grassroots_share"] = _rate(out["signed_grassroots_visits"], out["signed_visits"])
    out["unsigned_grassroots_share"] = _rate(
        out["unsigned_grassroots_visits"], out["unsigned_visits"]
    )
    out["in_county_rate"] = _rate(out["in_county_visits"], out["county_resident_visits"])
    return _finish(out, keys)


def expected_disease_cost(data: Data) -> pd.DataFrame:
    keys = ["year", "icd10_category", "setting"]
    v = data["outpatient_visits"]
    d = data["inpatient_discharges"]
    ep = pd.concat(
        [
            pd.DataFrame(
                {
                    "year": v["visit_time"].dt.year,
                    "code": v["diagnosis_code"],
                    "setting": "outpatient",
                    "resident_id": v["resident_id"],
                    "total_fee": v["total_fee"],
                    "insurance_paid": v["insurance_paid"],
                    "self_paid": v["self_paid"],
                }
            ),
            pd.DataFrame(
                {
                    "year": d["discharge_time"].dt.year,
                    "code": d["diagnosis_code"],
                    "setting": "inpatient",
                    "resident_id": d["resident_id"],
                    "total_fee": d["total_fee"],
                    "insurance_paid": d["insurance_paid"],
                    "self_paid": d["self_paid"],
                }
            ),
        ],
        ignore_index=True,
    )
    ep["year"] = ep["year"].astype("int64")
    ep["icd10_category"] = ep["code"].str.strip().str.upper().str[:3]
    out = ep.groupby(keys, as_index=False).agg(
        episodes=("resident_id", "size"),
        patients=("resident_id", "nunique"),
        total_fee=("total_fee", "sum"),
        insurance_paid=("insurance_paid", "sum"),
        self_paid=("self_paid", "sum"),
    )
    out["avg_fee_per_episode"] = _rate(out["total_fee"], out["episodes"])
    out["cost_per_patient"] = _rate(out["total_fee"], out["patients"])
    return _finish(_year_columns(out, _data_as_of(data)), keys)


# ---------------------------------------------------------------- B. signing, referrals, beds


def _signing_snapshot(data: Data, d: pd.Timestamp, dx: pd.DataFrame) -> pd.DataFrame:
    """Residents (with a record, born by ``d``) with key-group flags and counted contract."""
    res = _born_by(_residents(data), d).copy()
    age = _age(res["birth_date"], d)
    flag = {
        c: res[c].fillna(False).astype(bool)
        for c in (
            "pregnant",
            "tuberculosis",
            "severe_mental_disorder",
            "disability",
            "low_income",
        )
    }
    groups = {
        "age65plus": age >= 65,
        "age0_6": age <= 6,
        "pregnant": flag["pregnant"],
        "hypertension": res["resident_id"].isin(_disease_patients(data, "hypertension", d, dx)),
        "diabetes": res["resident_id"].isin(_disease_patients(data, "diabetes", d, dx)),
        "tuberculosis": flag["tuberculosis"],
        "severe_mental": flag["severe_mental_disorder"],
        "disability": flag["disability"],
        "low_income": flag["low_income"],
    }
    for g, s in groups.items():
        res[f"g_{g}"] = s.fillna(False).astype(bool)
    res["g_key"] = res[[f"g_{g}" for g in KEY_GROUPS]].any(axis=1)
    cov = _in_force(data["signings"], d)[
        [
            "resident_id",
            "contract_id",
            "team_code",
            "package_code",
            "district_hospital_code",
            "city_hospital_code",
        ]
    ]
    res = res.merge(cov, on="resident_id", how="left")
    res["signed"] = res["contract_id"].notna()
    res["combo"] = (
        res["signed"] & res["district_hospital_code"].notna() & res["city_hospital_code"].notna()
    )
    return res


def _ending_contracts(data: Data, d: pd.Timestamp) -> pd.DataFrame:
    """Contracts due for renewal that ended from the first of d's month up to d."""
    s = data["signings"]
    first = d.replace(day=1)
    ending = s[s["end_date"].between(first, d) & (s["status"] != "terminated")].copy()
    renewed = set(s["renewal_of"].dropna())
    ending["renewed"] = ending["contract_id"].isin(renewed)
    res = _residents(data)[["resident_id", "region_code"]]
    return ending.merge(res, on="resident_id", how="inner")


def _signing_team_counts(res: pd.DataFrame, ending: pd.DataFrame) -> pd.DataFrame:
    keys = ["region_code", "team_code"]
    s = res[res["signed"]].copy()
    agg: dict[str, tuple[str, str]] = {
        "signed_residents": ("resident_id", "size"),
        "key_signed": ("g_key", "sum"),
        "combo_111_signed": ("combo", "sum"),
    }
    for g in KEY_GROUPS:
        agg[f"signed_{g}"] = (f"g_{g}", "sum")
    for p in PACKAGES:
        s[f"p_{p}"] = s["package_code"] == p
        agg[f"package_{p}"] = (f"p_{p}", "sum")
    signed = s.groupby(keys, as_index=False).agg(**agg)
    end = ending.groupby(keys, as_index=False).agg(
        contracts_ending=("contract_id", "size"), renewals=("renewed", "sum")
    )
    return signed.merge(end, on=keys, how="outer")


def _community_denominators(res: pd.DataFrame, pop: pd.DataFrame) -> pd.DataFrame:
    agg: dict[str, tuple[str, str]] = {"key_population": ("g_key", "sum")}
    for g in KEY_GROUPS:
        agg[f"residents_{g}"] = (f"g_{g}", "sum")
    den = res.groupby("region_code", as_index=False).agg(**agg)
    return pop.merge(den, on="region_code", how="left")


def _signing_rates(out: pd.DataFrame) -> pd.DataFrame:
    for c in out.columns:
        if c not in ("as_of_date", "region_code", "team_code"):
            out[c] = out[c].fillna(0).astype("int64")
    out["signing_rate"] = _rate(out["signed_residents"], out["population"])
    out["key_signing_rate"] = _rate(out["key_signed"], out["key_population"])
    out["renewal_rate"] = _rate(out["renewals"], out["contracts_ending"])
    return out


def expected_signing_coverage(data: Data) -> pd.DataFrame:
    keys = ["as_of_date", "region_code", "team_code"]
    dx = _diagnoses(data)
    comms = pd.DataFrame({"region_code": _communities(data)})
    allpop = _population(data)
    frames = []
    for d in _snapshot_dates(data):
        res = _signing_snapshot(data, d, dx)
        teams = _signing_team_counts(res, _ending_contracts(data, d))
        pop = comms.merge(allpop[allpop["year"] == d.year], on="region_code", how="left")
        den = _community_denominators(res, pop[["region_code", "population"]])
        lonely = comms[~comms["region_code"].isin(teams["region_code"])].assign(team_code=None)
        rows = pd.concat([teams, lonely], ignore_index=True)
        rows = rows.merge(den, on="region_code", how="left")
        rows.insert(0, "as_of_date", d)
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True)
    out["as_of_date"] = out["as_of_date"].astype("datetime64[us]")
    return _finish(_signing_rates(out), keys)


def expected_signing_coverage_community(data: Data) -> pd.DataFrame:
    """Roll-up of mart_signing_coverage to (as_of_date, region_code): fully additive."""
    keys = ["as_of_date", "region_code"]
    dx = _diagnoses(data)
    comms = pd.DataFrame({"region_code": _communities(data)})
    allpop = _population(data)
    frames = []
    for d in _snapshot_dates(data):
        res = _signing_snapshot(data, d, dx)
        teams = _signing_team_counts(res, _ending_contracts(data, d))
        teams = teams.drop(columns="team_code").groupby("region_code", as_index=False).sum()
        pop = comms.merge(allpop[allpop["year"] == d.year], on="region_code", how="left")
        den = _community_denominators(res, pop[["region_code", "population"]])
        rows = den.merge(teams, on="region_code", how="left")
        rows.insert(0, "as_of_date", d)
        frames.append(rows)
    out = pd.concat(frames, ignore_index=True)
    out["as_of_date"] = out["as_of_date"].astype("datetime64[us]")
    return _finish(_signing_rates(out), keys)


def expected_referrals(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code"]
    r = data["referrals"].copy()
    r["month"] = _month(r["referral_time"])
    ahead = ~r["status"].isin(WENT_AHEAD_EXCLUDES)
    r["up"] = ahead & (r["direction"] == "up")
    r["down"] = ahead & (r["direction"] == "down")
    r["arrived"] = r["status"] == "arrived"
    r["fd"] = r["team_code"].notna()
    r["slot"] = r["priority_slot"].fillna(False).astype(bool)
    sent = r.groupby(keys, as_index=False).agg(
        referrals_sent=("referral_id", "size"),
        up_out=("up", "sum"),
        down_out=("down", "sum"),
        arrived_out=("arrived", "sum"),
        family_doctor_out=("fd", "sum"),
        priority_slot_out=("slot", "sum"),
    )
    recv = (
        r.groupby(["month", "to_facility_code"], as_index=False)
        .agg(
            referrals_in=("referral_id", "size"),
            up_in=("up", "sum"),
            down_in=("down", "sum"),
            arrived_in=("arrived", "sum"),
        )
        .rename(columns={"to_facility_code": "facility_code"})
    )
    visits = _visits(data).groupby(keys, as_index=False).agg(outpatient_visits=("visit_id", "size"))
    out = sent.merge(recv, on=keys, how="outer").merge(visits, on=keys, how="outer")
    for c in out.columns:
        if c not in keys:
            out[c] = out[c].fillna(0).astype("int64")
    out["down_share"] = _rate(out["down_out"], out["up_out"] + out["down_out"])
    out["arrival_rate"] = _rate(out["arrived_out"], out["referrals_sent"])
    out["family_doctor_share"] = _rate(out["family_doctor_out"], out["referrals_sent"])
    out["priority_slot_share"] = _rate(out["priority_slot_out"], out["referrals_sent"])
    out["referral_rate"] = _rate(out["referrals_sent"], out["outpatient_visits"])
    return _finish(out, keys)


def _los_days(admit: pd.Series, discharge: pd.Series) -> pd.Series:
    days = (discharge.dt.normalize() - admit.dt.normalize()).dt.days
    return days.clip(lower=1).astype("int64")


def expected_bed_utilization(data: Data) -> pd.DataFrame:
    keys = ["month", "facility_code"]
    c = data["bed_census"].copy()
    c["month"] = _month(c["census_date"])
    beds = c.groupby(keys, as_index=False).agg(
        open_bed_days=("open_beds", "sum"),
        occupied_bed_days=("occupied_beds", "sum"),
        census_days=("census_date", "nunique"),
    )
    d = data["inpatient_discharges"].copy()
    d["month"] = _month(d["discharge_time"])
    d["los"] = _los_days(d["admit_time"], d["discharge_time"])
    dis = d.groupby(keys, as_index=False).agg(
        discharges=("stay_id", "size"), discharged_bed_days=("los", "sum")
    )
    out = beds.merge(dis, on=keys, how="outer")
    for col in (
        "open_bed_days",
        "occupied_bed_days",
        "census_days",
        "discharges",
        "discharged_bed_days",
    ):
        out[col] = out[col].fillna(0).astype("int64")
    out["bed_utilization_rate"] = _rate(out["occupied_bed_days"], out["open_bed_days"])
    out["avg_open_beds"] = _rate(out["open_bed_days"], out["census_days"])
    out["avg_length_of_stay"] = _rate(out["discharged_bed_days"], out["discharges"])
    out["bed_turnover"] = _rate(out["discharges"], out["avg_open_beds"])
    return _finish(out, keys)


# ---------------------------------------------------------------- C. beyond the brief


def _settlement_tier(volume: pd.Series, ya: YearAsOf, pct: int) -> pd.Series:
    """volume / required_days >= pct %, exactly: volume x days_in_year x 100 >= pct x 365 x
    days_elapsed, all integers."""
    lhs = volume.astype("int64") * ya.days_in_year * 100
    return lhs >= pct * 365 * ya.days_elapsed


def expected_chronic_settlement(data: Data) -> pd.DataFrame:
    keys = ["year", "facility_code", "disease"]
    fac = data["facilities"]
    rx = _rx(data)
    # a line counts for the facility where it was prescribed and for that facility's centre
    centre_of = dict(zip(fac["facility_code"], fac["parent_facility_code"], strict=True))
    parent = rx["facility_code"].map(centre_of)
    rx = pd.concat(
        [rx.assign(owner=rx["facility_code"]), rx.assign(owner=parent).dropna(subset=["owner"])],
        ignore_index=True,
    )
    rx["date"] = rx["visit_time"].dt.normalize()
    atc = rx["atc_code"].fillna("").str.upper()
    dx = _diagnoses(data)
    data_as_of = _data_as_of(data)
    frames = []
    for year in _years(data):
        ya = _year_as_of(year, data_as_of)
        contracts = _in_force_between(data["signings"], ya.start, ya.as_of_date)
        signed = _counted(contracts)[["facility_code", "resident_id"]]
        in_year = rx["date"].between(ya.start, ya.as_of_date)
        for disease, prefixes in (("hypertension", HYPERTENSION_ATC), ("diabetes", DIABETES_ATC)):
            pats = signed[
                signed["resident_id"].isin(_disease_patients(data, disease, ya.as_of_date, dx))
            ]
            lines = rx[in_year & atc.str.startswith(prefixes)]
            vol = (
                lines.groupby(["owner", "resident_id"], as_index=False)["days_supply"]
                .sum()
                .rename(columns={"owner": "facility_code", "days_supply": "volume"})
            )
            p = pats.merge(vol, on=["facility_code", "resident_id"], how="left")
            volume = p["volume"].fillna(0)
            p["full"] = _settlement_tier(volume, ya, SETTLEMENT_FULL_PCT)
            p["partial"] = _settlement_tier(volume, ya, SETTLEMENT_PARTIAL_PCT) & ~p["full"]
            p["none"] = ~p["full"] & ~p["partial"]
            g = p.groupby("facility_code", as_index=False).agg(
                patients=("resident_id", "size"),
                tier_full=("full", "sum"),
                tier_partial=("partial", "sum"),
                tier_none=("none", "sum"),
            )
            rate = SETTLEMENT_RATE[disease]
            g["budget"] = g["patients"] * rate
            g["payable"] = g["tier_full"] * rate + g["tier_partial"] * rate * SETTLEMENT_PARTIAL_PAY
            g.insert(0, "year", year)
            g.insert(2, "disease", disease)
            g["required_days"] = ya.required_days
            frames.append(g)
    cols = ["patients", "tier_full", "tier_partial", "tier_none", "budget", "payable"]
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame(columns=keys + cols + ["required_days"])
    out["year"] = out["year"].astype("int64")
    for c in ("patients", "tier_full", "tier_partial", "tier_none"):
        out[c] = out[c].astype("int64")
    for c in ("budget", "payable", "required_days"):
        out[c] = out[c].astype("float64")
    return _finish(_year_columns(out, data_as_of), keys)


def expected_delivery_quality(data: Data) -> pd.DataFrame:
    keys = ["business_date", "facility_code"]
    fac = data["facilities"]
    delivering = sorted(
        fac.loc[fac["facility_type"].isin(HOSPITAL_TYPES + CENTRE_TYPES), "facility_code"]
    )
    bd = data["_deliveries"]["business_date"]
    start, end = bd.min(), bd.max()
    dates = pd.date_range(start, end, freq="D") if pd.notna(start) else []
    grid = pd.MultiIndex.from_product([dates, delivering], names=keys).to_frame(index=False)
    grid["business_date"] = grid["business_date"].astype("datetime64[us]")
    dl = data["_deliveries"]
    dl = dl[dl["complete"]][["facility_code", "business_date", "generated_at", "rows"]]
    out = grid.merge(dl, on=keys, how="left")
    out["expected"] = 1
    out["delivered"] = out["rows"].notna().astype("int64")
    deadline = out["business_date"] + pd.Timedelta(days=1, hours=6)
    out["on_time"] = (out["delivered"].astype(bool) & (out["generated_at"] < deadline)).astype(
        "int64"
    )
    out["rows_loaded"] = out["rows"].fillna(0).astype("int64")
    out["rows_quarantined"] = 0  # clean region
    out = out.drop(columns=["rows", "generated_at"])
    return _finish(out, keys)


# ---------------------------------------------------------------- registry

MARTS: dict[str, tuple[Callable[[Data], pd.DataFrame], list[str]]] = {
    "mart_health_checkups": (expected_health_checkups, ["year", "region_code"]),
    "mart_drug_usage": (expected_drug_usage, ["month", "facility_code", "drug_code"]),
    "mart_health_records": (expected_health_records, ["as_of_date", "region_code"]),
    "mart_hypertension_followup": (expected_hypertension_followup, ["year", "team_code"]),
    "mart_diabetes_followup": (expected_diabetes_followup, ["year", "team_code"]),
    "mart_chronic_followup": (expected_chronic_followup, ["year", "team_code", "disease"]),
    "mart_outpatient_visits": (expected_outpatient_visits, ["month", "facility_code"]),
    "mart_medication_management": (expected_medication_management, ["month", "facility_code"]),
    "mart_outpatient_cost": (expected_outpatient_cost, ["month", "facility_code"]),
    "mart_outpatient_disease": (
        expected_outpatient_disease,
        ["month", "level_group", "icd10_category"],
    ),
    "mart_grassroots_visits": (expected_grassroots_visits, ["month", "district_code"]),
    "mart_disease_cost": (expected_disease_cost, ["year", "icd10_category", "setting"]),
    "mart_signing_coverage": (
        expected_signing_coverage,
        ["as_of_date", "region_code", "team_code"],
    ),
    "mart_referrals": (expected_referrals, ["month", "facility_code"]),
    "mart_bed_utilization": (expected_bed_utilization, ["month", "facility_code"]),
    "mart_chronic_settlement": (
        expected_chronic_settlement,
        ["year", "facility_code", "disease"],
    ),
    "mart_delivery_quality": (expected_delivery_quality, ["business_date", "facility_code"]),
}


def expected_all(data: Data) -> dict[str, pd.DataFrame]:
    """Every mart, by name."""
    return {name: fn(data) for name, (fn, _) in MARTS.items()}
