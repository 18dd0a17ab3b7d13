"""The synthetic city: administrative hierarchy, facilities, alliances, family-doctor teams, drugs.

Sizes scale with the number of residents so that beds, GPs and communities per head stay
realistic (≈4.5 hospital beds and ≈0.5 GP per 1 000 residents, 1–3 thousand people per community).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from grassroots import contract
from grassroots.generate import catalog

CITY_CODE = "339900000000"
CITY_NAME = "清江市"

# Rank used to check referral direction: grassroots < unrated (0) < 1 < 2 < 3.
RANK_GRASSROOTS = 0


def rank_of(facility_type: str, level: int) -> int:
    return RANK_GRASSROOTS if facility_type in contract.GRASSROOTS_TYPES else level + 1


@dataclass
class Region:
    regions: pd.DataFrame  # reference rows (contract column order)
    communities: pd.DataFrame  # code, street, district (indices), urban, station (facility idx|-1)
    districts: pd.DataFrame  # code, name, urban
    streets: pd.DataFrame  # code, name, district, urban, centre (facility idx)
    facilities: pd.DataFrame  # reference columns + idx, rank, district, folder, kind, urban
    teams: pd.DataFrame  # reference columns + centre (facility idx)
    drugs: pd.DataFrame  # reference columns + kind, price


def _names(rng: np.random.Generator, n: int, suffix: str, used: set[str]) -> list[str]:
    """n distinct two-character place names + suffix."""
    chars = catalog.PLACE_CHARS
    out: list[str] = []
    while len(out) < n:
        a, b = rng.integers(0, len(chars), 2)
        name = chars[a] + chars[b] + suffix
        if a != b and name not in used:
            used.add(name)
            out.append(name)
    return out


def build_region(residents: int, rng: np.random.Generator) -> Region:
    r = max(residents, 500)
    n_urban = int(np.clip(round(r / 250_000) + 1, 2, len(catalog.DISTRICT_NAMES_URBAN)))
    n_rural = int(np.clip(round(r / 400_000) + 1, 1, len(catalog.DISTRICT_NAMES_RURAL)))
    districts = []
    for i in range(n_urban):
        districts.append((f"3399{i + 1:02d}000000", catalog.DISTRICT_NAMES_URBAN[i], True))
    for i in range(n_rural):
        districts.append((f"3399{i + 21:02d}000000", catalog.DISTRICT_NAMES_RURAL[i], False))
    dist = pd.DataFrame(districts, columns=["code", "name", "urban"])
    # urban districts hold ~65 % of the residents
    share = np.where(dist.urban, 0.65 / n_urban, 0.35 / n_rural)
    dist["pop"] = share * r

    used: set[str] = set()
    streets, comms = [], []
    for di, d in dist.iterrows():
        n_st = max(2, round(d["pop"] / 25_000))
        names = _names(rng, n_st, "街道" if d.urban else "镇", used)
        for si in range(n_st):
            s_code = d.code[:6] + f"{si + 1:03d}000"
            streets.append((s_code, names[si], di, d.urban))
            st_pop = d["pop"] / n_st
            n_c = int(np.clip(round(st_pop / 2_500) + rng.integers(-1, 2), 2, 14))
            cnames = _names(rng, n_c, "社区" if d.urban else "村", used)
            for ci in range(n_c):
                c_code = s_code[:9] + (f"{ci + 1:03d}" if d.urban else f"{ci + 201:03d}")
                comms.append((c_code, cnames[ci], len(streets) - 1, di, d.urban))
    st = pd.DataFrame(streets, columns=["code", "name", "district", "urban"])
    cm = pd.DataFrame(comms, columns=["code", "name", "street", "district", "urban"])

    reg_rows = [(CITY_CODE, CITY_NAME, "city", "", "")]
    reg_rows += [(d.code, d.name, "district", CITY_CODE, "") for d in dist.itertuples()]
    reg_rows += [(s.code, s.name, "street", dist.code[s.district], "") for s in st.itertuples()]
    reg_rows += [
        (c.code, c.name, "community", st.code[c.street], "urban" if c.urban else "rural")
        for c in cm.itertuples()
    ]
    regions = pd.DataFrame(reg_rows, columns=contract.DATASETS["regions"].names)

    fac = _facilities(r, dist, st, cm, rng)
    st["centre"] = [
        int(fac.index[(fac.region_code == s.code) & fac.is_centre][0]) for s in st.itertuples()
    ]
    station = np.full(len(cm), -1)
    for f in fac[
        fac.facility_type.isin(["community_health_station", "village_clinic"])
    ].itertuples():
        station[int(np.flatnonzero(cm.code.to_numpy() == f.region_code)[0])] = f.Index
    cm["station"] = station
    teams = _teams(fac, st, dist, rng)
    return Region(regions, cm, dist, st, fac, teams, _drugs())


class _Facilities:
    """The facility rows being built, numbered per prefix and district."""

    def __init__(self, dist: pd.DataFrame) -> None:
        self.dist = dist
        self.rows: list[dict] = []
        self.seq: dict[tuple[str, str], int] = {}

    def add(self, prefix: str, district: int, region_code: str, **kw) -> dict:
        dcode = self.dist.code[district][:6]
        self.seq[(prefix, dcode)] = self.seq.get((prefix, dcode), 0) + 1
        row = dict(
            facility_code=f"{prefix}{dcode}{self.seq[(prefix, dcode)]:03d}",
            region_code=region_code,
            district_code=self.dist.code[district],
            district=district,
            urban=bool(self.dist.urban[district]),
            grade="",
            alliance_code="",
            parent_facility_code="",
            approved_beds=0,
            kind="general",
        )
        row.update(kw)
        self.rows.append(row)
        return row


def _facilities(
    r: int, dist: pd.DataFrame, st: pd.DataFrame, cm: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    reg = _Facilities(dist)
    _hospitals(reg, r, dist, st)
    _grassroots(reg, st, cm, rng)
    fac = pd.DataFrame(reg.rows)
    fac["rank"] = [rank_of(t, lv) for t, lv in zip(fac.facility_type, fac.level, strict=True)]
    fac["is_centre"] = fac.facility_type.isin(contract.CENTRE_TYPES)
    fac["is_grassroots"] = fac.facility_type.isin(contract.GRASSROOTS_TYPES)
    code_idx = {c: i for i, c in enumerate(fac.facility_code)}
    fac["folder"] = [code_idx[p] if p else i for i, p in enumerate(fac.parent_facility_code)]
    _beds(fac, r, dist, st, rng)
    _alliances(fac, dist)
    return fac


def _hospitals(reg: _Facilities, r: int, dist: pd.DataFrame, st: pd.DataFrame) -> None:
    """City-level (tertiary) hospitals in the urban districts; per district a people's and a TCM
    hospital (level 2), level-1 and unrated hospitals; one psychiatric centre in a county."""
    urban_idx = list(dist.index[dist.urban])
    first_street = {di: st.code[st.district == di].iloc[0] for di in dist.index}

    def add(di: int, street: str, name: str, ftype: str, level: int, grade: str, kind: str) -> None:
        reg.add(
            "H",
            di,
            street,
            facility_name=name,
            facility_type=ftype,
            level=level,
            grade=grade,
            kind=kind,
        )

    for i in range(max(1, round(r / 350_000))):
        di = urban_idx[i % len(urban_idx)]
        name = f"{CITY_NAME}第{'一二三四五六'[i]}人民医院"
        add(di, first_street[di], name, "general_hospital", 3, "A", "general")
    di = urban_idx[0]
    add(di, first_street[di], f"{CITY_NAME}中医院", "tcm_hospital", 3, "A", "tcm")
    di = urban_idx[-1]
    add(di, first_street[di], f"{CITY_NAME}妇幼保健院", "specialty_hospital", 3, "A", "maternal")
    for di, d in dist.iterrows():
        street = first_street[di]
        grade = "A" if not d.urban or di % 2 else "B"
        add(di, street, f"{d['name']}人民医院", "general_hospital", 2, grade, "general")
        add(di, street, f"{d['name']}中医院", "tcm_hospital", 2, "B", "tcm")
        if not d.urban and di == dist.index[~dist.urban][0]:
            name = f"{CITY_NAME}精神卫生中心"
            add(di, street, name, "specialty_hospital", 2, "A", "psychiatric")
        sts = st[st.district == di]
        for k in range(1 + round(d["pop"] / 150_000)):
            s = sts.iloc[(k + 1) % len(sts)]
            grade = "B" if k % 2 else ""
            add(di, s.code, f"{s['name'][:2]}医院", "general_hospital", 1, grade, "general")
        for k in range(1 + round(d["pop"] / 200_000)):
            s = sts.iloc[k % len(sts)]
            name = f"{CITY_NAME}{s['name'][:2]}仁和医院" if k == 0 else f"{s['name'][:2]}康复医院"
            add(di, s.code, name, "general_hospital", 0, "", "general")


def _grassroots(
    reg: _Facilities, st: pd.DataFrame, cm: pd.DataFrame, rng: np.random.Generator
) -> None:
    """One centre per street; stations (urban) in about half and village clinics (rural) in
    about three quarters of the communities, always in the street's last one."""
    for si, s in st.iterrows():
        urban = bool(s.urban)
        centre = reg.add(
            "C",
            s.district,
            s.code,
            facility_name=s["name"].removesuffix("街道")
            + ("社区卫生服务中心" if urban else "卫生院"),
            facility_type="community_health_centre" if urban else "township_health_centre",
            level=0,
            kind="centre",
        )
        for c in cm[cm.street == si].itertuples():
            if rng.random() < (0.5 if urban else 0.75) or c.Index == cm.index[cm.street == si][-1]:
                reg.add(
                    "S" if urban else "V",
                    s.district,
                    c.code,
                    facility_name=c.name + ("社区卫生服务站" if urban else "卫生室"),
                    facility_type="community_health_station" if urban else "village_clinic",
                    level=0,
                    kind="station",
                    parent_facility_code=centre["facility_code"],
                )


def _beds(
    fac: pd.DataFrame, r: int, dist: pd.DataFrame, st: pd.DataFrame, rng: np.random.Generator
) -> None:
    """~4.5 hospital beds per 1 000 residents (45 % tertiary, 40 % secondary, 15 % lower);
    township centres ~1.2, half the community centres ~0.4 per 1 000 served."""
    weight = fac.kind.map({"general": 1.0, "tcm": 0.5, "maternal": 0.4, "psychiatric": 0.6})
    for level, share in ((3, 0.45), (2, 0.40), (1, 0.10), (0, 0.05)):
        m = (fac.level == level) & ~fac.is_grassroots
        beds = r * 4.5 / 1000 * share * weight[m] / weight[m].sum()
        fac.loc[m, "approved_beds"] = np.maximum(5, np.round(beds / 5) * 5).astype(int)
    for fi in fac.index[fac.is_centre]:
        d = fac.district[fi]
        pop = dist["pop"][d] / (st.district == d).sum()
        if fac.facility_type[fi] == "township_health_centre":
            fac.loc[fi, "approved_beds"] = max(10, int(round(pop * 1.2 / 1000 / 5) * 5))
        elif rng.random() < 0.5:
            fac.loc[fi, "approved_beds"] = max(5, int(round(pop * 0.4 / 1000 / 5) * 5))


def _alliances(fac: pd.DataFrame, dist: pd.DataFrame) -> None:
    """One 医联体 per tertiary general hospital over the urban districts (round robin), one 医共体
    per rural county led by the county hospital; specialty hospitals stay outside."""
    core3 = list(fac.index[(fac.level == 3) & (fac.facility_type == "general_hospital")])
    member = (fac.level.isin([1, 2]) | fac.is_grassroots) & (
        fac.facility_type != "specialty_hospital"
    )
    for k, di in enumerate(dist.index[dist.urban]):
        core = core3[k % len(core3)]
        code = f"YLT{core3.index(core) + 1:02d}"
        fac.loc[core, "alliance_code"] = code
        fac.loc[member & (fac.district == di), "alliance_code"] = code
    for k, di in enumerate(dist.index[~dist.urban]):
        fac.loc[member & (fac.district == di), "alliance_code"] = f"YGT{k + 1:02d}"


def _teams(
    fac: pd.DataFrame, st: pd.DataFrame, dist: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """ "3+X" teams; about one GP per 2 000 residents served by the centre."""
    rows = []
    for s in st.itertuples():
        fi = s.centre
        pop = dist["pop"][s.district] / (st.district == s.district).sum()
        gps = max(1, round(pop / 2000))
        n_teams = max(1, round(gps / 2.5))
        per = np.full(n_teams, gps // n_teams) + (np.arange(n_teams) < gps % n_teams)
        code = fac.facility_code[fi]
        for t in range(n_teams):
            rows.append(
                dict(
                    team_code=f"T{code[1:]}{t + 1:02d}",
                    facility_code=code,
                    team_name=f"{fac.facility_name[fi]}家庭医生第{t + 1}团队",
                    gp_count=int(max(1, per[t])),
                    nurse_count=int(rng.integers(1, 4)),
                    public_health_count=int(rng.integers(1, 3)),
                    specialist_count=int(rng.integers(0, 4)),
                    volunteer_count=int(rng.integers(0, 6)),
                    centre=fi,
                )
            )
    return pd.DataFrame(rows)


def _drugs() -> pd.DataFrame:
    rows = []
    for i, (name, atc, ess, vbp, kind, price) in enumerate(catalog.DRUGS):
        rows.append(
            dict(
                drug_code=f"D{i + 1:05d}",
                generic_name=name,
                atc_code=atc,
                is_essential=ess,
                is_antibiotic=atc.startswith("J01"),
                is_vbp=vbp,
                kind=kind,
                price=price,
            )
        )
    return pd.DataFrame(rows)
