"""Health check-ups: each year's are planned on its first simulated day, then delivered day by
day."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from grassroots.generate import calendar
from grassroots.generate import writer as w
from grassroots.generate.calibration import Calibration
from grassroots.generate.population import age_at
from grassroots.generate.world import World, d64, day_number

ALL_ITEMS = 8  # items of a complete check-up
GLUCOSE_FROM_ITEMS = 5  # glucose is measured from this many items on

# year -> (residents, day numbers), by day
CheckupPlan = dict[int, tuple[np.ndarray, np.ndarray]]


def checkup_share(cal: Calibration, age: np.ndarray) -> np.ndarray:
    """Each resident's chance of a check-up in a year."""
    return np.where(
        age >= 65,
        cal.checkup_share_65plus,
        np.where(age >= 18, cal.checkup_share_adult, cal.checkup_share_child),
    )


def _plan_year(world: World, year: int) -> tuple[np.ndarray, np.ndarray]:
    """The year's check-ups on working days inside the window."""
    rng, r = world.rng, world.res
    lo = max(date(year, 1, 1), world.start)
    hi = min(date(year, 12, 31), world.end)
    days = [lo + timedelta(days=k) for k in range((hi - lo).days + 1)]
    work = np.array([day_number(d) for d in days if calendar.is_workday(d)])
    if len(work) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    frac = len(days) / (366 if year % 4 == 0 else 365)  # only the part of the year simulated
    p = checkup_share(world.cal, age_at(r.birth, np.datetime64(f"{year}-12-31"))) * frac
    who = np.flatnonzero(rng.random(r.n) < p)
    day = work[rng.integers(0, len(work), len(who))]
    o = np.argsort(day, kind="stable")
    return who[o], day[o]


def checkups(world: World, plan: CheckupPlan, day: date) -> tuple[w.Batch, np.ndarray]:
    """The day's check-up rows and the residents seen."""
    rng, r, cal = world.rng, world.res, world.cal
    if day.year not in plan:
        plan[day.year] = _plan_year(world, day.year)
    who_all, days = plan[day.year]
    dnum = day_number(day)
    who = who_all[np.searchsorted(days, dnum, "left") : np.searchsorted(days, dnum, "right")]
    k = len(who)
    if k == 0:
        return {}, np.zeros(0, np.int64)
    elderly = age_at(r.birth[who], np.datetime64(f"{day.year}-12-31")) >= 65
    ctype = np.where(
        elderly,
        "elderly_annual",
        np.where(rng.random(k) < cal.general_checkup_share, "general", "other"),
    )
    items = np.where(
        elderly & (rng.random(k) < cal.all_items_share_65plus),
        ALL_ITEMS,
        rng.integers(3, ALL_ITEMS, k),
    )
    ht, dm = r.hypertension[who], r.diabetes[who]
    sbp = np.clip(np.round(_normal(rng, cal.checkup_sbp, ht, k)), 85, 230).astype(np.int64)
    dbp = np.clip(np.round(_normal(rng, cal.checkup_dbp, ht, k)), 45, 130).astype(np.int64)
    glu = np.clip(np.round(_normal(rng, cal.checkup_glucose, dm, k), 1), 3.0, 25.0)
    bmi = np.clip(np.round(rng.normal(*cal.checkup_bmi, k), 1), 14.0, 45.0)
    abn = rng.poisson(np.where(elderly, *cal.abnormal_findings))
    ids = world.next_ids("checkup", k)
    return {
        "checkup_id": w.prefixed("TJ", ids),
        "facility_code": world.fac_code[r.centre[who]],
        "resident_id": w.prefixed("R", r.rid[who]),
        "checkup_date": np.full(k, str(d64(day)), dtype=object),
        "checkup_type": ctype.astype(object),
        "items_completed": w.ints(items),
        "sbp": w.ints(sbp),
        "dbp": w.ints(dbp),
        "fasting_glucose": np.where(
            items >= GLUCOSE_FROM_ITEMS, np.char.mod("%.1f", glu), ""
        ).astype(object),
        "bmi": np.char.mod("%.1f", bmi).astype(object),
        "abnormal_findings": w.ints(abn),
        "_folder": world.fac_folder[r.centre[who]],
        "_res": who,
    }, who


def _normal(
    rng: np.random.Generator, mean_extra_sd: tuple[float, float, float], ill: np.ndarray, k: int
) -> np.ndarray:
    """k normal draws whose mean is raised for residents with the disease."""
    mean, extra, sd = mean_extra_sd
    return rng.normal(mean + extra * ill, sd, k)
