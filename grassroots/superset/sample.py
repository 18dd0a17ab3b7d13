"""A tiny hand-made warehouse with the marts' exact columns, for dashboard tests and previews.

The column lists and types come from the dbt contracts (``dbt/models/marts/**/*.yml``), so the
sample follows the real marts whenever they change.  Values are random but keyed on a small,
consistent region (2 districts, 3 communities, 4 facilities of which 2 hospitals, 3 teams, 12
months of 2025, annual marts for the completed year).  The metric catalogue is the real dbt seed;
the name dimensions and the month calendar mirror the intermediate models the publisher reads;
``audit.validation_*`` holds a month of GX results.
"""

from __future__ import annotations

import csv
import itertools
import random
from datetime import date, datetime, time, timedelta
from pathlib import Path

import duckdb
import yaml

from grassroots.warehouse import VALIDATION_DDL

ROOT = Path(__file__).resolve().parents[2]
MARTS_DIR = ROOT / "dbt" / "models" / "marts"
CATALOGUE_CSV = ROOT / "dbt" / "seeds" / "metric_catalogue.csv"

DISTRICTS = [("330102000000", "上城区"), ("330122000000", "桐庐县")]
COMMUNITIES = [  # region_code, name, street_code, street_name, district_code
    ("330102001001", "湖滨社区", "330102001000", "湖滨街道", "330102000000"),
    ("330102001002", "东坡社区", "330102001000", "湖滨街道", "330102000000"),
    ("330122101201", "桐君村", "330122101000", "桐君街道", "330122000000"),
]
FACILITIES = [  # code, name, type, level_group, district, alliance, community
    ("H330102001", "市第一人民医院", "general_hospital", "level_3", "330102000000", "A01", "330102001001"),
    ("H330122001", "县人民医院", "general_hospital", "level_2", "330122000000", "A02", "330122101201"),
    ("C330102001", "湖滨社区卫生服务中心", "community_health_centre", "grassroots", "330102000000", "A01", "330102001002"),
    ("C330122001", "桐君街道社区卫生服务中心", "community_health_centre", "grassroots", "330122000000", "A02", "330122101201"),
]
HOSPITALS = [f[0] for f in FACILITIES if f[3] != "grassroots"]
TEAMS = [  # team, name, facility, community
    ("T0001", "张医生团队", "C330102001", "330102001001"),
    ("T0002", "李医生团队", "C330102001", "330102001002"),
    ("T0003", "王医生团队", "C330122001", "330122101201"),
]
DRUGS = [("D001", "氨氯地平片", "C08CA01", False, True), ("D002", "二甲双胍片", "A10BA02", False, True),
         ("D003", "阿莫西林胶囊", "J01CA04", True, False)]
ICD = [("I10", "Essential hypertension", "特发性（原发性）高血压", "IX", "循环系统疾病"),
       ("E11", "Type 2 diabetes", "2型糖尿病", "IV", "内分泌、营养和代谢疾病"),
       ("J06", "Acute upper respiratory infections", "多发和未特指部位的急性上呼吸道感染", "X", "呼吸系统疾病"),
       ("K29", "Gastritis", "胃炎和十二指肠炎", "XI", "消化系统疾病")]
MONTHS = [date(2025, m, 1) for m in range(1, 13)]
DAYS = [date(2025, 12, 1) + timedelta(days=i) for i in range(31)]


def _month_end(d: date) -> date:
    nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def mart_contracts() -> dict[str, list[tuple[str, str]]]:
    """{model name: [(column, data_type)]} from the dbt contracts."""
    out: dict[str, list[tuple[str, str]]] = {}
    for yml in sorted(MARTS_DIR.rglob("*.yml")):
        doc = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
        for model in doc.get("models", []):
            out[model["name"]] = [
                (c["name"], c.get("data_type", "varchar")) for c in model.get("columns", [])
            ]
    return out


def _entities(cols: set[str]) -> list[dict]:
    if "team_code" in cols:
        return [{"team_code": t, "facility_code": f, "region_code": r,
                 "district_code": next(c[4] for c in COMMUNITIES if c[0] == r)} for t, _, f, r in TEAMS]
    if "region_code" in cols:
        return [{"region_code": c[0], "district_code": c[4]} for c in COMMUNITIES]
    if "facility_code" in cols:
        return [{"facility_code": f[0], "facility_type": f[2], "level_group": f[3],
                 "district_code": f[4], "alliance_code": f[5]} for f in FACILITIES]
    if "district_code" in cols:
        return [{"district_code": d[0]} for d in DISTRICTS]
    if "level_group" in cols:
        return [{"level_group": g} for g in ("grassroots", "level_2", "level_3")]
    if "alliance_code" in cols:
        return [{"alliance_code": a} for a in ("A01", "A02")]
    if "facility_type" in cols:
        return [{"facility_type": t} for t in ("general_hospital", "community_health_centre")]
    return [{}]


def _extras(cols: set[str]) -> list[dict]:
    out: list[dict] = [{}]
    if "drug_code" in cols:
        out = [{"drug_code": d, "generic_name": n, "atc_code": a, "is_antibiotic": ab, "is_essential": True,
                "is_vbp": v} for d, n, a, ab, v in DRUGS]
    if "icd10_category" in cols:
        out = [{"icd10_category": c, "title_en": t, "title_zh": tz, "chapter": ch, "chapter_title_zh": z,
                "chapter_range": ch, "chapter_title_en": t} for c, t, tz, ch, z in ICD]
    if "disease" in cols:
        out = [{"disease": d} for d in ("hypertension", "diabetes")]
    if "setting" in cols:
        out = [dict(e, setting=s) for e in out for s in ("outpatient", "inpatient")]
    return out


def _times(cols: set[str]) -> list[dict]:
    if "month" in cols:
        return [{"month": m} for m in MONTHS]
    if "year" in cols:  # annual marts: a completed year, measured on its last day
        return [{"year": 2025, "as_of_date": date(2025, 12, 31), "is_complete": True}]
    if "as_of_date" in cols:
        return [{"as_of_date": _month_end(m)} for m in MONTHS]
    if "business_date" in cols:
        return [{"business_date": d} for d in DAYS]
    return [{}]


def _value(rng: random.Random, col: str, dtype: str):
    t = dtype.lower()
    if t.startswith(("bigint", "integer")):
        if col in ("year",):
            return 2025
        if col.startswith("population") or col in ("population", "key_population"):
            return rng.randint(800, 3000)
        return rng.randint(20, 400)
    if t.startswith(("double", "decimal")):
        if "rate" in col or "share" in col or "growth" in col:
            return round(rng.random(), 4)
        return round(rng.uniform(100, 20000), 2)
    if t == "boolean":
        return rng.random() < 0.5
    if t == "date":
        return date(2025, 6, 1)
    if t == "timestamp":
        return None
    if col == "delivery_status":
        return rng.choice(["on_time", "late", "missing"])
    return f"{col}_x"


def _plausible_ratios(con, cat: list[dict], contracts: dict) -> None:
    """Make every catalogue ratio numerator <= its denominator (30-95 %), two passes."""
    for _ in range(2):
        for r in cat:
            cols = dict(contracts.get(r["mart"], []))
            num, den = r["numerator"], r["denominator"]
            if r["unit"] != "ratio" or num not in cols or den not in cols:
                continue
            # the same pair in the roll-up marts of the same family
            for model, mcols in contracts.items():
                names = dict(mcols)
                if model.startswith(r["mart"]) and num in names and den in names:
                    con.execute(
                        # a share from a hash of the row, not random(): the same sample in
                        # every process (tests read fixed facts off it, e.g. a district < 65 %)
                        f'update marts.{model} set "{num}" = cast(floor("{den}" * (0.3 + '
                        f"(hash(rowid, '{model}.{num}') % 1000) / 1000.0 * 0.65)) as {names[num]})"
                    )


SAMPLE_CHECKS = [  # layer, suite, check_id, category, severity
    ("raw", "raw.outpatient_visits", "raw.outpatient_visits:total_fee:column_values_to_be_between",
     "plausibility", "error"),
    ("raw", "raw.outpatient_visits", "raw.outpatient_visits:visit_type:column_values_to_be_in_set",
     "conformance", "error"),
    ("marts", "marts.mart_grassroots_visits",
     "marts.mart_grassroots_visits:grassroots_share:column_values_to_be_between", "plausibility",
     "warning"),
    ("marts", "outliers.visit_volume", "outliers.visit_volume:z_score:column_values_to_be_between",
     "plausibility", "warning"),
]


def _validation_history(con: duckdb.DuckDBPyConnection, rng: random.Random) -> None:
    """A GX result per day and layer, some days with failures (the 数据质量 trend charts)."""
    con.execute(VALIDATION_DDL)
    for d in DAYS:
        at = datetime.combine(d + timedelta(days=1), time(7, 30))
        for layer, evaluated, suites in (("raw", 447, 14), ("marts", 380, 30)):
            fails = [c for c in SAMPLE_CHECKS if c[0] == layer and rng.random() < 0.25]
            errors = [c for c in fails if c[4] == "error"]
            con.execute(
                "insert into audit.validation_results values (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                [d, layer, not errors, evaluated, len(errors), len(fails) - len(errors),
                 sum(c[1] == "outliers.visit_volume" for c in fails), suites,
                 ",".join(c[2] for c in errors) or None, at])
            for _, suite, cid, cat, sev in fails:
                con.execute("insert into audit.validation_failures values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [d, layer, suite, cid, cat, sev, "3 unexpected (0.50%)", 3, at])


CHRONIC_TARGETS = {"managed_share_target": "managed_share", "standard_mgmt_target": "standard_mgmt_rate",
                   "control_target": "control_rate"}


def _chronic_union(con: duckdb.DuckDBPyConnection) -> None:
    """mart_chronic_followup*: the two disease marts' rows, each with the catalogue targets of its
    disease's indicators (codes htn_<rate> and dm_<rate>), as dbt builds them."""
    for suffix in ("followup", "followup_by_community"):
        union = f"marts.mart_chronic_{suffix}"
        cols = {c for (c,) in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts'"
            " and table_name = ?", [f"mart_chronic_{suffix}"]).fetchall()}
        con.execute(f"delete from {union}")
        for disease, prefix in (("hypertension", "htn"), ("diabetes", "dm")):
            picks = ", ".join(f"(select target from reference.metric_catalogue where code = '{prefix}_{rate}') as {c}"
                              for c, rate in CHRONIC_TARGETS.items() if c in cols)
            con.execute(f"insert into {union} by name select '{disease}' as disease, *, {picks}"
                        f" from marts.mart_{disease}_{suffix}")


def _dims(con: duckdb.DuckDBPyConnection) -> None:
    """The name dimensions and the month calendar, as the intermediate models the publisher reads."""
    con.execute(
        "create table intermediate.int_regions_hierarchy (region_code varchar, community_name varchar,"
        " street_code varchar, street_name varchar, district_code varchar, district_name varchar)"
    )
    dn = dict(DISTRICTS)
    con.executemany(
        "insert into intermediate.int_regions_hierarchy values (?,?,?,?,?,?)",
        [[c[0], c[1], c[2], c[3], c[4], dn[c[4]]] for c in COMMUNITIES],
    )
    con.execute(
        "create table staging.stg_raw__regions (region_code varchar, region_name varchar,"
        " region_level varchar)"
    )
    con.executemany(
        "insert into staging.stg_raw__regions values (?,?,'district')", [list(d) for d in DISTRICTS]
    )
    con.execute(
        "create table intermediate.int_facilities_classified (facility_code varchar,"
        " facility_name varchar, facility_type varchar, level_group varchar, district_code varchar,"
        " district_name varchar, alliance_code varchar, is_grassroots boolean)"
    )
    con.executemany(
        "insert into intermediate.int_facilities_classified values (?,?,?,?,?,?,?,?)",
        [[f[0], f[1], f[2], f[3], f[4], dn[f[4]], f[5], f[3] == "grassroots"] for f in FACILITIES],
    )
    con.execute(
        "create table intermediate.int_calendar_months as select month, month_end, month_end as as_of_date,"
        " true as is_complete, max(month_end) over () as data_as_of, year(month) as year from"
        " (select unnest(?::date[]) as month, last_day(month) as month_end)", [MONTHS])
    con.execute(
        "create table staging.stg_raw__teams (team_code varchar, team_name varchar,"
        " facility_code varchar)"
    )
    con.executemany(
        "insert into staging.stg_raw__teams values (?,?,?)", [[t[0], t[1], t[2]] for t in TEAMS]
    )


def build_sample_warehouse(path: Path, *, seed: int = 7) -> Path:
    """Write a small DuckDB warehouse with schemas marts, reference, intermediate, staging."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    rng = random.Random(seed)
    con = duckdb.connect(str(path))
    try:
        for s in ("marts", "reference", "intermediate", "staging"):
            con.execute(f"create schema {s}")
        for model, columns in mart_contracts().items():
            names = [c for c, _ in columns]
            cols = set(names)
            ddl = ", ".join(f'"{c}" {t}' for c, t in columns)
            con.execute(f"create table marts.{model} ({ddl})")
            rows = []
            for ent, ext, tim in itertools.product(_entities(cols), _extras(cols), _times(cols)):
                fixed = {**ent, **ext, **tim}
                rows.append([fixed[c] if c in fixed else _value(rng, c, t) for c, t in columns])
            con.executemany(
                f"insert into marts.{model} values ({', '.join('?' for _ in names)})", rows
            )
        with CATALOGUE_CSV.open(encoding="utf-8") as f:
            cat = list(csv.DictReader(f))
        _plausible_ratios(con, cat, mart_contracts())
        con.execute(
            "create table reference.metric_catalogue (code varchar, mart varchar, column_name varchar,"
            " name_zh varchar, name_en varchar, numerator varchar, denominator varchar, unit varchar,"
            " target double, direction varchar, source_document varchar, source_year integer,"
            " scope varchar, version integer)"
        )
        con.executemany(
            "insert into reference.metric_catalogue values (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [[r["code"], r["mart"], r["column_name"], r["name_zh"], r["name_en"], r["numerator"],
              r["denominator"], r["unit"], float(r["target"]) if r["target"] else None, r["direction"],
              r["source_document"], int(r["source_year"] or 0), r["scope"], int(r["version"] or 1)]
             for r in cat],
        )
        _chronic_union(con)
        _dims(con)
        _validation_history(con, rng)
    finally:
        con.close()
    return path
