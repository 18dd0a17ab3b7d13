"""Health records: the stock at go-live, then each day's new records and updates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from grassroots.generate import catalog
from grassroots.generate import writer as w
from grassroots.generate.checkups import checkup_share
from grassroots.generate.contracts import Contracts
from grassroots.generate.followups import FollowupPlan
from grassroots.generate.world import DAY, World, d64, day_number

NONE = np.iinfo(np.int64).max  # registration day of a resident without a record
# the six fields a record's completeness is judged by, and the values they take
FIELDS = (
    ("blood_type", catalog.BLOOD_TYPES),
    ("allergy_history", catalog.ALLERGIES),
    ("past_history", catalog.PAST_HISTORY),
    ("family_history", catalog.FAMILY_HISTORY),
    ("occupation", catalog.OCCUPATIONS),
    ("education", catalog.EDUCATION),
)
VALUES = [np.array(v, dtype=object) for _, v in FIELDS]


@dataclass
class Records:
    """Each resident's record, indexed by resident."""

    registered: np.ndarray  # day number, NONE without a record
    updated: np.ndarray  # day number of the last update, -1 = never
    fields: np.ndarray  # (6, residents): index into VALUES, -1 = empty


def initial_records(
    world: World, visits_per_day: np.ndarray, contracts: Contracts, plan: FollowupPlan
) -> Records:
    """The go-live stock of health records, with their real registration and update dates.

    Signed residents all have a record, registered before they signed.  A record's last update
    before go-live is its last service: visits, follow-ups, check-ups and updates at random
    arrive at each resident's own rate, so the share of records active in the year before
    go-live is the share active in any later year.
    """
    r, rng, cal = world.res, world.rng, world.cal
    n = r.n
    s = world.s64
    has = (rng.random(n) < np.where(r.age0 >= 65, *cal.record_share)) & (r.birth < s - DAY)
    has |= contracts.signed
    lo = np.maximum(r.birth, np.datetime64(cal.records_since)).astype(np.int64)
    hi = np.where(contracts.signed, contracts.sign, s).astype(np.int64)
    reg = lo + (rng.random(n) * np.maximum(1, hi - lo)).astype(np.int64)
    per_year = visits_per_day * 365 + 365 * cal.updates_per_day
    per_year[plan.who] += 365 / plan.interval
    per_year += checkup_share(cal, r.age0)
    last = s.astype(np.int64) - 1 - np.floor(rng.exponential(365 / per_year)).astype(np.int64)
    # the completeness fields: most records complete, the others miss one to three fields
    fields = np.stack([rng.integers(0, len(v), n) for v in VALUES]).astype(np.int8)
    incomplete = rng.random(n) < cal.incomplete_records
    for k in range(len(FIELDS)):
        drop = incomplete & (rng.random(n) < cal.missing_field_share)
        fields[k, drop] = -1
    fix = incomplete & (fields >= 0).all(axis=0)
    fields[rng.integers(0, len(FIELDS), n)[fix], np.flatnonzero(fix)] = -1
    return Records(
        registered=np.where(has, reg, NONE),
        updated=np.where(has & (last > reg), last, -1),
        fields=fields,
    )


def records(world: World, rec: Records, day: date, touched: np.ndarray) -> w.Batch:
    """The day's record rows: the whole stock on the first day, then new and updated records
    (``touched``: residents seen at a follow-up or check-up today)."""
    rng, r, cal = world.rng, world.res, world.cal
    dnum = day_number(day)
    parts = []
    if day == world.start:
        parts.append(np.flatnonzero(rec.registered < dnum))  # initial load of existing records
    # new records: the unregistered register slowly, newborns included
    none = np.flatnonzero((rec.registered == NONE) & (r.birth <= d64(day)))
    new = none[rng.random(len(none)) < cal.registrations_per_day]
    rec.registered[new] = dnum
    rec.updated[new] = -1
    parts.append(new)
    # updates: after a follow-up or check-up and at random
    has = rec.registered < dnum
    upd = touched[has[touched] & (rng.random(len(touched)) < cal.update_after_service)]
    rnd = np.flatnonzero(has & (rng.random(r.n) < cal.updates_per_day))
    upd = np.union1d(upd, rnd)
    if len(upd):
        rec.updated[upd] = dnum
        # an update often completes the missing fields
        fill = upd[rng.random(len(upd)) < cal.update_fills_share]
        for k in range(len(FIELDS)):
            miss = fill[rec.fields[k, fill] < 0]
            rec.fields[k, miss] = rng.integers(0, len(VALUES[k]), len(miss))
    parts.append(upd)
    idx = np.unique(np.concatenate(parts))  # one row per resident in the file
    if len(idx) == 0:
        return {}
    return _rows(world, rec, idx)


def _rows(world: World, rec: Records, idx: np.ndarray) -> w.Batch:
    rng, r, cal = world.rng, world.res, world.cal
    updated = rec.updated[idx]
    out: w.Batch = {
        "resident_id": w.prefixed("R", r.rid[idx]),
        "facility_code": world.fac_code[r.centre[idx]],
        "id_card_no": r.id_card[idx].astype(object),
        "name": np.array([r.name(i) for i in idx], dtype=object),
        "phone": np.where(
            rng.random(len(idx)) < cal.record_phone_share, r.phone[idx].astype("U"), ""
        ).astype(object),
        "sex": np.where(r.male[idx], "M", "F").astype(object),
        "birth_date": w.dt(r.birth[idx]),
        "region_code": world.region.communities.code.to_numpy(dtype=object)[r.community[idx]],
        "registered_date": w.dt(rec.registered[idx].astype("datetime64[D]")),
        "updated_date": np.where(
            updated >= 0, w.dt(np.maximum(updated, 0).astype("datetime64[D]")), ""
        ).astype(object),
        "hypertension": w.yn(r.hypertension[idx]),
        "diabetes": w.yn(r.diabetes[idx]),
        "tuberculosis": w.yn(r.tb[idx]),
        "severe_mental_disorder": w.yn(r.smd[idx]),
        "disability": w.yn(r.disability[idx]),
        "pregnant": w.yn(r.pregnant[idx]),
        "low_income": w.yn(r.low_income[idx]),
    }
    for k, (col, _) in enumerate(FIELDS):
        v = rec.fields[k, idx]
        out[col] = np.where(v >= 0, VALUES[k][np.maximum(v, 0)], "").astype(object)
    out["_folder"] = world.fac_folder[r.centre[idx]]
    out["_res"] = idx
    return out
