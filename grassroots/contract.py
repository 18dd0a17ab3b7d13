"""The extract delivery standard (docs/standard.md) as data — defined once.

The loader (``grassroots.ingest``), the dbt sources (``grassroots.contract_export`` writes
``dbt/models/staging/_sources.yml``), the GX raw suites and the synthetic generator all read this
module; nothing else lists columns, types, keys or enum values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

STANDARD_VERSION = "1"

ColType = Literal["text", "int", "money", "decimal", "date", "timestamp", "bool"]

# DuckDB type each logical type is stored as after validation.
DUCKDB_TYPE: dict[str, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "money": "DECIMAL(18,2)",  # CNY, up to 2 decimals: exact sums in the marts
    "decimal": "DOUBLE",  # measurements (glucose, BMI, drug quantity)
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
}

# Stable quarantine reason codes, in precedence order: a row breaking several rules is filed
# under the first; its `detail` lists all of them.
REASONS: tuple[str, ...] = (
    "bad_encoding",
    "missing_column",
    "type_error",
    "missing_required",
    "unknown_facility",
    "unknown_team",
    "unknown_drug",
    "bad_icd10",
    "bad_id_checksum",
    "id_birthdate_mismatch",
    "future_date",
    "negative_amount",
    "fee_mismatch",
    "bad_enum",
    "bad_direction",
    "duplicate_key",
    "orphan_row",
    "out_of_range",
)
# File-level reasons the standard names without a code ("row count or checksum mismatch").
# They make the facility-day incomplete: nothing of it loads until a consistent folder arrives.
FILE_REASONS: tuple[str, ...] = ("row_count_mismatch", "checksum_mismatch")
# Reasons for rules the standard implies without giving them a code (README, "How ingestion reads
# the standard"): a row whose identifier breaks the format the standard states for it
# (bad_identifier); a row holding an id-card or phone number outside the personal columns
# (personal_data); a delivered file that is a symbolic link, rejected whole and never followed
# (symlink).
EXTRA_REASONS: tuple[str, ...] = ("bad_identifier", "personal_data", "symlink")
ALL_REASONS: tuple[str, ...] = REASONS + FILE_REASONS + EXTRA_REASONS
# Precedence of every row reason (REASONS' order, the loader's own after missing_required).
ROW_PRECEDENCE: tuple[str, ...] = (*REASONS[:4], "bad_identifier", "personal_data", *REASONS[4:])
# The regional master patient index id: 'R' + 10 digits.
RESIDENT_ID_PATTERN = r"^R[0-9]{10}$"

DELIVERY_STATUSES: tuple[str, ...] = ("loaded", "superseded", "incomplete", "conflict", "rejected")

ENCODINGS: tuple[str, ...] = ("utf-8", "gbk")

MONEY_TOLERANCE = 0.01

GRASSROOTS_TYPES: tuple[str, ...] = (
    "community_health_centre",
    "township_health_centre",
    "community_health_station",
    "village_clinic",
)
CENTRE_TYPES: tuple[str, ...] = ("community_health_centre", "township_health_centre")
HOSPITAL_TYPES: tuple[str, ...] = ("general_hospital", "tcm_hospital", "specialty_hospital")
FACILITY_TYPES: tuple[str, ...] = HOSPITAL_TYPES + GRASSROOTS_TYPES
AGE_BANDS: tuple[str, ...] = ("0-6", "7-17", "18-44", "45-59", "60-64", "65-79", "80+")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColType = "text"
    required: bool = True
    enum: tuple[str, ...] | None = None
    # personal data: 'id_card' is validated then replaced by a keyed hash; 'drop' never stored
    personal: Literal["id_card", "drop"] | None = None
    # foreign key checked at ingest: a kind of REFERENCES, or icd10 (an ICD-10 category)
    ref: Literal["facility", "team", "drug", "icd10", "community", "region"] | None = None
    # inclusive range, else out_of_range
    min: float | None = None
    max: float | None = None
    # an event date: may not be later than the business_date (future_date)
    event: bool = False
    # the identifier format the standard states (bad_identifier otherwise)
    pattern: str | None = None
    description: str = ""

    @property
    def stored_name(self) -> str:
        return "id_card_hash" if self.personal == "id_card" else self.name

    @property
    def stored(self) -> bool:
        return self.personal != "drop"

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPE[self.type]

    @property
    def unconstrained(self) -> bool:
        """No format, code list or reference bounds its values: the columns where an id-card or
        phone number could load unnoticed (personal_data is checked there)."""
        return (self.personal is None and self.enum is None and self.ref is None
                and self.pattern is None and self.type in ("text", "int", "money", "decimal"))


@dataclass(frozen=True)
class SumRule:
    """fee_mismatch: ``total`` must equal the sum of ``parts`` within MONEY_TOLERANCE."""

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class CapRule:
    """fee_mismatch: ``part`` may not exceed ``whole`` by more than MONEY_TOLERANCE."""

    part: str
    whole: str


@dataclass(frozen=True)
class DirectionRule:
    """bad_direction: ``column`` ('up' or 'down') must agree with the referral ranks of the
    facilities in ``source`` and ``target`` (grassroots < unrated hospital < level 1 < 2 < 3)."""

    column: str
    source: str
    target: str


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    kind: Literal["reference", "daily"]
    # the event date used to place a row in a month (for incremental rebuilds)
    event_date: str | None = None
    sums: tuple[SumRule, ...] = ()
    caps: tuple[CapRule, ...] = ()
    direction: DirectionRule | None = None
    # (column, when_column, when_value): column required when when_column == when_value
    required_when: tuple[tuple[str, str, str], ...] = ()
    # pairs (earlier, later): later >= earlier else out_of_range
    ordered: tuple[tuple[str, str], ...] = ()
    # daily datasets: which facility types deliver the file
    delivered_by: tuple[str, ...] = ()
    description: str = ""
    extra: dict = field(default_factory=dict)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        """Header columns a file must have (missing_column otherwise): all of the standard's."""
        return self.names

    @property
    def stored_columns(self) -> list[Column]:
        return [c for c in self.columns if c.stored]


def _c(name: str, type: ColType = "text", **kw) -> Column:
    return Column(name, type, **kw)


def _money(*names: str, required: bool = True) -> list[Column]:
    return [_c(n, "money", required=required, min=0) for n in names]


REFERENCE: tuple[Dataset, ...] = (
    Dataset(
        "regions",
        (
            _c("region_code", description="12 digits"),
            _c("region_name"),
            _c("level", enum=("city", "district", "street", "community")),
            _c("parent_code", required=False, ref="region"),
            _c("urban_rural", required=False, enum=("urban", "rural")),
        ),
        key=("region_code",),
        kind="reference",
    ),
    Dataset(
        "population",
        (
            _c("region_code", ref="community"),
            _c("year", "int", min=1900, max=2200),
            _c("sex", enum=("M", "F")),
            _c("age_band", enum=AGE_BANDS),
            _c("population", "int", min=0),
        ),
        key=("region_code", "year", "sex", "age_band"),
        kind="reference",
    ),
    Dataset(
        "facilities",
        (
            _c("facility_code"),
            _c("facility_name"),
            _c("facility_type", enum=FACILITY_TYPES),
            _c("level", "int", enum=("0", "1", "2", "3")),
            _c("grade", required=False, enum=("A", "B", "C")),
            _c("region_code", ref="region"),
            _c("district_code", ref="region"),
            _c("alliance_code", required=False),
            _c("parent_facility_code", required=False, ref="facility"),
            _c("approved_beds", "int", min=0),
        ),
        key=("facility_code",),
        kind="reference",
    ),
    Dataset(
        "teams",
        (
            _c("team_code"),
            _c("facility_code", ref="facility"),
            _c("team_name"),
            _c("gp_count", "int", min=0),
            _c("nurse_count", "int", min=0),
            _c("public_health_count", "int", min=0),
            _c("specialist_count", "int", min=0),
            _c("volunteer_count", "int", min=0),
        ),
        key=("team_code",),
        kind="reference",
    ),
    Dataset(
        "drugs",
        (
            _c("drug_code"),
            _c("generic_name"),
            _c("atc_code", required=False),
            _c("is_essential", "bool"),
            _c("is_antibiotic", "bool"),
            _c("is_vbp", "bool"),
        ),
        key=("drug_code",),
        kind="reference",
    ),
)

_EVERYONE = HOSPITAL_TYPES + CENTRE_TYPES

DAILY: tuple[Dataset, ...] = (
    Dataset(
        "outpatient_visits",
        (
            _c("visit_id"),
            _c("facility_code", ref="facility"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("id_card_no", required=False, personal="id_card"),
            _c("visit_time", "timestamp", event=True),
            _c("department_code", required=False),
            _c("visit_type", enum=("outpatient", "emergency", "home_visit")),
            _c("doctor_id", required=False),
            _c("team_code", required=False, ref="team"),
            _c("diagnosis_code", ref="icd10"),
            *_money("total_fee", "drug_fee", "exam_fee", "treatment_fee", "other_fee"),
            *_money("insurance_paid", "self_paid"),
        ),
        key=("facility_code", "visit_id"),
        kind="daily",
        event_date="visit_time",
        sums=(
            SumRule("total_fee", ("drug_fee", "exam_fee", "treatment_fee", "other_fee")),
            SumRule("total_fee", ("insurance_paid", "self_paid")),
        ),
        delivered_by=_EVERYONE,
    ),
    Dataset(
        "prescriptions",
        (
            _c("prescription_id"),
            _c("line_no", "int", min=1),
            _c("facility_code", ref="facility"),
            _c("visit_id"),
            _c("drug_code", ref="drug"),
            _c("quantity", "decimal", min=1e-9),
            _c("days_supply", "int", min=1, max=90),
            *_money("amount"),
            _c("is_extended", "bool"),
        ),
        key=("facility_code", "prescription_id", "line_no"),
        kind="daily",
        # prescriptions carry no date of their own: they take their visit's (see dbt staging)
        event_date=None,
        delivered_by=_EVERYONE,
        extra={"parent": ("outpatient_visits", ("facility_code", "visit_id"))},
    ),
    Dataset(
        "inpatient_discharges",
        (
            _c("stay_id"),
            _c("facility_code", ref="facility"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("id_card_no", required=False, personal="id_card"),
            _c("admit_time", "timestamp", event=True),
            _c("discharge_time", "timestamp", event=True),
            _c("department_code", required=False),
            _c("diagnosis_code", ref="icd10"),
            *_money("total_fee", "drug_fee", "insurance_paid", "self_paid"),
            _c("discharge_status", enum=("cured", "improved", "transferred", "died", "other")),
            _c("referral_id", required=False),
        ),
        key=("facility_code", "stay_id"),
        kind="daily",
        event_date="discharge_time",
        sums=(SumRule("total_fee", ("insurance_paid", "self_paid")),),
        caps=(CapRule("drug_fee", "total_fee"),),
        ordered=(("admit_time", "discharge_time"),),
        delivered_by=_EVERYONE,
    ),
    Dataset(
        "bed_census",
        (
            _c("facility_code", ref="facility"),
            _c("census_date", "date", event=True),
            _c("department_code"),
            _c("open_beds", "int", min=0),
            _c("occupied_beds", "int", min=0),
            _c("admissions", "int", min=0),
            _c("discharges", "int", min=0),
        ),
        key=("facility_code", "census_date", "department_code"),
        kind="daily",
        event_date="census_date",
        delivered_by=_EVERYONE,
    ),
    Dataset(
        "referrals",
        (
            _c("referral_id"),
            _c("facility_code", ref="facility"),
            _c("to_facility_code", ref="facility"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("referral_time", "timestamp", event=True),
            _c("direction", enum=("up", "down")),
            _c("referral_kind", enum=("outpatient", "inpatient", "exam")),
            _c("diagnosis_code", required=False, ref="icd10"),
            _c("team_code", required=False, ref="team"),
            _c("priority_slot", "bool"),
            _c("status", enum=("requested", "accepted", "arrived", "rejected", "cancelled")),
        ),
        key=("referral_id",),
        kind="daily",
        event_date="referral_time",
        direction=DirectionRule("direction", "facility_code", "to_facility_code"),
        delivered_by=_EVERYONE,
    ),
    Dataset(
        "signings",
        (
            _c("contract_id"),
            _c("facility_code", ref="facility"),
            _c("team_code", ref="team"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("id_card_no", required=False, personal="id_card"),
            _c("name", required=False, personal="drop"),
            _c("phone", required=False, personal="drop"),
            _c("package_code", enum=("free", "basic", "personalized", "checkup")),
            _c("sign_date", "date", event=True),
            _c("start_date", "date"),
            _c("end_date", "date"),
            _c("status", enum=("active", "terminated", "expired")),
            *_money("fee_total", "fee_city", "fee_district", "fee_self"),
            _c("district_hospital_code", required=False, ref="facility"),
            _c("city_hospital_code", required=False, ref="facility"),
            _c("renewal_of", required=False),
        ),
        key=("contract_id",),
        kind="daily",
        event_date="sign_date",
        sums=(SumRule("fee_total", ("fee_city", "fee_district", "fee_self")),),
        ordered=(("start_date", "end_date"),),
        delivered_by=CENTRE_TYPES,
    ),
    Dataset(
        "chronic_followups",
        (
            _c("followup_id"),
            _c("facility_code", ref="facility"),
            _c("team_code", ref="team"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("disease", enum=("hypertension", "diabetes")),
            _c("followup_date", "date", event=True),
            _c("mode", enum=("clinic", "home", "phone", "online")),
            _c("sbp", "int", required=False, min=50, max=300),
            _c("dbp", "int", required=False, min=30, max=200),
            _c("fasting_glucose", "decimal", required=False, min=1, max=40),
            _c("medication_adherence", required=False, enum=("regular", "intermittent", "none")),
            _c("referred", "bool", required=False),
        ),
        key=("followup_id",),
        kind="daily",
        event_date="followup_date",
        required_when=(
            ("sbp", "disease", "hypertension"),
            ("dbp", "disease", "hypertension"),
            ("fasting_glucose", "disease", "diabetes"),
        ),
        delivered_by=CENTRE_TYPES,
    ),
    Dataset(
        "health_checkups",
        (
            _c("checkup_id"),
            _c("facility_code", ref="facility"),
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("checkup_date", "date", event=True),
            _c("checkup_type", enum=("elderly_annual", "general", "other")),
            _c("items_completed", "int", min=0, max=8),
            _c("sbp", "int", required=False, min=50, max=300),
            _c("dbp", "int", required=False, min=30, max=200),
            _c("fasting_glucose", "decimal", required=False, min=1, max=40),
            _c("bmi", "decimal", required=False, min=10, max=80),
            _c("abnormal_findings", "int", min=0),
        ),
        key=("checkup_id",),
        kind="daily",
        event_date="checkup_date",
        delivered_by=CENTRE_TYPES,
    ),
    Dataset(
        "health_records",
        (
            _c("resident_id", pattern=RESIDENT_ID_PATTERN),
            _c("facility_code", ref="facility"),
            _c("id_card_no", required=False, personal="id_card"),
            _c("name", required=False, personal="drop"),
            _c("phone", required=False, personal="drop"),
            _c("sex", enum=("M", "F")),
            _c("birth_date", "date", event=True),
            _c("region_code", ref="community"),
            _c("registered_date", "date", event=True),
            _c("updated_date", "date", required=False, event=True),
            *[
                _c(f, "bool")
                for f in (
                    "hypertension",
                    "diabetes",
                    "tuberculosis",
                    "severe_mental_disorder",
                    "disability",
                    "pregnant",
                    "low_income",
                )
            ],
            *[
                _c(f, required=False)
                for f in (
                    "blood_type",
                    "allergy_history",
                    "past_history",
                    "family_history",
                    "occupation",
                    "education",
                )
            ],
        ),
        key=("resident_id",),
        kind="daily",
        event_date="registered_date",
        ordered=(("birth_date", "registered_date"),),
        delivered_by=CENTRE_TYPES,
    ),
)

# A record is complete when these six are non-empty (plus the always-required identity fields).
RECORD_COMPLETENESS_FIELDS: tuple[str, ...] = (
    "blood_type",
    "allergy_history",
    "past_history",
    "family_history",
    "occupation",
    "education",
)

DATASETS: dict[str, Dataset] = {d.name: d for d in REFERENCE + DAILY}
# What a column's ``ref`` points at: the reference dataset and its code column.
REFERENCES: dict[str, tuple[str, str]] = {
    "facility": ("facilities", "facility_code"),
    "team": ("teams", "team_code"),
    "drug": ("drugs", "drug_code"),
    "region": ("regions", "region_code"),
    "community": ("regions", "region_code"),
}
DAILY_NAMES: tuple[str, ...] = tuple(d.name for d in DAILY)
REFERENCE_NAMES: tuple[str, ...] = tuple(d.name for d in REFERENCE)

# Lineage columns the loader adds to every raw daily table.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_delivery_facility", "VARCHAR"),  # folder facility (a centre delivers its stations' rows)
    ("_business_date", "DATE"),
    ("_delivery_version", "INTEGER"),
    ("_file_name", "VARCHAR"),
    ("_line_no", "BIGINT"),
    ("_batch_id", "BIGINT"),
)
REFERENCE_LINEAGE: tuple[tuple[str, str], ...] = (
    ("_snapshot_sha256", "VARCHAR"),
    ("_batch_id", "BIGINT"),
)


def personal_columns(ds: Dataset) -> list[str]:
    return [c.name for c in ds.columns if c.personal]


def datasets_for(facility_type: str) -> tuple[str, ...]:
    """Daily datasets a facility of this type delivers (stations report inside their centre)."""
    return tuple(d.name for d in DAILY if facility_type in d.delivered_by)
