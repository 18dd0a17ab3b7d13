"""The daily facility folders of the landing zone: which facility-days arrive, when and how, with
the anomalies of ``Anomalies`` injected and each one listed in truth.json.

Stations and village clinics deliver through their centre's folder.  Randomness comes from the
run's second stream, so the simulated care is the same whatever goes wrong in its delivery.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from grassroots import contract
from grassroots.generate import writer as w
from grassroots.generate.anomalies import Anomalies, BadRows
from grassroots.generate.region import Region

# datasets whose rows may arrive late (entered days after the event)
LATE_DATASETS = ("outpatient_visits", "chronic_followups", "health_checkups")
# datasets whose rows carry the _late / _corr flags once late entries and corrections are drawn
FLAGGED = ("outpatient_visits", "prescriptions", "chronic_followups", "health_checkups")
LATE_DAYS = (1, 6)  # a late entry arrives 1-5 days after the event
CORRECTION_DAYS = (1, 11)  # a correction 1-10 days after the first delivery
MISSED_ITEM_YUAN = (1, 50)  # the item a correction adds, paid by the patient
# folders are generated 00:30-05:49 the next morning; late ones 06:00-13:59
ON_TIME_MINUTES = (30, 5 * 60 + 50)
LATE_HOURS = (6, 14)

File = tuple[str, list[str], list[list[str]], np.ndarray]  # dataset, header, rows, may be made bad


@dataclass
class DeliveryPlan:
    """What is decided before the first day (never on the first or last day)."""

    gbk: int = -1  # the facility delivering in GBK, -1 = none
    slow: int = -1  # the centre that is often late, -1 = none
    missing: set[tuple[date, int]] = field(default_factory=set)  # (day, facility) never arriving
    redeliver: set[tuple[date, int]] = field(default_factory=set)
    damage: dict[tuple[date, int], str] = field(default_factory=dict)  # file-level damage due


def plan_deliveries(
    rng: np.random.Generator,
    delivering: list[int],
    types: np.ndarray,
    days: list[date],
    a: Anomalies,
) -> DeliveryPlan:
    centres = [i for i in delivering if types[i] in contract.CENTRE_TYPES]
    hospitals = [i for i in delivering if types[i] in contract.HOSPITAL_TYPES]
    township = [i for i in centres if types[i] == "township_health_centre"]
    plan = DeliveryPlan(gbk=(township or centres)[0] if a.enabled and a.gbk_centre else -1)
    inner = days[1:-1] if len(days) > 2 else []
    if not (a.enabled and inner):
        return plan
    for day in inner:
        for fi in delivering:
            if rng.random() < a.missing_share:
                plan.missing.add((day, fi))
    if a.outage_days > 0 and hospitals:
        down = hospitals[rng.integers(len(hospitals))]
        first = int(rng.integers(max(1, len(inner) - a.outage_days)))
        for day in inner[first : first + a.outage_days]:
            plan.missing.add((day, down))
    slow = [c for c in centres if c != plan.gbk]
    plan.slow = slow[rng.integers(len(slow))] if slow else -1
    for _ in range(a.redeliveries):
        key = (inner[rng.integers(len(inner))], delivering[rng.integers(len(delivering))])
        if key not in plan.missing:
            plan.redeliver.add(key)
    plain = [c for c in centres if c != plan.gbk] or centres
    for reason, n in (
        ("bad_encoding", a.bad_encoding_files),
        ("missing_column", a.missing_column_files),
    ):
        for _ in range(n):
            key = (inner[rng.integers(len(inner))], plain[rng.integers(len(plain))])
            if key not in plan.missing and key not in plan.redeliver and key not in plan.damage:
                plan.damage[key] = reason
    return plan


class Deliveries:
    """Writes each business day's folders and keeps what carries over from day to day: rows held
    back for a later folder, damage not yet applied, the counts and the truth record."""

    def __init__(
        self, out: Path, region: Region, days: list[date], seed: int, anomalies: Anomalies
    ) -> None:
        self.out, self.days = out, days
        self.a = anomalies.in_effect()
        self.rng = np.random.default_rng([seed, 1])
        fac = region.facilities
        self.codes = fac.facility_code.to_numpy(dtype=object)
        self.types = fac.facility_type.to_numpy(dtype=object)
        self.delivering = [int(i) for i in fac.index if fac.folder[i] == i]
        self.bad = BadRows(self.rng, self.a.bad_row_share)
        self.pending: dict[date, dict[str, list[w.Batch]]] = defaultdict(lambda: defaultdict(list))
        self.folders = self.files = 0
        self.rows: dict[str, int] = defaultdict(int)
        self.truth: dict[str, list] = {
            "late_entries": [],
            "corrections": [],
            "redeliveries": [],
            "missing_facility_days": [],
            "bom_files": [],
            "late_deliveries": [],
            "bad_files": [],
            "gbk_facilities": [],
        }
        self.plan = plan_deliveries(self.rng, self.delivering, self.types, days, self.a)
        if self.plan.gbk >= 0:
            self.truth["gbk_facilities"].append(self.codes[self.plan.gbk])
        self.damage_due: dict[int, list[str]] = {}  # facility -> damage waiting for a file

    def day(self, d: date, batches: dict[str, w.Batch]) -> None:
        """Deliver business day d: the simulated rows plus those held back for it."""
        for ds, lst in self.pending.pop(d, {}).items():
            batches[ds] = w.concat(([batches[ds]] if ds in batches else []) + lst)
        if self.a.enabled:
            self._late_entries(d, batches)
            self._corrections(d, batches)
            for ds in FLAGGED:
                if ds in batches and batches[ds] is not None:
                    for k in ("_late", "_corr"):
                        batches[ds].setdefault(k, np.zeros(len(batches[ds]["_folder"]), np.int8))
        groups = {ds: _group(b) for ds, b in batches.items() if b}
        for fi in self.delivering:
            self._folder(d, fi, batches, groups)

    # ---- rows that arrive later ----------------------------------------------------------------

    def _late_entries(self, d: date, batches: dict[str, w.Batch]) -> None:
        """Rows entered days after the event go with a later day's folder (a visit with its
        prescriptions)."""
        rng, last = self.rng, self.days[-1]
        for ds in LATE_DATASETS:
            b = batches.get(ds)
            if not b or self.a.late_entry_share <= 0:
                continue
            fresh = b.get("_late", np.zeros(len(b["_folder"]), bool)) == 0
            late = fresh & (rng.random(len(b["_folder"])) < self.a.late_entry_share)
            lag = rng.integers(*LATE_DAYS, len(late))
            late &= np.array([d + timedelta(days=int(k)) <= last for k in lag])
            if not late.any():
                continue
            for i in np.flatnonzero(late):
                due = d + timedelta(days=int(lag[i]))
                if (due, int(b["_folder"][i])) in self.plan.missing:
                    late[i] = False  # never route a late row into a folder that will not exist
                    continue
                self._hold_back(d, due, ds, b, i, batches)
            batches[ds] = w.subset(b, ~late)

    def _hold_back(
        self, d: date, due: date, ds: str, b: w.Batch, i: int, batches: dict[str, w.Batch]
    ) -> None:
        row = w.subset(b, np.array([i]))
        row["_late"] = np.ones(1, np.int8)
        self.pending[due][ds].append(row)
        self.truth["late_entries"].append(
            {
                "dataset": ds,
                "id": str(b[contract.DATASETS[ds].key[-1]][i]),
                "facility": self.codes[b["_folder"][i]],
                "event_date": d.isoformat(),
                "business_date": due.isoformat(),
            }
        )
        if ds == "outpatient_visits" and "prescriptions" in batches:
            rx = batches["prescriptions"]
            m = (rx["_vidx"] == b["_vidx"][i]) & (rx["visit_id"] == b["visit_id"][i])
            if m.any():
                self.pending[due]["prescriptions"].append(w.subset(rx, m))
                batches["prescriptions"] = w.subset(rx, ~m)

    def _corrections(self, d: date, batches: dict[str, w.Batch]) -> None:
        """A visit's fee corrected and re-sent (same visit_id) a few days later: a missed item,
        paid by the patient."""
        b = batches.get("outpatient_visits")
        if not b or self.a.correction_share <= 0:
            return
        rng, last = self.rng, self.days[-1]
        n = len(b["_folder"])
        fresh = (b.get("_late", np.zeros(n)) == 0) & (b.get("_corr", np.zeros(n)) == 0)
        for i in np.flatnonzero(fresh & (rng.random(n) < self.a.correction_share)):
            due = d + timedelta(days=int(rng.integers(*CORRECTION_DAYS)))
            if due > last or (due, int(b["_folder"][i])) in self.plan.missing:
                continue
            row = w.subset(b, np.array([i]))
            delta = int(rng.integers(*MISSED_ITEM_YUAN)) * 100
            total, ins, other = b["_total"][i] + delta, b["_ins"][i], b["_other"][i] + delta
            row["total_fee"] = w.money(np.array([total]))
            row["other_fee"] = w.money(np.array([other]))
            row["self_paid"] = w.money(np.array([total - ins]))
            row["_corr"] = np.ones(1, np.int8)
            row["_has_rx"] = np.ones(1, bool)  # never turned into a bad row
            self.pending[due]["outpatient_visits"].append(row)
            self.truth["corrections"].append(
                {
                    "dataset": "outpatient_visits",
                    "id": str(b["visit_id"][i]),
                    "facility": self.codes[b["_folder"][i]],
                    "first_business_date": d.isoformat(),
                    "corrected_business_date": due.isoformat(),
                    "field": "other_fee",
                    "old_total_fee": str(b["total_fee"][i]),
                    "new_total_fee": str(row["total_fee"][0]),
                }
            )

    # ---- one folder ----------------------------------------------------------------------------

    def _folder(
        self,
        d: date,
        fi: int,
        batches: dict[str, w.Batch],
        groups: dict[str, dict[int, np.ndarray]],
    ) -> None:
        code = self.codes[fi]
        key = (d, fi)
        files = self._files(fi, batches, groups)
        if key in self.plan.missing:
            self.truth["missing_facility_days"].append(
                {"business_date": d.isoformat(), "facility": code}
            )
            return
        encoding = "gbk" if fi == self.plan.gbk else "utf-8"
        clean_day = key in self.plan.redeliver
        out_files: list[tuple[str, bytes, int]] = []
        for ds, header, rows, eligible in files:
            damage = self._damage(key, ds, header, rows, encoding)
            # a file rejected whole gets no bad rows: they would never be looked at one by one
            if not clean_day and damage is None:
                rows = self.bad.inject(ds, d, code, header, rows, eligible)
            self.rows[ds] += len(rows)
            out_files.append((ds, *self._encode(d, code, ds, header, rows, encoding, damage)))
        gen = self._generated_at(d, code)
        version = 1
        if clean_day:
            self._superseded(d, code, files, encoding, gen)
            version = 2  # generated two days later, in the 10 o'clock hour
            gen = f"{(d + timedelta(days=2)).isoformat()}T10:{int(self.rng.integers(0, 60)):02d}:00"
        w.write_folder(
            self.out / "extracts" / d.isoformat() / code, code, d, version, gen, encoding, out_files
        )
        self.folders += 1
        self.files += len(out_files)

    def _files(
        self, fi: int, batches: dict[str, w.Batch], groups: dict[str, dict[int, np.ndarray]]
    ) -> list[File]:
        """The folder's files: the facility's rows of each dataset it delivers, as text, and
        which rows may be made bad (not a visit with prescriptions, nor a correction)."""
        files: list[File] = []
        for ds in contract.datasets_for(self.types[fi]):
            header = contract.DATASETS[ds].names
            idx = groups.get(ds, {}).get(fi)
            if idx is None or len(idx) == 0:
                if self.rng.random() < self.a.omit_empty_share:
                    continue  # an empty dataset may be left out of the manifest
                files.append((ds, header, [], np.zeros(0, bool)))
                continue
            b = batches[ds]
            rows = [list(r) for r in zip(*(b[c][idx] for c in header), strict=True)]
            eligible = np.ones(len(idx), bool)
            if ds == "outpatient_visits":
                eligible = ~b["_has_rx"][idx]
            if "_corr" in b:
                eligible &= b["_corr"][idx] == 0
            files.append((ds, header, rows, eligible))
        return files

    def _superseded(
        self, d: date, code: str, files: list[File], encoding: str, generated_at: str
    ) -> None:
        """Version 1 of a redelivered folder: the HIS job timed out and missed the last tenth of
        the outpatient extract (and those visits' prescriptions); version 2 is complete."""
        v1 = []
        dropped: set[str] = set()
        for ds, header, rows, _ in files:
            if ds == "outpatient_visits" and rows:
                cut = max(1, len(rows) // 10)
                dropped = {r[0] for r in rows[-cut:]}
                rows = rows[:-cut]
            if ds == "prescriptions" and dropped:
                p = header.index("visit_id")
                rows = [r for r in rows if r[p] not in dropped]
            v1.append((ds, w.encode(w.csv_text(header, rows), encoding), len(rows)))
        sup = f"_generator/superseded/{d.isoformat()}/{code}"
        w.write_folder(self.out / sup, code, d, 1, generated_at, encoding, v1)
        self.truth["redeliveries"].append(
            {
                "business_date": d.isoformat(),
                "facility": code,
                "versions": [1, 2],
                "superseded": sup,
                "change": f"v1 missed {len(dropped)} outpatient visits (and their prescriptions)",
            }
        )

    def _damage(
        self,
        key: tuple[date, int],
        ds: str,
        header: list[str],
        rows: list[list[str]],
        encoding: str,
    ) -> str | None:
        """The file-level damage this file gets, if any: damage planned for the facility is
        applied to the first suitable file on or after the planned day (some days a centre has
        nothing with Chinese text to mangle)."""
        todo = self.damage_due.setdefault(key[1], [])
        if key in self.plan.damage:
            todo.append(self.plan.damage.pop(key))
        if key in self.plan.redeliver or not rows:
            return None
        # a dataset no other rows depend on (a rejected visits file would orphan prescriptions)
        if "missing_column" in todo and ds in ("chronic_followups", "referrals"):
            todo.remove("missing_column")
            return "missing_column"
        if (
            "bad_encoding" in todo
            and encoding == "utf-8"
            and not w.csv_text(header, rows).isascii()
        ):
            todo.remove("bad_encoding")
            return "bad_encoding"
        return None

    def _encode(
        self,
        d: date,
        code: str,
        ds: str,
        header: list[str],
        rows: list[list[str]],
        encoding: str,
        damage: str | None,
    ) -> tuple[bytes, int]:
        file = f"extracts/{d.isoformat()}/{code}/{ds}.csv"
        if damage == "missing_column":
            p = header.index("resident_id")
            header = header[:p] + header[p + 1 :]
            rows = [r[:p] + r[p + 1 :] for r in rows]
        text = w.csv_text(header, rows)
        if damage:
            self.truth["bad_files"].append(
                {"business_date": d.isoformat(), "facility": code, "file": file, "reason": damage}
            )
        if damage == "bad_encoding":
            return text.encode("gbk"), len(rows)  # GBK bytes in a folder declared utf-8
        bom = encoding == "utf-8" and self.a.bom_share > 0 and self.rng.random() < self.a.bom_share
        if bom:
            self.truth["bom_files"].append(file)
        return w.encode(text, encoding, bom), len(rows)

    def _generated_at(self, d: date, code: str) -> str:
        nxt = d + timedelta(days=1)
        slow = self.plan.slow >= 0 and code == self.codes[self.plan.slow]
        late = self.a.slow_facility_late_share if slow else self.a.late_delivery_share
        if late > 0 and self.rng.random() < late:
            h, m = int(self.rng.integers(*LATE_HOURS)), int(self.rng.integers(0, 60))
            s = f"{nxt.isoformat()}T{h:02d}:{m:02d}:00"
            self.truth["late_deliveries"].append(
                {"business_date": d.isoformat(), "facility": code, "generated_at": s}
            )
            return s
        minute = int(self.rng.integers(*ON_TIME_MINUTES))
        return f"{nxt.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00"

    def write_truth(self, summary: dict) -> None:
        path = self.out / "_generator" / "truth.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "summary": {k: v for k, v in summary.items() if k not in ("seconds", "out")},
            **self.truth,
            "bad_rows": self.bad.records,
        }
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _group(b: w.Batch) -> dict[int, np.ndarray]:
    """Row indices of a batch by delivering folder."""
    folder = b["_folder"]
    if len(folder) == 0:  # every row of the day was held back as a late entry
        return {}
    order = np.argsort(folder, kind="stable")
    keys, starts = np.unique(folder[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    return {int(k): order[s:e] for k, s, e in zip(keys, starts, ends, strict=True)}
