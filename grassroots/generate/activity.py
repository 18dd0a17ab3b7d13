"""Day-by-day simulation of care activity, producing one batch per daily dataset per day.

All residents live in numpy arrays; each day draws visits by thinning a Poisson process over the
residents' visit intensities, then derives prescriptions, referrals, admissions/discharges and the
ward census, contract events, chronic follow-ups, check-ups and record updates.  Money is integer
fen throughout so every sum written is exact.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from grassroots.generate import calendar, catalog
from grassroots.generate import writer as w
from grassroots.generate.calibration import Calibration
from grassroots.generate.population import AGE_BAND_EDGES, Residents, age_at
from grassroots.generate.region import Region

DAY = np.timedelta64(1, "D")

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
# Clinic hours peak mid-morning and mid-afternoon: share of visits in the morning, (mean, sd)
# minute of day of each peak, opening and closing minute.
MORNING_SHARE = 0.62
MORNING_PEAK = (9.8 * 60, 70)
AFTERNOON_PEAK = (15 * 60, 60)
CLINIC_HOURS = (7 * 60 + 30, 18 * 60)
# A referral is written 5-59 minutes after the visit.
REFERRAL_DELAY_MINUTES = (5, 60)
# Ward diagnoses that name a chronic disease go to its patients only.
HYPERTENSION_CATEGORIES = ("I10", "I11", "I12", "I13")
DIABETES_CATEGORIES = ("E11", "E14")
ADHERENCE = ("regular", "intermittent", "none")


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


def _normal(
    rng: np.random.Generator, mean_extra_sd: tuple[float, float, float], ill: np.ndarray, k: int
) -> np.ndarray:
    """k normal draws whose mean is raised for residents with the disease."""
    mean, extra, sd = mean_extra_sd
    return rng.normal(mean + extra * ill, sd, k)


@dataclass
class Stats:
    """Counters for the generator's own calibration report."""

    visits_by_class: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))
    signed_visits: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))  # [all, g]
    unsigned_visits: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    fee_by_class: np.ndarray = field(default_factory=lambda: np.zeros(4, np.int64))
    up: int = 0
    down: int = 0
    open_by_level: dict = field(default_factory=lambda: defaultdict(int))
    occ_by_level: dict = field(default_factory=lambda: defaultdict(int))
    rx_visits: int = 0
    abx_visits: int = 0
    discharges: int = 0


class Simulator:
    def __init__(
        self,
        region: Region,
        res: Residents,
        start: date,
        end: date,
        rng: np.random.Generator,
        cal: Calibration,
    ) -> None:
        self.g, self.r, self.rng, self.cal = region, res, rng, cal
        self.start, self.end = start, end
        self.s64 = _d64(start)
        self.stats = Stats()
        fac = region.facilities
        self.fac_code = fac.facility_code.to_numpy(dtype=object)
        self.fac_rank = fac["rank"].to_numpy()
        self.fac_level = fac.level.to_numpy()
        self.fac_folder = fac.folder.to_numpy()
        self.fac_district = fac.district.to_numpy()
        self.fac_beds = fac.approved_beds.to_numpy()
        self.fac_grass = fac.is_grassroots.to_numpy()
        self.fac_class = np.select(
            [self.fac_grass, self.fac_rank <= 2, self.fac_rank == 3], [0, 1, 2], 3
        )
        self.team_code = region.teams.team_code.to_numpy(dtype=object)
        self.station_of_comm = region.communities.station.to_numpy()
        self.n_doctors = np.maximum(1, (self.fac_beds // 10) + np.where(self.fac_grass, 3, 8))
        self.counters: dict[str, int] = defaultdict(int)
        self._init_visit_model()
        self._init_drugs()
        self._init_signing()
        self._init_followups()
        self._init_records()
        self.ref_updates: dict[int, list[w.Batch]] = defaultdict(list)
        self.ref_admissions: dict[int, list[tuple[int, int, str, str]]] = defaultdict(list)
        self._init_inpatient()
        self.checkup_plan: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    # ---- setup -----------------------------------------------------------------------------

    def _next_ids(self, kind: str, n: int) -> np.ndarray:
        start = self.counters[kind]
        self.counters[kind] += n
        return np.arange(start + 1, start + n + 1, dtype=np.int64)

    def _init_visit_model(self) -> None:
        r, cal = self.r, self.cal
        mult = np.array(cal.visit_rate_by_age_band)
        band = np.searchsorted(AGE_BAND_EDGES, r.age0, side="right") - 1
        shape = np.where(
            r.hypertension | r.diabetes, cal.chronic_propensity_shape, cal.visit_propensity_shape
        )
        propensity = self.rng.gamma(shape, 1 / shape)
        chronic = cal.visit_rate_per_chronic_disease
        lam = mult[band] * (1 + chronic * r.hypertension + chronic * r.diabetes) * propensity
        # class probabilities such that the *yearly* grassroots share hits the target despite
        # weekend and holiday dips that hit grassroots harder than hospitals
        days = [date(self.start.year, 1, 1) + timedelta(days=k) for k in range(365)]
        fac = np.array([calendar.visit_factors(d) for d in days])
        fmean = fac.mean(axis=0)
        split = np.array(cal.hospital_split)
        fh = (split * fmean[1:]).sum() / split.sum()
        self.cls_p = {}
        targets = {False: cal.grassroots_share_unsigned, True: cal.grassroots_share_signed}
        by_area = {
            True: np.array(cal.hospital_split_urban),
            False: np.array(cal.hospital_split_rural),
        }
        for signed, t in targets.items():
            g = t * fh / (t * fh + (1 - t) * fmean[0])
            for urban, split in by_area.items():
                self.cls_p[(signed, urban)] = np.cumsum(np.concatenate([[g], (1 - g) * split]))
        s = cal.signed_visit_share
        mean_f = (
            s * (np.diff(np.concatenate([[0], self.cls_p[(True, True)]])) * fmean).sum()
            + (1 - s) * (np.diff(np.concatenate([[0], self.cls_p[(False, True)]])) * fmean).sum()
        )
        lam *= cal.visits_per_year / 365.0 / mean_f / lam.mean()
        self.visits_per_day = lam * mean_f  # after the day's thinning
        self.lam_cum = np.cumsum(lam)
        self.lam_total = float(self.lam_cum[-1])
        # candidate hospitals per (class, district)
        self.cands: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        fac = self.g.facilities
        for c in (1, 2, 3):
            for dd in self.g.districts.index:
                m = self.fac_class == c
                idx = np.flatnonzero(m)
                same = self.fac_district[idx] == dd
                away = (
                    cal.other_district_weight_level2 if c == 2 else cal.other_district_weight_level1
                )
                wgt = self.fac_beds[idx].astype(float) * np.where(same | (c == 3), 1.0, away)
                wgt *= np.where(
                    fac.kind.to_numpy()[idx] == "psychiatric",
                    cal.psychiatric_outpatient_weight,
                    1.0,
                )
                self.cands[(c, dd)] = (idx, np.cumsum(wgt) / wgt.sum())
        self.district_centres = {
            dd: np.flatnonzero(fac.is_centre.to_numpy() & (self.fac_district == dd))
            for dd in self.g.districts.index
        }
        # clinics per facility kind for department codes
        self.fac_kind = fac.kind.to_numpy()
        self.fac_type = fac.facility_type.to_numpy()

    def _init_drugs(self) -> None:
        d = self.g.drugs
        self.drug_code = d.drug_code.to_numpy(dtype=object)
        self.drug_price = d.price.to_numpy()
        self.drug_abx = d.is_antibiotic.to_numpy()
        kinds = sorted(set(d.kind))
        self.kind_idx = {k: i for i, k in enumerate(kinds)}
        width = int(d.kind.value_counts().max())
        self.kind_drugs = np.zeros((len(kinds), width), dtype=np.int64)
        for k, i in self.kind_idx.items():
            ids = np.flatnonzero(d.kind.to_numpy() == k)
            self.kind_drugs[i] = np.resize(ids, width)
        self.abx_drugs = np.flatnonzero(self.drug_abx)
        dx = catalog.OUTPATIENT_DX
        self.dx_codes = np.array(
            [x[0] for x in dx]
            + list(catalog.HYPERTENSION_DX)
            + list(catalog.DIABETES_DX)
            + [catalog.PREGNANCY_DX],
            dtype=object,
        )
        n_pool = len(dx)
        self.n_pool = n_pool
        self.dx_w = np.array([[x[1] for x in dx], [x[2] for x in dx]], dtype=float)
        self.dx_w /= self.dx_w.sum(axis=1, keepdims=True)
        self.dx_cum = np.cumsum(self.dx_w, axis=1)
        kinds_of = [x[3] for x in dx] + [("ht",)] * 4 + [("dm",)] * 4 + [("other",)]
        self.dx_kinds = np.array(
            [
                [self.kind_idx[k] for k in np.resize(np.array(ks or ("other",)), 3)]
                for ks in kinds_of
            ]
        )
        self.dx_has_drugs = np.array([bool(ks) for ks in kinds_of])
        self.dx_abx = np.array([x[4] for x in dx] + [0.0] * 9)
        chronic = {"E78.5", "I25.1", "I69.3", "Z76.0", "I48"}
        self.dx_chronic = np.array([x[0] in chronic for x in dx] + [True] * 8 + [False])
        self.HT0, self.DM0, self.PREG = n_pool, n_pool + 4, n_pool + 8

    def _init_signing(self) -> None:
        r, rng, cal = self.r, self.rng, self.cal
        n = r.n
        key = self.key = r.key_population(r.age0)
        # key groups at their coverage, the others so that everybody together is at the target
        p_non = max(
            cal.min_other_signing,
            (cal.signing_target - key.mean() * cal.key_signing) / max(1e-9, 1 - key.mean()),
        )
        self.p_sign_key, self.p_sign_non = cal.key_signing, p_non
        signed = rng.random(n) < np.where(key, cal.key_signing, p_non)
        s = self.s64
        self.c_id = np.full(n, -1, np.int64)
        self.c_sign = np.full(n, s, "datetime64[D]")
        self.c_end = np.full(n, s, "datetime64[D]")
        self.c_pkg = np.zeros(n, np.int8)
        self.c_team = r.team.copy()
        self.c_dh = np.full(n, -1, np.int32)  # 1+1+1 district hospital
        self.c_ch = np.full(n, -1, np.int32)  # 1+1+1 city hospital
        self.c_prev = np.full(n, -1, np.int64)
        self.signed = np.zeros(n, bool)
        idx = np.flatnonzero(signed)
        self._new_contracts(
            idx,
            s - rng.integers(1, CONTRACT_DAYS, len(idx)).astype("timedelta64[D]"),
            renewal_prob=cal.initial_renewal_share,
        )
        self.initial_contracts = idx

    def _new_contracts(
        self,
        idx: np.ndarray,
        sign: np.ndarray,
        renewal_prob: float = 0.0,
        prev: np.ndarray | None = None,
    ) -> None:
        r, rng, cal = self.r, self.rng, self.cal
        n = len(idx)
        self.c_id[idx] = self._next_ids("contract", n)
        self.c_sign[idx] = sign
        self.c_end[idx] = sign + np.timedelta64(CONTRACT_DAYS - 1, "D")
        pkg = np.searchsorted(np.cumsum(cal.package_shares), rng.random(n), side="right")
        # elderly and chronic patients take the personalised/check-up packages more often
        older = r.age0[idx] >= 60
        pkg = np.where(older & (rng.random(n) < cal.checkup_package_60plus), CHECKUP_PACKAGE, pkg)
        self.c_pkg[idx] = np.minimum(pkg, len(PACKAGES) - 1)
        # 1+1+1: a district hospital and a city (tertiary) hospital, mostly urban and elderly
        p111 = np.where(
            r.urban[idx],
            np.where(older, cal.combo_share_urban_60plus, cal.combo_share_urban),
            cal.combo_share_rural,
        )
        m = rng.random(n) < p111
        dh, ch = self._combo_hospitals(idx)
        self.c_dh[idx] = np.where(m, dh, -1)
        self.c_ch[idx] = np.where(m, ch, -1)
        if prev is not None:
            self.c_prev[idx] = prev
        else:
            # the initial stock: most were renewals of a contract that predates the window
            self.c_prev[idx] = np.where(
                rng.random(n) < renewal_prob, -2, -1
            )  # -2: renewal of an old (unknown) contract
        self.signed[idx] = True

    def _combo_hospitals(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fac = self.g.facilities
        gen = fac.facility_type.to_numpy() == "general_hospital"
        dh_of = np.array(
            [
                np.flatnonzero(gen & (self.fac_level == 2) & (self.fac_district == d))[0]
                for d in self.g.districts.index
            ]
        )
        l3 = np.flatnonzero(gen & (self.fac_level == 3))
        return dh_of[self.r.district[idx]], l3[self.r.district[idx] % len(l3)]

    def _init_records(self) -> None:
        """The go-live stock of health records, with their real registration and update dates.

        Signed residents all have a record, registered before they signed.  A record's last
        update before go-live is its last service: visits, follow-ups, check-ups and updates at
        random arrive at each resident's own rate, so the share of records active in the year
        before go-live is the share active in any later year.
        """
        r, rng, cal = self.r, self.rng, self.cal
        n = r.n
        s = self.s64
        has = (rng.random(n) < np.where(r.age0 >= 65, *cal.record_share)) & (r.birth < s - DAY)
        has |= self.signed
        lo = np.maximum(r.birth, np.datetime64(cal.records_since)).astype(np.int64)
        hi = np.where(self.signed, self.c_sign, s).astype(np.int64)
        reg = lo + (rng.random(n) * np.maximum(1, hi - lo)).astype(np.int64)
        self.rec_reg = np.where(has, reg, np.iinfo(np.int64).max)  # day number; max = none
        per_year = self.visits_per_day * 365 + 365 * cal.updates_per_day
        per_year[self.fu_idx] += 365 / self.fu_interval
        per_year += self._checkup_share(r.age0)
        last = s.astype(np.int64) - 1 - np.floor(rng.exponential(365 / per_year)).astype(np.int64)
        self.rec_upd = np.where(has & (last > reg), last, -1)
        # the six completeness fields: index into the value lists, -1 = empty;
        # ~75 % of records complete, the others miss one to three fields
        vals = (
            catalog.BLOOD_TYPES,
            catalog.ALLERGIES,
            catalog.PAST_HISTORY,
            catalog.FAMILY_HISTORY,
            catalog.OCCUPATIONS,
            catalog.EDUCATION,
        )
        self.rec_vals = [np.array(v, dtype=object) for v in vals]
        self.rec_fields = np.stack([rng.integers(0, len(v), n) for v in vals]).astype(np.int8)
        incomplete = rng.random(n) < cal.incomplete_records
        for k in range(6):
            drop = incomplete & (rng.random(n) < cal.missing_field_share)
            self.rec_fields[k, drop] = -1
        fix = incomplete & (self.rec_fields >= 0).all(axis=0)
        self.rec_fields[rng.integers(0, 6, n)[fix], np.flatnonzero(fix)] = -1

    def _init_followups(self) -> None:
        r, rng, cal = self.r, self.rng, self.cal
        patient = (r.hypertension | r.diabetes) & (r.age0 >= cal.managed_from_age)
        managed = patient & (rng.random(r.n) < np.where(r.urban, *cal.managed_share))
        self.fu_idx = np.flatnonzero(managed)
        k = len(self.fu_idx)
        days, share = zip(*cal.followup_intervals, strict=True)
        self.fu_interval = rng.choice(days, k, p=share)
        self.fu_next = self.s64.astype(np.int64) + (rng.random(k) * self.fu_interval).astype(
            np.int64
        )
        self.fu_ctrl = rng.random(k) < cal.controlled_patients  # patient-level control propensity
        self.fu_f2f = rng.uniform(*cal.followup_f2f_share, k)  # share of face-to-face follow-ups

    def _init_inpatient(self) -> None:
        """Wards (facility x department) with admission rates from Little's law."""
        fac, cal = self.g.facilities, self.cal
        wf, wd, wb, wl, wlev = [], [], [], [], []
        for i in np.flatnonzero(self.fac_beds > 0):
            kind = self.fac_kind[i]
            depts = catalog.WARDS["centre" if self.fac_grass[i] else kind]
            n_w = int(np.clip(self.fac_beds[i] // cal.beds_per_ward, 1, len(depts)))
            share = np.linspace(2, 1, n_w)
            beds = np.maximum(1, np.floor(self.fac_beds[i] * share / share.sum())).astype(int)
            beds[0] += self.fac_beds[i] - beds.sum()
            lev = "centre" if self.fac_grass[i] else int(self.fac_level[i])
            for k in range(n_w):
                if lev == 2:
                    occ = cal.occupancy_level2_urban if fac.urban[i] else cal.occupancy_level2_rural
                else:
                    occ = cal.occupancy[lev]
                nights = cal.department_nights.get(depts[k], cal.mean_nights[lev])
                wf.append(i)
                wd.append(depts[k])
                wb.append(beds[k])
                wl.append(beds[k] * occ / self._mean_nights(nights))
                wlev.append(nights)
        self.w_fac = np.array(wf, dtype=np.int64)
        self.w_dept = np.array(wd, dtype=object)
        self.w_beds = np.array(wb, dtype=np.int64)
        self.w_lam = np.array(wl)
        self.w_credit = np.zeros(len(wl), np.int64)
        self.w_nights = np.array(wlev)
        self.w_level = np.array(
            ["centre" if self.fac_grass[f] else str(self.fac_level[f]) for f in wf], dtype=object
        )
        # admission weights: age, and pools for maternity, paediatrics and psychiatry
        r = self.r
        aw = np.array(cal.admission_rate_by_age_band)[
            np.searchsorted(AGE_BAND_EDGES, r.age0, "right") - 1
        ]
        self.pools = {
            "any": np.flatnonzero(np.ones(r.n, bool)),
            "05": np.flatnonzero(~r.male & (r.age0 >= 18) & (r.age0 <= 45)),
            "07": np.flatnonzero(r.age0 <= 14),
            "15": np.flatnonzero(r.smd) if r.smd.any() else np.flatnonzero(r.age0 >= 18),
        }
        # local hospitals and centres admit their own district's residents; tertiary: city-wide
        for dd in self.g.districts.index:
            self.pools[f"any{dd}"] = np.flatnonzero(r.district == dd)
        self.pool_cum = {
            k: np.cumsum(aw[v] if k.startswith("any") else np.ones(len(v)))
            for k, v in self.pools.items()
        }
        self.w_pool = np.array(
            ["any" if self.fac_rank[f] == 4 else f"any{self.fac_district[f]}" for f in wf],
            dtype=object,
        )
        # stays in progress: parallel arrays
        self.st = {
            k: np.zeros(0, t)
            for k, t in (
                ("ward", np.int64),
                ("res", np.int64),
                ("admit", "datetime64[s]"),
                ("dis", "datetime64[s]"),
                ("id", np.int64),
                ("ref", object),
            )
        }
        # admissions dip at weekends and Spring Festival; normalise over the year
        self.adm_mean = float(
            np.mean(
                [
                    calendar.admission_factor(date(self.start.year, 1, 1) + timedelta(days=k))
                    for k in range(365)
                ]
            )
        )
        # warm up 90 days so the wards start at their stationary occupancy
        for k in range(cal.warm_up_days, 0, -1):
            self._inpatient_day(self.start - timedelta(days=k), write=False)

    # ---- helpers ---------------------------------------------------------------------------

    def _pick(self, pool: str, n: int) -> np.ndarray:
        cum = self.pool_cum[pool]
        return self.pools[pool][
            np.minimum(np.searchsorted(cum, self.rng.random(n) * cum[-1], "right"), len(cum) - 1)
        ]

    def _times(self, day: date, n: int, emergency: np.ndarray | None = None) -> np.ndarray:
        """Clinic hours (peaks mid-morning and mid-afternoon); emergencies around the clock."""
        rng = self.rng
        minute = np.where(
            rng.random(n) < MORNING_SHARE,
            rng.normal(*MORNING_PEAK, n),
            rng.normal(*AFTERNOON_PEAK, n),
        )
        minute = np.clip(minute, *CLINIC_HOURS)
        if emergency is not None:
            minute = np.where(emergency, rng.integers(0, 24 * 60, n), minute)
        base = np.datetime64(day, "m")
        return (base + minute.astype(np.int64).astype("timedelta64[m]")).astype("datetime64[s]")

    # ---- one day ---------------------------------------------------------------------------

    def day(self, day: date) -> dict[str, w.Batch]:
        out: dict[str, list[w.Batch]] = defaultdict(list)
        dnum = int(_d64(day).astype(np.int64))
        out["signings"].append(self._signings(day))
        visits, rx, refs = self._visits(day)
        out["outpatient_visits"].append(visits)
        out["prescriptions"].append(rx)
        out["referrals"].append(refs)
        out["referrals"].extend(self.ref_updates.pop(dnum, []))
        dis, census = self._inpatient_day(day, write=True)
        out["inpatient_discharges"].append(dis)
        out["bed_census"].append(census)
        fu, fu_res = self._followups(day)
        out["chronic_followups"].append(fu)
        ck, ck_res = self._checkups(day)
        out["health_checkups"].append(ck)
        out["health_records"].append(self._records(day, np.concatenate([fu_res, ck_res])))
        return {k: b for k, v in out.items() if (b := w.concat(v)) is not None}

    # ---- contracts -------------------------------------------------------------------------

    def _contract_rows(self, idx: np.ndarray, status: np.ndarray) -> w.Batch:
        r = self.r
        team = self.c_team[idx]
        centre = self.g.teams.centre.to_numpy()[team]
        fees = PACKAGE_FEES[self.c_pkg[idx]]
        prev = self.c_prev[idx]
        return {
            "contract_id": w.prefixed("QY", self.c_id[idx]),
            "facility_code": self.fac_code[centre],
            "team_code": self.team_code[team],
            "resident_id": w.prefixed("R", r.rid[idx]),
            "id_card_no": r.id_card[idx].astype(object),
            "name": np.array([r.name(i) for i in idx], dtype=object),
            "phone": r.phone[idx].astype("U").astype(object),
            "package_code": np.array(PACKAGES, dtype=object)[self.c_pkg[idx]],
            "sign_date": w.dt(self.c_sign[idx]),
            "start_date": w.dt(self.c_sign[idx]),
            "end_date": w.dt(self.c_end[idx]),
            "status": status.astype(object),
            "fee_total": w.money(fees[:, 0]),
            "fee_city": w.money(fees[:, 1]),
            "fee_district": w.money(fees[:, 2]),
            "fee_self": w.money(fees[:, 3]),
            "district_hospital_code": w.take(
                self.fac_code, np.maximum(self.c_dh[idx], 0), self.c_dh[idx] < 0
            ),
            "city_hospital_code": w.take(
                self.fac_code, np.maximum(self.c_ch[idx], 0), self.c_ch[idx] < 0
            ),
            "renewal_of": np.where(
                prev >= 0,
                w.prefixed("QY", np.maximum(prev, 0)),
                np.where(
                    prev == -2,
                    "QY9" + np.char.zfill((self.c_id[idx] % 99991).astype("U"), 9).astype(object),
                    "",
                ),
            ).astype(object),
            "_folder": self.fac_folder[centre],
            "_res": idx,
        }

    def _signings(self, day: date) -> w.Batch:
        rng, cal = self.rng, self.cal
        d = _d64(day)
        parts: list[w.Batch] = []
        if day == self.start:
            # initial load: every contract in force, signed before the window, sent on day one
            idx = self.initial_contracts
            parts.append(self._contract_rows(idx, np.full(len(idx), "active")))
        ended = np.flatnonzero(self.signed & (self.c_end == d - DAY))
        if len(ended):
            parts.append(self._contract_rows(ended, np.full(len(ended), "expired")))
            self.signed[ended] = False
            renew = ended[rng.random(len(ended)) < cal.renewal_share]
            if len(renew):
                self._new_contracts(renew, np.full(len(renew), d), prev=self.c_id[renew].copy())
                parts.append(self._contract_rows(renew, np.full(len(renew), "active")))
            lost = len(ended) - len(renew)
        else:
            lost = 0
        # terminations (moved away, died, changed doctor)
        active = np.flatnonzero(self.signed & (self.c_sign < d) & (self.c_end > d))
        term = active[rng.random(len(active)) < cal.terminations_per_year / 365]
        if len(term):
            self.c_end[term] = d
            parts.append(self._contract_rows(term, np.full(len(term), "terminated")))
            self.signed[term] = False
        # new signings replace the lost ones so coverage stays stationary
        self.sign_backlog = getattr(self, "sign_backlog", 0) + lost + len(term)
        n_new = 0
        if calendar.is_workday(day):  # signing desks work on working days
            n_new = rng.poisson(self.sign_backlog)
            self.sign_backlog = 0
        if n_new:
            # signing needs a health record (建档 comes first)
            un = np.flatnonzero(~self.signed & (self.rec_reg < int(d.astype(np.int64))))
            # weights in proportion to each group's odds of being signed keep both groups'
            # coverage stationary (key groups 64 %, everybody ~45 %)
            key = self.key[un]
            odds_key = self.p_sign_key / (1 - self.p_sign_key)
            odds_non = self.p_sign_non / (1 - self.p_sign_non)
            wgt = np.where(key, odds_key, odds_non)
            pick = un[
                np.unique(np.searchsorted(np.cumsum(wgt), rng.random(n_new) * wgt.sum(), "right"))
            ]
            pick = pick[self.c_end[pick] < d]  # not someone whose contract ended today
            if len(pick):
                self.c_team[pick] = self.r.team[pick]
                self._new_contracts(pick, np.full(len(pick), d), prev=np.full(len(pick), -1))
                parts.append(self._contract_rows(pick, np.full(len(pick), "active")))
        return w.concat(parts) or {}

    # ---- outpatient ------------------------------------------------------------------------

    def _visits(self, day: date) -> tuple[w.Batch, w.Batch, w.Batch]:
        rng, r, cal = self.rng, self.r, self.cal
        f = calendar.visit_factors(day)
        fmax = f.max()
        n = rng.poisson(self.lam_total * fmax)
        who = np.minimum(
            np.searchsorted(self.lam_cum, rng.random(n) * self.lam_total, "right"), r.n - 1
        )
        signed = self.signed[who]
        u = rng.random(n)
        urban = r.urban[who]
        cls = np.zeros(n, np.int64)
        for (sg, ub), cum in self.cls_p.items():
            m = (signed == sg) & (urban == ub)
            cls[m] = np.searchsorted(cum, u[m], "right")
        cls = np.minimum(cls, 3)
        keep = rng.random(n) < f[cls] / fmax
        who, cls, signed = who[keep], cls[keep], signed[keep]
        order = np.argsort(who, kind="stable")
        who, cls, signed = who[order], cls[order], signed[order]
        n = len(who)
        fac = np.empty(n, np.int64)
        g = cls == 0
        home = r.centre[who]
        station = self.station_of_comm[r.community[who]]
        use_st = g & (station >= 0) & (rng.random(n) < cal.station_share)
        fac[g] = home[g]
        fac[use_st] = station[use_st]
        other = g & ~use_st & (rng.random(n) < cal.other_centre_share)
        dist = r.district[who]
        for dd, cands in self.district_centres.items():
            m = np.flatnonzero(other & (dist == dd))
            if len(m):
                fac[m] = cands[rng.integers(0, len(cands), len(m))]
        for c in (1, 2, 3):
            for dd in self.g.districts.index:
                m = np.flatnonzero((cls == c) & (dist == dd))
                if len(m):
                    idx, cum = self.cands[(c, dd)]
                    fac[m] = idx[
                        np.minimum(np.searchsorted(cum, rng.random(len(m)), "right"), len(idx) - 1)
                    ]
        cls = self.fac_class[fac]  # station/other-district choices keep their class anyway
        lv = cls
        hosp = ~self.fac_grass[fac]
        age = r.age0[who]
        emergency = rng.random(n) < np.where(
            hosp, cal.emergency_share_hospital, cal.emergency_share_grassroots
        )
        home_visit = (
            ~hosp & ~emergency & (age >= 65) & (rng.random(n) < cal.home_visit_share_65plus)
        )
        vtype = np.where(emergency, "emergency", np.where(home_visit, "home_visit", "outpatient"))
        times = self._times(day, n, emergency)
        # diagnosis: chronic patients are mostly seen for their condition
        u = rng.random(n)
        dx = np.where(
            hosp,
            np.searchsorted(self.dx_cum[1], rng.random(n), "right"),
            np.searchsorted(self.dx_cum[0], rng.random(n), "right"),
        )
        dx = np.minimum(dx, self.n_pool - 1)
        ht = r.hypertension[who] & (u < np.where(hosp, *cal.hypertension_visit_share))
        dm = r.diabetes[who] & ~ht & (rng.random(n) < np.where(hosp, *cal.diabetes_visit_share))
        preg = r.pregnant[who] & ~ht & ~dm & (rng.random(n) < cal.pregnancy_visit_share)
        dx = np.where(ht, self.HT0 + rng.integers(0, 4, n), dx)
        dx = np.where(dm, self.DM0 + rng.integers(0, 4, n), dx)
        dx = np.where(preg, self.PREG, dx)
        # department
        dept = np.full(n, "02", dtype=object)
        for kind, clinics in catalog.CLINICS.items():
            m = np.flatnonzero(self.fac_kind[fac] == kind)
            if len(m):
                dept[m] = np.array(clinics, dtype=object)[rng.integers(0, len(clinics), len(m))]
        dept[hosp & emergency] = "20"
        dept[hosp & preg] = "05"
        dept[hosp & (ht | dm) & (self.fac_kind[fac] == "general")] = "03"
        doctor = np.char.add(
            np.char.add(self.fac_code[fac].astype("U"), "D"),
            np.char.zfill((rng.random(n) * self.n_doctors[fac]).astype(np.int64).astype("U"), 3),
        )
        # family doctor team: a signed resident seen at their own centre (or its station)
        own = ~hosp & (self.fac_folder[fac] == home) & signed
        team = np.where(own, self.c_team[who], -1)

        # prescriptions
        has_rx = (rng.random(n) < np.array(cal.rx_share)[lv]) & self.dx_has_drugs[dx]
        vi = np.flatnonzero(has_rx)
        n_lines = np.searchsorted(np.cumsum(cal.rx_lines), rng.random(len(vi)), "right") + 1
        n_lines = np.minimum(n_lines, 4)
        lv_idx = np.repeat(vi, n_lines)  # visit index of each line
        first = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
        line_no = np.arange(len(lv_idx)) - np.repeat(first, n_lines) + 1
        kind = self.dx_kinds[dx[lv_idx], rng.integers(0, 3, len(lv_idx))]
        drug = self.kind_drugs[kind, rng.integers(0, self.kind_drugs.shape[1], len(lv_idx))]
        abx_visit = rng.random(len(vi)) < self.dx_abx[dx[vi]]
        abx_line = np.repeat(abx_visit, n_lines) & (line_no == 1)
        drug = np.where(
            abx_line, self.abx_drugs[rng.integers(0, len(self.abx_drugs), len(lv_idx))], drug
        )
        chronic = self.dx_chronic[dx[lv_idx]] & ~abx_line
        long_rx = chronic & (rng.random(len(lv_idx)) < np.array(cal.long_rx_share)[lv[lv_idx]])
        days = np.where(
            long_rx,
            rng.choice(cal.long_rx_days, len(lv_idx)),
            np.where(
                chronic,
                rng.choice(cal.chronic_rx_days, len(lv_idx)),
                rng.choice(cal.acute_rx_days, len(lv_idx)),
            ),
        )
        units = rng.choice(cal.rx_units_per_day, len(lv_idx))
        qty = days * units
        extended = chronic & ~hosp[lv_idx] & (rng.random(len(lv_idx)) < cal.extended_rx_share)

        # fees (fen): total by level, drug part split over the lines, the rest over the others
        sigma = cal.visit_cost_sigma
        mu = np.log(np.array(cal.visit_mean_yuan)[lv] * 100) - sigma**2 / 2
        total = np.maximum(cal.visit_cost_min_fen, np.round(rng.lognormal(mu, sigma)))
        total = total.astype(np.int64)
        total = np.where(home_visit, total + cal.home_visit_fee_fen, total)
        share = np.clip(
            rng.normal(np.array(cal.drug_share)[lv], cal.drug_share_sd), *cal.drug_share_bounds
        )
        drug_fee = np.where(has_rx, np.round(total * share), 0).astype(np.int64)
        wline = self.drug_price[drug] * days * units + 1.0
        wsum = np.bincount(lv_idx, wline, minlength=n)
        amount = np.floor(drug_fee[lv_idx] * wline / wsum[lv_idx]).astype(np.int64)
        amount[first] += drug_fee[vi] - np.round(
            np.bincount(lv_idx, amount, minlength=n)[vi]
        ).astype(np.int64)
        rest = total - drug_fee
        exam = np.floor(rest * rng.uniform(*cal.exam_share, n)).astype(np.int64)
        treat = np.floor((rest - exam) * rng.uniform(*cal.treatment_share, n)).astype(np.int64)
        other = rest - exam - treat
        insured = rng.normal(np.where(hosp, *cal.insured_share), cal.insured_share_sd)
        ins = np.floor(total * np.clip(insured, *cal.insured_share_bounds)).astype(np.int64)
        self_paid = total - ins

        seq = self._next_ids("visit_" + _ymd(day), n)
        vid = np.char.add("V" + _ymd(day), np.char.zfill(seq.astype("U"), 7)).astype(object)
        visits: w.Batch = {
            "visit_id": vid,
            "facility_code": self.fac_code[fac],
            "resident_id": w.prefixed("R", r.rid[who]),
            "id_card_no": np.where(
                rng.random(n) < cal.visit_id_card_share, r.id_card[who], ""
            ).astype(object),
            "visit_time": w.ts(times),
            "department_code": dept,
            "visit_type": vtype.astype(object),
            "doctor_id": doctor.astype(object),
            "team_code": w.take(self.team_code, np.maximum(team, 0), team < 0),
            "diagnosis_code": self.dx_codes[dx],
            "total_fee": w.money(total),
            "drug_fee": w.money(drug_fee),
            "exam_fee": w.money(exam),
            "treatment_fee": w.money(treat),
            "other_fee": w.money(other),
            "insurance_paid": w.money(ins),
            "self_paid": w.money(self_paid),
            "_folder": self.fac_folder[fac],
            "_has_rx": has_rx,
            "_total": total,
            "_ins": ins,
            "_other": other,
            "_vidx": np.arange(n),
        }
        rx: w.Batch = {
            "prescription_id": np.char.add(
                "P" + _ymd(day), np.char.zfill(seq[lv_idx].astype("U"), 7)
            ).astype(object),
            "line_no": w.ints(line_no),
            "facility_code": self.fac_code[fac[lv_idx]],
            "visit_id": vid[lv_idx],
            "drug_code": self.drug_code[drug],
            "quantity": w.ints(qty),
            "days_supply": w.ints(days),
            "amount": w.money(amount),
            "is_extended": w.yn(extended),
            "_folder": self.fac_folder[fac[lv_idx]],
            "_vidx": lv_idx,
        }
        st = self.stats
        np.add.at(st.visits_by_class, lv, 1)
        np.add.at(st.fee_by_class, lv, total)
        st.signed_visits += [signed.sum(), (signed & ~hosp).sum()]
        st.unsigned_visits += [(~signed).sum(), (~signed & ~hosp).sum()]
        st.rx_visits += len(vi)
        st.abx_visits += int(abx_visit.sum())
        refs = self._referrals(day, who, fac, times, dx, team, hosp)
        return visits, rx, refs

    # ---- referrals -------------------------------------------------------------------------

    def _up_target(self, src: np.ndarray, who: np.ndarray) -> np.ndarray:
        """A facility of strictly higher rank: the alliance's secondary/core hospitals mostly."""
        rng = self.rng
        out = np.empty(len(src), np.int64)
        rank = self.fac_rank[src]
        for i in range(len(src)):
            dd = self.r.district[who[i]]
            want = 3 if (rank[i] < 3 and rng.random() < self.cal.up_to_level2_share) else 4
            if rank[i] >= 3:
                want = 4
            cand, cum = self.cands[(want - 1, dd)]
            out[i] = cand[min(np.searchsorted(cum, rng.random(), "right"), len(cand) - 1)]
        return out

    def _down_target(self, src: np.ndarray, who: np.ndarray) -> np.ndarray:
        rng = self.rng
        home = self.r.centre[who]
        out = home.copy()
        to_level2 = rng.random(len(src)) < self.cal.down_to_level2_share
        for i in np.flatnonzero((self.fac_rank[src] == 4) & to_level2):
            cand, cum = self.cands[(2, self.r.district[who[i]])]
            out[i] = cand[min(np.searchsorted(cum, rng.random(), "right"), len(cand) - 1)]
        return out

    def _referrals(
        self,
        day: date,
        who: np.ndarray,
        fac: np.ndarray,
        times: np.ndarray,
        dx: np.ndarray,
        team: np.ndarray,
        hosp: np.ndarray,
    ) -> w.Batch:
        rng, cal = self.rng, self.cal
        rank = self.fac_rank[fac]
        p_up = np.array(cal.up_referral_share)[rank]
        up = np.flatnonzero(rng.random(len(fac)) < p_up)
        can_down = np.flatnonzero(rank >= 1)
        n_down = min(len(can_down), rng.poisson(len(up) * cal.down_share / (1 - cal.down_share)))
        down = (
            np.sort(rng.choice(can_down, n_down, replace=False))
            if n_down
            else np.zeros(0, np.int64)
        )
        src = np.concatenate([up, down])
        direction = np.array(["up"] * len(up) + ["down"] * len(down), dtype=object)
        to = np.concatenate(
            [self._up_target(fac[up], who[up]), self._down_target(fac[down], who[down])]
        )
        assert (
            (self.fac_rank[to] > rank[up.tolist() + down.tolist()]) == (direction == "up")
        ).all()
        k = len(src)
        if k == 0:
            return {}
        self.stats.up += len(up)
        self.stats.down += len(down)
        kind = np.where(
            direction == "up",
            np.array(["outpatient", "inpatient", "exam"])[
                np.searchsorted(cal.up_referral_kinds, rng.random(k), "right")
            ],
            np.array(["outpatient", "inpatient", "exam"])[
                np.searchsorted(cal.down_referral_kinds, rng.random(k), "right")
            ],
        )
        kind = np.where((kind == "inpatient") & (self.fac_beds[to] == 0), "outpatient", kind)
        rid = self._next_ids("referral", k)
        rtime = times[src] + rng.integers(*REFERRAL_DELAY_MINUTES, k).astype("timedelta64[m]")
        rtime = np.minimum(rtime, np.datetime64(day, "s") + np.timedelta64(86399, "s"))
        tm = team[src]
        prio = (tm >= 0) & (direction == "up") & (rng.random(k) < cal.priority_slot_share)
        base = {
            "referral_id": w.prefixed("ZZ", rid),
            "facility_code": self.fac_code[fac[src]],
            "to_facility_code": self.fac_code[to],
            "resident_id": w.prefixed("R", self.r.rid[who[src]]),
            "referral_time": w.ts(rtime),
            "direction": direction,
            "referral_kind": kind.astype(object),
            "diagnosis_code": np.where(
                rng.random(k) < cal.referral_diagnosis_share, self.dx_codes[dx[src]], ""
            ).astype(object),
            "team_code": w.take(self.team_code, np.maximum(tm, 0), tm < 0),
            "priority_slot": w.yn(prio),
            "_folder": self.fac_folder[fac[src]],
        }
        # status life cycle; later states are re-sent by the sender on later business days
        u = rng.random(k)
        final = np.select(
            [u < x for x in cal.referral_outcomes],
            ["arrived", "rejected", "cancelled", "requested"],
            "accepted",
        )
        same_day = (final == "arrived") & (rng.random(k) < cal.same_day_arrival_share)
        status0 = np.where(same_day, "arrived", "requested").astype(object)
        dnum = int(_d64(day).astype(np.int64))
        for i in range(k):
            row = {c: v[i : i + 1] for c, v in base.items()}
            arrive_day = dnum
            if final[i] == "arrived" and not same_day[i]:
                acc = dnum + 1
                if rng.random() < cal.accepted_first_share:
                    self._queue_status(acc, row, "accepted")
                    arrive_day = acc + int(rng.integers(*cal.arrival_after_acceptance_days))
                else:
                    arrive_day = dnum + int(rng.integers(*cal.arrival_days))
                self._queue_status(arrive_day, row, "arrived")
            elif final[i] in ("rejected", "cancelled", "accepted"):
                lag = cal.cancellation_days if final[i] == "cancelled" else cal.answer_days
                self._queue_status(dnum + int(rng.integers(*lag)), row, final[i])
            if final[i] == "arrived" and kind[i] == "inpatient":
                self.ref_admissions[arrive_day].append(
                    (
                        int(to[i]),
                        int(who[src[i]]),
                        base["referral_id"][i],
                        base["diagnosis_code"][i],
                    )
                )
        base["status"] = status0
        return base

    def _queue_status(self, dnum: int, row: w.Batch, status: str) -> None:
        upd = dict(row)
        upd["status"] = np.array([status], dtype=object)
        self.ref_updates[dnum].append(upd)

    # ---- inpatient -------------------------------------------------------------------------

    def _mean_nights(self, mean: float) -> float:
        """Expected midnights in bed for a stay drawn by _nights (estimated once, fixed seed)."""
        cache = self.__dict__.setdefault("_nights_cache", {})
        if mean not in cache:
            cache[mean] = float(
                self._nights(np.full(50_000, mean), np.random.default_rng(0)).mean()
            )
        return cache[mean]

    def _nights(self, mean: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        rng = rng or self.rng
        k = self.cal.nights_shape
        x = rng.gamma(k, np.maximum(mean - 0.5, 0.5) / k)
        nights = np.round(x).astype(np.int64)
        return np.where(rng.random(len(mean)) < self.cal.day_case_share, 0, np.maximum(nights, 1))

    def _inpatient_day(self, day: date, write: bool) -> tuple[w.Batch, w.Batch]:
        rng, st = self.rng, self.st
        d = _d64(day)
        dnum = int(d.astype(np.int64))
        # admissions: Poisson per ward; arrived inpatient referrals are admitted first
        lam = self.w_lam * calendar.admission_factor(day) / self.adm_mean
        n_adm = rng.poisson(lam)
        refs = self.ref_admissions.pop(dnum, [])
        ref_ward, ref_res, ref_id, ref_dx = [], [], [], []
        for f, res, rid, dxc in refs:
            wards = np.flatnonzero(self.w_fac == f)
            if len(wards) == 0:
                continue
            wi = wards[0]
            ref_ward.append(wi)
            ref_res.append(res)
            ref_id.append(rid)
            ref_dx.append(dxc)
            self.w_credit[wi] += 1
        # referral admissions take the place of later ordinary ones, keeping the long-run rate
        use = np.minimum(self.w_credit, n_adm)
        n_adm -= use
        self.w_credit -= use
        ward = np.concatenate(
            [np.repeat(np.arange(len(n_adm)), n_adm), np.array(ref_ward, np.int64)]
        )
        m = len(ward)
        res = np.empty(m, np.int64)
        dept = self.w_dept[ward]
        for pool in ("05", "07", "15"):
            k = np.flatnonzero(dept[: m - len(ref_res)] == pool)
            res[k] = self._pick(pool, len(k))
        general = ~np.isin(dept[: m - len(ref_res)], ["05", "07", "15"])
        for pool in np.unique(self.w_pool[ward[: m - len(ref_res)]][general]):
            k = np.flatnonzero(general & (self.w_pool[ward[: m - len(ref_res)]] == pool))
            res[k] = self._pick(pool, len(k))
        res[m - len(ref_res) :] = ref_res
        admit = np.datetime64(day, "s") + rng.integers(7 * 3600, 22 * 3600, m).astype(
            "timedelta64[s]"
        )
        nights = self._nights(self.w_nights[ward])
        dis = np.where(
            nights == 0,
            admit + rng.integers(1800, 3 * 3600, m).astype("timedelta64[s]"),
            (d + nights.astype("timedelta64[D]")).astype("datetime64[s]")
            + rng.integers(8 * 3600, 16 * 3600, m).astype("timedelta64[s]"),
        )
        dis = np.minimum(
            dis,
            (d + nights.astype("timedelta64[D]")).astype("datetime64[s]")
            + np.timedelta64(86399, "s"),
        )
        ref = np.concatenate(
            [np.full(m - len(ref_id), "", dtype=object), np.array(ref_id, dtype=object)]
        )
        ref_dx_arr = np.array(ref_dx, dtype=object)
        new = {
            "ward": ward,
            "res": res,
            "admit": admit,
            "dis": dis,
            "id": self._next_ids("stay", m),
            "ref": ref,
        }
        self._ref_dx = getattr(self, "_ref_dx", {})
        for rid, dxc in zip(ref_id, ref_dx_arr, strict=True):
            if dxc:
                self._ref_dx[rid] = dxc
        for key in st:
            st[key] = np.concatenate([st[key], new[key]])
        dis_day = st["dis"].astype("datetime64[D]")
        adm_day = st["admit"].astype("datetime64[D]")
        going = dis_day == d
        in_bed = (adm_day <= d) & (dis_day > d)
        nw = len(self.w_fac)
        occupied = np.bincount(st["ward"][in_bed], minlength=nw)
        admissions = np.bincount(st["ward"][adm_day == d], minlength=nw)
        discharges = np.bincount(st["ward"][going], minlength=nw)
        out_d: w.Batch = {}
        out_c: w.Batch = {}
        if write:
            for lev, o, b in zip(self.w_level, occupied, self.w_beds, strict=True):
                self.stats.occ_by_level[lev] += int(o)
                self.stats.open_by_level[lev] += int(b)
            out_c = {
                "facility_code": self.fac_code[self.w_fac],
                "census_date": np.full(nw, str(d), dtype=object),
                "department_code": self.w_dept,
                "open_beds": w.ints(self.w_beds),
                "occupied_beds": w.ints(occupied),
                "admissions": w.ints(admissions),
                "discharges": w.ints(discharges),
                "_folder": self.fac_folder[self.w_fac],
            }
            out_d = self._discharge_rows(np.flatnonzero(going))
            self.stats.discharges += int(going.sum())
        keep = ~going
        for key in st:
            st[key] = st[key][keep]
        return out_d, out_c

    def _discharge_rows(self, i: np.ndarray) -> w.Batch:
        rng, st, r, cal = self.rng, self.st, self.r, self.cal
        n = len(i)
        if n == 0:
            return {}
        ward = st["ward"][i]
        fac = self.w_fac[ward]
        dept = self.w_dept[ward]
        pools = [catalog.INPATIENT_DX.get(x, catalog.INPATIENT_DX["03"]) for x in dept]
        dx = np.array(
            [p[j % len(p)] for p, j in zip(pools, rng.integers(0, 1000, n), strict=True)],
            dtype=object,
        )
        # children get paediatric diagnoses wherever they are admitted
        child = np.flatnonzero(r.age0[st["res"][i]] < 15)
        kids = np.array(catalog.INPATIENT_DX["07"], dtype=object)
        dx[child] = kids[rng.integers(0, len(kids), len(child))]
        who = st["res"][i]
        cat = np.array([x[:3] for x in dx], dtype=object)
        wrong = (np.isin(cat, HYPERTENSION_CATEGORIES) & ~r.hypertension[who]) | (
            np.isin(cat, DIABETES_CATEGORIES) & ~r.diabetes[who]
        )
        dx[wrong] = "J18.9"
        refd = getattr(self, "_ref_dx", {})
        dx = np.array(
            [refd.get(rf) or x for rf, x in zip(st["ref"][i], dx, strict=True)], dtype=object
        )
        nights = (
            st["dis"][i].astype("datetime64[D]") - st["admit"][i].astype("datetime64[D]")
        ).astype(np.int64)
        per_day = np.array(
            [
                cal.inpatient_day_yuan["centre" if lv == "centre" else int(lv)]
                for lv in self.w_level[ward]
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
            "facility_code": self.fac_code[fac],
            "resident_id": w.prefixed("R", r.rid[st["res"][i]]),
            "id_card_no": r.id_card[st["res"][i]].astype(object),
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
            "_folder": self.fac_folder[fac],
        }

    # ---- chronic follow-ups ----------------------------------------------------------------

    def _followups(self, day: date) -> tuple[w.Batch, np.ndarray]:
        rng, r, cal = self.rng, self.r, self.cal
        dnum = int(_d64(day).astype(np.int64))
        due = np.flatnonzero(self.fu_next == dnum)
        if not calendar.is_workday(day):  # most follow-ups wait for a working day
            later = due[rng.random(len(due)) < cal.followup_waits_share]
            self.fu_next[later] += 1
            due = np.setdiff1d(due, later)
        drift = cal.followup_drift_days
        self.fu_next[due] += self.fu_interval[due] + rng.integers(-drift, drift + 1, len(due))
        pi = self.fu_idx[due]
        # one row per disease the patient has
        dis_ht = r.hypertension[pi]
        dis_dm = r.diabetes[pi]
        rows_p = np.concatenate([due[dis_ht], due[dis_dm]])
        disease = np.array(
            ["hypertension"] * int(dis_ht.sum()) + ["diabetes"] * int(dis_dm.sum()), dtype=object
        )
        k = len(rows_p)
        if k == 0:
            return {}, np.zeros(0, np.int64)
        who = self.fu_idx[rows_p]
        f2f = rng.random(k) < self.fu_f2f[rows_p]
        mode = np.where(
            f2f,
            np.where(rng.random(k) < cal.clinic_share, "clinic", "home"),
            np.where(rng.random(k) < cal.phone_share, "phone", "online"),
        ).astype(object)
        ctrl = rng.random(k) < np.where(self.fu_ctrl[rows_p], *cal.in_control)
        elderly = age_at(r.birth[who], _d64(day)) >= 65
        # in control: below 140/90 mmHg (150/90 at 65+), fasting glucose below 7.0 mmol/L
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
        is_ht = disease == "hypertension"
        team = np.where(self.signed[who], self.c_team[who], r.team[who])
        ids = self._next_ids("followup", k)
        batch = {
            "followup_id": w.prefixed("SF", ids),
            "facility_code": self.fac_code[r.centre[who]],
            "team_code": self.team_code[team],
            "resident_id": w.prefixed("R", r.rid[who]),
            "disease": disease,
            "followup_date": np.full(k, str(_d64(day)), dtype=object),
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
            "_folder": self.fac_folder[r.centre[who]],
            "_res": who,
        }
        # keep sbp/dbp together: a row has both or neither
        both = (batch["sbp"] != "") & (batch["dbp"] != "")
        batch["sbp"] = np.where(both, batch["sbp"], "").astype(object)
        batch["dbp"] = np.where(both, batch["dbp"], "").astype(object)
        return batch, np.unique(who)

    # ---- check-ups -------------------------------------------------------------------------

    def _plan_checkups(self, year: int) -> None:
        """Schedule the year's check-ups on working days inside the window."""
        rng, r = self.rng, self.r
        lo = max(date(year, 1, 1), self.start)
        hi = min(date(year, 12, 31), self.end)
        days = [lo + timedelta(days=k) for k in range((hi - lo).days + 1)]
        work = np.array([int(_d64(d).astype(np.int64)) for d in days if calendar.is_workday(d)])
        if len(work) == 0:
            self.checkup_plan[year] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
            return
        frac = len(days) / (366 if year % 4 == 0 else 365)  # only the part of the year simulated
        p = self._checkup_share(age_at(r.birth, np.datetime64(f"{year}-12-31"))) * frac
        who = np.flatnonzero(rng.random(r.n) < p)
        day = work[rng.integers(0, len(work), len(who))]
        o = np.argsort(day, kind="stable")
        self.checkup_plan[year] = (who[o], day[o])

    def _checkup_share(self, age: np.ndarray) -> np.ndarray:
        """Each resident's chance of a check-up in a year."""
        cal = self.cal
        return np.where(
            age >= 65,
            cal.checkup_share_65plus,
            np.where(age >= 18, cal.checkup_share_adult, cal.checkup_share_child),
        )

    def _checkups(self, day: date) -> tuple[w.Batch, np.ndarray]:
        rng, r, cal = self.rng, self.r, self.cal
        if day.year not in self.checkup_plan:
            self._plan_checkups(day.year)
        who_all, days = self.checkup_plan[day.year]
        dnum = int(_d64(day).astype(np.int64))
        lo, hi = np.searchsorted(days, dnum, "left"), np.searchsorted(days, dnum, "right")
        who = who_all[lo:hi]
        k = len(who)
        if k == 0:
            return {}, np.zeros(0, np.int64)
        age = age_at(r.birth[who], np.datetime64(f"{day.year}-12-31"))
        elderly = age >= 65
        ctype = np.where(
            elderly,
            "elderly_annual",
            np.where(rng.random(k) < cal.general_checkup_share, "general", "other"),
        )
        items = np.where(
            elderly & (rng.random(k) < cal.all_items_share_65plus), 8, rng.integers(3, 8, k)
        )
        ht, dm = r.hypertension[who], r.diabetes[who]
        sbp = np.clip(np.round(_normal(rng, cal.checkup_sbp, ht, k)), 85, 230).astype(np.int64)
        dbp = np.clip(np.round(_normal(rng, cal.checkup_dbp, ht, k)), 45, 130).astype(np.int64)
        glu = np.clip(np.round(_normal(rng, cal.checkup_glucose, dm, k), 1), 3.0, 25.0)
        bmi = np.clip(np.round(rng.normal(*cal.checkup_bmi, k), 1), 14.0, 45.0)
        abn = rng.poisson(np.where(elderly, *cal.abnormal_findings))
        ids = self._next_ids("checkup", k)
        return {
            "checkup_id": w.prefixed("TJ", ids),
            "facility_code": self.fac_code[r.centre[who]],
            "resident_id": w.prefixed("R", r.rid[who]),
            "checkup_date": np.full(k, str(_d64(day)), dtype=object),
            "checkup_type": ctype.astype(object),
            "items_completed": w.ints(items),
            "sbp": w.ints(sbp),
            "dbp": w.ints(dbp),
            "fasting_glucose": np.where(items >= 5, np.char.mod("%.1f", glu), "").astype(object),
            "bmi": np.char.mod("%.1f", bmi).astype(object),
            "abnormal_findings": w.ints(abn),
            "_folder": self.fac_folder[r.centre[who]],
            "_res": who,
        }, who

    # ---- health records --------------------------------------------------------------------

    def _records(self, day: date, touched: np.ndarray) -> w.Batch:
        rng, r, cal = self.rng, self.r, self.cal
        dnum = int(_d64(day).astype(np.int64))
        parts = []
        if day == self.start:
            parts.append(np.flatnonzero(self.rec_reg < dnum))  # initial load of existing records
        # new records: the unregistered register slowly, newborns included
        none = np.flatnonzero((self.rec_reg == np.iinfo(np.int64).max) & (r.birth <= _d64(day)))
        new = none[rng.random(len(none)) < cal.registrations_per_day]
        self.rec_reg[new] = dnum
        self.rec_upd[new] = -1
        parts.append(new)
        # updates: after a follow-up or check-up and at random
        has = self.rec_reg < dnum
        upd = touched[has[touched] & (rng.random(len(touched)) < cal.update_after_service)]
        rnd = np.flatnonzero(has & (rng.random(r.n) < cal.updates_per_day))
        upd = np.union1d(upd, rnd)
        if len(upd):
            self.rec_upd[upd] = dnum
            # an update often completes the missing fields
            fill = upd[rng.random(len(upd)) < cal.update_fills_share]
            for k in range(6):
                miss = fill[self.rec_fields[k, fill] < 0]
                self.rec_fields[k, miss] = rng.integers(0, len(self.rec_vals[k]), len(miss))
        parts.append(upd)
        idx = np.unique(np.concatenate(parts))  # one row per resident in the file
        n = len(idx)
        if n == 0:
            return {}
        reg = self.rec_reg[idx].astype("datetime64[D]")
        updd = self.rec_upd[idx]
        out: w.Batch = {
            "resident_id": w.prefixed("R", r.rid[idx]),
            "facility_code": self.fac_code[r.centre[idx]],
            "id_card_no": r.id_card[idx].astype(object),
            "name": np.array([r.name(i) for i in idx], dtype=object),
            "phone": np.where(
                rng.random(n) < cal.record_phone_share, r.phone[idx].astype("U"), ""
            ).astype(object),
            "sex": np.where(r.male[idx], "M", "F").astype(object),
            "birth_date": w.dt(r.birth[idx]),
            "region_code": self.g.communities.code.to_numpy(dtype=object)[r.community[idx]],
            "registered_date": w.dt(reg),
            "updated_date": np.where(
                updd >= 0, w.dt(np.maximum(updd, 0).astype("datetime64[D]")), ""
            ).astype(object),
            "hypertension": w.yn(r.hypertension[idx]),
            "diabetes": w.yn(r.diabetes[idx]),
            "tuberculosis": w.yn(r.tb[idx]),
            "severe_mental_disorder": w.yn(r.smd[idx]),
            "disability": w.yn(r.disability[idx]),
            "pregnant": w.yn(r.pregnant[idx]),
            "low_income": w.yn(r.low_income[idx]),
        }
        names = (
            "blood_type",
            "allergy_history",
            "past_history",
            "family_history",
            "occupation",
            "education",
        )
        for k, col in enumerate(names):
            v = self.rec_fields[k, idx]
            out[col] = np.where(v >= 0, self.rec_vals[k][np.maximum(v, 0)], "").astype(object)
        out["_folder"] = self.fac_folder[r.centre[idx]]
        out["_res"] = idx
        return out
