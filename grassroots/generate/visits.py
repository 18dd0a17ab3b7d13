"""Outpatient visits: who comes, where, for what, and what it costs.

Each day draws visits by thinning a Poisson process over the residents' visit intensities; the
visit class (grassroots or a hospital level) is drawn so that over a year each group's grassroots
share hits its target despite the weekend and holiday dips, which hit grassroots harder.  Money
is integer fen throughout so every sum written is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from grassroots.generate import calendar, catalog
from grassroots.generate import writer as w
from grassroots.generate.calibration import Calibration
from grassroots.generate.contracts import Contracts
from grassroots.generate.population import age_band_index
from grassroots.generate.prescriptions import Formulary, Lines, line_amounts, prescribe, rx_rows
from grassroots.generate.world import World, ymd

# Clinic hours peak mid-morning and mid-afternoon: share of visits in the morning, (mean, sd)
# minute of day of each peak, opening and closing minute.  Emergencies come around the clock.
MORNING_SHARE = 0.62
MORNING_PEAK = (9.8 * 60, 70)
AFTERNOON_PEAK = (15 * 60, 60)
CLINIC_HOURS = (7 * 60 + 30, 18 * 60)
# departments that override the facility's clinics at hospitals
EMERGENCY, OBSTETRICS, INTERNAL_MEDICINE = "20", "05", "03"


class Hospitals:
    """Where a resident goes for a hospital visit of class 1-3: the class's hospitals weighted by
    beds, mostly in the resident's own district (tertiary ones serve the whole city)."""

    def __init__(self, world: World) -> None:
        cal, g = world.cal, world.region
        kind = g.facilities.kind.to_numpy()
        self.cands: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for c in (1, 2, 3):
            away = cal.other_district_weight_level2 if c == 2 else cal.other_district_weight_level1
            for dd in g.districts.index:
                idx = np.flatnonzero(world.fac_class == c)
                same = world.fac_district[idx] == dd
                wgt = world.fac_beds[idx].astype(float) * np.where(same | (c == 3), 1.0, away)
                wgt *= np.where(kind[idx] == "psychiatric", cal.psychiatric_outpatient_weight, 1.0)
                self.cands[(c, dd)] = (idx, np.cumsum(wgt) / wgt.sum())

    def pick(self, rng: np.random.Generator, cls: int, district: int) -> int:
        idx, cum = self.cands[(cls, district)]
        return idx[min(np.searchsorted(cum, rng.random(), "right"), len(idx) - 1)]

    def pick_many(self, rng: np.random.Generator, cls: int, district: int, n: int) -> np.ndarray:
        idx, cum = self.cands[(cls, district)]
        return idx[np.minimum(np.searchsorted(cum, rng.random(n), "right"), len(idx) - 1)]


@dataclass
class VisitModel:
    class_cum: dict[tuple[bool, bool], np.ndarray]  # (signed, urban) -> cumulative class shares
    visits_per_day: np.ndarray  # each resident's expected visits a day
    lam_cum: np.ndarray  # cumulative intensities before the day's thinning
    lam_total: float
    hospitals: Hospitals
    district_centres: dict[int, np.ndarray]
    station_of_comm: np.ndarray  # facility index of each community's station, -1 = none
    n_doctors: np.ndarray  # per facility: one per 10 beds, plus 3 (grassroots) or 8 (hospital)


def visit_model(world: World) -> VisitModel:
    r, cal, g = world.res, world.cal, world.region
    shape = np.where(
        r.hypertension | r.diabetes, cal.chronic_propensity_shape, cal.visit_propensity_shape
    )
    propensity = world.rng.gamma(shape, 1 / shape)
    chronic = cal.visit_rate_per_chronic_disease
    lam = (
        np.array(cal.visit_rate_by_age_band)[age_band_index(r.age0)]
        * (1 + chronic * r.hypertension + chronic * r.diabetes)
        * propensity
    )
    class_cum, mean_f = _class_shares(cal, world.start.year)
    lam *= cal.visits_per_year / 365.0 / mean_f / lam.mean()
    lam_cum = np.cumsum(lam)
    centre = g.facilities.is_centre.to_numpy()
    return VisitModel(
        class_cum=class_cum,
        visits_per_day=lam * mean_f,
        lam_cum=lam_cum,
        lam_total=float(lam_cum[-1]),
        hospitals=Hospitals(world),
        district_centres={
            dd: np.flatnonzero(centre & (world.fac_district == dd)) for dd in g.districts.index
        },
        station_of_comm=g.communities.station.to_numpy(),
        n_doctors=np.maximum(1, (world.fac_beds // 10) + np.where(world.fac_grass, 3, 8)),
    )


def _class_shares(cal: Calibration, year: int) -> tuple[dict[tuple[bool, bool], np.ndarray], float]:
    """Cumulative visit-class shares per (signed, urban) such that the *yearly* grassroots share
    hits its target after the day factors, and the mean day factor a visit survives with."""
    days = [date(year, 1, 1) + timedelta(days=k) for k in range(365)]
    fmean = np.array([calendar.visit_factors(d) for d in days]).mean(axis=0)
    split = np.array(cal.hospital_split)
    fh = (split * fmean[1:]).sum() / split.sum()
    targets = {False: cal.grassroots_share_unsigned, True: cal.grassroots_share_signed}
    by_area = {True: np.array(cal.hospital_split_urban), False: np.array(cal.hospital_split_rural)}
    class_cum = {}
    for signed, t in targets.items():
        g = t * fh / (t * fh + (1 - t) * fmean[0])
        for urban, split in by_area.items():
            class_cum[(signed, urban)] = np.cumsum(np.concatenate([[g], (1 - g) * split]))

    def kept(cum: np.ndarray) -> float:
        return (np.diff(np.concatenate([[0], cum])) * fmean).sum()

    s = cal.signed_visit_share
    mean_f = s * kept(class_cum[(True, True)]) + (1 - s) * kept(class_cum[(False, True)])
    return class_cum, mean_f


@dataclass
class Seen:
    """A day's visits, as the referrals drawn from them need them."""

    who: np.ndarray
    fac: np.ndarray
    times: np.ndarray  # datetime64[s]
    dx: np.ndarray  # diagnosis index (Formulary)
    team: np.ndarray  # family-doctor team, -1 = none


def visits(
    world: World, model: VisitModel, f: Formulary, contracts: Contracts, day: date
) -> tuple[w.Batch, w.Batch, Seen]:
    """The day's outpatient visits and prescription lines."""
    rng, r = world.rng, world.res
    who, cls, signed = _patients(world, model, contracts, day)
    fac = _facilities(world, model, who, cls)
    n = len(who)
    lv = world.fac_class[fac]  # station/other-district choices keep their class anyway
    hosp = ~world.fac_grass[fac]
    emergency, home_visit = _visit_types(world, r.age0[who], hosp)
    times = _times(rng, day, n, emergency)
    dx, ht, dm, preg = _diagnoses(world, f, who, hosp)
    dept = _departments(world, fac, hosp, emergency, preg, ht | dm)
    doctor = np.char.add(
        np.char.add(world.fac_code[fac].astype("U"), "D"),
        np.char.zfill((rng.random(n) * model.n_doctors[fac]).astype(np.int64).astype("U"), 3),
    )
    # family doctor team: a signed resident seen at their own centre (or its station)
    own = ~hosp & (world.fac_folder[fac] == r.centre[who]) & signed
    team = np.where(own, contracts.team[who], -1)
    has_rx, lines = prescribe(world, f, dx, lv, hosp)
    fees = _fees(world, lv, hosp, home_visit, has_rx)
    amount = line_amounts(f, lines, fees["drug_fee"])
    seq = world.next_ids("visit_" + ymd(day), n)
    vid = np.char.add("V" + ymd(day), np.char.zfill(seq.astype("U"), 7)).astype(object)
    vtype = np.where(emergency, "emergency", np.where(home_visit, "home_visit", "outpatient"))
    out: w.Batch = {
        "visit_id": vid,
        "facility_code": world.fac_code[fac],
        "resident_id": w.prefixed("R", r.rid[who]),
        "id_card_no": np.where(
            rng.random(n) < world.cal.visit_id_card_share, r.id_card[who], ""
        ).astype(object),
        "visit_time": w.ts(times),
        "department_code": dept,
        "visit_type": vtype.astype(object),
        "doctor_id": doctor.astype(object),
        "team_code": w.take(world.team_code, np.maximum(team, 0), team < 0),
        "diagnosis_code": f.dx_codes[dx],
        **{col: w.money(fees[col]) for col in FEE_COLUMNS},
        "_folder": world.fac_folder[fac],
        "_has_rx": has_rx,
        "_total": fees["total_fee"],
        "_ins": fees["insurance_paid"],
        "_other": fees["other_fee"],
        "_vidx": np.arange(n),
    }
    rx = rx_rows(world, f, lines, amount, fac, seq, vid, ymd(day))
    _tally(world, lv, fees["total_fee"], signed, hosp, lines)
    return out, rx, Seen(who, fac, times, dx, team)


def _patients(
    world: World, model: VisitModel, contracts: Contracts, day: date
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who visits today (sorted), the visit class drawn for each, and whether they are signed."""
    rng, r = world.rng, world.res
    f = calendar.visit_factors(day)
    fmax = f.max()
    n = rng.poisson(model.lam_total * fmax)
    who = np.minimum(
        np.searchsorted(model.lam_cum, rng.random(n) * model.lam_total, "right"), r.n - 1
    )
    signed = contracts.signed[who]
    u = rng.random(n)
    urban = r.urban[who]
    cls = np.zeros(n, np.int64)
    for (sg, ub), cum in model.class_cum.items():
        m = (signed == sg) & (urban == ub)
        cls[m] = np.searchsorted(cum, u[m], "right")
    cls = np.minimum(cls, 3)
    keep = rng.random(n) < f[cls] / fmax
    who, cls, signed = who[keep], cls[keep], signed[keep]
    order = np.argsort(who, kind="stable")
    return who[order], cls[order], signed[order]


def _facilities(world: World, model: VisitModel, who: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Grassroots visits: the home centre, the community's station or another centre of the
    district; hospital visits: a hospital of the class."""
    rng, r, cal = world.rng, world.res, world.cal
    n = len(who)
    fac = np.empty(n, np.int64)
    g = cls == 0
    station = model.station_of_comm[r.community[who]]
    use_st = g & (station >= 0) & (rng.random(n) < cal.station_share)
    fac[g] = r.centre[who][g]
    fac[use_st] = station[use_st]
    other = g & ~use_st & (rng.random(n) < cal.other_centre_share)
    dist = r.district[who]
    for dd, cands in model.district_centres.items():
        m = np.flatnonzero(other & (dist == dd))
        if len(m):
            fac[m] = cands[rng.integers(0, len(cands), len(m))]
    for c in (1, 2, 3):
        for dd in world.region.districts.index:
            m = np.flatnonzero((cls == c) & (dist == dd))
            if len(m):
                fac[m] = model.hospitals.pick_many(rng, c, dd, len(m))
    return fac


def _visit_types(world: World, age: np.ndarray, hosp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Emergencies, and home visits (grassroots, residents 65+)."""
    rng, cal = world.rng, world.cal
    n = len(age)
    emergency = rng.random(n) < np.where(
        hosp, cal.emergency_share_hospital, cal.emergency_share_grassroots
    )
    home_visit = ~hosp & ~emergency & (age >= 65) & (rng.random(n) < cal.home_visit_share_65plus)
    return emergency, home_visit


def _times(rng: np.random.Generator, day: date, n: int, emergency: np.ndarray) -> np.ndarray:
    minute = np.where(
        rng.random(n) < MORNING_SHARE, rng.normal(*MORNING_PEAK, n), rng.normal(*AFTERNOON_PEAK, n)
    )
    minute = np.clip(minute, *CLINIC_HOURS)
    minute = np.where(emergency, rng.integers(0, 24 * 60, n), minute)
    base = np.datetime64(day, "m")
    return (base + minute.astype(np.int64).astype("timedelta64[m]")).astype("datetime64[s]")


def _diagnoses(
    world: World, f: Formulary, who: np.ndarray, hosp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Diagnosis indices, and which visits are for hypertension, diabetes, pregnancy care:
    chronic patients are mostly seen for their condition."""
    rng, r, cal = world.rng, world.res, world.cal
    n = len(who)
    u = rng.random(n)
    dx = np.where(
        hosp,
        np.searchsorted(f.dx_cum[1], rng.random(n), "right"),
        np.searchsorted(f.dx_cum[0], rng.random(n), "right"),
    )
    dx = np.minimum(dx, f.n_pool - 1)
    ht = r.hypertension[who] & (u < np.where(hosp, *cal.hypertension_visit_share))
    dm = r.diabetes[who] & ~ht & (rng.random(n) < np.where(hosp, *cal.diabetes_visit_share))
    preg = r.pregnant[who] & ~ht & ~dm & (rng.random(n) < cal.pregnancy_visit_share)
    dx = np.where(ht, f.ht0 + rng.integers(0, 4, n), dx)
    dx = np.where(dm, f.dm0 + rng.integers(0, 4, n), dx)
    dx = np.where(preg, f.pregnancy, dx)
    return dx, ht, dm, preg


def _departments(
    world: World,
    fac: np.ndarray,
    hosp: np.ndarray,
    emergency: np.ndarray,
    preg: np.ndarray,
    chronic: np.ndarray,
) -> np.ndarray:
    rng = world.rng
    kind = world.fac_kind[fac]
    dept = np.full(len(fac), "02", dtype=object)
    for k, clinics in catalog.CLINICS.items():
        m = np.flatnonzero(kind == k)
        if len(m):
            dept[m] = np.array(clinics, dtype=object)[rng.integers(0, len(clinics), len(m))]
    dept[hosp & emergency] = EMERGENCY
    dept[hosp & preg] = OBSTETRICS
    dept[hosp & chronic & (kind == "general")] = INTERNAL_MEDICINE
    return dept


FEE_COLUMNS = (
    "total_fee",
    "drug_fee",
    "exam_fee",
    "treatment_fee",
    "other_fee",
    "insurance_paid",
    "self_paid",
)


def _fees(
    world: World, lv: np.ndarray, hosp: np.ndarray, home_visit: np.ndarray, has_rx: np.ndarray
) -> dict[str, np.ndarray]:
    """Fees in fen: the total by visit class, its drug part, the rest split into exam, treatment
    and other; the insured part."""
    rng, cal = world.rng, world.cal
    n = len(lv)
    sigma = cal.visit_cost_sigma
    mu = np.log(np.array(cal.visit_mean_yuan)[lv] * 100) - sigma**2 / 2
    total = np.maximum(cal.visit_cost_min_fen, np.round(rng.lognormal(mu, sigma)))
    total = total.astype(np.int64)
    total = np.where(home_visit, total + cal.home_visit_fee_fen, total)
    share = np.clip(
        rng.normal(np.array(cal.drug_share)[lv], cal.drug_share_sd), *cal.drug_share_bounds
    )
    drug_fee = np.where(has_rx, np.round(total * share), 0).astype(np.int64)
    rest = total - drug_fee
    exam = np.floor(rest * rng.uniform(*cal.exam_share, n)).astype(np.int64)
    treat = np.floor((rest - exam) * rng.uniform(*cal.treatment_share, n)).astype(np.int64)
    insured = rng.normal(np.where(hosp, *cal.insured_share), cal.insured_share_sd)
    ins = np.floor(total * np.clip(insured, *cal.insured_share_bounds)).astype(np.int64)
    return {
        "total_fee": total,
        "drug_fee": drug_fee,
        "exam_fee": exam,
        "treatment_fee": treat,
        "other_fee": rest - exam - treat,
        "insurance_paid": ins,
        "self_paid": total - ins,
    }


def _tally(
    world: World,
    lv: np.ndarray,
    total: np.ndarray,
    signed: np.ndarray,
    hosp: np.ndarray,
    lines: Lines,
) -> None:
    st = world.stats
    np.add.at(st.visits_by_class, lv, 1)
    np.add.at(st.fee_by_class, lv, total)
    st.signed_visits += [signed.sum(), (signed & ~hosp).sum()]
    st.unsigned_visits += [(~signed).sum(), (~signed & ~hosp).sum()]
    st.rx_visits += len(lines.visits)
    st.abx_visits += lines.antibiotic_visits
