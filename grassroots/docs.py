"""Write the generated reference pages of ``docs/``, from the definitions the code runs on.

* ``docs/standard.md``: the delivery standard as implemented. Prose below; the dataset tables and
  reason codes come from ``grassroots.contract``, the one definition the loader, the dbt sources
  and the GX suites read.
* ``docs/marts.md``: every mart with its definition and columns, from the dbt models' YAML, and
  the indicators of the metric catalogue.

A test compares the committed files with a fresh rendering, so they cannot drift.

    uv run python -m grassroots.docs
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from grassroots import contract
from grassroots.contract import Column, Dataset
from grassroots.settings import REPO as ROOT

STANDARD_PATH = ROOT / "docs" / "standard.md"
MARTS_PATH = ROOT / "docs" / "marts.md"

TYPE_TEXT = {
    "text": "text",
    "int": "integer",
    "money": "money (CNY, ≤ 2 decimals)",
    "decimal": "decimal",
    "date": "date `YYYY-MM-DD`",
    "timestamp": "timestamp `YYYY-MM-DDThh:mm:ss` (China time, no offset)",
    "bool": "`Y` / `N`",
}

REF_TEXT = {
    "facility": "a facility of facilities.csv",
    "team": "a team of teams.csv",
    "drug": "a drug of drugs.csv",
    "icd10": "an ICD-10 code",
    "community": "a community of regions.csv",
    "region": "a region of regions.csv",
}

PERSONAL_TEXT = {
    "id_card": "personal: checked (GB 11643 check digit, birth date), then stored only as a keyed hash",
    "drop": "personal: never stored",
}

INTRO = """\
# The delivery standard

Hospitals and community health centres deliver one folder of CSV extracts per facility and
business day; the commission publishes reference snapshots. This is the only input the warehouse
accepts, whoever wrote the files. This page describes the standard as the loader
(`grassroots/ingest/`, rules in `grassroots/rules.py`) implements it; the dataset tables and
reason codes are generated from `grassroots/contract.py` (`uv run python -m
grassroots.docs`).

## Landing zone

```
<landing>/
  reference/regions.csv population.csv facilities.csv teams.csv drugs.csv   full snapshots
  extracts/<business_date>/<facility_code>/manifest.json                    one folder per facility-day
  extracts/<business_date>/<facility_code>/<dataset>.csv                    one file per dataset
```

* `business_date` (`YYYY-MM-DD`) is the day an extract covers; it is delivered the following
  night. Event dates inside the files may be earlier (late entries, corrections), never later.
* Hospitals deliver outpatient visits, prescriptions, discharges, bed census and referrals.
  Community and township health centres deliver the same plus signings, chronic follow-ups,
  health check-ups and health records; their stations and village clinics report inside the
  centre's folder with their own `facility_code` on each row.
* `manifest.json` names the `standard_version` ("1"), the facility, the business date, a
  `delivery_version` (a positive integer), `generated_at`, the `encoding` (`utf-8`, a BOM
  allowed, or `gbk`) and every file with its dataset, row count (data rows, header excluded) and
  sha256.
* Files are RFC 4180 CSV with a header row, comma separator and `"` quoting. An empty field is
  null; booleans are `Y`/`N`; timestamps are local China time without offset.

## Delivery semantics

* **Complete or nothing.** A folder loads only when its manifest exists and every listed file is
  present with the stated row count and checksum. Otherwise it is `incomplete`: nothing of it
  loads, it is reported, and it is looked at again on the next run (a folder still being copied
  loads once whole).
* **Redelivery.** A higher `delivery_version` replaces every row of the earlier version of that
  facility-day, dataset by dataset; a dataset missing from the new manifest is removed for the
  day. The same version with identical checksums changes nothing; the same version with other
  content is a `conflict`: rejected, reported, nothing changes. A lower version arriving after a
  higher one is `superseded`.
* **Updates across days.** Records carry stable ids; when an id arrives again on a later business
  date (a referral that has arrived, a corrected fee, a contract that expired), the row of the
  latest (business_date, delivery_version) is the current one.
* **Go-live.** A facility's first business date carries its opening stock with their own dates:
  every health record it keeps (real `registered_date` and `updated_date`) and every contract in
  force, signed before go-live. Events before go-live are not delivered.
* **Contracts.** A contract is redelivered when its status changes; the delivery that terminates
  a contract carries the day it ended as `end_date`.
* **Nothing is lost.** Every delivered file is archived unchanged with its checksum. A row that
  breaks a rule is quarantined with the rule, the file and the line; the rest of the file loads.
  Loading the same landing zone twice gives the same warehouse.

## Identity and privacy

`resident_id` is the regional master patient index id (`R` + 10 digits) on every person-level
row. `id_card_no` (18 characters, GB 11643), `name` and `phone` are personal data: the id number
is checked (check digit, agreement with the birth date) and stored only as an HMAC-SHA256 hash
with a secret key (a check character written `x` is read as `X`: one person, one hash); names and phone numbers are never stored. No clear id number, name or phone
appears in any table, log, report or dashboard.
"""

RULES_INTRO = """\
## Rules and reason codes

Every row is checked against the rules below; its `detail` lists every rule it breaks. A whole
file is rejected for `bad_encoding`, `missing_column` or `symlink`; a folder whose file disagrees
with the manifest's row count or checksum is incomplete (`row_count_mismatch`,
`checksum_mismatch`). The standard names the first eighteen codes; the last three are this
project's, for rules the standard implies.

| reason | the row (or file) |
|---|---|
"""

REASON_TEXT = {
    "bad_encoding": "file: does not decode in the manifest's encoding",
    "missing_column": "file: a column of the standard is missing from the header",
    "type_error": "a value does not parse as its type, or the record does not split into the header's fields",
    "missing_required": "a required value is empty",
    "unknown_facility": "a facility code unknown to facilities.csv, or of another facility than the folder's (or its stations')",
    "unknown_team": "a team code unknown to teams.csv",
    "unknown_drug": "a drug code unknown to drugs.csv",
    "bad_icd10": "a diagnosis that is not an ICD-10 code",
    "bad_id_checksum": "an id number whose GB 11643 check digit is wrong",
    "id_birthdate_mismatch": "an id number whose birth date disagrees with `birth_date`",
    "future_date": "an event dated after the business date",
    "negative_amount": "a negative amount of money",
    "fee_mismatch": f"parts that do not sum to the total, or a part above it (tolerance {contract.MONEY_TOLERANCE})",
    "bad_enum": "a value outside the column's list",
    "bad_direction": "a referral direction that disagrees with the two facilities' levels (grassroots < 1 < 2 < 3)",
    "duplicate_key": "a key that occurs more than once in one file: every row of it",
    "orphan_row": "a prescription without its visit in the same or an earlier delivery",
    "out_of_range": "a value outside its range, or dates out of order",
    "row_count_mismatch": "folder: a file's data rows differ from the manifest",
    "checksum_mismatch": "folder: a file's sha256 differs from the manifest",
    "bad_identifier": "an identifier that breaks its format (`resident_id`: `R` + 10 digits)",
    "personal_data": "an id-card or phone number in a column that is not a personal one",
    "symlink": "file: a symbolic link, rejected whole and never followed",
}


def _rules(c: Column) -> str:
    out = []
    if c.enum:
        out.append("one of " + ", ".join(f"`{v}`" for v in c.enum))
    if c.ref:
        out.append(REF_TEXT[c.ref])
    if c.min is not None and c.max is not None:
        out.append(f"{c.min:g} to {c.max:g}")
    elif c.min is not None:
        out.append(f"≥ {c.min:g}")
    if c.pattern:
        out.append(f"matches `{c.pattern}`")
    if c.event:
        out.append("not after the business date")
    if c.personal:
        out.append(PERSONAL_TEXT[c.personal])
    if c.description:
        out.append(c.description)
    return "; ".join(out)


def _table(ds: Dataset) -> str:
    lines = [f"### {ds.name}.csv", ""]
    facts = [f"key ({', '.join(ds.key)})"]
    if ds.delivered_by:
        facts.append("delivered by " + ", ".join(ds.delivered_by))
    for s in ds.sums:
        facts.append(f"`{s.total}` = {' + '.join(f'`{p}`' for p in s.parts)}")
    for cap in ds.caps:
        facts.append(f"`{cap.part}` ≤ `{cap.whole}`")
    if ds.direction:
        r = ds.direction
        facts.append(f"`{r.column}` agrees with the levels of `{r.source}` and `{r.target}`")
    for earlier, later in ds.ordered:
        facts.append(f"`{later}` ≥ `{earlier}`")
    for col, when, value in ds.required_when:
        facts.append(f"`{col}` required when `{when}` = `{value}`")
    lines += ["; ".join(facts) + ".", "", "| column | type | required | rules |", "|---|---|---|---|"]
    for c in ds.columns:
        lines.append(f"| `{c.name}` | {TYPE_TEXT[c.type]} | {'yes' if c.required else ''} | {_rules(c)} |")
    return "\n".join(lines) + "\n"


def render_standard() -> str:
    parts = [INTRO, "## Reference snapshots\n\nFull snapshots; the latest one wins.\n"]
    parts += [_table(ds) for ds in contract.REFERENCE]
    parts.append("## Daily datasets\n")
    parts += [_table(ds) for ds in contract.DAILY]
    rows = [f"| `{r}` | {REASON_TEXT[r]} |" for r in contract.ALL_REASONS]
    parts.append(RULES_INTRO + "\n".join(rows) + "\n")
    return "\n".join(parts)


MARTS_INTRO = """\
# The marts

Schema `marts` of the warehouse (and of the serving file the dashboards read). Each mart's
definition is its description in dbt (`dbt/models/marts/*/_*__models.yml`); this page is
generated from those files and from the metric catalogue (`dbt/seeds/metric_catalogue.csv`,
`uv run python -m grassroots.docs`). How the marts read time, and the choices made where the
indicator definitions leave room: [indicators.md](indicators.md).
"""


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def render_marts() -> str:
    parts = [MARTS_INTRO]
    for folder in sorted((ROOT / "dbt" / "models" / "marts").iterdir()):
        for yml in sorted(folder.glob("_*__models.yml")):
            parts.append(f"## {folder.name}\n")
            for m in yaml.safe_load(yml.read_text(encoding="utf-8"))["models"]:
                lines = [f"### {m['name']}", "", _one_line(m.get("description")), "",
                         "| column | type | meaning |", "|---|---|---|"]
                for c in m.get("columns", []):
                    lines.append(f"| `{c['name']}` | {c.get('data_type', '')} | "
                                 f"{_one_line(c.get('description'))} |")
                parts.append("\n".join(lines) + "\n")
    with (ROOT / "dbt" / "seeds" / "metric_catalogue.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    lines = ["## The metric catalogue", "",
             "Every indicator with its numerator, denominator, target and direction, whether it is"
             " a snapshot (a count at a date) or a flow (events over a period), the period rule of"
             " annual indicators, and its source.", "",
             "| code | 名称 | mart.column | numerator / denominator | target | kind | period | source |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        target = f"{r['direction']} {r['target']}".strip() if r["target"] else r["direction"]
        lines.append(
            f"| `{r['code']}` | {r['name_zh']} | {r['mart']}.{r['column_name']} | "
            f"{r['numerator']} / {r['denominator']} | {target} | {r['kind']} | "
            f"{r['period_rule']} | {r['source_document']} {r['source_year']} ({r['scope']}) |"
        )
    parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


DOCUMENTS = {STANDARD_PATH: render_standard, MARTS_PATH: render_marts}


def write() -> list[Path]:
    for path, render in DOCUMENTS.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
    return list(DOCUMENTS)


if __name__ == "__main__":
    for p in write():
        print(p)
