"""Builders for hand-made landing zones (the delivery standard, docs/standard.md) used by the oracle's self-checks.

Rows are dicts of strings keyed by the standard's column names; unknown columns are refused so a
typo cannot silently become an empty field.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pandas as pd

from grassroots.contract import DATASETS


def csv_text(dataset: str, rows: list[dict[str, str]]) -> str:
    cols = DATASETS[dataset].names
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(cols)
    for r in rows:
        unknown = set(r) - set(cols)
        assert not unknown, unknown
        w.writerow([r.get(c, "") for c in cols])
    return buf.getvalue()


def write_reference(root: Path, dataset: str, rows: list[dict[str, str]]) -> None:
    (root / "reference").mkdir(parents=True, exist_ok=True)
    (root / "reference" / f"{dataset}.csv").write_text(csv_text(dataset, rows), encoding="utf-8")


def write_folder(
    root: Path,
    business_date: str,
    facility: str,
    files: dict[str, list[dict[str, str]]],
    *,
    version: int = 1,
    generated_at: str | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
    corrupt: str | None = None,
) -> None:
    folder = root / "extracts" / business_date / facility
    folder.mkdir(parents=True)
    entries = []
    for dataset, rows in files.items():
        raw = csv_text(dataset, rows).encode(encoding)
        if bom:
            raw = b"\xef\xbb\xbf" + raw
        sha = hashlib.sha256(raw).hexdigest()
        if dataset == corrupt:
            raw += b"tampered"
        (folder / f"{dataset}.csv").write_bytes(raw)
        entries.append(
            {"dataset": dataset, "file": f"{dataset}.csv", "rows": len(rows), "sha256": sha}
        )
    day_after = (pd.Timestamp(business_date) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    manifest = {
        "standard_version": "1",
        "facility_code": facility,
        "business_date": business_date,
        "delivery_version": version,
        "generated_at": generated_at or f"{day_after}T02:10:00",
        "encoding": encoding,
        "files": entries,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def visit_row(vid: str, fac: str, rid: str, time: str, dx: str, **fees: str) -> dict[str, str]:
    row = {
        "visit_id": vid,
        "facility_code": fac,
        "resident_id": rid,
        "visit_time": time,
        "visit_type": "outpatient",
        "diagnosis_code": dx,
        "drug_fee": "0",
        "exam_fee": "0",
        "treatment_fee": "0",
        "other_fee": "0",
    }
    row.update(fees)
    return row


def record_row(rid: str, fac: str, birth: str, region: str, **kw: str) -> dict[str, str]:
    row = {
        "resident_id": rid,
        "facility_code": fac,
        "sex": "M",
        "birth_date": birth,
        "region_code": region,
        "registered_date": "2024-01-01",
        "blood_type": "A",
        "allergy_history": "none",
        "past_history": "none",
        "family_history": "none",
        "occupation": "retired",
        "education": "primary",
    }
    for f in ("hypertension", "diabetes", "tuberculosis", "severe_mental_disorder"):
        row[f] = "N"
    for f in ("disability", "pregnant", "low_income"):
        row[f] = "N"
    row.update(kw)
    return row


def followup_row(fid: str, rid: str, date: str, mode: str, **kw: str) -> dict[str, str]:
    row = {
        "followup_id": fid,
        "facility_code": "C01",
        "team_code": "T1",
        "resident_id": rid,
        "disease": "hypertension",
        "followup_date": date,
        "mode": mode,
    }
    row.update(kw)
    return row


def rx_row(pid: str, line: int, fac: str, vid: str, drug: str, days: int, amount: str) -> dict:
    return {
        "prescription_id": pid,
        "line_no": str(line),
        "facility_code": fac,
        "visit_id": vid,
        "drug_code": drug,
        "quantity": "1",
        "days_supply": str(days),
        "amount": amount,
        "is_extended": "N",
    }
