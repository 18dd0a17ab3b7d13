"""Two-way referrals sent from the day's visits, and their later status changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from grassroots.generate import writer as w
from grassroots.generate.visits import Hospitals, Seen
from grassroots.generate.world import World, day_number

KINDS = np.array(["outpatient", "inpatient", "exam"])
# A referral is written 5-59 minutes after the visit.
DELAY_MINUTES = (5, 60)


@dataclass
class ReferralQueue:
    """What referrals leave for later days, by day number: the status rows the sender re-sends,
    and the inpatient referrals that arrive (facility, resident, referral id, diagnosis)."""

    updates: dict[int, list[w.Batch]] = field(default_factory=lambda: defaultdict(list))
    admissions: dict[int, list[tuple[int, int, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def referrals(
    world: World,
    queue: ReferralQueue,
    hospitals: Hospitals,
    dx_codes: np.ndarray,
    day: date,
    seen: Seen,
) -> w.Batch:
    """The referrals sent from the day's visits, as first sent (requested, or arrived the same
    day); later statuses wait in the queue."""
    rng, cal = world.rng, world.cal
    src, direction, to = _choose(world, hospitals, seen)
    k = len(src)
    if k == 0:
        return {}
    up = direction == "up"
    world.stats.up += int(up.sum())
    world.stats.down += int((~up).sum())
    kind = np.where(
        up,
        KINDS[np.searchsorted(cal.up_referral_kinds, rng.random(k), "right")],
        KINDS[np.searchsorted(cal.down_referral_kinds, rng.random(k), "right")],
    )
    kind = np.where((kind == "inpatient") & (world.fac_beds[to] == 0), "outpatient", kind)
    rid = world.next_ids("referral", k)
    rtime = seen.times[src] + rng.integers(*DELAY_MINUTES, k).astype("timedelta64[m]")
    rtime = np.minimum(rtime, np.datetime64(day, "s") + np.timedelta64(86399, "s"))
    tm = seen.team[src]
    prio = (tm >= 0) & up & (rng.random(k) < cal.priority_slot_share)
    fac = seen.fac[src]
    base = {
        "referral_id": w.prefixed("ZZ", rid),
        "facility_code": world.fac_code[fac],
        "to_facility_code": world.fac_code[to],
        "resident_id": w.prefixed("R", world.res.rid[seen.who[src]]),
        "referral_time": w.ts(rtime),
        "direction": direction,
        "referral_kind": kind.astype(object),
        "diagnosis_code": np.where(
            rng.random(k) < cal.referral_diagnosis_share, dx_codes[seen.dx[src]], ""
        ).astype(object),
        "team_code": w.take(world.team_code, np.maximum(tm, 0), tm < 0),
        "priority_slot": w.yn(prio),
        "_folder": world.fac_folder[fac],
    }
    base["status"] = _life_cycle(world, queue, day, base, kind, to, seen.who[src])
    return base


def _choose(
    world: World, hospitals: Hospitals, seen: Seen
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which visits send a referral (indices), up or down, and to which facility."""
    rng, cal = world.rng, world.cal
    rank = world.fac_rank[seen.fac]
    up = np.flatnonzero(rng.random(len(seen.fac)) < np.array(cal.up_referral_share)[rank])
    can_down = np.flatnonzero(rank >= 1)
    n_down = min(len(can_down), rng.poisson(len(up) * cal.down_share / (1 - cal.down_share)))
    down = np.sort(rng.choice(can_down, n_down, replace=False)) if n_down else np.zeros(0, np.int64)
    src = np.concatenate([up, down])
    direction = np.array(["up"] * len(up) + ["down"] * len(down), dtype=object)
    to = np.concatenate(
        [
            _up_target(world, hospitals, seen.fac[up], seen.who[up]),
            _down_target(world, hospitals, seen.fac[down], seen.who[down]),
        ]
    )
    assert ((world.fac_rank[to] > rank[src]) == (direction == "up")).all()
    return src, direction, to


def _up_target(world: World, hospitals: Hospitals, src: np.ndarray, who: np.ndarray) -> np.ndarray:
    """A facility of strictly higher rank: the alliance's secondary/core hospitals mostly."""
    rng = world.rng
    out = np.empty(len(src), np.int64)
    rank = world.fac_rank[src]
    for i in range(len(src)):
        want = 3 if (rank[i] < 3 and rng.random() < world.cal.up_to_level2_share) else 4
        out[i] = hospitals.pick(rng, want - 1, world.res.district[who[i]])
    return out


def _down_target(
    world: World, hospitals: Hospitals, src: np.ndarray, who: np.ndarray
) -> np.ndarray:
    """The patient's home centre, or from a tertiary hospital sometimes a level-2 one."""
    rng = world.rng
    out = world.res.centre[who].copy()
    to_level2 = rng.random(len(src)) < world.cal.down_to_level2_share
    for i in np.flatnonzero((world.fac_rank[src] == 4) & to_level2):
        out[i] = hospitals.pick(rng, 2, world.res.district[who[i]])
    return out


def _life_cycle(
    world: World,
    queue: ReferralQueue,
    day: date,
    base: w.Batch,
    kind: np.ndarray,
    to: np.ndarray,
    patients: np.ndarray,
) -> np.ndarray:
    """Each referral's final status; the states after the first are queued for the sender to
    re-send on later business days.  Returns the first status."""
    rng, cal = world.rng, world.cal
    k = len(kind)
    u = rng.random(k)
    final = np.select(
        [u < x for x in cal.referral_outcomes],
        ["arrived", "rejected", "cancelled", "requested"],
        "accepted",
    )
    same_day = (final == "arrived") & (rng.random(k) < cal.same_day_arrival_share)
    dnum = day_number(day)
    for i in range(k):
        row = {c: v[i : i + 1] for c, v in base.items()}
        arrive_day = dnum
        if final[i] == "arrived" and not same_day[i]:
            acc = dnum + 1
            if rng.random() < cal.accepted_first_share:
                _queue(queue, acc, row, "accepted")
                arrive_day = acc + int(rng.integers(*cal.arrival_after_acceptance_days))
            else:
                arrive_day = dnum + int(rng.integers(*cal.arrival_days))
            _queue(queue, arrive_day, row, "arrived")
        elif final[i] in ("rejected", "cancelled", "accepted"):
            lag = cal.cancellation_days if final[i] == "cancelled" else cal.answer_days
            _queue(queue, dnum + int(rng.integers(*lag)), row, final[i])
        if final[i] == "arrived" and kind[i] == "inpatient":
            queue.admissions[arrive_day].append(
                (int(to[i]), int(patients[i]), base["referral_id"][i], base["diagnosis_code"][i])
            )
    return np.where(same_day, "arrived", "requested").astype(object)


def _queue(queue: ReferralQueue, dnum: int, row: w.Batch, status: str) -> None:
    upd = dict(row)
    upd["status"] = np.array([status], dtype=object)
    queue.updates[dnum].append(upd)
