"""Read a landing zone (the delivery standard, docs/standard.md) into pandas frames — the oracle's own reader.

``load_landing(path)`` returns one DataFrame per dataset name (reference snapshots and the
nine daily datasets, latest-wins applied) plus ``_deliveries``: one row per facility-day folder
found on disk with its manifest facts and whether it is complete.

Interpretations (for reconciliation with the loader):

* Only the folder on disk counts for a facility-day (a redelivery overwrote the earlier one), so
  its ``delivery_version`` is whatever its manifest says.
* A folder is complete when ``manifest.json`` parses and every listed file exists with the
  stated sha256 and data-row count (counted as parsed CSV records, so quoted newlines are
  fine). Incomplete folders are skipped entirely (reported in ``_deliveries``).
* Encoding: the manifest's ``utf-8`` is read as ``utf-8-sig`` (optional BOM); ``gbk`` as gbk.
  Reference files carry no manifest: utf-8 with optional BOM, falling back to gbk.
* Every field is read as a string; the empty string is null. Types follow
  ``grassroots.contract``'s column types (names/types only): int → Int64, money/decimal →
  float64, date → datetime64 (midnight), timestamp → datetime64, bool ``Y``/``N`` → boolean.
* Latest-wins: per record key, the row from the greatest (business_date, delivery_version)
  is kept. Keys: outpatient_visits (facility_code, visit_id); prescriptions (facility_code,
  prescription_id, line_no); inpatient_discharges (facility_code, stay_id); bed_census
  (facility_code, census_date, department_code); referrals referral_id; signings contract_id;
  chronic_followups followup_id; health_checkups checkup_id; health_records resident_id.
  A key repeated inside one file cannot happen in a clean region; if it does, the last line
  wins here (the warehouse quarantines it — the oracle assumes a clean region).
* A dataset missing from a folder's manifest contributes nothing for that facility-day.
* ``_health_record_versions``: resident_id and updated_date of every delivered health-record
  row (before latest-wins), for the record-update events of the activation rate.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from grassroots.contract import DAILY_NAMES, DATASETS, REFERENCE_NAMES

RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "outpatient_visits": ("facility_code", "visit_id"),
    "prescriptions": ("facility_code", "prescription_id", "line_no"),
    "inpatient_discharges": ("facility_code", "stay_id"),
    "bed_census": ("facility_code", "census_date", "department_code"),
    "referrals": ("referral_id",),
    "signings": ("contract_id",),
    "chronic_followups": ("followup_id",),
    "health_checkups": ("checkup_id",),
    "health_records": ("resident_id",),
}

LINEAGE = ["_delivery_facility", "_business_date", "_delivery_version"]


def _read_csv_text(text: str) -> pd.DataFrame:
    header, rows = _parse_csv(text)
    return _frame(header, rows)


def _parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    """RFC 4180 parse: (header, data rows). Blank lines are not records."""
    records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    if not records:
        return [], []
    return records[0], records[1:]


def _frame(header: list[str], rows: list[list[str]]) -> pd.DataFrame:
    """All-string frame, empty field = null."""
    df = pd.DataFrame(rows, columns=header, dtype=object)
    return df.replace({"": None})


def _decode(raw: bytes, encoding: str) -> str:
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf-8", "utf8"):
        return raw.decode("utf-8-sig")
    if enc == "gbk":
        return raw.decode("gbk")
    raise ValueError(f"unknown encoding {encoding!r}")


def _parse_types(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Cast the standard's columns of dataset ``name`` from strings to their logical types."""
    ds = DATASETS[name]
    out = df.copy()
    for col in ds.columns:
        if col.name not in out.columns:
            out[col.name] = None
        s = out[col.name]
        if col.type == "int":
            out[col.name] = pd.to_numeric(s).astype("Int64")
        elif col.type in ("money", "decimal"):
            out[col.name] = pd.to_numeric(s).astype("float64")
        elif col.type == "date":
            out[col.name] = pd.to_datetime(s, format="%Y-%m-%d").astype("datetime64[us]")
        elif col.type == "timestamp":
            out[col.name] = pd.to_datetime(s, format="ISO8601").astype("datetime64[us]")
        elif col.type == "bool":
            out[col.name] = s.map({"Y": True, "N": False}).astype("boolean")
        else:
            out[col.name] = s.astype("str").where(s.notna(), None)
    return out


def _empty(name: str, extra: list[str]) -> pd.DataFrame:
    cols = DATASETS[name].names
    out = _parse_types(name, pd.DataFrame({c: pd.Series([], dtype=str) for c in cols})).assign(
        **{c: pd.Series([], dtype=object) for c in extra}
    )
    # text columns as objects: pandas cannot merge two empty Arrow-backed string columns (a
    # region without referrals in its period has empty frames on both sides of a join)
    return out.astype({c: object for c in out.columns if pd.api.types.is_string_dtype(out[c])})


def _read_reference(path: Path, name: str) -> pd.DataFrame:
    f = path / "reference" / f"{name}.csv"
    if not f.exists():
        return _empty(name, [])
    raw = f.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gbk")
    return _parse_types(name, _read_csv_text(text))


def _read_folder(
    folder: Path,
) -> tuple[dict, dict[str, tuple[list[str], list[list[str]]]] | None, str]:
    """Return (manifest facts, {dataset: (header, rows)} if complete else None, detail)."""
    facts: dict = {
        "facility_code": folder.name,
        "business_date": folder.parent.name,
        "delivery_version": None,
        "generated_at": None,
        "encoding": None,
        "rows": 0,
    }
    mpath = folder / "manifest.json"
    if not mpath.exists():
        return facts, None, "no manifest"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        return facts, None, f"bad manifest: {e}"
    facts["delivery_version"] = int(manifest.get("delivery_version", 0))
    facts["generated_at"] = manifest.get("generated_at")
    facts["encoding"] = manifest.get("encoding", "utf-8")
    parsed: dict[str, tuple[list[str], list[list[str]]]] = {}
    total = 0
    for entry in manifest.get("files", []):
        f = folder / entry["file"]
        if not f.exists():
            return facts, None, f"missing {entry['file']}"
        raw = f.read_bytes()
        if hashlib.sha256(raw).hexdigest() != entry["sha256"]:
            return facts, None, f"checksum {entry['file']}"
        try:
            header, rows = _parse_csv(_decode(raw, facts["encoding"]))
        except (UnicodeDecodeError, ValueError, csv.Error) as e:
            return facts, None, f"decode {entry['file']}: {e}"
        if len(rows) != int(entry["rows"]):
            return facts, None, f"rows {entry['file']}: {len(rows)} != {entry['rows']}"
        total += len(rows)
        parsed[entry["dataset"]] = (header, rows)
    facts["rows"] = total
    return facts, parsed, ""


def load_landing(path: str | Path) -> dict[str, pd.DataFrame]:
    """Load a landing zone: reference snapshots, latest-wins daily datasets, ``_deliveries``."""
    path = Path(path)
    out: dict[str, pd.DataFrame] = {n: _read_reference(path, n) for n in REFERENCE_NAMES}

    parts: dict[str, dict[tuple[str, ...], list[list]]] = {n: {} for n in DAILY_NAMES}
    deliveries: list[dict] = []
    extracts = path / "extracts"
    folders = sorted(p for p in extracts.glob("*/*") if p.is_dir()) if extracts.exists() else []
    for folder in folders:
        facts, frames, detail = _read_folder(folder)
        facts["complete"] = frames is not None
        facts["detail"] = detail
        deliveries.append(facts)
        if frames is None:
            continue
        lineage = [facts["facility_code"], facts["business_date"], facts["delivery_version"]]
        for name, (header, rows) in frames.items():
            if name not in parts or not rows:
                continue
            # group files by header so one DataFrame is built per (dataset, header)
            parts[name].setdefault(tuple(header), []).extend(r + lineage for r in rows)

    out["_health_record_versions"] = _empty("health_records", [])[["resident_id", "updated_date"]]
    for name in DAILY_NAMES:
        if not parts[name]:
            out[name] = _empty(name, LINEAGE)
            continue
        df = pd.concat(
            [_frame([*header, *LINEAGE], rows) for header, rows in parts[name].items()],
            ignore_index=True,
        )
        df = _parse_types(name, df)
        df["_business_date"] = pd.to_datetime(df["_business_date"]).astype("datetime64[us]")
        df["_delivery_version"] = df["_delivery_version"].astype("int64")
        df["_order"] = range(len(df))
        df = df.sort_values(["_business_date", "_delivery_version", "_order"], kind="stable")
        if name == "health_records":
            # every delivered version: each one's updated_date is a record update (activity)
            out["_health_record_versions"] = df[["resident_id", "updated_date"]].reset_index(
                drop=True
            )
        df = df.drop_duplicates(list(RECORD_KEYS[name]), keep="last")
        out[name] = df.drop(columns="_order").sort_index().reset_index(drop=True)

    dl = pd.DataFrame(
        deliveries,
        columns=[
            "facility_code",
            "business_date",
            "delivery_version",
            "generated_at",
            "encoding",
            "rows",
            "complete",
            "detail",
        ],
    )
    dl["business_date"] = pd.to_datetime(dl["business_date"]).astype("datetime64[us]")
    dl["generated_at"] = pd.to_datetime(dl["generated_at"], format="ISO8601").astype(
        "datetime64[us]"
    )
    out["_deliveries"] = dl
    return out
