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
from grassroots.generate.population import AGE_BAND_EDGES, Residents, age_at
from grassroots.generate.region import Region

DAY = np.timedelta64(1, "D")

# visit-class shares (grassroots, level 0/1, level 2, level 3) over a year, per domain.md:
# signed residents 64.67 % / unsigned 48.50 % at grassroots; hospitals: 47.1 % of hospital visits
# tertiary, 10.8 % level-1/unrated, the rest level-2.
HOSPITAL_SPLIT = np.array([0.108, 0.421, 0.471])
# rural residents mostly stay in their county (医共体, ~90 % in-county); urban ones use the city's
# tertiary hospitals more, so that the city-wide tertiary share stays at 47 % of hospital visits
HOSPITAL_SPLIT_BY_AREA = {
    True: np.array([0.108, 0.30, 0.592]),
    False: np.array([0.108, 0.642, 0.25]),
}
GRASSROOTS_TARGET = {False: 0.485, True: 0.6467}
# mean outpatient cost per visit (yuan): tertiary 1.533 x secondary, 2.92 x community
VISIT_MEAN_YUAN = np.array([113.0, 150.0, 215.0, 330.0])
DRUG_SHARE = np.array([0.62, 0.45, 0.40, 0.35])
RX_PROB = np.array([0.78, 0.62, 0.58, 0.55])
LONG_RX_PROB = np.array([0.60, 0.35, 0.35, 0.30])  # chronic-disease visits
UP_REFERRAL_PROB = {0: 0.020, 1: 0.012, 2: 0.012, 3: 0.006, 4: 0.0}  # by sending rank
DOWN_SHARE = 0.16
# beds: target midnight occupancy and mean nights by level
OCCUPANCY = {3: 0.92, 2: 0.835, 1: 0.67, 0: 0.67, "centre": 0.60}
MEAN_NIGHTS = {3: 8.0, 2: 8.5, 1: 9.0, 0: 9.0, "centre": 10.0}
DEPT_NIGHTS = {"15": 40.0, "21": 18.0}
INPATIENT_DAY_YUAN = {3: 1800, 2: 1100, 1: 700, 0: 700, "centre": 400}
PACKAGES = ("free", "basic", "personalized", "checkup")
PACKAGE_P = np.array([0.30, 0.45, 0.15, 0.10])
# fee_total, fee_city, fee_district, fee_self in fen (basic = Hangzhou's 120 = 25/65/10 %)
PACKAGE_FEES = np.array(
    [
        [0, 0, 0, 0],
        [12000, 3000, 7800, 1200],
        [30000, 3000, 7800, 19200],
        [20000, 3000, 7800, 9200],
    ],
    dtype=np.int64,
)
FOLLOWUP_MODES = ("clinic", "home", "phone", "online")
# Family doctor coverage: Shanghai's > 45 % of all residents, Hangzhou's 64 % of key groups.  The
# target is a little above 45 % because the census counts people who never appear in care.
SIGNING_TARGET = 0.47
KEY_SIGNING = 0.64
# Outpatient use is overdispersed: a gamma-distributed propensity per resident (shape 0.5) leaves
# about a quarter of residents without a visit in a year, as health surveys report, where a plain
# Poisson at 6 visits a year would leave almost nobody out (and every record "active").  Chronic
# patients come back for their prescriptions: their propensity varies much less (shape 4).
VISIT_PROPENSITY_SHAPE = 0.5
CHRONIC_PROPENSITY_SHAPE = 4.0
# Chronic follow-up plans: interval in days (and its share), and each patient's share of
# face-to-face follow-ups, set so that about two thirds are under standard management (national
# reports: 60-75 %).
FOLLOWUP_INTERVALS = ((30, 0.15), (60, 0.25), (90, 0.60))
FOLLOWUP_F2F_SHARE = (0.60, 1.0)
# Residents 65+ who come for the annual check-up (老年人健康管理率 is reported at 60-75 %).
ELDERLY_CHECKUP_SHARE = 0.75
# Record updates at random, outside any service (a resident corrects an address, …): per day.
RECORD_UPDATE_PER_DAY = 1 / 900
# Ward diagnoses that name a chronic disease go to its patients only.
HYPERTENSION_CATEGORIES = ("I10", "I11", "I12", "I13")
DIABETES_CATEGORIES = ("E11", "E14")
ADHERENCE = ("regular", "intermittent", "none")


def _d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def _ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


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
    followups: int = 0
    checkups: int = 0


class Simulator:
    def __init__(
        self,
        region: Region,
        res: Residents,
        start: date,
        end: date,
        rng: np.random.Generator,
        visits_per_year: float = 6.0,
    ) -> None:
        self.g, self.r, self.rng = region, res, rng
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
        self._init_visit_model(visits_per_year)
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

    def _init_visit_model(self, visits_per_year: float) -> None:
        r = self.r
        mult = np.array([1.6, 0.7, 0.7, 1.0, 1.4, 1.8, 2.0])
        band = np.searchsorted(AGE_BAND_EDGES, r.age0, side="right") - 1
        shape = np.where(
            r.hypertension | r.diabetes, CHRONIC_PROPENSITY_SHAPE, VISIT_PROPENSITY_SHAPE
        )
        propensity = self.rng.gamma(shape, 1 / shape)
        lam = mult[band] * (1 + 0.5 * r.hypertension + 0.5 * r.diabetes) * propensity
        # class probabilities such that the *yearly* grassroots share hits the target despite
        # weekend and holiday dips that hit grassroots harder than hospitals
        days = [date(self.start.year, 1, 1) + timedelta(days=k) for k in range(365)]
        fac = np.array([calendar.visit_factors(d) for d in days])
        fmean = fac.mean(axis=0)
        fh = (HOSPITAL_SPLIT * fmean[1:]).sum() / HOSPITAL_SPLIT.sum()
        self.cls_p = {}
        for signed, t in GRASSROOTS_TARGET.items():
            g = t * fh / (t * fh + (1 - t) * fmean[0])
            for urban, split in HOSPITAL_SPLIT_BY_AREA.items():
                self.cls_p[(signed, urban)] = np.cumsum(np.concatenate([[g], (1 - g) * split]))
        mean_f = (
            0.45 * (np.diff(np.concatenate([[0], self.cls_p[(True, True)]])) * fmean).sum()
            + 0.55 * (np.diff(np.concatenate([[0], self.cls_p[(False, True)]])) * fmean).sum()
        )
        lam *= visits_per_year / 365.0 / mean_f / lam.mean()
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
                wgt = self.fac_beds[idx].astype(float) * np.where(
                    same | (c == 3), 1.0, 0.03 if c == 2 else 0.02
                )
                wgt *= np.where(fac.kind.to_numpy()[idx] == "psychiatric", 0.15, 1.0)
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
        r, rng = self.r, self.rng
        n = r.n
        key = self.key = r.key_population(r.age0)
        # key groups at their coverage, the others so that everybody together is at the target
        p_non = max(
            0.05, (SIGNING_TARGET - key.mean() * KEY_SIGNING) / max(1e-9, 1 - key.mean())
        )
        self.p_sign_key, self.p_sign_non = KEY_SIGNING, p_non
        signed = rng.random(n) < np.where(key, KEY_SIGNING, p_non)
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
            idx, s - rng.integers(1, 365, len(idx)).astype("timedelta64[D]"), renewal_prob=0.7
        )
        self.initial_contracts = idx

    def _new_contracts(
        self,
        idx: np.ndarray,
        sign: np.ndarray,
        renewal_prob: float = 0.0,
        prev: np.ndarray | None = None,
    ) -> None:
        r, rng = self.r, self.rng
        n = len(idx)
        self.c_id[idx] = self._next_ids("contract", n)
        self.c_sign[idx] = sign
        self.c_end[idx] = sign + np.timedelta64(364, "D")
        pkg = np.searchsorted(np.cumsum(PACKAGE_P), rng.random(n), side="right")
        # elderly and chronic patients take the personalised/check-up packages more often
        older = r.age0[idx] >= 60
        pkg = np.where(older & (rng.random(n) < 0.25), 3, pkg)
        self.c_pkg[idx] = np.minimum(pkg, 3)
        # 1+1+1: a district hospital and a city (tertiary) hospital, mostly urban and elderly
        p111 = np.where(r.urban[idx], np.where(older, 0.45, 0.15), 0.05)
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
        r, rng = self.r, self.rng
        n = r.n
        s = self.s64
        has = (rng.random(n) < np.where(r.age0 >= 65, 0.95, 0.86)) & (r.birth < s - DAY)
        has |= self.signed
        lo = np.maximum(r.birth, np.datetime64("2010-01-01")).astype(np.int64)
        hi = np.where(self.signed, self.c_sign, s).astype(np.int64)
        reg = lo + (rng.random(n) * np.maximum(1, hi - lo)).astype(np.int64)
        self.rec_reg = np.where(has, reg, np.iinfo(np.int64).max)  # day number; max = none
        per_year = self.visits_per_day * 365 + 365 * RECORD_UPDATE_PER_DAY
        per_year[self.fu_idx] += 365 / self.fu_interval
        per_year += np.where(r.age0 >= 65, ELDERLY_CHECKUP_SHARE, np.where(r.age0 >= 18, 0.05, 0.01))
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
        incomplete = rng.random(n) < 0.25
        for k in range(6):
            drop = incomplete & (rng.random(n) < 0.35)
            self.rec_fields[k, drop] = -1
        fix = incomplete & (self.rec_fields >= 0).all(axis=0)
        self.rec_fields[rng.integers(0, 6, n)[fix], np.flatnonzero(fix)] = -1

    def _init_followups(self) -> None:
        r, rng = self.r, self.rng
        patient = (r.hypertension | r.diabetes) & (r.age0 >= 35)
        managed = patient & (rng.random(r.n) < np.where(r.urban, 0.80, 0.72))
        self.fu_idx = np.flatnonzero(managed)
        k = len(self.fu_idx)
        days, share = zip(*FOLLOWUP_INTERVALS, strict=True)
        self.fu_interval = rng.choice(days, k, p=share)
        self.fu_next = self.s64.astype(np.int64) + (rng.random(k) * self.fu_interval).astype(
            np.int64
        )
        self.fu_ctrl = rng.random(k) < 0.62  # patient-level control propensity
        self.fu_f2f = rng.uniform(*FOLLOWUP_F2F_SHARE, k)  # share of face-to-face follow-ups

    def _init_inpatient(self) -> None:
        """Wards (facility x department) with admission rates from Little's law."""
        fac = self.g.facilities
        wf, wd, wb, wl, wlev = [], [], [], [], []
        for i in np.flatnonzero(self.fac_beds > 0):
            kind = self.fac_kind[i]
            depts = catalog.WARDS["centre" if self.fac_grass[i] else kind]
            n_w = int(np.clip(self.fac_beds[i] // 40, 1, len(depts)))
            share = np.linspace(2, 1, n_w)
            beds = np.maximum(1, np.floor(self.fac_beds[i] * share / share.sum())).astype(int)
            beds[0] += self.fac_beds[i] - beds.sum()
            lev = "centre" if self.fac_grass[i] else int(self.fac_level[i])
            for k in range(n_w):
                occ = OCCUPANCY[lev]
                if lev == 2 and not fac.urban[i]:
                    occ = 0.85
                elif lev == 2:
                    occ = 0.82
                nights = DEPT_NIGHTS.get(depts[k], MEAN_NIGHTS[lev])
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
        aw = np.array([1.0, 0.4, 0.7, 1.0, 1.6, 2.5, 3.5])[
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
        for k in range(90, 0, -1):
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
            rng.random(n) < 0.62, rng.normal(9.8 * 60, 70, n), rng.normal(15 * 60, 60, n)
        )
        minute = np.clip(minute, 7 * 60 + 30, 18 * 60)
        if emergency is not None:
            minute = np.where(emergency, rng.integers(0, 24 * 60, n), minute)
        base = np.datetime64(day, "m")
        return (base + minute.astype(np.int64).astype("timedelta64[m]")).astype("datetime64[s]")

    def is_signed_team(self, who: np.ndarray) -> np.ndarray:
        return np.where(self.signed[who], self.c_team[who], -1)

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
        rng = self.rng
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
            renew = ended[rng.random(len(ended)) < 0.85]
            if len(renew):
                self._new_contracts(renew, np.full(len(renew), d), prev=self.c_id[renew].copy())
                parts.append(self._contract_rows(renew, np.full(len(renew), "active")))
            lost = len(ended) - len(renew)
        else:
            lost = 0
        # terminations (moved away, died, changed doctor): ~2 % of contracts a year
        active = np.flatnonzero(self.signed & (self.c_sign < d) & (self.c_end > d))
        term = active[rng.random(len(active)) < 0.02 / 365]
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
        rng, r = self.rng, self.r
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
        use_st = g & (station >= 0) & (rng.random(n) < 0.4)
        fac[g] = home[g]
        fac[use_st] = station[use_st]
        other = g & ~use_st & (rng.random(n) < 0.07)
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
        emergency = rng.random(n) < np.where(hosp, 0.07, 0.005)
        home_visit = ~hosp & ~emergency & (age >= 65) & (rng.random(n) < 0.02)
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
        ht = r.hypertension[who] & (u < np.where(hosp, 0.30, 0.50))
        dm = r.diabetes[who] & ~ht & (rng.random(n) < np.where(hosp, 0.30, 0.45))
        preg = r.pregnant[who] & ~ht & ~dm & (rng.random(n) < 0.5)
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
        has_rx = (rng.random(n) < RX_PROB[lv]) & self.dx_has_drugs[dx]
        vi = np.flatnonzero(has_rx)
        n_lines = (
            np.searchsorted(np.cumsum([0.40, 0.35, 0.18, 0.07]), rng.random(len(vi)), "right") + 1
        )
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
        long_rx = chronic & (rng.random(len(lv_idx)) < LONG_RX_PROB[lv[lv_idx]])
        days = np.where(
            long_rx,
            rng.choice([28, 30, 30, 56, 60, 60, 84, 90], len(lv_idx)),
            np.where(
                chronic,
                rng.choice([7, 14, 14, 21], len(lv_idx)),
                rng.choice([1, 2, 3, 3, 5, 5, 7], len(lv_idx)),
            ),
        )
        units = rng.choice([1, 1, 1, 2, 2, 3], len(lv_idx))
        qty = days * units
        extended = chronic & ~hosp[lv_idx] & (rng.random(len(lv_idx)) < 0.12)

        # fees (fen): total by level, drug part split over the lines, the rest over the others
        mu = np.log(VISIT_MEAN_YUAN[lv] * 100) - 0.7**2 / 2
        total = np.maximum(500, np.round(rng.lognormal(mu, 0.7))).astype(np.int64)
        total = np.where(home_visit, total + 4000, total)  # home visit fee 40 CNY
        share = np.clip(rng.normal(DRUG_SHARE[lv], 0.12), 0.05, 0.95)
        drug_fee = np.where(has_rx, np.round(total * share), 0).astype(np.int64)
        wline = self.drug_price[drug] * days * units + 1.0
        wsum = np.bincount(lv_idx, wline, minlength=n)
        amount = np.floor(drug_fee[lv_idx] * wline / wsum[lv_idx]).astype(np.int64)
        amount[first] += drug_fee[vi] - np.round(
            np.bincount(lv_idx, amount, minlength=n)[vi]
        ).astype(np.int64)
        rest = total - drug_fee
        exam = np.floor(rest * rng.uniform(0.3, 0.6, n)).astype(np.int64)
        treat = np.floor((rest - exam) * rng.uniform(0.4, 0.8, n)).astype(np.int64)
        other = rest - exam - treat
        ins = np.floor(
            total * np.clip(rng.normal(np.where(hosp, 0.55, 0.68), 0.1), 0.0, 0.95)
        ).astype(np.int64)
        self_paid = total - ins

        seq = self._next_ids("visit_" + _ymd(day), n)
        vid = np.char.add("V" + _ymd(day), np.char.zfill(seq.astype("U"), 7)).astype(object)
        visits: w.Batch = {
            "visit_id": vid,
            "facility_code": self.fac_code[fac],
            "resident_id": w.prefixed("R", r.rid[who]),
            "id_card_no": np.where(rng.random(n) < 0.9, r.id_card[who], "").astype(object),
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
            want = 3 if (rank[i] < 3 and rng.random() < 0.55) else 4
            if rank[i] >= 3:
                want = 4
            cand, cum = self.cands[(want - 1, dd)]
            out[i] = cand[min(np.searchsorted(cum, rng.random(), "right"), len(cand) - 1)]
        return out

    def _down_target(self, src: np.ndarray, who: np.ndarray) -> np.ndarray:
        rng = self.rng
        home = self.r.centre[who]
        out = home.copy()
        for i in np.flatnonzero((self.fac_rank[src] == 4) & (rng.random(len(src)) < 0.4)):
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
        rng = self.rng
        rank = self.fac_rank[fac]
        p_up = np.array([UP_REFERRAL_PROB[k] for k in range(5)])[rank]
        up = np.flatnonzero(rng.random(len(fac)) < p_up)
        can_down = np.flatnonzero(rank >= 1)
        n_down = min(len(can_down), rng.poisson(len(up) * DOWN_SHARE / (1 - DOWN_SHARE)))
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
                np.searchsorted([0.55, 0.85], rng.random(k), "right")
            ],
            np.array(["outpatient", "inpatient", "exam"])[
                np.searchsorted([0.70, 0.95], rng.random(k), "right")
            ],
        )
        kind = np.where((kind == "inpatient") & (self.fac_beds[to] == 0), "outpatient", kind)
        rid = self._next_ids("referral", k)
        rtime = times[src] + rng.integers(5, 60, k).astype("timedelta64[m]")
        rtime = np.minimum(rtime, np.datetime64(day, "s") + np.timedelta64(86399, "s"))
        tm = team[src]
        prio = (tm >= 0) & (direction == "up") & (rng.random(k) < 0.45)
        base = {
            "referral_id": w.prefixed("ZZ", rid),
            "facility_code": self.fac_code[fac[src]],
            "to_facility_code": self.fac_code[to],
            "resident_id": w.prefixed("R", self.r.rid[who[src]]),
            "referral_time": w.ts(rtime),
            "direction": direction,
            "referral_kind": kind.astype(object),
            "diagnosis_code": np.where(rng.random(k) < 0.92, self.dx_codes[dx[src]], "").astype(
                object
            ),
            "team_code": w.take(self.team_code, np.maximum(tm, 0), tm < 0),
            "priority_slot": w.yn(prio),
            "_folder": self.fac_folder[fac[src]],
        }
        # status life cycle; later states are re-sent by the sender on later business days
        u = rng.random(k)
        final = np.select(
            [u < 0.80, u < 0.85, u < 0.93, u < 0.97],
            ["arrived", "rejected", "cancelled", "requested"],
            "accepted",
        )
        same_day = (final == "arrived") & (rng.random(k) < 0.15)
        status0 = np.where(same_day, "arrived", "requested").astype(object)
        dnum = int(_d64(day).astype(np.int64))
        for i in range(k):
            row = {c: v[i : i + 1] for c, v in base.items()}
            arrive_day = dnum
            if final[i] == "arrived" and not same_day[i]:
                acc = dnum + 1
                if rng.random() < 0.5:
                    self._queue_status(acc, row, "accepted")
                    arrive_day = acc + int(rng.integers(1, 6))
                else:
                    arrive_day = dnum + int(rng.integers(1, 7))
                self._queue_status(arrive_day, row, "arrived")
            elif final[i] in ("rejected", "cancelled", "accepted"):
                self._queue_status(
                    dnum + int(rng.integers(1, 4 if final[i] != "cancelled" else 10)), row, final[i]
                )
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
        k = 1.6
        x = rng.gamma(k, np.maximum(mean - 0.5, 0.5) / k)
        nights = np.round(x).astype(np.int64)
        return np.where(rng.random(len(mean)) < 0.03, 0, np.maximum(nights, 1))

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
        rng, st, r = self.rng, self.st, self.r
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
                INPATIENT_DAY_YUAN["centre" if lv == "centre" else int(lv)]
                for lv in self.w_level[ward]
            ]
        )
        total = np.round(per_day * 100 * (nights + 1) * rng.lognormal(-0.08, 0.4, n)).astype(
            np.int64
        )
        drug = np.floor(total * rng.uniform(0.2, 0.35, n)).astype(np.int64)
        ins = np.floor(total * rng.uniform(0.55, 0.78, n)).astype(np.int64)
        u = rng.random(n)
        status = np.select(
            [u < 0.25, u < 0.90, u < 0.93, u < 0.945],
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
        rng, r = self.rng, self.r
        dnum = int(_d64(day).astype(np.int64))
        due = np.flatnonzero(self.fu_next == dnum)
        if not calendar.is_workday(day):  # most follow-ups wait for a working day
            later = due[rng.random(len(due)) < 0.85]
            self.fu_next[later] += 1
            due = np.setdiff1d(due, later)
        self.fu_next[due] += self.fu_interval[due] + rng.integers(-7, 8, len(due))
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
            np.where(rng.random(k) < 0.8, "clinic", "home"),
            np.where(rng.random(k) < 0.7, "phone", "online"),
        ).astype(object)
        ctrl = rng.random(k) < np.where(self.fu_ctrl[rows_p], 0.88, 0.22)
        elderly = age_at(r.birth[who], _d64(day)) >= 65
        sbp_lim = np.where(elderly, 149, 139)
        sbp = np.where(
            ctrl,
            np.minimum(rng.normal(128, 8, k), sbp_lim),
            np.maximum(rng.normal(154, 12, k), sbp_lim + 1),
        )
        dbp = np.where(ctrl, np.minimum(rng.normal(80, 6, k), 89), rng.normal(88, 9, k))
        dbp = np.where(~ctrl & (sbp < 140), np.maximum(dbp, 90), dbp)
        sbp = np.clip(np.round(sbp), 80, 240).astype(np.int64)
        dbp = np.clip(np.round(dbp), 45, 140).astype(np.int64)
        glu = np.where(
            ctrl, np.minimum(rng.normal(6.1, 0.5, k), 6.9), np.maximum(rng.normal(8.7, 1.6, k), 7.0)
        )
        glu = np.clip(np.round(glu, 1), 3.0, 30.0)
        is_ht = disease == "hypertension"
        team = np.where(self.signed[who], self.c_team[who], r.team[who])
        ids = self._next_ids("followup", k)
        self.stats.followups += k
        batch = {
            "followup_id": w.prefixed("SF", ids),
            "facility_code": self.fac_code[r.centre[who]],
            "team_code": self.team_code[team],
            "resident_id": w.prefixed("R", r.rid[who]),
            "disease": disease,
            "followup_date": np.full(k, str(_d64(day)), dtype=object),
            "mode": mode,
            "sbp": np.where(is_ht | (rng.random(k) < 0.5), w.ints(sbp), "").astype(object),
            "dbp": np.where(is_ht | (rng.random(k) < 0.5), w.ints(dbp), "").astype(object),
            "fasting_glucose": np.where(
                ~is_ht | (rng.random(k) < 0.2), np.char.mod("%.1f", glu), ""
            ).astype(object),
            "medication_adherence": np.array(ADHERENCE, dtype=object)[
                np.searchsorted([0.7, 0.92], rng.random(k), "right")
            ],
            "referred": w.yn(rng.random(k) < 0.015),
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
        age = age_at(r.birth, np.datetime64(f"{year}-12-31"))
        p = np.where(age >= 65, ELDERLY_CHECKUP_SHARE, np.where(age >= 18, 0.05, 0.01)) * frac
        who = np.flatnonzero(rng.random(r.n) < p)
        day = work[rng.integers(0, len(work), len(who))]
        o = np.argsort(day, kind="stable")
        self.checkup_plan[year] = (who[o], day[o])

    def _checkups(self, day: date) -> tuple[w.Batch, np.ndarray]:
        rng, r = self.rng, self.r
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
            elderly, "elderly_annual", np.where(rng.random(k) < 0.8, "general", "other")
        )
        items = np.where(elderly & (rng.random(k) < 0.88), 8, rng.integers(3, 8, k))
        sbp = np.clip(np.round(rng.normal(132 + 10 * r.hypertension[who], 16, k)), 85, 230).astype(
            np.int64
        )
        dbp = np.clip(np.round(rng.normal(80 + 5 * r.hypertension[who], 10, k)), 45, 130).astype(
            np.int64
        )
        glu = np.clip(np.round(rng.normal(5.4 + 2.2 * r.diabetes[who], 1.0, k), 1), 3.0, 25.0)
        bmi = np.clip(np.round(rng.normal(23.8, 3.4, k), 1), 14.0, 45.0)
        abn = rng.poisson(np.where(elderly, 0.9, 0.4))
        ids = self._next_ids("checkup", k)
        self.stats.checkups += k
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
        rng, r = self.rng, self.r
        dnum = int(_d64(day).astype(np.int64))
        parts = []
        if day == self.start:
            parts.append(np.flatnonzero(self.rec_reg < dnum))  # initial load of existing records
        # new records: the unregistered register slowly (~15 % a year), newborns included
        none = np.flatnonzero((self.rec_reg == np.iinfo(np.int64).max) & (r.birth <= _d64(day)))
        new = none[rng.random(len(none)) < 0.0005]
        self.rec_reg[new] = dnum
        self.rec_upd[new] = -1
        parts.append(new)
        # updates: after a follow-up or check-up (half of them) and at random
        has = self.rec_reg < dnum
        upd = touched[has[touched] & (rng.random(len(touched)) < 0.5)]
        rnd = np.flatnonzero(has & (rng.random(r.n) < RECORD_UPDATE_PER_DAY))
        upd = np.union1d(upd, rnd)
        if len(upd):
            self.rec_upd[upd] = dnum
            # an update often completes the missing fields
            fill = upd[rng.random(len(upd)) < 0.4]
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
            "phone": np.where(rng.random(n) < 0.92, r.phone[idx].astype("U"), "").astype(object),
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
