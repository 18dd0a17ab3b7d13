"""Day-of-year seasonality: weekends and statutory holidays (chinese_calendar), Spring Festival."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import numpy as np

# Visit classes: 0 grassroots, 1 unrated/level-1 hospitals, 2 level-2, 3 level-3.
WEEKEND = np.array([0.45, 0.75, 0.80, 0.80])
HOLIDAY = np.array([0.40, 0.60, 0.65, 0.65])
SPRING_FESTIVAL = np.array([0.20, 0.35, 0.40, 0.40])
AFTER_SPRING_FESTIVAL = np.array([0.80, 0.85, 0.85, 0.85])  # the week people travel back
WORKDAY = np.ones(4)


def _detail(d: date) -> tuple[bool, str | None]:
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(d)
        return (not on_holiday, name if on_holiday else None)
    except NotImplementedError:  # outside the library's years: plain weekends
        return (d.weekday() < 5, None)


def is_workday(d: date) -> bool:
    return _detail(d)[0]


def visit_factors(d: date) -> np.ndarray:
    """Relative outpatient volume per visit class on day d (1 = ordinary weekday)."""
    workday, name = _detail(d)
    if name == chinese_calendar.Holiday.spring_festival.value:
        return SPRING_FESTIVAL
    if workday:
        for k in range(1, 8):
            if _detail(d - timedelta(days=k))[1] == chinese_calendar.Holiday.spring_festival.value:
                return AFTER_SPRING_FESTIVAL
        return WORKDAY
    return HOLIDAY if name else WEEKEND


def admission_factor(d: date) -> float:
    workday, name = _detail(d)
    if name == chinese_calendar.Holiday.spring_festival.value:
        return 0.5
    return 1.0 if workday else 0.7
