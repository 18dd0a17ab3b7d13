"""Day-by-day simulation of care activity, producing one batch per daily dataset per day.

The state lives in the per-dataset modules (contracts, visits, referrals, inpatient, followups,
checkups, records); ``Simulator`` builds it in a fixed order and steps every dataset through a
day.  All draws come from one stream, so the order of the calls below is part of the output.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np

from grassroots.generate import checkups, contracts, followups, inpatient, records, referrals
from grassroots.generate import visits as outpatient
from grassroots.generate import writer as w
from grassroots.generate.prescriptions import formulary
from grassroots.generate.world import World, day_number


class Simulator:
    def __init__(self, world: World) -> None:
        self.world = world
        self.model = outpatient.visit_model(world)
        self.formulary = formulary(world.region)
        self.contracts = contracts.initial_contracts(world)
        self.followup_plan = followups.plan_followups(world)
        self.records = records.initial_records(
            world, self.model.visits_per_day, self.contracts, self.followup_plan
        )
        self.referrals = referrals.ReferralQueue()
        self.wards = inpatient.build_wards(world, self.referrals)
        self.checkup_plan: checkups.CheckupPlan = {}

    def day(self, day: date) -> dict[str, w.Batch]:
        world, c = self.world, self.contracts
        out: dict[str, list[w.Batch]] = defaultdict(list)
        out["signings"].append(contracts.signings(world, c, self.records.registered, day))
        visits, rx, seen = outpatient.visits(world, self.model, self.formulary, c, day)
        out["outpatient_visits"].append(visits)
        out["prescriptions"].append(rx)
        out["referrals"].append(
            referrals.referrals(
                world, self.referrals, self.model.hospitals, self.formulary.dx_codes, day, seen
            )
        )
        out["referrals"].extend(self.referrals.updates.pop(day_number(day), []))
        dis, census = inpatient.inpatient_day(world, self.wards, self.referrals, day, write=True)
        out["inpatient_discharges"].append(dis)
        out["bed_census"].append(census)
        fu, fu_res = followups.followups(world, self.followup_plan, c, day)
        out["chronic_followups"].append(fu)
        ck, ck_res = checkups.checkups(world, self.checkup_plan, day)
        out["health_checkups"].append(ck)
        touched = np.concatenate([fu_res, ck_res])
        out["health_records"].append(records.records(world, self.records, day, touched))
        return {k: b for k, v in out.items() if (b := w.concat(v)) is not None}
