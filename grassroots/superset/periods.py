"""Time on dashboards: every dataset reads the month range of its dashboard's time filter itself.

A dashboard has one native time filter on ``month``.  Superset passes the picked range to each
chart's query; the dataset's SQL reads it with Superset's Jinja macro ``get_time_filter('month',
remove_filter=True)`` (so Superset does not filter the outer query a second time) and applies the
rule of its measures (spec "Time on dashboards"):

* ``flow``: the rows of the months in the range.  A chart without a time axis sums them, a trend
  shows one point per month.
* ``snapshot``: as ``flow``, but in the range variant the snapshot columns are kept only on the
  latest month of the range (null elsewhere), so any sum without a time axis reads the latest
  as-of date, never a sum over month-ends.  The trend variant (``<key>_trend``) keeps every
  month-end: one snapshot per point.
* ``annual``: the rows of ONE year, the year of the latest month in the range, with
  ``period_label`` (``2025年（年度至今，截至2025-03-31）`` while the year runs, ``2024年`` after).

The range: the calendar months (``dims.dim_month``, up to the latest business date loaded) whose
first day lies in the picked range; "No filter" (the default) means the latest 12 months of data.
Superset's relative ranges count from today's date, so the default is data-relative here.

``render`` evaluates a template outside Superset (tests, the benchmark, previews) with the same
macro contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import jinja2

DEFAULT_MONTHS = 12

RANGE = f"""\
{{%- set tf = get_time_filter('month', remove_filter=True, strftime='%Y-%m-%d') %}}
with period as (
    select min(month) as first_month, max(month) as last_month, max(as_of_date) as as_of_date,
        max(data_as_of) as data_as_of,
        strftime(min(month), '%Y-%m') || ' 至 ' || strftime(max(month), '%Y-%m') as range_label,
        strftime(max(as_of_date), '%Y-%m-%d') as as_of_label
    from dims.dim_month
    where {{% if tf.from_expr or tf.to_expr -%}}
        {{% if tf.from_expr %}}month >= date '{{{{ tf.from_expr }}}}'{{% else %}}true{{% endif %}}
        and {{% if tf.to_expr %}}month < date '{{{{ tf.to_expr }}}}'{{% else %}}true{{% endif %}}
    {{%- else -%}}
        month > (select max(month) from dims.dim_month) - interval {DEFAULT_MONTHS} month
    {{%- endif %}}
)"""

# the year measured: complete, or year to date at its as_of_date
YEAR_LABEL = (
    "case when {c}.is_complete then {c}.year::varchar || '年'"
    " else {c}.year::varchar || '年（年度至今，截至' || strftime({c}.as_of_date, '%Y-%m-%d') || '）' end"
)


# every dataset says which range and as-of date it read (KPI cards show them)
LABELS = "p.range_label, p.as_of_label"
LABEL_COLUMNS = [("range_label", "统计期"), ("as_of_label", "时点")]


def flow(body: str) -> str:
    return (f"{RANGE}\nselect r.*, {LABELS}\nfrom ({body}) as r, period as p\n"
            "where r.month between p.first_month and p.last_month")


def snapshot(body: str, columns: list[str]) -> str:
    """The range variant: snapshot ``columns`` only on the range's latest month."""
    keep = ", ".join(f"case when r.month = p.last_month then r.{c} end as {c}" for c in columns)
    return (f"{RANGE}\nselect r.* replace ({keep}), {LABELS}\nfrom ({body}) as r, period as p\n"
            "where r.month between p.first_month and p.last_month")


def annual(body: str) -> str:
    return (f"{RANGE}\nselect r.*, {LABELS}, {YEAR_LABEL.format(c='r')} as period_label\n"
            f"from ({body}) as r, period as p\nwhere r.year = year(p.last_month)")


def period() -> str:
    """One row describing the range every dataset of the dashboard reads."""
    year = "year(p.last_month)"
    year_end = f"make_date({year}, 12, 31)"
    label = YEAR_LABEL.format(c="y")
    return f"""{RANGE}
select p.last_month as month,
    p.range_label || '（' || (date_diff('month', p.first_month, p.last_month) + 1)::varchar || ' 个月）'
        as range_label,
    p.as_of_label, {label} as year_label,
    p.data_as_of
from period as p,
    (select {year} as year, least({year_end}, p.data_as_of) as as_of_date,
        p.data_as_of >= {year_end} as is_complete from period as p) as y
where p.last_month is not null"""


@dataclass(frozen=True)
class TimeFilter:
    """What Superset's ``get_time_filter`` returns (dates formatted by ``strftime``)."""

    from_expr: str | None
    to_expr: str | None
    time_range: str


def render(template: str, since: date | None = None, until: date | None = None) -> str:
    """The SQL Superset runs for a range [since, until) (both None: "No filter")."""
    rng = "No filter" if since is None and until is None else f"{since or ''} : {until or ''}"
    tf = TimeFilter(since.isoformat() if since else None, until.isoformat() if until else None, rng)

    def get_time_filter(*_args, **_kwargs) -> TimeFilter:
        return tf

    return jinja2.Environment().from_string(template).render(get_time_filter=get_time_filter)
