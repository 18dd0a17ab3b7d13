"""Which expected deliveries of a business date have arrived (the DAG's sensor logic).

Expected: every facility that delivers extracts itself — hospitals and centres
(``contract.datasets_for`` non-empty) in the loaded facilities reference (``raw.facilities``; the
landing zone's ``reference/facilities.csv`` before the first load).  A folder counts as arrived
when it is *complete* by the standard — the loader's own checks (``ingest.read_manifest`` and
``ingest.verify_files``: manifest present and usable, every listed file present with its sha256).
On time = manifest ``generated_at`` before 06:00 the day after the business date (as
``mart_delivery_quality``).  The cut-off (default 10:00 Asia/Shanghai the day after the business
date, ``GRASSROOTS_CUTOFF``) is when the pipeline stops waiting and proceeds with what arrived.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from grassroots.contract import datasets_for

TZ = ZoneInfo("Asia/Shanghai")
ON_TIME_HOUR = 6  # generated before 06:00 the next day


def cutoff_time() -> time:
    return time.fromisoformat(os.environ.get("GRASSROOTS_CUTOFF", "10:00"))


def facility_info(landing: Path | None, warehouse: Path | None) -> dict[str, dict]:
    """facility_code → {name, type, district_code}: warehouse first, else the landing CSV."""
    if warehouse and Path(warehouse).exists():
        try:
            with duckdb.connect(str(warehouse), read_only=True) as con:
                rows = con.execute(
                    "SELECT facility_code, facility_name, facility_type, district_code "
                    "FROM raw.facilities").fetchall()
            if rows:
                return {r[0]: {"name": r[1], "type": r[2], "district_code": r[3]} for r in rows}
        except duckdb.Error:
            pass  # locked by a writer, or not loaded yet
    path = Path(landing) / "reference" / "facilities.csv" if landing else None
    if path and path.is_file():
        with open(path, encoding="utf-8-sig", newline="") as f:
            return {r["facility_code"]: {"name": r.get("facility_name"),
                                         "type": r.get("facility_type"),
                                         "district_code": r.get("district_code")}
                    for r in csv.DictReader(f)}
    return {}


def expected_facilities(landing: Path | None, warehouse: Path | None) -> list[str]:
    """Facilities expected to deliver a folder every day (hospitals and centres)."""
    info = facility_info(landing, warehouse)
    return sorted(code for code, f in info.items() if datasets_for(f.get("type") or ""))


@dataclass
class Arrivals:
    business_date: str
    expected: list[str] = field(default_factory=list)
    complete: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # no folder at all
    incomplete: dict[str, str] = field(default_factory=dict)  # facility → why
    late: dict[str, str] = field(default_factory=dict)  # facility → manifest generated_at
    unexpected: list[str] = field(default_factory=list)  # folders of facilities not expected
    cutoff: str = ""
    cutoff_passed: bool = False
    checked_at: str = ""

    @property
    def waiting_for(self) -> list[str]:
        """Expected facilities without a complete folder yet."""
        return sorted(set(self.missing) | set(self.incomplete))

    @property
    def done(self) -> bool:
        return not self.waiting_for or self.cutoff_passed

    def to_dict(self) -> dict:
        d = asdict(self)
        d["waiting_for"] = self.waiting_for
        return d

    @classmethod
    def from_dict(cls, d: dict | Arrivals | None) -> Arrivals | None:
        if d is None or isinstance(d, Arrivals):
            return d
        return cls(**{k: v for k, v in d.items() if k != "waiting_for"})


def check_arrivals(landing: Path, business_date: date, *, warehouse: Path | None = None,
                   now: datetime | None = None, cutoff: time | None = None) -> Arrivals:
    from grassroots.ingest import Delivery, read_manifest, verify_files

    landing = Path(landing)
    info = facility_info(landing, warehouse)
    expected = sorted(c for c, f in info.items() if datasets_for(f.get("type") or ""))
    now = now or datetime.now(TZ)
    if now.tzinfo is None:
        now = now.replace(tzinfo=TZ)
    cut = datetime.combine(business_date + timedelta(days=1), cutoff or cutoff_time(), TZ)
    deadline = datetime.combine(business_date + timedelta(days=1), time(ON_TIME_HOUR))
    a = Arrivals(business_date=business_date.isoformat(), expected=expected,
                 cutoff=cut.isoformat(), cutoff_passed=now >= cut,
                 checked_at=now.isoformat(timespec="seconds"))
    day = landing / "extracts" / business_date.isoformat()
    folders = {p.name: p for p in day.iterdir() if p.is_dir()} if day.is_dir() else {}
    for code in expected:
        folder = folders.get(code)
        if folder is None:
            a.missing.append(code)
            continue
        d = Delivery(code, business_date, folder)
        read_manifest(d, set(info))
        if d.status == "loaded":
            verify_files(d)
        if d.status != "loaded":
            a.incomplete[code] = f"{d.status}: {d.detail}"[:300]
            continue
        a.complete.append(code)
        if d.generated_at and d.generated_at >= deadline:
            a.late[code] = d.generated_at.isoformat()
    a.unexpected = sorted(set(folders) - set(expected))
    return a
