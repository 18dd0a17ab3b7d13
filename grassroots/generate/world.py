"""What every dataset of the simulation shares: the region's facilities as arrays, the residents,
the calibration, one random stream, the id counters and the tallies of the calibration report.

All datasets draw from the one stream in a fixed order, so the order of the draws is part of the
output: a change that reorders them changes every file after it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from grassroots.generate.calibration import Calibration
from grassroots.generate.population import Residents
from grassroots.generate.region import Region

DAY = np.timedelta64(1, "D")


def d64(d: date) -> np.datetime64:
    return np.datetime64(d, "D")


def day_number(d: date) -> int:
    """Days since 1970-01-01: how the simulation keys its schedules."""
    return int(d64(d).astype(np.int64))


def ymd(d: date) -> str:
    return d.strftime("%Y%m%d")


@dataclass
class Stats:
    """Tallies for the generator's own calibration report."""

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


class World:
    def __init__(
        self,
        region: Region,
        res: Residents,
        start: date,
        end: date,
        rng: np.random.Generator,
        cal: Calibration,
    ) -> None:
        self.region, self.res, self.rng, self.cal = region, res, rng, cal
        self.start, self.end = start, end
        self.s64 = d64(start)
        self.stats = Stats()
        self.counters: dict[str, int] = defaultdict(int)
        fac = region.facilities
        self.fac_code = fac.facility_code.to_numpy(dtype=object)
        self.fac_rank = fac["rank"].to_numpy()
        self.fac_level = fac.level.to_numpy()
        self.fac_folder = fac.folder.to_numpy()
        self.fac_district = fac.district.to_numpy()
        self.fac_beds = fac.approved_beds.to_numpy()
        self.fac_grass = fac.is_grassroots.to_numpy()
        self.fac_kind = fac.kind.to_numpy()
        # visit class: 0 grassroots, 1 unrated/level-1 hospital, 2 level-2, 3 level-3
        self.fac_class = np.select(
            [self.fac_grass, self.fac_rank <= 2, self.fac_rank == 3], [0, 1, 2], 3
        )
        self.team_code = region.teams.team_code.to_numpy(dtype=object)

    def next_ids(self, kind: str, n: int) -> np.ndarray:
        """The next n ids (1, 2, …) of a kind."""
        start = self.counters[kind]
        self.counters[kind] += n
        return np.arange(start + 1, start + n + 1, dtype=np.int64)
