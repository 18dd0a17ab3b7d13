"""Chart builders: Superset form data (``params``) and the query objects a dashboard sends.

Every chart filters ``month`` with a TEMPORAL_RANGE adhoc filter, so the dashboard's time filter
reaches it and its dataset reads the range (``grassroots.superset.periods``).

* ``kpi``: a card without a time axis (flows over the range, snapshots at its end, annual
  indicators for one year) with the period it covers and its numerator and denominator.
* ``rates``: a rate (or any ratio) with the counts it divides as a second series on the right
  axis, drawn as dots: the tooltip shows numerator and denominator beside the rate.  Rate axes run
  0–100 % unless a rate may pass 100 % (bed occupancy); targets from the metric catalogue are
  dashed lines.
* ``counts``: counts as bars or lines; ``table`` (aggregated, optional 合计 row), ``rows`` (one
  row per dataset row, e.g. a ranking computed by the dataset).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from grassroots.superset.datasets import DS, Dataset, target_value, uid

TIME_COLUMNS = ("month", "business_date")
_chart_ids = iter(range(1, 10_000))


@dataclass
class Chart:
    key: str
    title: str
    viz: str
    ds: str
    params: dict[str, Any]
    queries: list[dict[str, Any]]  # columns, metrics, orderby, row_limit, filters of each query
    width: int = 4
    height: int = 50
    local_id: int = field(default_factory=lambda: next(_chart_ids))

    @property
    def uuid(self) -> str:
        return uid("chart", self.key)

    @property
    def dataset(self) -> Dataset:
        return DS[self.ds]


def time_filter() -> dict[str, Any]:
    return {"clause": "WHERE", "comparator": "No filter", "expressionType": "SIMPLE",
            "operator": "TEMPORAL_RANGE", "subject": "month"}


def where(col: str, val: Any, op: str = "==") -> dict[str, Any]:
    return {"clause": "WHERE", "comparator": val, "expressionType": "SIMPLE", "operator": op,
            "subject": col}


def _filters(adhoc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"col": f["subject"], "op": f["operator"], "val": f["comparator"]} for f in adhoc]


def _axis(col: str, grain: str) -> dict[str, Any]:
    return {"columnType": "BASE_AXIS", "expressionType": "SQL", "label": col, "sqlExpression": col,
            "timeGrain": grain}


def _x(x: str, grain: str) -> Any:
    return _axis(x, grain) if x in TIME_COLUMNS else x


def _query(columns: list[Any], metrics: list[str], adhoc: list[dict[str, Any]], *, limit: int = 10000,
           orderby: list[Any] | None = None) -> dict[str, Any]:
    return {"columns": columns, "metrics": metrics, "orderby": orderby or [], "row_limit": limit,
            "filters": _filters(adhoc)}


def _check(ds: str, metrics: list[str], columns: list[str]) -> Dataset:
    d = DS[ds]
    names = {m.name for m in d.metrics}
    assert set(metrics) <= names, (ds, set(metrics) - names)
    assert all(d.has(c) for c in columns), (ds, [c for c in columns if not d.has(c)])
    return d


def _targets(d: Dataset, metrics: list[str], codes: list[str] | None = None) -> list[dict[str, Any]]:
    """A dashed line per catalogue target of the metrics (the catalogue seed is the source), or of
    the catalogue ``codes`` when the indicator depends on the rows shown (e.g. the disease)."""
    out, seen = [], set()
    values = ([target_value(c) for c in codes] if codes is not None
              else [d.metric(name).target_value for name in metrics])
    for value in values:
        if value is None or value in seen:
            continue
        seen.add(value)
        shown = f"{value:.0%}" if value <= 1 else f"{value:g}"
        out.append({"name": f"目标 {shown}", "annotationType": "FORMULA", "sourceType": "", "value": str(value),
                    "overrides": {}, "show": True, "showLabel": True, "showMarkers": False,
                    "style": "dashed", "width": 2, "color": "#d9534f", "opacity": "", "hideLine": False,
                    "titleColumn": "", "descriptionColumns": [], "timeColumn": "",
                    "intervalEndColumn": ""})
    return out


def _display(expr: str, fmt: str) -> tuple[str, str]:
    """A value as text for a KPI card, as its d3 format would show it (DuckDB's format), and its unit."""
    digits = int(m.group(1)) if (m := re.search(r"\.(\d+)", fmt)) else 0
    if fmt.endswith("%"):
        return f"FORMAT('{{:,.{digits}f}}', 100 * ({expr}))", "%"
    return f"FORMAT('{{:,.{digits}f}}', ({expr})::DOUBLE)", ""


def kpi(key: str, ds: str, metric: str, title: str | None = None, width: int = 3,
        filters: list[dict[str, Any]] | None = None) -> Chart:
    """A KPI card: the value, the period it covers (the dataset's label) and its numerator and
    denominator.  Superset's Handlebars chart: the big number chart shows neither."""
    d = _check(ds, [metric], [])
    m = d.metric(metric)
    kind = d.metric_kind(metric)
    label_col, label = {
        "annual": ("period_label", "{{this.period_label}}"),
        "snapshot": ("as_of_label", "时点 {{this.as_of_label}}"),
        "flow": ("range_label", "统计期 {{this.range_label}}"),
        "mixed": ("range_label", "统计期 {{this.range_label}}（床位数取期末）"),
    }[kind]
    value, unit = _display(m.expr, m.fmt)
    shown = [{"expressionType": "SQL", "sqlExpression": value, "label": "display"}]
    line = []
    for i, part in enumerate(m.parts):
        pm = d.metric(part)
        shown.append({"expressionType": "SQL", "sqlExpression": _display(pm.expr, pm.fmt)[0],
                      "label": f"part_{i}"})
        line.append(f"{pm.label} <b>{{{{this.part_{i}}}}}</b>")
    template = (
        "{{#each data}}"
        f'<h1 style="margin:0 0 6px 0">{{{{this.display}}}}{unit}</h1>'
        f'<div>{label}</div>'
        + (f'<div style="color:#666;margin-top:4px">{" ／ ".join(line)}</div>' if line else "")
        + "{{/each}}"
    )
    adhoc = [time_filter(), *(filters or [])]
    metrics = [metric, *m.parts, *shown]  # the exact values first, then what the card shows
    p = {"viz_type": "handlebars", "query_mode": "aggregate", "groupby": [label_col], "metrics": metrics,
         "all_columns": [], "adhoc_filters": adhoc, "row_limit": 10, "order_desc": True,
         "handlebarsTemplate": template, "styleTemplate": "", "extra_form_data": {}, "dashboards": []}
    return Chart(key, title or m.label, "handlebars", ds, p, [_query([label_col], metrics, adhoc, limit=10)],
                 width=width, height=32)


def rates(key: str, title: str, ds: str, x: str, metrics: list[str], *, groupby: list[str] | None = None,
          filters: list[dict[str, Any]] | None = None, bar: bool = True, width: int = 6, height: int = 50,
          grain: str = "P1M", upper: float | None = 1.0, lower: float | None = 0.0, fmt: str | None = None,
          rotate: int = 0, values: bool | None = None, targets: list[str] | None = None) -> Chart:
    """Ratios as bars (or lines) on the left axis; the counts they divide are a second, invisible
    series on the right axis, listed in the tooltip.  ``targets``: catalogue codes whose targets
    are drawn (default: the metrics' own)."""
    groupby = groupby or []
    d = _check(ds, metrics, [x, *groupby])
    parts = list(dict.fromkeys(p for m in metrics for p in d.metric(m).parts))
    assert parts, (key, "a rate chart needs the counts of its rates")
    adhoc = [time_filter(), *(filters or [])]
    fmt = fmt or d.metric(metrics[0]).fmt
    time_x = x in TIME_COLUMNS
    if values is None:  # value labels where they cannot overlap: one series, or two over the districts
        series = len(metrics) * max(1, len(groupby))
        values = not time_x and (series == 1 or (series == 2 and x == "district_name"))
    p = {
        "viz_type": "mixed_timeseries", "x_axis": x, "time_grain_sqla": grain if time_x else None,
        "metrics": metrics, "groupby": groupby, "adhoc_filters": adhoc,
        "metrics_b": parts, "groupby_b": groupby, "adhoc_filters_b": adhoc,
        "seriesType": "bar" if bar else "line", "seriesTypeB": "scatter", "yAxisIndex": 0, "yAxisIndexB": 1,
        "y_axis_format": fmt, "y_axis_format_secondary": ",.10~g", "y_axis_bounds": [lower, upper],
        "y_axis_bounds_secondary": [0, None], "x_axis_time_format": "%Y-%m" if grain == "P1M" else "%m-%d",
        "tooltipTimeFormat": "%Y-%m" if grain == "P1M" else "%Y-%m-%d",
        "rich_tooltip": True, "show_legend": True, "legendOrientation": "bottom", "legendType": "scroll",
        "show_value": values, "show_valueB": False, "markerEnabled": not bar and time_x and grain == "P1M",
        "markerSize": 5, "markerEnabledB": True, "markerSizeB": 0, "opacity": 0.9, "opacityB": 1,
        "stack": None, "stackB": None, "area": False, "areaB": False, "truncate_metric": True,
        "row_limit": 10000, "row_limit_b": 10000, "order_desc": True, "order_desc_b": True,
        "xAxisLabelRotation": rotate, "xAxisLabelInterval": "auto" if time_x else "0", "zoomable": False,
        "annotation_layers": _targets(d, metrics, targets),
        "extra_form_data": {}, "dashboards": [],
    }
    cols = [_x(x, grain), *groupby]
    return Chart(key, title, "mixed_timeseries", ds, p,
                 [_query(cols, metrics, adhoc), _query(cols, parts, adhoc)], width=width, height=height)


def counts(key: str, title: str, ds: str, x: str, metrics: list[str], *, groupby: list[str] | None = None,
           filters: list[dict[str, Any]] | None = None, bar: bool = True, horizontal: bool = False,
           stack: bool = False, width: int = 6, height: int = 50, grain: str = "P1M", fmt: str | None = None,
           limit: int = 10000, values: bool | None = None, rotate: int = 0) -> Chart:
    groupby = groupby or []
    d = _check(ds, metrics, [x, *groupby])
    adhoc = [time_filter(), *(filters or [])]
    time_x = x in TIME_COLUMNS
    viz = "echarts_timeseries_bar" if bar else "echarts_timeseries_line"
    values = (not time_x and not groupby and len(metrics) == 1) if values is None else values
    p = {
        "viz_type": viz, "x_axis": x, "time_grain_sqla": grain if time_x else None, "metrics": metrics,
        "groupby": groupby, "adhoc_filters": adhoc, "y_axis_format": fmt or d.metric(metrics[0]).fmt,
        "x_axis_time_format": "%Y-%m" if grain == "P1M" else "%m-%d", "show_legend": True,
        "tooltipTimeFormat": "%Y-%m" if grain == "P1M" else "%Y-%m-%d",
        "legendOrientation": "top", "legendType": "scroll", "rich_tooltip": True, "row_limit": limit,
        "truncate_metric": True, "show_value": values, "only_total": True, "zoomable": False,
        "markerEnabled": not bar and grain == "P1M", "markerSize": 4, "seriesType": "line",
        "orientation": "horizontal" if horizontal else "vertical", "stack": "Stack" if stack else None,
        "annotation_layers": [], "y_axis_bounds": [0, None], "order_desc": True, "sort_series_type": "sum",
        "extra_form_data": {}, "dashboards": [],
    }
    orderby: list[Any] = []
    if not time_x:  # a ranking: largest first (at the top when horizontal)
        p |= {"x_axis_sort": metrics[0], "x_axis_sort_asc": horizontal, "x_axis_sort_series": "name",
              "x_axis_sort_series_ascending": True, "xAxisLabelRotation": rotate,
              # every category labelled (a horizontal chart's categories are on the other axis)
              "xAxisLabelInterval": "auto" if horizontal else "0"}
        orderby = [[metrics[0], False]]
    return Chart(key, title, viz, ds, p,
                 [_query([_x(x, grain), *groupby], metrics, adhoc, limit=limit, orderby=orderby)],
                 width=width, height=height)


def table(key: str, title: str, ds: str, groupby: list[str], metrics: list[str], *, totals: bool = False,
          sort: str | None = None, limit: int = 100, width: int = 12, height: int = 50,
          filters: list[dict[str, Any]] | None = None) -> Chart:
    _check(ds, metrics, groupby)
    adhoc = [time_filter(), *(filters or [])]
    sort = sort or metrics[0]
    p = {
        "viz_type": "table", "query_mode": "aggregate", "groupby": groupby, "metrics": metrics,
        "all_columns": [], "percent_metrics": [], "order_by_cols": [], "adhoc_filters": adhoc,
        "row_limit": limit, "server_page_length": 10, "order_desc": True, "show_totals": totals,
        "table_timestamp_format": "%Y-%m", "show_cell_bars": True, "color_pn": True,
        "allow_rearrange_columns": False, "conditional_formatting": [], "timeseries_limit_metric": sort,
        "include_search": len(groupby) > 1 or limit > 20, "extra_form_data": {}, "dashboards": [],
    }
    queries = [_query(list(groupby), metrics, adhoc, limit=limit, orderby=[[sort, False]])]
    if totals:  # the 合计 row: the same metrics over every row (ratios of the summed parts)
        queries.append(_query([], metrics, adhoc, limit=0))
    return Chart(key, title, "table", ds, p, queries, width=width, height=height)


def rows(key: str, title: str, ds: str, columns: list[str], *, order: list[tuple[str, bool]],
         formats: dict[str, str] | None = None, filters: list[dict[str, Any]] | None = None,
         limit: int = 100, width: int = 12, height: int = 50, search: bool = True) -> Chart:
    """One table row per dataset row (the dataset did the aggregation, e.g. a ranking)."""
    _check(ds, [], columns)
    adhoc = [time_filter(), *(filters or [])]
    p = {
        "viz_type": "table", "query_mode": "raw", "all_columns": columns, "groupby": [], "metrics": [],
        "percent_metrics": [], "order_by_cols": [json.dumps([c, asc]) for c, asc in order],
        "adhoc_filters": adhoc, "row_limit": limit, "server_page_length": 10, "show_totals": False,
        "table_timestamp_format": "%Y-%m-%d", "show_cell_bars": True, "color_pn": True,
        "allow_rearrange_columns": False, "conditional_formatting": [], "include_search": search,
        "column_config": {c: {"d3NumberFormat": f} for c, f in (formats or {}).items()},
        "extra_form_data": {}, "dashboards": [],
    }
    # no metrics (None, not []): Superset selects the rows as they are, without GROUP BY
    query = _query(list(columns), [], adhoc, limit=limit, orderby=[[c, asc] for c, asc in order])
    return Chart(key, title, "table", ds, p, [{**query, "metrics": None}], width=width, height=height)
