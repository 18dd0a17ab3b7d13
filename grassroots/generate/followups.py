"""Chronic follow-ups (hypertension, diabetes): each managed patient's plan, and the day's visits
with their readings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from grassroots.generate import calendar
from grassroots.generate import writer as w
from grassroots.generate.contracts import Contracts
from grassroots.generate.population import age_at
from grassroots.generate.world import World, d64, day_number

ADHERENCE = ("regular", "intermittent", "none")


@dataclass
class FollowupPlan:
    """The managed patients (resident indices) and, per patient, their plan."""

    who: np.ndarray
    interval: np.ndarray  # days between follow-ups
    next: np.ndarray  # day number of the next one
    controlled: np.ndarray  # bool: the patient tends to be in control
    f2f: np.ndarray  # the patient's share of face-to-face follow-ups


def plan_followups(world: World) -> FollowupPlan:
    r, rng, cal = world.res, world.rng, world.cal
    patient = (r.hypertension | r.diabetes) & (r.age0 >= cal.managed_from_age)
    managed = patient & (rng.random(r.n) < np.where(r.urban, *cal.managed_share))
    who = np.flatnonzero(managed)
    k = len(who)
    days, share = zip(*cal.followup_intervals, strict=True)
    interval = rng.choice(days, k, p=share)
    first = world.s64.astype(np.int64) + (rng.random(k) * interval).astype(np.int64)
    controlled = rng.random(k) < cal.controlled_patients
    f2f = rng.uniform(*cal.followup_f2f_share, k)
    return FollowupPlan(who, interval, first, controlled, f2f)


def followups(
    world: World, plan: FollowupPlan, contracts: Contracts, day: date
) -> tuple[w.Batch, np.ndarray]:
    """The day's follow-up rows (one per disease the patient has) and the residents seen."""
    rng, r, cal = world.rng, world.res, world.cal
    due = np.flatnonzero(plan.next == day_number(day))
    if not calendar.is_workday(day):  # most follow-ups wait for a working day
        later = due[rng.random(len(due)) < cal.followup_waits_share]
        plan.next[later] += 1
        due = np.setdiff1d(due, later)
    drift = cal.followup_drift_days
    plan.next[due] += plan.interval[due] + rng.integers(-drift, drift + 1, len(due))
    pi = plan.who[due]
    dis_ht = r.hypertension[pi]
    dis_dm = r.diabetes[pi]
    rows_p = np.concatenate([due[dis_ht], due[dis_dm]])
    disease = np.array(
        ["hypertension"] * int(dis_ht.sum()) + ["diabetes"] * int(dis_dm.sum()), dtype=object
    )
    k = len(rows_p)
    if k == 0:
        return {}, np.zeros(0, np.int64)
    who = plan.who[rows_p]
    f2f = rng.random(k) < plan.f2f[rows_p]
    mode = np.where(
        f2f,
        np.where(rng.random(k) < cal.clinic_share, "clinic", "home"),
        np.where(rng.random(k) < cal.phone_share, "phone", "online"),
    ).astype(object)
    ctrl = rng.random(k) < np.where(plan.controlled[rows_p], *cal.in_control)
    elderly = age_at(r.birth[who], d64(day)) >= 65
    sbp, dbp, glu = _readings(world, ctrl, elderly)
    is_ht = disease == "hypertension"
    team = np.where(contracts.signed[who], contracts.team[who], r.team[who])
    ids = world.next_ids("followup", k)
    batch = {
        "followup_id": w.prefixed("SF", ids),
        "facility_code": world.fac_code[r.centre[who]],
        "team_code": world.team_code[team],
        "resident_id": w.prefixed("R", r.rid[who]),
        "disease": disease,
        "followup_date": np.full(k, str(d64(day)), dtype=object),
        "mode": mode,
        "sbp": np.where(
            is_ht | (rng.random(k) < cal.bp_at_diabetes_followup), w.ints(sbp), ""
        ).astype(object),
        "dbp": np.where(
            is_ht | (rng.random(k) < cal.bp_at_diabetes_followup), w.ints(dbp), ""
        ).astype(object),
        "fasting_glucose": np.where(
            ~is_ht | (rng.random(k) < cal.glucose_at_hypertension_followup),
            np.char.mod("%.1f", glu),
            "",
        ).astype(object),
        "medication_adherence": np.array(ADHERENCE, dtype=object)[
            np.searchsorted(cal.adherence, rng.random(k), "right")
        ],
        "referred": w.yn(rng.random(k) < cal.followup_referred),
        "_folder": world.fac_folder[r.centre[who]],
        "_res": who,
    }
    # keep sbp/dbp together: a row has both or neither
    both = (batch["sbp"] != "") & (batch["dbp"] != "")
    batch["sbp"] = np.where(both, batch["sbp"], "").astype(object)
    batch["dbp"] = np.where(both, batch["dbp"], "").astype(object)
    return batch, np.unique(who)


def _readings(
    world: World, ctrl: np.ndarray, elderly: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blood pressure (mmHg) and fasting glucose (mmol/L) on the right side of the control
    thresholds: below 140/90 (150/90 at 65+) and below 7.0."""
    rng, cal = world.rng, world.cal
    k = len(ctrl)
    sbp_lim = np.where(elderly, 149, 139)
    sbp = np.where(
        ctrl,
        np.minimum(rng.normal(*cal.sbp_controlled, k), sbp_lim),
        np.maximum(rng.normal(*cal.sbp_uncontrolled, k), sbp_lim + 1),
    )
    dbp = np.where(
        ctrl,
        np.minimum(rng.normal(*cal.dbp_controlled, k), 89),
        rng.normal(*cal.dbp_uncontrolled, k),
    )
    dbp = np.where(~ctrl & (sbp < 140), np.maximum(dbp, 90), dbp)
    sbp = np.clip(np.round(sbp), 80, 240).astype(np.int64)
    dbp = np.clip(np.round(dbp), 45, 140).astype(np.int64)
    glu = np.where(
        ctrl,
        np.minimum(rng.normal(*cal.glucose_controlled, k), 6.9),
        np.maximum(rng.normal(*cal.glucose_uncontrolled, k), 7.0),
    )
    glu = np.clip(np.round(glu, 1), 3.0, 30.0)
    return sbp, dbp, glu
