"""The data-quality checks as data: GX expectation suites derived from the contract and the dbt marts.

No Great Expectations import here (it is slow): a suite is a plain dict in GX 1.x's JSON shape
(``{"name", "meta", "expectations": [{"type", "kwargs", "meta"}]}``), written to
``expectations/suites/*.json`` by :func:`write_expectations` and loaded into a GX context by
``grassroots.quality.runner``.  ``tests/test_quality.py`` checks that the committed JSON equals what
this module generates, so the suites cannot drift from ``grassroots/contract.py`` (raw) or the
dbt model contracts (marts).

Every expectation carries ``meta.category`` — one of the Kahn et al. (2016) categories that
OHDSI's Data Quality Dashboard uses — and ``meta.subcategory`` / ``meta.severity``:

* conformance   (value: every raw table's columns)
* completeness  (conditional: empty optional values against the facility's history)
* plausibility  (atemporal: a day's datasets agree, rates in their band; temporal: census
  balance, shares and volume against the facility's history)

Row rules are the loader's and grain, nulls and declared rate bounds dbt's; no suite repeats
them.
``severity`` is ``error`` (fails the validation) or ``warning`` (reported, does not fail).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from grassroots.settings import REPO

EXPECTATIONS_DIR = REPO / "expectations"
DBT_MARTS_DIR = REPO / "dbt" / "models" / "marts"

CATEGORIES: dict[str, str] = {
    "conformance": "values adhere to the specified formats, types, enums and patterns",
    "completeness": "required values are present",
    "plausibility": "values are believable: ranges, uniqueness, order in time, volume over time",
}

# Mart plausibility beyond "rates in [0, 1]": (min, max, severity, why).
MART_RANGES: dict[str, tuple[float | None, float | None, str, str]] = {
    # 基层诊疗量占比: the national target is >= 0.65; outside 5-98 % a month-district is suspect
    "grassroots_share": (0.05, 0.98, "warning", "基层诊疗量占比 plausible range"),
    # 病床使用率: extra beds (加床) allow > 1, beyond 150 % the census is suspect
    "bed_utilization_rate": (0.0, 1.5, "warning", "病床使用率 plausible range (加床 allowed)"),
}
# Rate/share columns that are legitimately outside [0, 1] (growth, per-visit ratios, ...).
UNBOUNDED_RATES = {"bed_utilization_rate", "referral_rate"}

# Day-over-day outlier check (DHIS2-style): z-score of a facility's daily visit volume against its
# own recent history.
OUTLIER_SUITE = "outliers.visit_volume"
OUTLIER_WINDOW_DAYS = 28
OUTLIER_MIN_HISTORY = 7
# A facility seeing fewer visits a day than this is not scored: a station's 3 visits a day
# becoming 9 is ordinary Poisson noise, not a data problem, however large its z-score.
OUTLIER_MIN_MEAN = 5.0
OUTLIER_Z = 3.0


def _exp(type_: str, category: str, subcategory: str, severity: str = "error",
         description: str = "", **kwargs) -> dict:
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {
            "category": category,
            "subcategory": subcategory,
            "severity": severity,
            "description": description,
        },
    }


# ---------------------------------------------------------------------------------------------
# Raw suites: the columns of every table, and each delivery as a whole


def raw_columns_suite() -> dict:
    """Every raw table has exactly the contract's stored columns: a clear id number, name or
    phone column can never appear.  Everything row by row (types, codes, ranges, keys, order)
    is the loader's quarantine; repeating it here could only catch a loader bug."""
    return {
        "name": "raw.columns",
        "meta": {"layer": "raw", "frame": "columns",
                 "generated_from": "grassroots/contract.py"},
        "expectations": [
            _exp("expect_column_values_to_be_in_set", "conformance", "value",
                 description="each raw table has exactly the contract's stored columns plus "
                             "lineage (no clear personal data)",
                 column="problem", value_set=["ok"]),
        ],
    }


# A facility's delivery as a whole (grassroots/quality/reconcile.py reads each frame): against
# its other datasets of the day and against its own recent history.  Warnings: the figures are
# loaded and reported; a person should look at the facility.
RECONCILE_Z = 4.0
NULL_SHARE_SHIFT = 0.5
DRUG_FEE_COVERED = 0.8
CENSUS_BALANCE_BEDS = 2

RECONCILE: dict[str, tuple[str, str, dict, str]] = {
    # frame: (category, subcategory, expectation kwargs, description)
    "census_discharges": (
        "plausibility", "atemporal", {"column": "excess_gap", "max_value": 0},
        "the bed census's discharges match the discharge records of the day "
        "(within 2 or 10 %)"),
    "census_balance": (
        "plausibility", "temporal", {"column": "balance_gap", "max_value": CENSUS_BALANCE_BEDS},
        f"a ward's occupied beds = yesterday's + admissions − discharges (within "
        f"{CENSUS_BALANCE_BEDS})"),
    "prescribed_visits": (
        "plausibility", "temporal",
        {"column": "z_score", "min_value": -RECONCILE_Z, "max_value": RECONCILE_Z},
        f"the share of visits with a prescription is within {RECONCILE_Z:g} standard errors "
        "of the facility's previous 28 days"),
    "drug_fees": (
        "plausibility", "atemporal", {"column": "covered_share", "min_value": DRUG_FEE_COVERED},
        f"prescription lines cover at least {DRUG_FEE_COVERED:.0%} of the visits' drug fees"),
    "null_shares": (
        "completeness", "conditional",
        {"column": "null_share_shift", "min_value": -NULL_SHARE_SHIFT,
         "max_value": NULL_SHARE_SHIFT},
        f"an optional column's share of empty values moves less than {NULL_SHARE_SHIFT:.0%} "
        "from the facility's previous 28 days"),
}


def reconcile_suite(frame: str) -> dict:
    category, sub, kwargs, why = RECONCILE[frame]
    return {
        "name": f"reconcile.{frame}",
        "meta": {"layer": "raw", "frame": frame,
                 "generated_from": "grassroots/quality/checks.py"},
        "expectations": [_exp("expect_column_values_to_be_between", category, sub,
                              severity="warning", description=why, **kwargs)],
    }


# ---------------------------------------------------------------------------------------------
# Mart suites (from the dbt model definitions: what their tests do not bound)


def mart_models(marts_dir: Path = DBT_MARTS_DIR) -> list[dict]:
    """The dbt mart models (``marts/**/_*.yml``) in name order."""
    models = []
    for path in sorted(marts_dir.rglob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for m in doc.get("models", []) or []:
            if str(m.get("name", "")).startswith("mart_"):
                models.append(m)
    return sorted(models, key=lambda m: m["name"])


def mart_names(marts_dir: Path = DBT_MARTS_DIR) -> list[str]:
    return [m["name"] for m in mart_models(marts_dir)]


def proportion_checked_by_dbt(column: dict) -> bool:
    """The column is held to [0, 1] when the mart is built: a check constraint of its contract."""
    bound = f"{column['name']} between 0 and 1"
    return any(c.get("type") == "check" and c.get("expression") == bound
               for c in column.get("constraints", []) or [])


def mart_suite(model: dict) -> dict:
    """Rates and shares in their plausible band.  The columns, types, nulls, proportions and
    grain are the dbt contract's and tests' (checked when the mart is built); a mart suite does
    not repeat them."""
    name = model["name"]
    ex: list[dict] = []
    for c in model.get("columns", []) or []:
        col = c["name"]
        if col in MART_RANGES:
            lo, hi, severity, why = MART_RANGES[col]
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           severity=severity, description=why, column=col,
                           min_value=lo, max_value=hi))
        elif (not proportion_checked_by_dbt(c) and col.endswith(("_rate", "_share"))
              and col not in UNBOUNDED_RATES):
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           description=f"{col} is a proportion", column=col,
                           min_value=0, max_value=1))
    return {
        "name": f"marts.{name}",
        "meta": {"layer": "marts", "model": name,
                 "generated_from": "dbt/models/marts/**/_*.yml (model contracts)"},
        "expectations": ex,
    }


def outlier_suite() -> dict:
    return {
        "name": OUTLIER_SUITE,
        "meta": {
            "layer": "marts",
            "generated_from": "grassroots/quality/checks.py",
            "window_days": OUTLIER_WINDOW_DAYS,
            "min_history_days": OUTLIER_MIN_HISTORY,
            "min_mean_visits": OUTLIER_MIN_MEAN,
        },
        "expectations": [
            _exp("expect_column_values_to_be_between", "plausibility", "temporal",
                 severity="warning",
                 description=(f"|z| <= {OUTLIER_Z:g}: a facility's daily visit volume against its "
                              f"own previous {OUTLIER_WINDOW_DAYS} days (DHIS2-style outlier)"),
                 column="z_score", min_value=-OUTLIER_Z, max_value=OUTLIER_Z),
        ],
    }


# ---------------------------------------------------------------------------------------------
# All suites, the checks-by-category table, writing and reading


def all_suites(marts_dir: Path = DBT_MARTS_DIR) -> list[dict]:
    marts = [mart_suite(m) for m in mart_models(marts_dir)]
    suites = ([raw_columns_suite()]
              + [reconcile_suite(f) for f in RECONCILE]
              + [s for s in marts if s["expectations"]] + [outlier_suite()])
    for s in suites:  # a stable, unique id per check, carried in the expectation's meta
        seen: dict[str, int] = {}
        for e in s["expectations"]:
            cid = check_id(s, e)
            seen[cid] = seen.get(cid, 0) + 1
            if seen[cid] > 1:
                cid = f"{cid}#{seen[cid]}"
            e["meta"] = {"check_id": cid, **e["meta"]}
    return suites


def check_id(suite: dict, exp: dict) -> str:
    if "check_id" in exp.get("meta", {}):
        return exp["meta"]["check_id"]
    kw = exp["kwargs"]
    target = kw.get("column") or "+".join(kw.get("column_list", [])) or (
        f"{kw['column_A']}>={kw['column_B']}" if "column_A" in kw else "table")
    short = exp["type"].removeprefix("expect_")
    cond = f"[{kw['row_condition']}]" if "row_condition" in kw else ""
    return f"{suite['name']}:{target}{cond}:{short}"


CHECK_TABLE_COLUMNS = ("check_id", "suite", "layer", "category", "subcategory", "severity",
                       "expectation", "target", "description")


def check_table(suites: list[dict]) -> list[dict]:
    rows = []
    for s in suites:
        for e in s["expectations"]:
            kw = e["kwargs"]
            rows.append({
                "check_id": check_id(s, e),
                "suite": s["name"],
                "layer": s["meta"]["layer"],
                "category": e["meta"]["category"],
                "subcategory": e["meta"]["subcategory"],
                "severity": e["meta"]["severity"],
                "expectation": e["type"],
                "target": kw.get("column") or ",".join(kw.get("column_list", []))
                or ",".join(x for x in (kw.get("column_A"), kw.get("column_B")) if x) or "table",
                "description": e["meta"]["description"],
            })
    return rows


def render_files(suites: list[dict]) -> dict[str, str]:
    """Relative path under ``expectations/`` → file content, for every generated file."""
    files = {f"suites/{s['name']}.json": json.dumps(s, ensure_ascii=False, indent=2) + "\n"
             for s in suites}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CHECK_TABLE_COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(check_table(suites))
    files["checks_by_category.csv"] = buf.getvalue()
    counts: dict[tuple[str, str, str], int] = {}
    for r in check_table(suites):
        k = (r["layer"], r["category"], r["subcategory"])
        counts[k] = counts.get(k, 0) + 1
    lines = ["layer,category,subcategory,checks"] + [
        f"{a},{b},{c},{n}" for (a, b, c), n in sorted(counts.items())]
    files["summary_by_category.csv"] = "\n".join(lines) + "\n"
    return files


def write_expectations(out: Path = EXPECTATIONS_DIR, marts_dir: Path = DBT_MARTS_DIR) -> list[Path]:
    """(Re)generate ``expectations/suites/*.json`` and the category tables; returns the paths."""
    files = render_files(all_suites(marts_dir))
    suites_dir = out / "suites"
    suites_dir.mkdir(parents=True, exist_ok=True)
    for stale in suites_dir.glob("*.json"):
        if f"suites/{stale.name}" not in files:
            stale.unlink()
    written = []
    for rel, content in files.items():
        p = out / rel
        p.write_text(content, encoding="utf-8")
        written.append(p)
    return written


def load_suites(layer: str | None = None, path: Path = EXPECTATIONS_DIR) -> list[dict]:
    """The committed suites (``expectations/suites/*.json``), optionally of one layer."""
    suites = [json.loads(p.read_text(encoding="utf-8"))
              for p in sorted((path / "suites").glob("*.json"))]
    return [s for s in suites if layer is None or s["meta"]["layer"] == layer]


if __name__ == "__main__":
    for p in write_expectations():
        print(p.relative_to(REPO))
