"""The loader under fuzz (Hypothesis): any value in any column of any daily dataset, any JSON in
any manifest field, headers swapped, line endings and encodings mixed.  Whatever arrives:

* ``grassroots run`` exits 0 and the region's other facility loads (one facility's folder
  never stops the night);
* every data row delivered is in ``raw`` or in ``audit.quarantine``, file by file (or the whole
  file is rejected, or the whole folder is reported incomplete or rejected);
* no id-card number, name or phone number delivered (in a personal column, or put into any
  other column) appears in clear in any table or in the command's output.

The default budget is small (CI); ``pytest -m fuzz`` runs the large one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from pathlib import Path

import duckdb
import pytest
from conftest import Env
from handmade import RECORD_HEADER, RX_HEADER, VISIT_HEADER, WEIGHTS, record, rx, visit
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from grassroots.cli import app
from grassroots.contract import DAILY, DATASETS

BD = "2025-03-01"
C, H = "C330102001", "H330102001"  # C's folder is fuzzed; H's is a plain good delivery
PERSONAL = {"id_card_no", "name", "phone"}


def _rows() -> dict[str, list[dict[str, str]]]:
    """Two valid rows of every daily dataset (personal values are drawn later)."""
    when = f"{BD}T09:00:00"
    return {
        "outpatient_visits": [visit("V1"), visit("V2")],
        "prescriptions": [rx("P1", 1, "V1"), rx("P1", 2, "V1")],
        "inpatient_discharges": [
            dict(stay_id=s, facility_code=C, resident_id="R0000000001", id_card_no="",
                 admit_time="2025-02-25T10:00:00", discharge_time=when, department_code="IM",
                 diagnosis_code="I10", total_fee="1000.00", drug_fee="300.00",
                 insurance_paid="700.00", self_paid="300.00", discharge_status="improved",
                 referral_id="") for s in ("S1", "S2")],
        "bed_census": [
            dict(facility_code=C, census_date=BD, department_code=d, open_beds="10",
                 occupied_beds="5", admissions="1", discharges="1") for d in ("IM", "GP")],
        "referrals": [
            dict(referral_id=r, facility_code=C, to_facility_code=H, resident_id="R0000000001",
                 referral_time=when, direction="up", referral_kind="outpatient",
                 diagnosis_code="I10", team_code="T0001", priority_slot="N", status="requested")
            for r in ("RF1", "RF2")],
        "signings": [
            dict(contract_id=k, facility_code=C, team_code="T0001", resident_id="R0000000001",
                 id_card_no="", name="", phone="", package_code="basic", sign_date=BD,
                 start_date=BD, end_date="2026-02-28", status="active", fee_total="120.00",
                 fee_city="30.00", fee_district="78.00", fee_self="12.00",
                 district_hospital_code="", city_hospital_code="", renewal_of="")
            for k in ("K1", "K2")],
        "chronic_followups": [
            dict(followup_id=f, facility_code=C, team_code="T0001", resident_id="R0000000001",
                 disease="hypertension", followup_date=BD, mode="clinic", sbp="150", dbp="85",
                 fasting_glucose="", medication_adherence="regular", referred="N")
            for f in ("F1", "F2")],
        "health_checkups": [
            dict(checkup_id=k, facility_code=C, resident_id="R0000000001", checkup_date=BD,
                 checkup_type="general", items_completed="8", sbp="130", dbp="80",
                 fasting_glucose="5.5", bmi="22.5", abnormal_findings="0") for k in ("K1", "K2")],
        "health_records": [record("R0000000001"), record("R0000000002")],
    }


HEADERS = {ds.name: ds.names for ds in DAILY}
assert HEADERS["outpatient_visits"] == VISIT_HEADER and HEADERS["prescriptions"] == RX_HEADER
assert HEADERS["health_records"] == RECORD_HEADER

# -- personal values -------------------------------------------------------------------------

PROVINCES = ["11", "13", "22", "31", "33", "44", "51", "65", "71", "81", "82"]


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    region = draw(st.sampled_from(PROVINCES)) + draw(st.from_regex(r"[0-9]{4}", fullmatch=True))
    birth = draw(st.dates(min_value=__import__("datetime").date(1900, 1, 1),
                          max_value=__import__("datetime").date(2024, 12, 31)))
    seq = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    if draw(st.booleans()):  # a first-generation 15-digit number
        return region + birth.strftime("%y%m%d") + seq
    body = region + birth.strftime("%Y%m%d") + seq
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]
    return body + (check if draw(st.booleans()) else str((int(check) + 1) % 10)
                   if check != "X" else "0")


phones = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
names = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=3,
                max_size=5)
# text around a number that does not glue other digits to it
no_digits = st.text(st.characters(blacklist_categories=("Nd",), blacklist_characters="\x00"),
                    max_size=4)

# -- hostile values --------------------------------------------------------------------------

junk = st.one_of(
    st.text(max_size=24),  # control characters, non-BMP, anything Unicode has
    st.text(st.sampled_from(',"\r\n\t \\\'\x00\x1f\x7f;|'), max_size=6),
    st.integers(-(10**30), 10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(["", " ", "NULL", "1e999", "9" * 40, "-0", "Y", "N", "y", "2025-02-30",
                     "2025-03-01T25:00:00", "2025-03-01T09:00:00+08:00", "R00000000001",
                     "\ufeff", "𠀀𠀁", "\u200b", "I10.x00"]),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=6,
)
MANIFEST_FIELDS = ["standard_version", "facility_code", "business_date", "delivery_version",
                   "generated_at", "encoding", "files"]
FILE_FIELDS = ["dataset", "file", "rows", "sha256"]


@st.composite
def deliveries(draw: st.DrawFn) -> dict:
    """C's facility-day: the datasets it sends, every mutation applied, how it is written."""
    rows = _rows()
    names_ = draw(st.lists(st.sampled_from(sorted(rows)), min_size=1, max_size=4, unique=True))
    files = {ds: [dict(r) for r in rows[ds]] for ds in names_}
    headers = {ds: list(HEADERS[ds]) for ds in names_}
    order = {ds: list(HEADERS[ds]) for ds in names_}  # whose values each column holds
    secrets: set[str] = set()  # personal values that must never appear in clear
    for ds in names_:
        for r in files[ds]:
            if "id_card_no" in r:
                r["id_card_no"] = draw(id_numbers())
                secrets.add(r["id_card_no"])
            for col, strategy in (("name", names), ("phone", phones)):
                if col in r:
                    r[col] = draw(strategy)
                    secrets.add(r[col])
    for _ in range(draw(st.integers(0, 6))):
        ds = draw(st.sampled_from(names_))
        row = draw(st.sampled_from(files[ds]))
        col = draw(st.sampled_from(headers[ds]))
        kind = draw(st.sampled_from(["junk", "junk", "number", "number_in_text"]))
        if kind == "junk":
            row[col] = draw(junk)
        else:  # an id or phone number put in any column (a sender's mistake, swapped fields)
            number = draw(st.one_of(id_numbers(), phones))
            secrets.add(number)
            row[col] = number if kind == "number" else (
                draw(no_digits) + number + draw(no_digits))
    if draw(st.booleans()):  # two header names swapped (never `name`: a name in a free-text
        ds = draw(st.sampled_from(names_))  # column cannot be told from a word)
        cols = [c for c in headers[ds] if c != "name"]
        a, b = draw(st.lists(st.sampled_from(cols), min_size=2, max_size=2, unique=True))
        h = headers[ds]
        h[h.index(a)], h[h.index(b)] = b, a
    if draw(st.booleans()):  # an extra column, any name, any values (never stored)
        ds = draw(st.sampled_from(names_))
        extra = draw(st.text(max_size=8).filter(lambda h: h not in headers[ds]))
        at = draw(st.integers(0, len(headers[ds])))
        headers[ds].insert(at, extra)
        order[ds].insert(at, extra)
        for r in files[ds]:
            r[extra] = draw(junk)
    # A name cannot be told from other words: one that also came as another column's value
    # (arbitrary text can be the same characters) is that value's as well, and may be stored.
    others = [v for ds in names_ for r in files[ds] for c, v in r.items() if c != "name"]
    secrets -= {n for ds in names_ for r in files[ds] if "name" in r
                for n in [r["name"]] if any(n in v for v in others)}
    manifest_fuzz = draw(st.one_of(
        st.none(),
        st.tuples(st.sampled_from(MANIFEST_FIELDS), st.none() | json_values),
        st.tuples(st.sampled_from(FILE_FIELDS), st.none() | json_values),
    ))
    return dict(files=files, headers=headers, order=order, secrets=secrets,
                manifest_fuzz=manifest_fuzz,
                encoding=draw(st.sampled_from(["utf-8", "gbk"])), bom=draw(st.booleans()),
                newline=draw(st.sampled_from(["\r\n", "\n", "\r"])))


def _write(landing: Path, spec: dict) -> dict[str, int]:
    """Write C's folder as a sender would (csv module, the declared encoding; a value GBK cannot
    hold is written as UTF-8, as a careless export does).  Returns rows per file name."""
    folder = landing / "extracts" / BD / C
    folder.mkdir(parents=True)
    entries, counts = [], {}
    for ds, rows in spec["files"].items():
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator=spec["newline"])
        w.writerow(spec["headers"][ds])
        for r in rows:  # the values in their own order: swapped header names mislabel them
            w.writerow([r[c] for c in spec["order"][ds]])
        text = buf.getvalue()
        try:
            data = text.encode("gbk" if spec["encoding"] == "gbk" else "utf-8")
        except UnicodeEncodeError:
            data = text.encode("utf-8", errors="surrogatepass")
        if spec["bom"] and spec["encoding"] == "utf-8":
            data = b"\xef\xbb\xbf" + data
        name = f"{ds}.csv"
        (folder / name).write_bytes(data)
        counts[name] = len(rows)
        entries.append({"dataset": ds, "file": name, "rows": len(rows),
                        "sha256": hashlib.sha256(data).hexdigest()})
    manifest: dict = {"standard_version": "1", "facility_code": C, "business_date": BD,
                      "delivery_version": 1, "generated_at": f"{BD}T23:30:00",
                      "encoding": spec["encoding"], "files": entries}
    if spec["manifest_fuzz"] is not None:
        field, value = spec["manifest_fuzz"]
        target = manifest if field in MANIFEST_FIELDS else entries[0]
        if value is None:
            target.pop(field, None)
        else:
            target[field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return counts


def _text_of_everything(warehouse: Path) -> list[tuple[str, str]]:
    """(table.column, value as text) of every non-null cell of the warehouse."""
    out = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for schema, table, col in con.execute(
                "SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE table_schema IN ('raw', 'audit', 'main')").fetchall():
            for (v,) in con.execute(f'SELECT DISTINCT CAST("{col}" AS VARCHAR) FROM '
                                    f'"{schema}"."{table}" WHERE "{col}" IS NOT NULL').fetchall():
                out.append((f"{schema}.{table}.{col}", v))
    return out


def check_delivery(spec: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="grassroots-fuzz-") as tmp:
        env = Env(Path(tmp))
        env.landing.delivery(BD, H, {"outpatient_visits": (VISIT_HEADER, [
            visit("HV1", facility=H, team_code="")])})
        counts = _write(env.landing.root, spec)
        result = CliRunner().invoke(
            app, ["run", "--landing", str(env.landing.root), "--warehouse", str(env.warehouse),
                  "--no-build", "--no-validate", "--no-progress"],
            env={"GRASSROOTS_HMAC_KEY": "fuzz-key", "COLUMNS": "200"})
        log = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert result.exception is None or isinstance(result.exception, SystemExit), log
        assert result.exit_code == 0, log
        # the other facility's night is not lost
        assert env.sql("SELECT count(*) FROM raw.outpatient_visits WHERE facility_code = ?",
                       [H]) == [(1,)]
        (status,) = env.sql("SELECT status FROM audit.deliveries WHERE business_date = ? "
                            "AND facility_code = ?", [BD, C])[0]
        event(f"delivery {status}")
        q = {name: (whole, rows) for name, whole, rows in env.sql(
            "SELECT file_name, count(*) FILTER (line_no IS NULL), "
            "count(*) FILTER (line_no IS NOT NULL) FROM audit.quarantine "
            "WHERE facility_code = ? AND business_date = ? GROUP BY 1", [C, BD])}
        loaded = {}
        for ds in DATASETS.values():
            if ds.kind == "daily":
                for name, n in env.sql(f"SELECT _file_name, count(*) FROM raw.{ds.name} WHERE "
                                       "_delivery_facility = ? GROUP BY 1", [C]):
                    loaded[name] = n
        if status == "loaded":
            (detail,) = env.sql("SELECT coalesce(detail, '') FROM audit.deliveries "
                                "WHERE business_date = ? AND facility_code = ?", [BD, C])[0]
            listed = env.sql("SELECT files_delivered FROM audit.deliveries WHERE "
                             "business_date = ? AND facility_code = ?", [BD, C])[0][0]
            if listed < len(counts):  # files the manifest leaves out are reported, not loaded
                assert "not in the manifest, not loaded" in detail, detail
                unlisted = detail.split("not in the manifest, not loaded: ")[1].split(", ")
                counts = {k: v for k, v in counts.items() if k not in unlisted}
                assert all(loaded.get(k, 0) == 0 for k in unlisted)
            for name, n in counts.items():
                whole, bad = q.get(name, (0, 0))
                good = loaded.get(name, 0)
                event("file rejected" if whole else "rows quarantined" if bad else "file clean")
                assert (whole == 1 and good == bad == 0) or (whole == 0 and good + bad == n), (
                    name, n, whole, good, bad, log)
        else:  # incomplete or rejected: nothing of it is in raw, it is reported
            assert status in ("incomplete", "rejected")
            assert loaded == {} and all(rows == 0 for _, rows in q.values())
        # no clear personal value anywhere: tables and the command's output
        leaks = [(where, s) for where, v in _text_of_everything(env.warehouse)
                 for s in spec["secrets"] if s in v]
        leaks += [("output", s) for s in spec["secrets"] if s in log]
        assert leaks == [], leaks


FUZZ = dict(deadline=None, database=None, derandomize=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=25, **FUZZ)
@given(deliveries())
def test_the_loader_survives_hostile_deliveries(spec: dict) -> None:
    check_delivery(spec)


@pytest.mark.fuzz
@settings(max_examples=1000, **FUZZ)
@given(deliveries())
def test_the_loader_survives_hostile_deliveries_at_length(spec: dict) -> None:
    check_delivery(spec)
