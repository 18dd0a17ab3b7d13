"""Wards: admissions (ordinary, and inpatient referrals that arrived), stays, the midnight bed
census and the discharges."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from grassroots.generate import calendar, catalog
from grassroots.generate import writer as w
from grassroots.generate.population import age_band_index
from grassroots.generate.referrals import ReferralQueue
from grassroots.generate.world import World, d64, day_number

# Ward diagnoses that name a chronic disease go to its patients only (others get pneumonia).
HYPERTENSION_CATEGORIES = ("I10", "I11", "I12", "I13")
DIABETES_CATEGORIES = ("E11", "E14")
FALLBACK_DX = "J18.9"
# departments admitting from their own pools: obstetrics, paediatrics, psychiatry
POOLED = ("05", "07", "15")
HOUR = 3600
# admissions 07:00-21:59; day cases leave after 0.5-3 hours, others 08:00-15:59
ADMIT_HOURS = (7 * HOUR, 22 * HOUR)
DAY_CASE_SECONDS = (1800, 3 * HOUR)
DISCHARGE_HOURS = (8 * HOUR, 16 * HOUR)
STAY_COLUMNS = (
    ("ward", np.int64),
    ("res", np.int64),
    ("admit", "datetime64[s]"),
    ("dis", "datetime64[s]"),
    ("id", np.int64),
    ("ref", object),  # referral id, "" = none
)


@dataclass
class Wards:
    """One ward per facility and department, and the stays in progress (parallel arrays)."""

    fac: np.ndarray
    dept: np.ndarray
    beds: np.ndarray
    lam: np.ndarray  # ordinary admissions a day
    nights: np.ndarray  # mean nights of a stay
    level: np.ndarray  # "centre" or the hospital level, as text
    pool: np.ndarray  # the admission pool of its general patients
    pools: dict[str, np.ndarray]  # residents each pool admits from
    pool_cum: dict[str, np.ndarray]  # their cumulative admission weights
    adm_mean: float  # mean day factor of admissions over a year
    # beds with the extra ones (加床): beyond them patients wait (without a limit, the small
    # wards of a small region would draw months at 150 % of their beds)
    capacity: np.ndarray
    credit: np.ndarray = field(init=False)  # referral admissions to offset
    waiting: np.ndarray = field(init=False)  # ordinary admissions waiting for a bed
    stays: dict[str, np.ndarray] = field(init=False)
    referral_dx: dict[str, str] = field(default_factory=dict)  # diagnosis a referral came with
    referral_waited: dict[str, int] = field(default_factory=dict)  # days a referral waited

    def __post_init__(self) -> None:
        self.credit = np.zeros(len(self.fac), np.int64)
        self.waiting = np.zeros(len(self.fac), np.int64)
        self.stays = {k: np.zeros(0, t) for k, t in STAY_COLUMNS}


def build_wards(world: World, queue: ReferralQueue) -> Wards:
    """Wards with admission rates from Little's law, run for the warm-up days so they start at
    their stationary occupancy."""
    fac, cal = world.region.facilities, world.cal
    wf, wd, wb, wl, wn = [], [], [], [], []
    for i in np.flatnonzero(world.fac_beds > 0):
        depts = catalog.WARDS["centre" if world.fac_grass[i] else world.fac_kind[i]]
        n_w = int(np.clip(world.fac_beds[i] // cal.beds_per_ward, 1, len(depts)))
        share = np.linspace(2, 1, n_w)
        beds = np.maximum(1, np.floor(world.fac_beds[i] * share / share.sum())).astype(int)
        beds[0] += world.fac_beds[i] - beds.sum()
        lev = "centre" if world.fac_grass[i] else int(world.fac_level[i])
        if lev == 2:
            occ = cal.occupancy_level2_urban if fac.urban[i] else cal.occupancy_level2_rural
        else:
            occ = cal.occupancy[lev]
        for k in range(n_w):
            nights = cal.department_nights.get(depts[k], cal.mean_nights[lev])
            wf.append(i)
            wd.append(depts[k])
            wb.append(beds[k])
            wl.append(beds[k] * occ / _mean_nights(nights, cal.nights_shape, cal.day_case_share))
            wn.append(nights)
    pools, pool_cum = _pools(world)
    wards = Wards(
        fac=np.array(wf, dtype=np.int64),
        dept=np.array(wd, dtype=object),
        beds=np.array(wb, dtype=np.int64),
        capacity=np.floor(np.array(wb) * cal.extra_beds).astype(np.int64),
        lam=np.array(wl),
        nights=np.array(wn),
        level=np.array(
            ["centre" if world.fac_grass[f] else str(world.fac_level[f]) for f in wf], dtype=object
        ),
        pool=np.array(
            ["any" if world.fac_rank[f] == 4 else f"any{world.fac_district[f]}" for f in wf],
            dtype=object,
        ),
        pools=pools,
        pool_cum=pool_cum,
        adm_mean=float(
            np.mean(
                [
                    calendar.admission_factor(date(world.start.year, 1, 1) + timedelta(days=k))
                    for k in range(365)
                ]
            )
        ),
    )
    for k in range(cal.warm_up_days, 0, -1):
        inpatient_day(world, wards, queue, world.start - timedelta(days=k), write=False)
    return wards


def _pools(world: World) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Residents each pool admits from, and their cumulative weights: by age for general wards
    (local hospitals and centres admit their own district's residents, tertiary ones the whole
    city), evenly for maternity, paediatrics and psychiatry."""
    r = world.res
    aw = np.array(world.cal.admission_rate_by_age_band)[age_band_index(r.age0)]
    pools = {
        "any": np.flatnonzero(np.ones(r.n, bool)),
        "05": np.flatnonzero(~r.male & (r.age0 >= 18) & (r.age0 <= 45)),
        "07": np.flatnonzero(r.age0 <= 14),
        "15": np.flatnonzero(r.smd) if r.smd.any() else np.flatnonzero(r.age0 >= 18),
    }
    for dd in world.region.districts.index:
        pools[f"any{dd}"] = np.flatnonzero(r.district == dd)
    pool_cum = {
        k: np.cumsum(aw[v] if k.startswith("any") else np.ones(len(v))) for k, v in pools.items()
    }
    return pools, pool_cum


@functools.cache
def _mean_nights(mean: float, shape: float, day_case_share: float) -> float:
    """Expected midnights in bed of a stay drawn by _nights (estimated with a fixed seed)."""
    rng = np.random.default_rng(0)
    return float(_nights(np.full(50_000, mean), rng, shape, day_case_share).mean())


def _nights(
    mean: np.ndarray, rng: np.random.Generator, shape: float, day_case_share: float
) -> np.ndarray:
    x = rng.gamma(shape, np.maximum(mean - 0.5, 0.5) / shape)
    nights = np.round(x).astype(np.int64)
    return np.where(rng.random(len(mean)) < day_case_share, 0, np.maximum(nights, 1))


def inpatient_day(
    world: World, wards: Wards, queue: ReferralQueue, day: date, write: bool
) -> tuple[w.Batch, w.Batch]:
    """Admit, then count the beds at midnight and discharge; ``write``: return the discharge and
    census rows (the warm-up days return nothing)."""
    st = wards.stays
    new = _admit(world, wards, queue, day)
    for key in st:
        st[key] = np.concatenate([st[key], new[key]])
    d = d64(day)
    dis_day = st["dis"].astype("datetime64[D]")
    adm_day = st["admit"].astype("datetime64[D]")
    going = dis_day == d
    in_bed = (adm_day <= d) & (dis_day > d)
    out_d: w.Batch = {}
    out_c: w.Batch = {}
    if write:
        nw = len(wards.fac)
        occupied = np.bincount(st["ward"][in_bed], minlength=nw)
        for lev, o, b in zip(wards.level, occupied, wards.beds, strict=True):
            world.stats.occ_by_level[lev] += int(o)
            world.stats.open_by_level[lev] += int(b)
        out_c = {
            "facility_code": world.fac_code[wards.fac],
            "census_date": np.full(nw, str(d), dtype=object),
            "department_code": wards.dept,
            "open_beds": w.ints(wards.beds),
            "occupied_beds": w.ints(occupied),
            "admissions": w.ints(np.bincount(st["ward"][adm_day == d], minlength=nw)),
            "discharges": w.ints(np.bincount(st["ward"][going], minlength=nw)),
            "_folder": world.fac_folder[wards.fac],
        }
        out_d = _discharge_rows(world, wards, np.flatnonzero(going))
        world.stats.discharges += int(going.sum())
    for key in st:
        st[key] = st[key][~going]
    return out_d, out_c


def _admit(world: World, wards: Wards, queue: ReferralQueue, day: date) -> dict[str, np.ndarray]:
    """The day's new stays: Poisson admissions per ward plus yesterday's waiting ones, of which
    arrived inpatient referrals take the place of ordinary ones, keeping the long-run rate.  An
    ordinary patient who would stay the night finds a bed only while the ward is under its
    capacity (extra beds included); the others wait for the next day, as does an arrived referral
    that finds no ward of its facility with room, until it has waited referral_wait_days."""
    rng = world.rng
    n_adm = rng.poisson(wards.lam * calendar.admission_factor(day) / wards.adm_mean) + wards.waiting
    st = wards.stays
    # beds the stays already in the wards hold tonight (those leaving today free theirs)
    staying = st["dis"].astype("datetime64[D]") > d64(day)
    room = wards.capacity - np.bincount(st["ward"][staying], minlength=len(wards.fac))
    ref_ward, ref_res, ref_id = [], [], []
    for f, res, rid, dxc in queue.admissions.pop(day_number(day), []):
        in_fac = np.flatnonzero(wards.fac == f)
        if len(in_fac) == 0:
            continue
        k = in_fac[np.argmax(room[in_fac])]  # the facility's ward with the most room
        if room[k] <= 0 and wards.referral_waited.get(rid, 0) < world.cal.referral_wait_days:
            wards.referral_waited[rid] = wards.referral_waited.get(rid, 0) + 1
            queue.admissions[day_number(day) + 1].append((f, res, rid, dxc))
            continue
        wards.referral_waited.pop(rid, None)
        room[k] -= 1
        ref_ward.append(k)
        ref_res.append(res)
        ref_id.append(rid)
        if dxc:
            wards.referral_dx[rid] = dxc
        wards.credit[k] += 1
    use = np.minimum(wards.credit, n_adm)
    n_adm -= use
    wards.credit -= use
    cal = world.cal
    ordinary = np.repeat(np.arange(len(n_adm)), n_adm)
    o_nights = _nights(wards.nights[ordinary], rng, cal.nights_shape, cal.day_case_share)
    # overnight patients in arrival order within each ward (np.repeat keeps wards sorted)
    over = np.flatnonzero(o_nights > 0)
    w_over = ordinary[over]
    rank = np.arange(len(over)) - np.searchsorted(w_over, w_over, "left")
    turned_away = over[rank >= np.maximum(room[w_over], 0)]
    # the waiting list is at most a ward's capacity long; patients beyond it go elsewhere
    wards.waiting = np.minimum(
        np.bincount(ordinary[turned_away], minlength=len(n_adm)), wards.capacity
    )
    keep = np.ones(len(ordinary), bool)
    keep[turned_away] = False
    ordinary, o_nights = ordinary[keep], o_nights[keep]
    ref_ward_a = np.array(ref_ward, np.int64)
    ward = np.concatenate([ordinary, ref_ward_a])
    m = len(ward)
    res = np.concatenate([_patients(world, wards, ordinary), np.array(ref_res, np.int64)])
    admit = np.datetime64(day, "s") + rng.integers(*ADMIT_HOURS, m).astype("timedelta64[s]")
    nights = np.concatenate(
        [o_nights, _nights(wards.nights[ref_ward_a], rng, cal.nights_shape, cal.day_case_share)]
    )
    last_night = (d64(day) + nights.astype("timedelta64[D]")).astype("datetime64[s]")
    dis = np.where(
        nights == 0,
        admit + rng.integers(*DAY_CASE_SECONDS, m).astype("timedelta64[s]"),
        last_night + rng.integers(*DISCHARGE_HOURS, m).astype("timedelta64[s]"),
    )
    dis = np.minimum(dis, last_night + np.timedelta64(86399, "s"))
    ref = np.concatenate([np.full(len(ordinary), "", dtype=object), np.array(ref_id, dtype=object)])
    return {
        "ward": ward,
        "res": res,
        "admit": admit,
        "dis": dis,
        "id": world.next_ids("stay", m),
        "ref": ref,
    }


def _patients(world: World, wards: Wards, ward: np.ndarray) -> np.ndarray:
    """A patient for each ordinary admission, from the ward's pool."""
    res = np.empty(len(ward), np.int64)
    dept = wards.dept[ward]
    for pool in POOLED:
        k = np.flatnonzero(dept == pool)
        res[k] = _pick(world, wards, pool, len(k))
    general = ~np.isin(dept, list(POOLED))
    pool_of = wards.pool[ward]
    for pool in np.unique(pool_of[general]):
        k = np.flatnonzero(general & (pool_of == pool))
        res[k] = _pick(world, wards, pool, len(k))
    return res


def _pick(world: World, wards: Wards, pool: str, n: int) -> np.ndarray:
    cum = wards.pool_cum[pool]
    return wards.pools[pool][
        np.minimum(np.searchsorted(cum, world.rng.random(n) * cum[-1], "right"), len(cum) - 1)
    ]


def _discharge_rows(world: World, wards: Wards, i: np.ndarray) -> w.Batch:
    rng, st, r, cal = world.rng, wards.stays, world.res, world.cal
    n = len(i)
    if n == 0:
        return {}
    ward = st["ward"][i]
    fac = wards.fac[ward]
    dept = wards.dept[ward]
    who = st["res"][i]
    dx = _discharge_dx(world, wards, dept, who, st["ref"][i])
    nights = (st["dis"][i].astype("datetime64[D]") - st["admit"][i].astype("datetime64[D]")).astype(
        np.int64
    )
    per_day = np.array(
        [
            cal.inpatient_day_yuan["centre" if lv == "centre" else int(lv)]
            for lv in wards.level[ward]
        ]
    )
    factor = rng.lognormal(*cal.stay_cost_factor, n)
    total = np.round(per_day * 100 * (nights + 1) * factor).astype(np.int64)
    drug = np.floor(total * rng.uniform(*cal.stay_drug_share, n)).astype(np.int64)
    ins = np.floor(total * rng.uniform(*cal.stay_insured_share, n)).astype(np.int64)
    u = rng.random(n)
    status = np.select(
        [u < x for x in cal.discharge_outcomes],
        ["cured", "improved", "transferred", "died"],
        "other",
    )
    return {
        "stay_id": w.prefixed("ZY", st["id"][i]),
        "facility_code": world.fac_code[fac],
        "resident_id": w.prefixed("R", r.rid[who]),
        "id_card_no": r.id_card[who].astype(object),
        "admit_time": w.ts(st["admit"][i]),
        "discharge_time": w.ts(st["dis"][i]),
        "department_code": dept,
        "diagnosis_code": dx,
        "total_fee": w.money(total),
        "drug_fee": w.money(drug),
        "insurance_paid": w.money(ins),
        "self_paid": w.money(total - ins),
        "discharge_status": status.astype(object),
        "referral_id": st["ref"][i],
        "_folder": world.fac_folder[fac],
    }


def _discharge_dx(
    world: World, wards: Wards, dept: np.ndarray, who: np.ndarray, ref: np.ndarray
) -> np.ndarray:
    """A diagnosis from the department's list; children get paediatric ones wherever they are
    admitted; a referral keeps the diagnosis it came with."""
    rng, r = world.rng, world.res
    pools = [catalog.INPATIENT_DX.get(x, catalog.INPATIENT_DX["03"]) for x in dept]
    dx = np.array(
        [p[j % len(p)] for p, j in zip(pools, rng.integers(0, 1000, len(dept)), strict=True)],
        dtype=object,
    )
    child = np.flatnonzero(r.age0[who] < 15)
    kids = np.array(catalog.INPATIENT_DX["07"], dtype=object)
    dx[child] = kids[rng.integers(0, len(kids), len(child))]
    cat = np.array([x[:3] for x in dx], dtype=object)
    wrong = (np.isin(cat, HYPERTENSION_CATEGORIES) & ~r.hypertension[who]) | (
        np.isin(cat, DIABETES_CATEGORIES) & ~r.diabetes[who]
    )
    dx[wrong] = FALLBACK_DX
    return np.array(
        [wards.referral_dx.get(rf) or x for rf, x in zip(ref, dx, strict=True)], dtype=object
    )
