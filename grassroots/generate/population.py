"""Residents as compact numpy arrays (one entry per person; 1 M people ≈ 150 MB).

Age structure follows the 2020 census (13.5 % aged 65+, 18.7 % aged 60+); chronic prevalence rises
with age so that adult hypertension is ≈27 % and diabetes ≈11 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from faker.providers.person.zh_CN import Provider as PersonProvider
from faker.providers.phone_number.zh_CN import Provider as PhoneProvider

from grassroots.generate import idcard
from grassroots.generate.region import Region

# 2020 census, % of population per 5-year band 0-4 … 80-84, 85+ (sums to 100)
AGE_SHARES = np.array(
    [5.4, 6.4, 6.1, 5.3, 5.3, 6.6, 8.8, 7.0, 6.6, 8.2, 8.5, 7.1, 5.2, 5.0, 3.5, 2.2, 1.5, 1.3]
)
# (min age, hypertension %, diabetes %) by age from the national chronic disease reports
CHRONIC_BY_AGE = (
    (0, 0.0, 0.0),
    (18, 0.06, 0.025),
    (35, 0.14, 0.06),
    (45, 0.27, 0.11),
    (55, 0.42, 0.17),
    (65, 0.55, 0.21),
    (75, 0.62, 0.22),
)
AGE_BAND_EDGES = np.array([0, 7, 18, 45, 60, 65, 80])  # contract.AGE_BANDS lower bounds


def _gbk_ok(s: str) -> bool:
    try:
        s.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False


# Faker zh_CN name lists, restricted to characters GBK can encode (one centre delivers in GBK).
SURNAMES = [k for k in PersonProvider.last_names if _gbk_ok(k)]
SURNAME_W = np.array([PersonProvider.last_names[k] for k in SURNAMES], dtype=float)
SURNAME_W /= SURNAME_W.sum()
GIVEN_M = [c for c in PersonProvider.first_names_male if _gbk_ok(c)]
GIVEN_F = [c for c in PersonProvider.first_names_female if _gbk_ok(c)]
PHONE_PREFIXES = np.array(PhoneProvider.phonenumber_prefixes, dtype=np.int64)


@dataclass
class Residents:
    n: int
    rid: np.ndarray  # int64, resident_id = 'R%010d'
    community: np.ndarray  # int32 index into region.communities
    street: np.ndarray
    district: np.ndarray
    urban: np.ndarray  # bool
    male: np.ndarray  # bool
    birth: np.ndarray  # datetime64[D]
    age0: np.ndarray  # int, age at the start date
    id_card: np.ndarray  # <U18
    surname: np.ndarray  # int16 index into SURNAMES
    given1: np.ndarray  # int16 index (into GIVEN_M / GIVEN_F by sex)
    given2: np.ndarray  # int16, -1 for a one-character given name
    phone: np.ndarray  # int64
    hypertension: np.ndarray
    diabetes: np.ndarray
    tb: np.ndarray
    smd: np.ndarray
    disability: np.ndarray
    pregnant: np.ndarray
    low_income: np.ndarray
    centre: np.ndarray  # facility idx of the home centre
    team: np.ndarray  # team idx at the home centre

    def name(self, i: int) -> str:
        given = GIVEN_M if self.male[i] else GIVEN_F
        g = given[self.given1[i]] + (given[self.given2[i]] if self.given2[i] >= 0 else "")
        return SURNAMES[self.surname[i]] + g[:2]

    def key_population(self, age: np.ndarray) -> np.ndarray:
        return (
            (age >= 65)
            | (age <= 6)
            | self.pregnant
            | self.hypertension
            | self.diabetes
            | self.tb
            | self.smd
            | self.disability
            | self.low_income
        )


def _month_day(d: np.ndarray) -> np.ndarray:
    m = d.astype("datetime64[M]")
    return (m.astype(np.int64) % 12) * 100 + (d - m.astype("datetime64[D]")).astype(np.int64)


def age_at(birth: np.ndarray, day: np.datetime64 | np.ndarray) -> np.ndarray:
    """Completed years at `day` (vectorised, exact)."""
    day = np.asarray(day, dtype="datetime64[D]")
    by = birth.astype("datetime64[Y]").astype(np.int64)
    dy = day.astype("datetime64[Y]").astype(np.int64)
    return (dy - by - (_month_day(day) < _month_day(birth))).astype(np.int32)


def build_residents(region: Region, n: int, start: date, rng: np.random.Generator) -> Residents:
    cm = region.communities
    # community sizes vary ±40 % around the street's equal share
    size = rng.uniform(0.6, 1.4, len(cm))
    dpop = region.districts["pop"].to_numpy()
    st_count = region.streets.groupby("district").size().to_numpy()
    cm_count = cm.groupby("street").size().to_numpy()
    street_w = dpop[cm.district.to_numpy()] / st_count[cm.district.to_numpy()]
    w = size * street_w / cm_count[cm.street.to_numpy()]
    community = np.sort(rng.choice(len(cm), n, p=w / w.sum())).astype(np.int32)
    street = cm.street.to_numpy()[community].astype(np.int32)
    district = cm.district.to_numpy()[community].astype(np.int32)
    urban = cm.urban.to_numpy()[community].astype(bool)

    band = rng.choice(len(AGE_SHARES), n, p=AGE_SHARES / AGE_SHARES.sum())
    top = np.where(band == len(AGE_SHARES) - 1, 15, 5)  # 85+ spreads to 100
    age_days = (band * 5 + rng.random(n) * top) * 365.25
    start64 = np.datetime64(start, "D")
    birth = start64 - age_days.astype(np.int64)
    male = rng.random(n) < 0.512  # 2020 census sex ratio 105
    age0 = age_at(birth, start64)

    prefix = np.array([int(c[:6]) for c in region.districts.code])[district]
    id_card = idcard.make_ids(prefix, birth, male, rng)
    surname = rng.choice(len(SURNAMES), n, p=SURNAME_W).astype(np.int16)
    gl = np.where(male, len(GIVEN_M), len(GIVEN_F))
    given1 = (rng.random(n) * gl).astype(np.int16)
    given2 = np.where(rng.random(n) < 0.7, (rng.random(n) * gl).astype(np.int16), -1)
    phone = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)] * 10**8 + rng.integers(
        0, 10**8, n
    )

    conditions = _conditions(age0, male, urban, rng)
    centre = region.streets.centre.to_numpy()[street]
    teams = region.teams
    t_centre = teams.centre.to_numpy()
    team = np.empty(n, dtype=np.int32)
    for c in np.unique(centre):
        idx = np.flatnonzero(t_centre == c)
        m = centre == c
        team[m] = idx[rng.integers(0, len(idx), m.sum())]
    # resident ids: random-looking, unique, stable for a seed
    rid = rng.choice(9_000_000_000, n, replace=False) + 1_000_000_000
    return Residents(
        n=n,
        rid=np.asarray(rid, dtype=np.int64),
        community=community,
        street=street,
        district=district,
        urban=urban,
        male=male,
        birth=birth,
        age0=age0,
        id_card=id_card,
        surname=surname,
        given1=given1,
        given2=given2.astype(np.int16),
        phone=phone,
        **conditions,
        centre=centre.astype(np.int32),
        team=team,
    )


def _conditions(
    age0: np.ndarray, male: np.ndarray, urban: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Chronic diseases by age, and the other key-population markers."""
    n = len(age0)
    ht_p = np.zeros(n)
    dm_p = np.zeros(n)
    for lo, h, d in CHRONIC_BY_AGE:
        m = age0 >= lo
        ht_p[m] = h
        dm_p[m] = d
    hypertension = rng.random(n) < ht_p
    # diabetes is more common among hypertensive people
    diabetes = rng.random(n) < dm_p * np.where(hypertension, 1.6, 0.8)
    adult = age0 >= 18
    return dict(
        hypertension=hypertension,
        diabetes=diabetes,
        tb=rng.random(n) < 0.0006 * adult,
        smd=rng.random(n) < 0.0055 * adult,
        disability=rng.random(n) < np.where(age0 >= 60, 0.12, 0.04),
        pregnant=(~male) & (age0 >= 20) & (age0 <= 40) & (rng.random(n) < 0.035),
        low_income=rng.random(n) < np.where(urban, 0.015, 0.045),
    )


def age_band_index(age: np.ndarray) -> np.ndarray:
    return np.searchsorted(AGE_BAND_EDGES, age, side="right") - 1
