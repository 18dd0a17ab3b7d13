"""The data-quality checks as data: GX expectation suites derived from the contract and the dbt marts.

No Great Expectations import here (it is slow): a suite is a plain dict in GX 1.x's JSON shape
(``{"name", "meta", "expectations": [{"type", "kwargs", "meta"}]}``), written to
``expectations/suites/*.json`` by :func:`write_expectations` and loaded into a GX context by
``grassroots.quality.gx``.  ``tests/test_quality.py`` checks that the committed JSON equals what
this module generates, so the suites cannot drift from ``grassroots/contract.py`` (raw) or the
dbt model contracts (marts).

Every expectation carries ``meta.category`` — one of the Kahn et al. (2016) categories that
OHDSI's Data Quality Dashboard uses — and ``meta.subcategory`` / ``meta.severity``:

* conformance   (value: columns, types, enums, patterns; relational/computational are enforced by
  the loader's quarantine rules and dbt relationship tests)
* completeness  (required values present)
* plausibility  (atemporal: ranges, uniqueness; temporal: ordered dates, day-over-day volume)

``severity`` is ``error`` (fails the validation) or ``warning`` (reported, does not fail).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from grassroots.contract import DAILY, LINEAGE_COLUMNS, REFERENCE, REFERENCE_LINEAGE, Dataset
from grassroots.rules import ICD10_PATTERN
from grassroots.settings import REPO

EXPECTATIONS_DIR = REPO / "expectations"
DBT_MARTS_DIR = REPO / "dbt" / "models" / "marts"

CATEGORIES: dict[str, str] = {
    "conformance": "values adhere to the specified formats, types, enums and patterns",
    "completeness": "required values are present",
    "plausibility": "values are believable: ranges, uniqueness, order in time, volume over time",
}

# pandas dtypes a DuckDB column of each logical type arrives as through ``.df()``; text columns
# are converted to ``object`` before validation (GX's type check cannot handle pandas 3's ``str``
# dtype), so each value's Python type is checked.
PANDAS_TYPES: dict[str, list[str]] = {
    "text": ["str"],
    "int": ["int64", "Int64Dtype"],
    "money": ["float64", "Float64Dtype"],
    "decimal": ["float64", "Float64Dtype"],
    "date": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]", "datetime64[s]"],
    "bool": ["bool", "BooleanDtype"],
}

# Value shapes the standard states in prose (docs/standard.md) that the loader does not check
# (identifier formats it checks are the contract's ``Column.pattern``).
PATTERNS: dict[str, str] = {
    "id_card_hash": r"^[0-9a-f]{64}$",
    "diagnosis_code": ICD10_PATTERN,
    "region_code": r"^[0-9]{12}$",
    "district_code": r"^[0-9]{12}$",
    "parent_code": r"^[0-9]{12}$",
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
# Raw suites (one per dataset of the standard)


def raw_columns(ds: Dataset) -> list[str]:
    lineage = LINEAGE_COLUMNS if ds.kind == "daily" else REFERENCE_LINEAGE
    return [c.stored_name for c in ds.stored_columns] + [n for n, _ in lineage]


def raw_suite(ds: Dataset) -> dict:
    ex: list[dict] = [
        _exp("expect_table_columns_to_match_set", "conformance", "value",
             description="the table has exactly the contract's stored columns plus lineage",
             column_set=raw_columns(ds), exact_match=True),
    ]
    for c in ds.stored_columns:
        col = c.stored_name
        ex.append(_exp("expect_column_values_to_be_in_type_list", "conformance", "value",
                       description=f"{col} is of contract type {c.type}",
                       column=col, type_list=PANDAS_TYPES[c.type]))
        if c.enum:
            values = [int(v) for v in c.enum] if c.type == "int" else list(c.enum)
            ex.append(_exp("expect_column_values_to_be_in_set", "conformance", "value",
                           description=f"{col} is one of the standard's codes",
                           column=col, value_set=values))
        pattern = "^[0-9a-f]{64}$" if c.personal == "id_card" else (c.pattern
                                                                     or PATTERNS.get(col))
        if pattern and c.type == "text":
            ex.append(_exp("expect_column_values_to_match_regex", "conformance", "value",
                           description=f"{col} has the standard's shape", column=col,
                           regex=pattern))
    for c in ds.stored_columns:
        if c.required:
            ex.append(_exp("expect_column_values_to_not_be_null", "completeness", "required",
                           description=f"{c.stored_name} is required", column=c.stored_name))
    for col, when_col, when_val in ds.required_when:
        ex.append(_exp("expect_column_values_to_not_be_null", "completeness", "conditional",
                       description=f"{col} is required when {when_col} = {when_val}",
                       column=col, row_condition=f'{when_col}=="{when_val}"',
                       condition_parser="pandas"))
    lineage = LINEAGE_COLUMNS if ds.kind == "daily" else REFERENCE_LINEAGE
    for name, _ in lineage:
        ex.append(_exp("expect_column_values_to_not_be_null", "completeness", "lineage",
                       description=f"lineage column {name} is set", column=name))
    for c in ds.stored_columns:
        if c.min is not None or c.max is not None:
            kw = {"column": c.stored_name}
            if c.min is not None:
                kw["min_value"] = c.min
            if c.max is not None:
                kw["max_value"] = c.max
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           description=f"{c.stored_name} within the standard's range", **kw))
    key = list(ds.key) + (["_business_date"] if ds.kind == "daily" else [])
    if len(key) == 1:
        ex.append(_exp("expect_column_values_to_be_unique", "plausibility", "uniqueness",
                       description="key is unique", column=key[0]))
    else:
        ex.append(_exp("expect_compound_columns_to_be_unique", "plausibility", "uniqueness",
                       description="key is unique" + (" within a business date" if
                                                      ds.kind == "daily" else ""),
                       column_list=key))
    for earlier, later in ds.ordered:
        ex.append(_exp("expect_column_pair_values_a_to_be_greater_than_b", "plausibility",
                       "temporal", description=f"{later} is not before {earlier}",
                       column_A=later, column_B=earlier, or_equal=True,
                       ignore_row_if="either_value_is_missing"))
    return {
        "name": f"raw.{ds.name}",
        "meta": {"layer": "raw", "dataset": ds.name, "kind": ds.kind,
                 "generated_from": "grassroots/contract.py"},
        "expectations": ex,
    }


# ---------------------------------------------------------------------------------------------
# Mart suites (derived from the dbt model contracts: columns, data types and grain tests)


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


def _tests(node: dict) -> list[tuple[str, dict]]:
    out = []
    for t in node.get("data_tests", node.get("tests", [])) or []:
        if isinstance(t, str):
            out.append((t, {}))
        elif isinstance(t, dict):
            for name, cfg in t.items():
                cfg = cfg or {}
                out.append((name, cfg.get("arguments", cfg)))
    return out


def mart_suite(model: dict) -> dict:
    name = model["name"]
    cols = model.get("columns", []) or []
    ex: list[dict] = [
        _exp("expect_table_columns_to_match_set", "conformance", "value",
             description="the mart has the columns of its dbt contract",
             column_set=[c["name"] for c in cols], exact_match=True),
    ]
    for c in cols:
        col, dtype = c["name"], str(c.get("data_type", "")).lower()
        tests = dict(_tests(c))
        if "not_null" in tests:
            ex.append(_exp("expect_column_values_to_not_be_null", "completeness", "required",
                           description=f"{col} is set", column=col))
        if col in MART_RANGES:
            lo, hi, severity, why = MART_RANGES[col]
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           severity=severity, description=why, column=col,
                           min_value=lo, max_value=hi))
        if "rate_between" in tests:
            args = tests["rate_between"]
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           description=f"{col} is a proportion", column=col,
                           min_value=args.get("min_value", 0), max_value=args.get("max_value", 1)))
        elif (col.endswith("_rate") or col.endswith("_share")) and col not in UNBOUNDED_RATES:
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           description=f"{col} is a proportion", column=col,
                           min_value=0, max_value=1))
        if dtype in ("bigint", "integer", "int", "hugeint") and col not in ("year",):
            ex.append(_exp("expect_column_values_to_be_between", "plausibility", "atemporal",
                           description=f"{col} is a count (>= 0)", column=col, min_value=0))
    for tname, args in _tests(model):
        if tname == "unique_combination":
            grain = list(args.get("columns", []))
            if len(grain) == 1:
                ex.append(_exp("expect_column_values_to_be_unique", "plausibility", "uniqueness",
                               description="one row per grain value", column=grain[0]))
            else:
                ex.append(_exp("expect_compound_columns_to_be_unique", "plausibility",
                               "uniqueness", description="one row per grain value",
                               column_list=grain))
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
    suites = ([raw_suite(ds) for ds in REFERENCE + DAILY]
              + [mart_suite(m) for m in mart_models(marts_dir)] + [outlier_suite()])
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
