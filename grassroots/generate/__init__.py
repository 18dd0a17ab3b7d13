"""Synthetic-region generator: a city's reference files and daily facility extracts.

``generate(out, residents, start, end, seed, **knobs)`` writes a landing zone exactly as the
delivery standard (shared/spec/extracts.md) describes, plus ``_generator/truth.json`` listing every
anomaly it injected and ``_generator/superseded/`` holding the first version of redelivered
facility-days.  Same arguments -> byte-identical tree.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from grassroots import contract
from grassroots.generate import writer as w
from grassroots.generate.activity import Simulator
from grassroots.generate.anomalies import BadRows
from grassroots.generate.calibration import CALIBRATION, Calibration
from grassroots.generate.population import AGE_BAND_EDGES, Residents, age_at, build_residents
from grassroots.generate.region import Region, build_region

__all__ = ["GenerateSummary", "generate"]

# datasets whose rows may arrive late (entered days after the event)
LATE_DATASETS = ("outpatient_visits", "chronic_followups", "health_checkups")


@dataclass
class GenerateSummary:
    out: str
    seed: int
    residents: int
    start: str
    end: str
    days: int
    facilities: int
    delivering_facilities: int
    folders: int = 0
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    bad_rows: int = 0
    anomalies: dict[str, int] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def generate(
    out: Path,
    residents: int,
    start: date,
    end: date,
    seed: int,
    *,
    visits_per_year: float | None = None,
    anomalies: bool = True,
    bad_row_share: float = 0.002,
    late_entry_share: float = 0.004,
    correction_share: float = 0.0005,
    redeliveries: int = 2,
    missing_share: float = 0.003,
    outage_days: int = 4,
    bom_share: float = 0.02,
    gbk_centre: bool = True,
    late_delivery_share: float = 0.02,
    slow_facility_late_share: float = 0.30,
    bad_encoding_files: int = 0,
    missing_column_files: int = 0,
    omit_empty_share: float = 0.03,
    progress: bool = True,
    calibration: Calibration = CALIBRATION,
) -> GenerateSummary:
    """Generate a region of ``residents`` people and its deliveries for start..end (inclusive).

    With ``anomalies=False`` (and ``bad_row_share=0``) every row and file is clean.  The anomaly
    knobs only act when ``anomalies`` is true, except ``bad_row_share`` which also needs it.
    File-level problems (``bad_encoding_files``, ``missing_column_files``) are off by default.
    Deliveries: a ``missing_share`` of facility-days never arrives, one hospital's system is down
    for ``outage_days`` days in a row, ``late_delivery_share`` of folders arrive after the 06:00
    deadline, and one centre is late on ``slow_facility_late_share`` of its days.
    ``calibration`` holds the rates the simulated care follows (``visits_per_year`` overrides its
    own).
    """
    t0 = time.perf_counter()
    out = Path(out)
    if end < start:
        raise ValueError("end must not be before start")
    for sub in ("reference", "extracts", "_generator"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    region = build_region(residents, rng)
    res = build_residents(region, residents, start, rng)
    _write_reference(out, region, res, start, end, np.random.default_rng([seed, 2]))
    if visits_per_year is not None:
        calibration = replace(calibration, visits_per_year=visits_per_year)
    sim = Simulator(region, res, start, end, rng, calibration)
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    run = _Run(
        out,
        region,
        sim,
        days,
        seed,
        anomalies,
        bad_row_share,
        late_entry_share,
        correction_share,
        redeliveries,
        missing_share,
        outage_days,
        bom_share,
        gbk_centre,
        late_delivery_share,
        slow_facility_late_share,
        bad_encoding_files,
        missing_column_files,
        omit_empty_share,
    )
    if progress:
        from rich.progress import Progress

        with Progress() as bar:
            task = bar.add_task(f"generating {residents:,} residents", total=len(days))
            for d in days:
                run.day(d)
                bar.advance(task)
    else:
        for d in days:
            run.day(d)
    summary = GenerateSummary(
        out=str(out),
        seed=seed,
        residents=residents,
        start=start.isoformat(),
        end=end.isoformat(),
        days=len(days),
        facilities=len(region.facilities),
        delivering_facilities=len(run.delivering),
    )
    summary.folders, summary.files, summary.rows = run.folders, run.files, dict(run.rows)
    summary.bad_rows = len(run.bad.records)
    summary.anomalies = {k: len(v) for k, v in run.truth.items() if isinstance(v, list)}
    summary.calibration = _calibration(sim, res, len(days))
    summary.seconds = round(time.perf_counter() - t0, 2)
    run.write_truth(summary)
    return summary


# ---- reference files -------------------------------------------------------------------------


def _write_reference(
    out: Path, region: Region, res: Residents, start: date, end: date, rng: np.random.Generator
) -> None:
    def rows(df, names):
        return [[_cell(v) for v in r] for r in df[names].itertuples(index=False)]

    w.write_reference(out, "regions", rows(region.regions, contract.DATASETS["regions"].names))
    w.write_reference(
        out, "facilities", rows(region.facilities, contract.DATASETS["facilities"].names)
    )
    w.write_reference(out, "teams", rows(region.teams, contract.DATASETS["teams"].names))
    w.write_reference(out, "drugs", rows(region.drugs, contract.DATASETS["drugs"].names))
    # Census denominators: the simulated residents by age at year end, inflated by 0-3 % (people
    # the registry knows but who never show up in care), so rates stay realistic.
    codes = region.communities.code.to_numpy()
    pop_rows = []
    n_comm = len(codes)
    for year in range(start.year, end.year + 1):
        band = (
            np.searchsorted(
                AGE_BAND_EDGES, age_at(res.birth, np.datetime64(f"{year}-12-31")), "right"
            )
            - 1
        )
        band = np.clip(band, 0, len(contract.AGE_BANDS) - 1)
        born = res.birth <= np.datetime64(f"{year}-12-31")
        cell = (res.community.astype(np.int64) * 2 + (~res.male)) * len(contract.AGE_BANDS) + band
        counts = np.bincount(cell[born], minlength=n_comm * 2 * len(contract.AGE_BANDS))
        infl = np.ceil(counts * rng.uniform(1.0, 1.03, len(counts))).astype(np.int64)
        for c in range(n_comm):
            for s, sex in enumerate("MF"):
                for b, ab in enumerate(contract.AGE_BANDS):
                    pop_rows.append([codes[c], str(year), sex, ab, str(infl[(c * 2 + s) * 7 + b])])
    w.write_reference(out, "population", pop_rows)


def _cell(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "Y" if v else "N"
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


# ---- the daily loop --------------------------------------------------------------------------


class _Run:
    def __init__(
        self,
        out: Path,
        region: Region,
        sim: Simulator,
        days: list[date],
        seed: int,
        anomalies: bool,
        bad_row_share: float,
        late_entry_share: float,
        correction_share: float,
        redeliveries: int,
        missing_share: float,
        outage_days: int,
        bom_share: float,
        gbk_centre: bool,
        late_delivery_share: float,
        slow_facility_late_share: float,
        bad_encoding_files: int,
        missing_column_files: int,
        omit_empty_share: float,
    ) -> None:
        self.out, self.region, self.sim, self.days = out, region, sim, days
        self.rng = np.random.default_rng([seed, 1])  # anomalies and delivery timing
        fac = region.facilities
        self.codes = fac.facility_code.to_numpy(dtype=object)
        self.types = fac.facility_type.to_numpy(dtype=object)
        self.delivering = [int(i) for i in fac.index if fac.folder[i] == i]
        self.on = anomalies
        self.late_share = late_entry_share if anomalies else 0.0
        self.corr_share = correction_share if anomalies else 0.0
        self.bom_share = bom_share if anomalies else 0.0
        self.late_delivery_share = late_delivery_share if anomalies else 0.0
        self.slow_late_share = slow_facility_late_share if anomalies else 0.0
        self.omit_empty_share = omit_empty_share
        self.bad = BadRows(self.rng, bad_row_share if anomalies else 0.0)
        self.pending: dict[date, dict[str, list[w.Batch]]] = defaultdict(lambda: defaultdict(list))
        self.folders = self.files = 0
        self.rows: dict[str, int] = defaultdict(int)
        self.truth: dict = {
            "late_entries": [],
            "corrections": [],
            "redeliveries": [],
            "missing_facility_days": [],
            "bom_files": [],
            "late_deliveries": [],
            "bad_files": [],
            "gbk_facilities": [],
        }
        # fixed plan: which centre speaks GBK, which facility-days are missing/redelivered,
        # which files get file-level damage (never on the first or last day)
        centres = [i for i in self.delivering if self.types[i] in contract.CENTRE_TYPES]
        hospitals = [i for i in self.delivering if self.types[i] in contract.HOSPITAL_TYPES]
        township = [i for i in centres if self.types[i] == "township_health_centre"]
        self.gbk = (township or centres)[0] if anomalies and gbk_centre else -1
        if self.gbk >= 0:
            self.truth["gbk_facilities"].append(self.codes[self.gbk])
        inner = days[1:-1] if len(days) > 2 else []
        self.missing: set[tuple[date, int]] = set()
        self.redeliver: set[tuple[date, int]] = set()
        self.damage: dict[tuple[date, int], str] = {}
        self.damage_due: dict[int, list[str]] = {}
        self.slow = -1
        if anomalies and inner:
            # facility-days that never arrive, and one hospital's outage of consecutive days
            for day in inner:
                for fi in self.delivering:
                    if self.rng.random() < missing_share:
                        self.missing.add((day, fi))
            if outage_days > 0 and hospitals:
                down = hospitals[self.rng.integers(len(hospitals))]
                first = int(self.rng.integers(max(1, len(inner) - outage_days)))
                for day in inner[first : first + outage_days]:
                    self.missing.add((day, down))
            slow = [c for c in centres if c != self.gbk]
            self.slow = slow[self.rng.integers(len(slow))] if slow else -1
            for _ in range(redeliveries):
                key = (
                    inner[self.rng.integers(len(inner))],
                    self.delivering[self.rng.integers(len(self.delivering))],
                )
                if key not in self.missing:
                    self.redeliver.add(key)
            plain = [c for c in centres if c != self.gbk] or centres
            for reason, n in (
                ("bad_encoding", bad_encoding_files),
                ("missing_column", missing_column_files),
            ):
                for _ in range(n):
                    key = (
                        inner[self.rng.integers(len(inner))],
                        plain[self.rng.integers(len(plain))],
                    )
                    if (
                        key not in self.missing
                        and key not in self.redeliver
                        and key not in self.damage
                    ):
                        self.damage[key] = reason

    # one business day
    def day(self, d: date) -> None:
        batches = self.sim.day(d)
        for ds, lst in self.pending.pop(d, {}).items():
            batches[ds] = w.concat(([batches[ds]] if ds in batches else []) + lst)
        if self.on:
            self._late_and_corrections(d, batches)
        groups = {ds: _group(b) for ds, b in batches.items() if b}
        for fi in self.delivering:
            self._folder(d, fi, batches, groups)

    def _late_and_corrections(self, d: date, batches: dict[str, w.Batch]) -> None:
        rng = self.rng
        last = self.days[-1]
        for ds in LATE_DATASETS:
            b = batches.get(ds)
            if not b or self.late_share <= 0:
                continue
            fresh = b.get("_late", np.zeros(len(b["_folder"]), bool)) == 0
            late = fresh & (rng.random(len(b["_folder"])) < self.late_share)
            lag = rng.integers(1, 6, len(late))
            late &= np.array([d + timedelta(days=int(k)) <= last for k in lag])
            if not late.any():
                continue
            for i in np.flatnonzero(late):
                due = d + timedelta(days=int(lag[i]))
                if (due, int(b["_folder"][i])) in self.missing:
                    late[i] = False  # never route a late row into a folder that will not exist
                    continue
                row = w.subset(b, np.array([i]))
                row["_late"] = np.ones(1, np.int8)
                self.pending[due][ds].append(row)
                key = contract.DATASETS[ds].key[-1]
                self.truth["late_entries"].append(
                    {
                        "dataset": ds,
                        "id": str(b[key][i]),
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
            batches[ds] = w.subset(b, ~late)
        # corrections: a visit's fee corrected and re-sent (same visit_id) a few days later
        b = batches.get("outpatient_visits")
        if b and self.corr_share > 0:
            fresh = (b.get("_late", np.zeros(len(b["_folder"]))) == 0) & (
                b.get("_corr", np.zeros(len(b["_folder"]))) == 0
            )
            pick = np.flatnonzero(fresh & (rng.random(len(b["_folder"])) < self.corr_share))
            for i in pick:
                due = d + timedelta(days=int(rng.integers(1, 11)))
                if due > last or (due, int(b["_folder"][i])) in self.missing:
                    continue
                row = w.subset(b, np.array([i]))
                delta = (
                    int(rng.integers(1, 50)) * 100
                )  # a missed 1-49 CNY item, paid by the patient
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
        for ds in ("outpatient_visits", "prescriptions", "chronic_followups", "health_checkups"):
            if ds in batches and batches[ds] is not None:
                for k in ("_late", "_corr"):
                    batches[ds].setdefault(k, np.zeros(len(batches[ds]["_folder"]), np.int8))

    def _folder(
        self,
        d: date,
        fi: int,
        batches: dict[str, w.Batch],
        groups: dict[str, dict[int, np.ndarray]],
    ) -> None:
        code = self.codes[fi]
        key = (d, fi)
        files: list[tuple[str, str, list[list[str]], np.ndarray]] = []
        for ds in contract.datasets_for(self.types[fi]):
            header = contract.DATASETS[ds].names
            idx = groups.get(ds, {}).get(fi)
            if idx is None or len(idx) == 0:
                if self.rng.random() < self.omit_empty_share:
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
        if key in self.missing:
            self.truth["missing_facility_days"].append(
                {"business_date": d.isoformat(), "facility": code}
            )
            return
        encoding = "gbk" if fi == self.gbk else "utf-8"
        clean_day = key in self.redeliver
        out_files: list[tuple[str, bytes, int]] = []
        for ds, header, rows, eligible in files:
            damage = self._damage(key, ds, header, rows, encoding)
            # a file rejected whole gets no bad rows: they would never be looked at one by one
            if not clean_day and damage is None:
                rows = self.bad.inject(ds, d, code, header, rows, eligible)
            self.rows[ds] += len(rows)
            out_files.append((ds, *self._encode(d, code, ds, header, rows, encoding, damage)))
        folder = self.out / "extracts" / d.isoformat() / code
        gen = self._generated_at(d, code)
        version = 1
        if clean_day:
            # v1 lacked part of the outpatient extract (the HIS job timed out); v2 is complete
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
                data = w.encode(w.csv_text(header, rows), encoding)
                v1.append((ds, data, len(rows)))
            sup = self.out / "_generator" / "superseded" / d.isoformat() / code
            w.write_folder(sup, code, d, 1, gen, encoding, v1)
            version = 2
            gen = f"{(d + timedelta(days=2)).isoformat()}T10:{int(self.rng.integers(0, 60)):02d}:00"
            self.truth["redeliveries"].append(
                {
                    "business_date": d.isoformat(),
                    "facility": code,
                    "versions": [1, 2],
                    "superseded": f"_generator/superseded/{d.isoformat()}/{code}",
                    "change": f"v1 missed {len(dropped)} outpatient visits (and their prescriptions)",
                }
            )
        w.write_folder(folder, code, d, version, gen, encoding, out_files)
        self.folders += 1
        self.files += len(out_files)

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
        if key in self.damage:
            todo.append(self.damage.pop(key))
        if key in self.redeliver or not rows:
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
        if damage == "missing_column":
            p = header.index("resident_id")
            header = header[:p] + header[p + 1 :]
            rows = [r[:p] + r[p + 1 :] for r in rows]
        text = w.csv_text(header, rows)
        if damage:
            self._bad_file(d, code, ds, damage)
        if damage == "bad_encoding":
            return text.encode("gbk"), len(rows)  # GBK bytes in a folder declared utf-8
        bom = encoding == "utf-8" and self.bom_share > 0 and self.rng.random() < self.bom_share
        if bom:
            self.truth["bom_files"].append(f"extracts/{d.isoformat()}/{code}/{ds}.csv")
        return w.encode(text, encoding, bom), len(rows)

    def _bad_file(self, d: date, code: str, ds: str, reason: str) -> None:
        file = f"extracts/{d.isoformat()}/{code}/{ds}.csv"
        self.truth["bad_files"].append(
            {"business_date": d.isoformat(), "facility": code, "file": file, "reason": reason}
        )

    def _generated_at(self, d: date, code: str) -> str:
        nxt = d + timedelta(days=1)
        slow = self.slow >= 0 and code == self.codes[self.slow]
        late = self.slow_late_share if slow else self.late_delivery_share
        if late > 0 and self.rng.random() < late:
            h, m = int(self.rng.integers(6, 14)), int(self.rng.integers(0, 60))
            s = f"{nxt.isoformat()}T{h:02d}:{m:02d}:00"
            self.truth["late_deliveries"].append(
                {"business_date": d.isoformat(), "facility": code, "generated_at": s}
            )
            return s
        minute = int(self.rng.integers(30, 5 * 60 + 50))  # 00:30-05:49 the next morning
        return f"{nxt.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00"

    def write_truth(self, summary: GenerateSummary) -> None:
        path = self.out / "_generator" / "truth.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "summary": {k: v for k, v in summary.to_dict().items() if k not in ("seconds", "out")},
            **self.truth,
            "bad_rows": self.bad.records,
        }
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _group(b: w.Batch) -> dict[int, np.ndarray]:
    folder = b["_folder"]
    if len(folder) == 0:  # every row of the day was held back as a late entry
        return {}
    order = np.argsort(folder, kind="stable")
    keys, starts = np.unique(folder[order], return_index=True)
    ends = np.append(starts[1:], len(order))
    return {int(k): order[s:e] for k, s, e in zip(keys, starts, ends, strict=True)}


def _calibration(sim: Simulator, res: Residents, n_days: int) -> dict[str, float]:
    st = sim.world.stats
    signed = sim.contracts.signed
    adult = res.age0 >= 18
    total = st.visits_by_class.sum()
    fee = st.fee_by_class / np.maximum(st.visits_by_class, 1) / 100
    occ = {
        lv: st.occ_by_level[lv] / max(1, st.open_by_level[lv]) for lv in sorted(st.open_by_level)
    }
    key = res.key_population(res.age0)
    out = {
        "share_65plus": float((res.age0 >= 65).mean()),
        "share_60plus": float((res.age0 >= 60).mean()),
        "hypertension_adult": float(res.hypertension[adult].mean()),
        "diabetes_adult": float(res.diabetes[adult].mean()),
        "signing_rate_end": float(signed.mean()),
        "key_signing_rate_end": float(signed[key].mean()),
        "visits_per_person_year": float(total / res.n / n_days * 365),
        "grassroots_share": float(st.visits_by_class[0] / max(1, total)),
        "signed_grassroots_share": float(st.signed_visits[1] / max(1, st.signed_visits[0])),
        "unsigned_grassroots_share": float(st.unsigned_visits[1] / max(1, st.unsigned_visits[0])),
        "tertiary_share_of_hospital_visits": float(
            st.visits_by_class[3] / max(1, st.visits_by_class[1:].sum())
        ),
        "fee_ratio_tertiary_secondary": float(fee[3] / max(fee[2], 1e-9)),
        "fee_ratio_tertiary_grassroots": float(fee[3] / max(fee[0], 1e-9)),
        "down_share": float(st.down / max(1, st.up + st.down)),
        "antibiotic_rx_rate": float(st.abx_visits / max(1, st.rx_visits)),
        "discharges_per_1000_year": float(st.discharges / res.n * 1000 / n_days * 365),
    }
    out.update({f"bed_occupancy_{k}": float(v) for k, v in occ.items()})
    return {k: round(v, 4) for k, v in out.items()}
