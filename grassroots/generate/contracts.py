"""Family-doctor contracts (the signings dataset): the stock at go-live, then each day's expiries,
renewals, terminations and new signings, which keep coverage where the calibration puts it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from grassroots.generate import calendar
from grassroots.generate import writer as w
from grassroots.generate.world import DAY, World, d64

PACKAGES = ("free", "basic", "personalized", "checkup")
CHECKUP_PACKAGE = PACKAGES.index("checkup")
# fee_total, fee_city, fee_district, fee_self in fen: Hangzhou's basic package costs 120 CNY,
# paid 25 % by the city, 65 % by the district and 10 % by the resident
PACKAGE_FEES = np.array(
    [
        [0, 0, 0, 0],
        [12000, 3000, 7800, 1200],
        [30000, 3000, 7800, 19200],
        [20000, 3000, 7800, 9200],
    ],
    dtype=np.int64,
)
# a contract runs a year
CONTRACT_DAYS = 365
# renewal_of of an initial contract: none (-1) or one older than the platform (-2)
NO_PREVIOUS, UNKNOWN_PREVIOUS = -1, -2


@dataclass
class Contracts:
    """Each resident's current or last contract, indexed by resident."""

    id: np.ndarray
    sign: np.ndarray  # datetime64[D]; the contract starts the day it is signed
    end: np.ndarray  # datetime64[D], inclusive
    package: np.ndarray  # index into PACKAGES
    team: np.ndarray
    district_hospital: np.ndarray  # facility index, -1 outside a 1+1+1 combination
    city_hospital: np.ndarray
    previous: np.ndarray  # contract id renewed, or NO_PREVIOUS / UNKNOWN_PREVIOUS
    signed: np.ndarray  # bool: a contract in force
    key: np.ndarray  # bool: key population at go-live
    p_key: float  # chance a key-population resident is signed
    p_other: float  # chance another resident is signed
    initial: np.ndarray  # residents whose contract was in force at go-live
    backlog: int = 0  # contracts lost and not yet replaced


def initial_contracts(world: World) -> Contracts:
    """The contracts in force at go-live: key populations at their coverage, the others so that
    everybody together is at the target."""
    r, rng, cal = world.res, world.rng, world.cal
    n = r.n
    key = r.key_population(r.age0)
    p_other = max(
        cal.min_other_signing,
        (cal.signing_target - key.mean() * cal.key_signing) / max(1e-9, 1 - key.mean()),
    )
    signed = rng.random(n) < np.where(key, cal.key_signing, p_other)
    s = world.s64
    idx = np.flatnonzero(signed)
    c = Contracts(
        id=np.full(n, -1, np.int64),
        sign=np.full(n, s, "datetime64[D]"),
        end=np.full(n, s, "datetime64[D]"),
        package=np.zeros(n, np.int8),
        team=r.team.copy(),
        district_hospital=np.full(n, -1, np.int32),
        city_hospital=np.full(n, -1, np.int32),
        previous=np.full(n, NO_PREVIOUS, np.int64),
        signed=np.zeros(n, bool),
        key=key,
        p_key=cal.key_signing,
        p_other=p_other,
        initial=idx,
    )
    sign = s - rng.integers(1, CONTRACT_DAYS, len(idx)).astype("timedelta64[D]")
    _sign(world, c, idx, sign, renewal_share=cal.initial_renewal_share)
    return c


def _sign(
    world: World,
    c: Contracts,
    idx: np.ndarray,
    sign: np.ndarray,
    renewal_share: float = 0.0,
    previous: np.ndarray | None = None,
) -> None:
    """New contracts for residents idx; without ``previous``, a ``renewal_share`` of them renew a
    contract older than the platform."""
    r, rng, cal = world.res, world.rng, world.cal
    n = len(idx)
    c.id[idx] = world.next_ids("contract", n)
    c.sign[idx] = sign
    c.end[idx] = sign + np.timedelta64(CONTRACT_DAYS - 1, "D")
    pkg = np.searchsorted(np.cumsum(cal.package_shares), rng.random(n), side="right")
    # elderly and chronic patients take the personalised/check-up packages more often
    older = r.age0[idx] >= 60
    pkg = np.where(older & (rng.random(n) < cal.checkup_package_60plus), CHECKUP_PACKAGE, pkg)
    c.package[idx] = np.minimum(pkg, len(PACKAGES) - 1)
    # 1+1+1: a district hospital and a city (tertiary) hospital, mostly urban and elderly
    p111 = np.where(
        r.urban[idx],
        np.where(older, cal.combo_share_urban_60plus, cal.combo_share_urban),
        cal.combo_share_rural,
    )
    m = rng.random(n) < p111
    dh, ch = _combo_hospitals(world, idx)
    c.district_hospital[idx] = np.where(m, dh, -1)
    c.city_hospital[idx] = np.where(m, ch, -1)
    if previous is not None:
        c.previous[idx] = previous
    else:
        c.previous[idx] = np.where(rng.random(n) < renewal_share, UNKNOWN_PREVIOUS, NO_PREVIOUS)
    c.signed[idx] = True


def _combo_hospitals(world: World, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 1+1+1 hospitals of residents idx: their district's level-2 general hospital and a
    tertiary one."""
    g, r = world.region, world.res
    gen = g.facilities.facility_type.to_numpy() == "general_hospital"
    dh_of = np.array(
        [
            np.flatnonzero(gen & (world.fac_level == 2) & (world.fac_district == d))[0]
            for d in g.districts.index
        ]
    )
    l3 = np.flatnonzero(gen & (world.fac_level == 3))
    return dh_of[r.district[idx]], l3[r.district[idx] % len(l3)]


def signings(world: World, c: Contracts, registered: np.ndarray, day: date) -> w.Batch:
    """The day's contract rows; ``registered`` is each resident's record registration day."""
    rng, cal = world.rng, world.cal
    d = d64(day)
    parts: list[w.Batch] = []
    if day == world.start:
        # initial load: every contract in force, signed before the window, sent on day one
        parts.append(_rows(world, c, c.initial, "active"))
    ended = np.flatnonzero(c.signed & (c.end == d - DAY))
    lost = 0
    if len(ended):
        parts.append(_rows(world, c, ended, "expired"))
        c.signed[ended] = False
        renew = ended[rng.random(len(ended)) < cal.renewal_share]
        if len(renew):
            _sign(world, c, renew, np.full(len(renew), d), previous=c.id[renew].copy())
            parts.append(_rows(world, c, renew, "active"))
        lost = len(ended) - len(renew)
    # terminations (moved away, died, changed doctor)
    active = np.flatnonzero(c.signed & (c.sign < d) & (c.end > d))
    term = active[rng.random(len(active)) < cal.terminations_per_year / 365]
    if len(term):
        c.end[term] = d
        parts.append(_rows(world, c, term, "terminated"))
        c.signed[term] = False
    # new signings replace the lost ones so coverage stays stationary
    c.backlog += lost + len(term)
    if calendar.is_workday(day):  # signing desks work on working days
        n_new = rng.poisson(c.backlog)
        c.backlog = 0
        if n_new:
            parts.append(_new_signings(world, c, registered, d, n_new))
    return w.concat(parts) or {}


def _new_signings(
    world: World, c: Contracts, registered: np.ndarray, d: np.datetime64, n_new: int
) -> w.Batch:
    rng = world.rng
    # signing needs a health record (建档 comes first)
    un = np.flatnonzero(~c.signed & (registered < int(d.astype(np.int64))))
    # weights in proportion to each group's odds of being signed keep both groups' coverage
    # stationary
    wgt = np.where(c.key[un], c.p_key / (1 - c.p_key), c.p_other / (1 - c.p_other))
    pick = un[np.unique(np.searchsorted(np.cumsum(wgt), rng.random(n_new) * wgt.sum(), "right"))]
    pick = pick[c.end[pick] < d]  # not someone whose contract ended today
    if not len(pick):
        return {}
    c.team[pick] = world.res.team[pick]
    _sign(world, c, pick, np.full(len(pick), d), previous=np.full(len(pick), NO_PREVIOUS))
    return _rows(world, c, pick, "active")


def _rows(world: World, c: Contracts, idx: np.ndarray, status: str) -> w.Batch:
    r = world.res
    team = c.team[idx]
    centre = world.region.teams.centre.to_numpy()[team]
    fees = PACKAGE_FEES[c.package[idx]]
    prev = c.previous[idx]
    dh, ch = c.district_hospital[idx], c.city_hospital[idx]
    # a contract older than the platform gets a made-up id in a range of its own
    unknown = "QY9" + np.char.zfill((c.id[idx] % 99991).astype("U"), 9).astype(object)
    return {
        "contract_id": w.prefixed("QY", c.id[idx]),
        "facility_code": world.fac_code[centre],
        "team_code": world.team_code[team],
        "resident_id": w.prefixed("R", r.rid[idx]),
        "id_card_no": r.id_card[idx].astype(object),
        "name": np.array([r.name(i) for i in idx], dtype=object),
        "phone": r.phone[idx].astype("U").astype(object),
        "package_code": np.array(PACKAGES, dtype=object)[c.package[idx]],
        "sign_date": w.dt(c.sign[idx]),
        "start_date": w.dt(c.sign[idx]),
        "end_date": w.dt(c.end[idx]),
        "status": np.full(len(idx), status).astype(object),
        "fee_total": w.money(fees[:, 0]),
        "fee_city": w.money(fees[:, 1]),
        "fee_district": w.money(fees[:, 2]),
        "fee_self": w.money(fees[:, 3]),
        "district_hospital_code": w.take(world.fac_code, np.maximum(dh, 0), dh < 0),
        "city_hospital_code": w.take(world.fac_code, np.maximum(ch, 0), ch < 0),
        "renewal_of": np.where(
            prev >= 0,
            w.prefixed("QY", np.maximum(prev, 0)),
            np.where(prev == UNKNOWN_PREVIOUS, unknown, ""),
        ).astype(object),
        "_folder": world.fac_folder[centre],
        "_res": idx,
    }
