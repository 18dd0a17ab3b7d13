"""A landing zone written by hand, to the letter of the standard, without the generator.

Tests build small deliveries row by row with this helper so that the loader is proven against
files it did not produce.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_card(region6: str, birth: str, seq: str = "123") -> str:
    """A valid GB 11643 number: region, birth YYYYMMDD, 3-digit sequence, check digit."""
    body = region6 + birth.replace("-", "") + seq
    total = sum(int(ch) * w for ch, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


REFERENCE = {
    "regions": [
        ["region_code", "region_name", "level", "parent_code", "urban_rural"],
        ["330100000000", "示范市", "city", "", ""],
        ["330102000000", "上城区", "district", "330100000000", ""],
        ["330102001000", "湖滨街道", "street", "330102000000", ""],
        ["330102001001", "东坡社区", "community", "330102001000", "urban"],
        ["330122000000", "桐庐县", "district", "330100000000", ""],
        ["330122101000", "分水镇", "street", "330122000000", ""],
        ["330122101201", "东溪村", "community", "330122101000", "rural"],
    ],
    "population": [
        ["region_code", "year", "sex", "age_band", "population"],
        ["330102001001", "2025", "M", "65-79", "100"],
        ["330102001001", "2025", "F", "18-44", "200"],
        ["330122101201", "2025", "F", "65-79", "50"],
    ],
    "facilities": [
        ["facility_code", "facility_name", "facility_type", "level", "grade", "region_code",
         "district_code", "alliance_code", "parent_facility_code", "approved_beds"],
        ["H330102001", "市第一人民医院", "general_hospital", "3", "A", "330102001000",
         "330102000000", "A01", "", "1200"],
        ["H330102002", "区人民医院", "general_hospital", "2", "B", "330102001000",
         "330102000000", "A01", "", "400"],
        ["C330102001", "湖滨社区卫生服务中心", "community_health_centre", "1", "", "330102001001",
         "330102000000", "A01", "", "30"],
        ["S330102001", "东坡社区卫生服务站", "community_health_station", "0", "", "330102001001",
         "330102000000", "A01", "C330102001", "0"],
        ["C330122001", "分水镇卫生院", "township_health_centre", "1", "", "330122101201",
         "330122000000", "", "", "20"],
    ],
    "teams": [
        ["team_code", "facility_code", "team_name", "gp_count", "nurse_count",
         "public_health_count", "specialist_count", "volunteer_count"],
        ["T0001", "C330102001", "张医生团队", "2", "2", "1", "1", "0"],
    ],
    "drugs": [
        ["drug_code", "generic_name", "atc_code", "is_essential", "is_antibiotic", "is_vbp"],
        ["D001", "氨氯地平", "C08CA01", "Y", "N", "Y"],
        ["D002", "阿莫西林", "J01CA04", "Y", "Y", "N"],
        ["D003", "二甲双胍", "A10BA02", "Y", "N", "Y"],
    ],
}

VISIT_HEADER = ["visit_id", "facility_code", "resident_id", "id_card_no", "visit_time",
                "department_code", "visit_type", "doctor_id", "team_code", "diagnosis_code",
                "total_fee", "drug_fee", "exam_fee", "treatment_fee", "other_fee",
                "insurance_paid", "self_paid"]
RX_HEADER = ["prescription_id", "line_no", "facility_code", "visit_id", "drug_code", "quantity",
             "days_supply", "amount", "is_extended"]
RECORD_HEADER = ["resident_id", "facility_code", "id_card_no", "name", "phone", "sex",
                 "birth_date", "region_code", "registered_date", "updated_date", "hypertension",
                 "diabetes", "tuberculosis", "severe_mental_disorder", "disability", "pregnant",
                 "low_income", "blood_type", "allergy_history", "past_history", "family_history",
                 "occupation", "education"]
REFERRAL_HEADER = ["referral_id", "facility_code", "to_facility_code", "resident_id",
                   "referral_time", "direction", "referral_kind", "diagnosis_code", "team_code",
                   "priority_slot", "status"]


def visit(visit_id: str, when: str = "2025-03-01T09:00:00", facility: str = "C330102001",
          resident: str = "R0000000001", **over: str) -> dict[str, str]:
    row = dict(visit_id=visit_id, facility_code=facility, resident_id=resident, id_card_no="",
               visit_time=when, department_code="GP", visit_type="outpatient", doctor_id="DOC1",
               team_code="T0001", diagnosis_code="I10", total_fee="100.00", drug_fee="60.00",
               exam_fee="20.00", treatment_fee="15.00", other_fee="5.00",
               insurance_paid="70.00", self_paid="30.00")
    row.update(over)
    return row


def rx(pid: str, line: int, visit_id: str, facility: str = "C330102001", **over: str) -> dict:
    row = dict(prescription_id=pid, line_no=str(line), facility_code=facility, visit_id=visit_id,
               drug_code="D001", quantity="1", days_supply="30", amount="25.50", is_extended="N")
    row.update(over)
    return row


def record(resident: str, birth: str = "1950-04-02", **over: str) -> dict:
    row = dict(resident_id=resident, facility_code="C330102001",
               id_card_no=id_card("330102", birth), name="王小明", phone="13800138000", sex="M",
               birth_date=birth, region_code="330102001001", registered_date="2020-01-01",
               updated_date="2025-01-01", hypertension="Y", diabetes="N", tuberculosis="N",
               severe_mental_disorder="N", disability="N", pregnant="N", low_income="N",
               blood_type="A", allergy_history="无", past_history="无", family_history="无",
               occupation="退休", education="高中")
    row.update(over)
    return row


def to_csv(header: list[str], rows: list[dict] | list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return buf.getvalue()


class Landing:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "reference").mkdir(parents=True, exist_ok=True)
        (root / "extracts").mkdir(parents=True, exist_ok=True)

    def reference(self, overrides: dict[str, list[list[str]]] | None = None) -> Landing:
        tables = dict(REFERENCE, **(overrides or {}))
        for name, rows in tables.items():
            (self.root / "reference" / f"{name}.csv").write_text(to_csv(rows[0], rows[1:]),
                                                                  encoding="utf-8")
        return self

    def delivery(
        self,
        business_date: str,
        facility: str,
        files: dict[str, tuple[list[str], list]] | dict[str, str | bytes],
        *,
        version: int = 1,
        encoding: str = "utf-8",
        bom: bool = False,
        generated_at: str | None = None,
        manifest_overrides: dict | None = None,
        write_manifest: bool = True,
    ) -> Path:
        """Write a facility-day folder. ``files`` maps dataset → (header, rows) or raw text/bytes."""
        folder = self.root / "extracts" / business_date / facility
        if folder.exists():
            for p in folder.iterdir():
                p.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        entries = []
        for dataset, content in files.items():
            if isinstance(content, tuple):
                text = to_csv(*content)
                rows = len(content[1])
            else:
                text = content
                rows = None
            data = text if isinstance(text, bytes) else text.encode(
                "gbk" if encoding == "gbk" else "utf-8")
            if bom:
                data = b"\xef\xbb\xbf" + data
            (folder / f"{dataset}.csv").write_bytes(data)
            if rows is None:
                # raw content: count records as delivered (any decodable reading will do)
                rows = len(list(csv.reader(io.StringIO(data.decode("latin-1"), newline="")))) - 1
            entries.append({"dataset": dataset, "file": f"{dataset}.csv", "rows": rows,
                            "sha256": hashlib.sha256(data).hexdigest()})
        manifest = {
            "standard_version": "1",
            "facility_code": facility,
            "business_date": business_date,
            "delivery_version": version,
            "generated_at": generated_at or f"{business_date}T23:30:00",
            "encoding": encoding,
            "files": entries,
        }
        manifest.update(manifest_overrides or {})
        if write_manifest:
            (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                                  encoding="utf-8")
        return folder
