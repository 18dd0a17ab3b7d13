"""Synthetic-region generator: a city's reference files and daily facility extracts.

``generate(out, residents, start, end, seed, **knobs)`` writes a landing zone as the delivery
standard (``grassroots.contract``) describes it, plus ``_generator/truth.json`` listing every
anomaly it injected and ``_generator/superseded/`` holding the first version of redelivered
facility-days.  Same arguments -> byte-identical tree.

The region (``region``, ``population``) and its reference files come first; then
``activity.Simulator`` simulates each day's care (one module per dataset family, rates from
``calibration``) and ``deliveries.Deliveries`` writes it as facility folders, with the anomalies
of ``anomalies.Anomalies``.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from grassroots import contract
from grassroots.generate import writer as w
from grassroots.generate.activity import Simulator
from grassroots.generate.anomalies import Anomalies
from grassroots.generate.calibration import CALIBRATION, Calibration
from grassroots.generate.deliveries import Deliveries
from grassroots.generate.population import Residents, age_at, age_band_index, build_residents
from grassroots.generate.region import Region, build_region
from grassroots.generate.world import World
from grassroots.progress import progress as show_progress

__all__ = ["Anomalies", "Calibration", "GenerateSummary", "generate"]

KNOBS = frozenset(f.name for f in fields(Anomalies)) - {"enabled"}


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
    anomalies: bool | Anomalies = True,
    calibration: Calibration = CALIBRATION,
    visits_per_year: float | None = None,
    progress: bool = True,
    **knobs: float,
) -> GenerateSummary:
    """Generate a region of ``residents`` people and its deliveries for start..end (inclusive).

    ``anomalies``: what goes wrong in the deliveries, an ``Anomalies`` or a bool (its defaults,
    or nothing at all); ``knobs`` are ``Anomalies`` fields given by name (``bad_row_share=0.01``,
    ``missing_column_files=1``, …) and override it.  With ``anomalies=False`` every row and file
    is clean.  ``calibration`` holds the rates the simulated care follows; ``visits_per_year``
    overrides its own.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if end < start:
        raise ValueError("end must not be before start")
    unknown = set(knobs) - KNOBS
    if unknown:
        raise TypeError(f"generate() got unexpected keyword arguments: {sorted(unknown)}")
    if isinstance(anomalies, bool):
        anomalies = Anomalies(enabled=anomalies)
    anomalies = replace(anomalies, **knobs)
    if visits_per_year is not None:
        calibration = replace(calibration, visits_per_year=visits_per_year)
    for sub in ("reference", "extracts", "_generator"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    region = build_region(residents, rng)
    res = build_residents(region, residents, start, rng)
    _write_reference(out, region, res, start, end, np.random.default_rng([seed, 2]))
    sim = Simulator(World(region, res, start, end, rng, calibration))
    days = [start + timedelta(days=k) for k in range((end - start).days + 1)]
    run = Deliveries(out, region, days, seed, anomalies)
    for d in show_progress(days, progress, f"generating {residents:,} residents"):
        run.day(d, sim.day(d))
    summary = GenerateSummary(
        out=str(out),
        seed=seed,
        residents=residents,
        start=start.isoformat(),
        end=end.isoformat(),
        days=len(days),
        facilities=len(region.facilities),
        delivering_facilities=len(run.delivering),
        folders=run.folders,
        files=run.files,
        rows=dict(run.rows),
        bad_rows=len(run.bad.records),
        anomalies={k: len(v) for k, v in run.truth.items()},
        calibration=_calibration_report(sim, res, len(days)),
    )
    summary.seconds = round(time.perf_counter() - t0, 2)
    run.write_truth(summary.to_dict())
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
    n_comm, n_bands = len(codes), len(contract.AGE_BANDS)
    for year in range(start.year, end.year + 1):
        year_end = np.datetime64(f"{year}-12-31")
        band = np.clip(age_band_index(age_at(res.birth, year_end)), 0, n_bands - 1)
        born = res.birth <= year_end
        cell = (res.community.astype(np.int64) * 2 + (~res.male)) * n_bands + band
        counts = np.bincount(cell[born], minlength=n_comm * 2 * n_bands)
        infl = np.ceil(counts * rng.uniform(1.0, 1.03, len(counts))).astype(np.int64)
        for c in range(n_comm):
            for s, sex in enumerate("MF"):
                for b, ab in enumerate(contract.AGE_BANDS):
                    pop_rows.append(
                        [codes[c], str(year), sex, ab, str(infl[(c * 2 + s) * n_bands + b])]
                    )
    w.write_reference(out, "population", pop_rows)


def _cell(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "Y" if v else "N"
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return str(v)


# ---- calibration report ------------------------------------------------------------------


def _calibration_report(sim: Simulator, res: Residents, n_days: int) -> dict[str, float]:
    """The figures the calibration aims at, as simulated (before any anomaly)."""
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
