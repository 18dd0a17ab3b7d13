"""Prescriptions: the diagnoses a visit can carry with the drug kinds each calls for, and the
lines written at a day's visits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grassroots.generate import catalog
from grassroots.generate import writer as w
from grassroots.generate.region import Region
from grassroots.generate.world import World

# outpatient diagnoses (besides hypertension and diabetes) treated as chronic
CHRONIC_DX = {"E78.5", "I25.1", "I69.3", "Z76.0", "I48"}
MAX_LINES = 4
KINDS_PER_DX = 3  # a diagnosis's drug kinds, repeated to this many


@dataclass
class Formulary:
    """Diagnosis and drug tables.  Diagnosis indices: the outpatient pool first, then four
    hypertension codes from ``ht0``, four diabetes codes from ``dm0`` and pregnancy care."""

    dx_codes: np.ndarray
    n_pool: int
    dx_cum: np.ndarray  # (grassroots, hospital) cumulative weights over the pool
    dx_kinds: np.ndarray  # (diagnosis, KINDS_PER_DX) drug kind indices
    dx_has_drugs: np.ndarray
    dx_abx: np.ndarray  # chance a visit for the diagnosis gets an antibiotic
    dx_chronic: np.ndarray
    drug_code: np.ndarray
    drug_price: np.ndarray
    kind_drugs: np.ndarray  # (kind, n): the drugs of each kind, repeated to equal length
    abx_drugs: np.ndarray

    @property
    def ht0(self) -> int:
        return self.n_pool

    @property
    def dm0(self) -> int:
        return self.n_pool + 4

    @property
    def pregnancy(self) -> int:
        return self.n_pool + 8


def formulary(region: Region) -> Formulary:
    d = region.drugs
    kinds = sorted(set(d.kind))
    kind_idx = {k: i for i, k in enumerate(kinds)}
    width = int(d.kind.value_counts().max())
    kind_drugs = np.zeros((len(kinds), width), dtype=np.int64)
    for k, i in kind_idx.items():
        kind_drugs[i] = np.resize(np.flatnonzero(d.kind.to_numpy() == k), width)
    dx = catalog.OUTPATIENT_DX
    dx_w = np.array([[x[1] for x in dx], [x[2] for x in dx]], dtype=float)
    dx_w /= dx_w.sum(axis=1, keepdims=True)
    kinds_of = [x[3] for x in dx] + [("ht",)] * 4 + [("dm",)] * 4 + [("other",)]
    return Formulary(
        dx_codes=np.array(
            [x[0] for x in dx]
            + list(catalog.HYPERTENSION_DX)
            + list(catalog.DIABETES_DX)
            + [catalog.PREGNANCY_DX],
            dtype=object,
        ),
        n_pool=len(dx),
        dx_cum=np.cumsum(dx_w, axis=1),
        dx_kinds=np.array(
            [
                [kind_idx[k] for k in np.resize(np.array(ks or ("other",)), KINDS_PER_DX)]
                for ks in kinds_of
            ]
        ),
        dx_has_drugs=np.array([bool(ks) for ks in kinds_of]),
        dx_abx=np.array([x[4] for x in dx] + [0.0] * 9),
        dx_chronic=np.array([x[0] in CHRONIC_DX for x in dx] + [True] * 8 + [False]),
        drug_code=d.drug_code.to_numpy(dtype=object),
        drug_price=d.price.to_numpy(),
        kind_drugs=kind_drugs,
        abx_drugs=np.flatnonzero(d.is_antibiotic.to_numpy()),
    )


@dataclass
class Lines:
    """The prescription lines of a day's visits."""

    visits: np.ndarray  # the visits with a prescription
    visit: np.ndarray  # each line's visit
    first: np.ndarray  # each prescription's first line
    line_no: np.ndarray
    drug: np.ndarray
    days: np.ndarray
    units: np.ndarray  # per day
    extended: np.ndarray
    antibiotic_visits: int


def prescribe(
    world: World, f: Formulary, dx: np.ndarray, lv: np.ndarray, hosp: np.ndarray
) -> tuple[np.ndarray, Lines]:
    """Which visits get a prescription (visit class lv), and its lines."""
    rng, cal = world.rng, world.cal
    has_rx = (rng.random(len(dx)) < np.array(cal.rx_share)[lv]) & f.dx_has_drugs[dx]
    vi = np.flatnonzero(has_rx)
    n_lines = np.searchsorted(np.cumsum(cal.rx_lines), rng.random(len(vi)), "right") + 1
    n_lines = np.minimum(n_lines, MAX_LINES)
    lv_idx = np.repeat(vi, n_lines)
    n = len(lv_idx)
    first = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    line_no = np.arange(n) - np.repeat(first, n_lines) + 1
    kind = f.dx_kinds[dx[lv_idx], rng.integers(0, KINDS_PER_DX, n)]
    drug = f.kind_drugs[kind, rng.integers(0, f.kind_drugs.shape[1], n)]
    # an antibiotic, when given, is the first line
    abx_visit = rng.random(len(vi)) < f.dx_abx[dx[vi]]
    abx_line = np.repeat(abx_visit, n_lines) & (line_no == 1)
    drug = np.where(abx_line, f.abx_drugs[rng.integers(0, len(f.abx_drugs), n)], drug)
    chronic = f.dx_chronic[dx[lv_idx]] & ~abx_line
    long_rx = chronic & (rng.random(n) < np.array(cal.long_rx_share)[lv[lv_idx]])
    days = np.where(
        long_rx,
        rng.choice(cal.long_rx_days, n),
        np.where(chronic, rng.choice(cal.chronic_rx_days, n), rng.choice(cal.acute_rx_days, n)),
    )
    units = rng.choice(cal.rx_units_per_day, n)
    extended = chronic & ~hosp[lv_idx] & (rng.random(n) < cal.extended_rx_share)
    lines = Lines(vi, lv_idx, first, line_no, drug, days, units, extended, int(abx_visit.sum()))
    return has_rx, lines


def line_amounts(f: Formulary, lines: Lines, drug_fee: np.ndarray) -> np.ndarray:
    """Each visit's drug fee (fen) split over its lines by their list price, exactly."""
    n = len(drug_fee)
    wline = f.drug_price[lines.drug] * lines.days * lines.units + 1.0
    wsum = np.bincount(lines.visit, wline, minlength=n)
    amount = np.floor(drug_fee[lines.visit] * wline / wsum[lines.visit]).astype(np.int64)
    amount[lines.first] += drug_fee[lines.visits] - np.round(
        np.bincount(lines.visit, amount, minlength=n)[lines.visits]
    ).astype(np.int64)
    return amount


def rx_rows(
    world: World,
    f: Formulary,
    lines: Lines,
    amount: np.ndarray,
    fac: np.ndarray,
    visit_seq: np.ndarray,
    visit_id: np.ndarray,
    ymd: str,
) -> w.Batch:
    i = lines.visit
    return {
        "prescription_id": np.char.add(
            "P" + ymd, np.char.zfill(visit_seq[i].astype("U"), 7)
        ).astype(object),
        "line_no": w.ints(lines.line_no),
        "facility_code": world.fac_code[fac[i]],
        "visit_id": visit_id[i],
        "drug_code": f.drug_code[lines.drug],
        "quantity": w.ints(lines.days * lines.units),
        "days_supply": w.ints(lines.days),
        "amount": w.money(amount),
        "is_extended": w.yn(lines.extended),
        "_folder": world.fac_folder[fac[i]],
        "_vidx": i,
    }
