"""The one renderer of the dashboards: specs in, the Superset bundle under ``dashboards/assets/`` out.

The dashboards are data (``dashboards/specs/<slug>.yml``, loaded by ``specs``), their datasets
are ``datasets`` (virtual SQL and metrics, time rules in ``periods``), their charts are built by
``charts``.  This module turns them into the YAML Superset imports
(``grassroots.superset.manage.import_bundle``): ``python -m grassroots.superset.authoring``
rewrites ``dashboards/assets/`` and a test checks the committed files agree.  UUIDs are uuid5 of
a fixed namespace and each object's key, so they never change between regenerations.

Every dashboard has one time filter (月份), read by every dataset (``periods``), and a 统计期 chart
that shows the range its numbers cover.  Chinese names of metrics and targets come from the
metric catalogue seed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from grassroots.superset.charts import Chart
from grassroots.superset.datasets import CAT, DATASETS, DS, Dataset, uid
from grassroots.superset.periods import DEFAULT_MONTHS
from grassroots.superset.specs import FILTER_COLUMNS, Dashboard, load

__all__ = ["ASSETS", "CAT", "DASHBOARDS", "DATASETS", "DS", "Chart", "Dashboard", "render", "uid", "write"]

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dashboards" / "assets"
DATABASE_NAME = "grassroots_serving"
DATABASE_URI_PLACEHOLDER = "duckdb:///{{SERVING_PATH}}"


TIME_NOTE = (
    f"**统计期**（右侧）是每个图表读取的月份范围：默认为数据最近 {DEFAULT_MONTHS} 个月（截至最新业务日期）；"
    "在左侧“月份”中用“自定义”或“高级”可选任一时期（按月，起始月含、结束月不含；“去年”等相对范围按今天的日期计算，可能无数据）。"
    "人次、费用、处方、出院、转诊为统计期内合计，趋势图每月一点；签约、档案、人口等时点指标取统计期最后一个月末；"
    "年度指标取统计期最后一个月所在年度，当年未结束时为“年度至今”。"
    "比率 = 分子合计 ÷ 分母合计，悬停可见分子与分母；虚线为指标目录中的目标值。"
)
DASHBOARDS: list[Dashboard] = load()


def used_datasets() -> list[Dataset]:
    keys = {c.ds for dash in DASHBOARDS for c in dash.charts}
    return [d for d in DATASETS if d.key in keys]


def _dataset_yaml(d: Dataset) -> dict[str, Any]:
    return {
        "table_name": d.table_name,
        "main_dttm_col": "month",
        "description": None,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": "marts",
        "sql": d.template,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": json.dumps({"grassroots_rls": d.rls, "grassroots_rule": d.rule}),
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": d.uuid,
        "metrics": [
            {"metric_name": m.name, "verbose_name": m.label, "metric_type": None, "expression": m.expr,
             "description": None, "d3format": m.fmt, "currency": None, "extra": {"warning_markdown": ""},
             "warning_text": None}
            for m in d.metrics
        ],
        "columns": [
            {"column_name": c, "verbose_name": label, "is_dttm": t == "DATE", "is_active": True, "type": t,
             "advanced_data_type": None, "groupby": True, "filterable": True, "expression": None,
             "description": None, "python_date_format": None, "extra": {}}
            for c, t, label in d.columns
        ],
        "version": "1.0.0",
        "database_uuid": uid("database", DATABASE_NAME),
    }


def query_context(c: Chart) -> dict[str, Any]:
    """What the dashboard sends for the chart with its default filters (the native filters empty)."""
    queries = [{**q, "extras": {"having": "", "where": ""}, "applied_time_extras": {}, "annotation_layers": [],
                "series_limit": 0, "order_desc": True, "url_params": {}, "custom_params": {},
                "custom_form_data": {}, "time_range": "No filter"} for q in c.queries]
    return {"datasource": {"id": 0, "type": "table"}, "force": False, "queries": queries,
            "form_data": {**c.params, "datasource": "0__table", "slice_id": None},
            "result_format": "json", "result_type": "full"}


def _chart_yaml(c: Chart) -> dict[str, Any]:
    return {
        "slice_name": c.title,
        "description": None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": c.viz,
        "params": c.params,
        "query_context": json.dumps(query_context(c), ensure_ascii=False),
        "cache_timeout": None,
        "uuid": c.uuid,
        "version": "1.0.0",
        "dataset_uuid": uid("dataset", c.ds),
    }


def _native_filters(dash: Dashboard) -> list[dict[str, Any]]:
    charts = dash.charts
    out = [{
        "id": f"NATIVE_FILTER-{dash.key}-month", "name": "月份", "filterType": "filter_time", "targets": [{}],
        "controlValues": {"enableEmptyFilter": False},
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}}, "cascadeParentIds": [],
        # every dataset reads the range itself (Jinja), so every chart is in scope
        "scope": {"rootPath": ["ROOT_ID"], "excluded": []}, "type": "NATIVE_FILTER",
        "description": f"统计期（按月）。无筛选 = 数据最近 {DEFAULT_MONTHS} 个月", "chartsInScope": [],
    }]
    for f in dash.filters:
        name, col = FILTER_COLUMNS[f]
        source = next(c.dataset for c in charts if c.dataset.has(col))
        parents = []
        if f in ("community", "facility", "team") and "district" in dash.filters and source.has("district_name"):
            parents = [f"NATIVE_FILTER-{dash.key}-district"]
        out.append({
            "id": f"NATIVE_FILTER-{dash.key}-{f}", "name": name, "filterType": "filter_select",
            "targets": [{"column": {"name": col}, "datasetUuid": source.uuid}],
            "controlValues": {"multiSelect": True, "enableEmptyFilter": False, "defaultToFirstItem": False,
                              "inverseSelection": False, "searchAllOptions": False},
            "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
            "cascadeParentIds": parents,
            "scope": {"rootPath": ["ROOT_ID"],
                      "excluded": [c.local_id for c in charts if not c.dataset.has(col)]},
            "type": "NATIVE_FILTER", "description": "", "chartsInScope": [],
        })
    return out


def _position(dash: Dashboard) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": dash.title}, "type": "HEADER"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
    }
    for i, row in enumerate([["MARKDOWN", dash.period], *dash.rows]):
        rid = f"ROW-{dash.key}-{i}"
        position["GRID_ID"]["children"].append(rid)
        position[rid] = {"children": [], "id": rid, "meta": {"background": "BACKGROUND_TRANSPARENT"},
                         "parents": ["ROOT_ID", "GRID_ID"], "type": "ROW"}
        for c in row:
            if c == "MARKDOWN":
                mid = f"MARKDOWN-{dash.key}"
                position[rid]["children"].append(mid)
                position[mid] = {"children": [], "id": mid, "parents": ["ROOT_ID", "GRID_ID", rid],
                                 "type": "MARKDOWN", "meta": {"width": 12 - dash.period.width, "height": 34,
                                 "code": f"### {dash.title}\n\n{dash.intro}\n\n{TIME_NOTE}"}}
                continue
            cid = f"CHART-{c.key}"
            position[rid]["children"].append(cid)
            position[cid] = {"children": [], "id": cid, "parents": ["ROOT_ID", "GRID_ID", rid], "type": "CHART",
                             "meta": {"chartId": c.local_id, "height": c.height, "width": c.width,
                                      "sliceName": c.title, "uuid": c.uuid}}
    return position


# Superset 6.1's Chinese translation renders a table's totals label ("Summary") as 星期日 (Sunday)
CSS = """tfoot tr th:first-child > div { font-size: 0; }
tfoot tr th:first-child > div::before { content: "合计"; font-size: 12px; font-weight: 600; }
"""


def _dashboard_yaml(dash: Dashboard) -> dict[str, Any]:
    return {
        "dashboard_title": dash.title,
        "description": None,
        "css": CSS,
        "slug": dash.slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": dash.uuid,
        "position": _position(dash),
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "color_scheme_domain": [],
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": True,
            "native_filter_configuration": _native_filters(dash),
            "chart_configuration": {},
            "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []},
                                           "chartsInScope": []},
        },
        "version": "1.0.0",
    }


def _database_yaml() -> dict[str, Any]:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": DATABASE_URI_PLACEHOLDER,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        # DuckDB 2.0's compressed materialization narrows a SUM of 0/1 columns to TINYINT in grouped,
        # ordered queries and then fails ("INT128 ... out of range for INT8"): off for the dashboards
        "extra": {"engine_params": {"connect_args": {"read_only": True, "config": {
                      "disabled_optimizers": "compressed_materialization"}}}, "metadata_params": {},
                  "schemas_allowed_for_file_upload": [], "allows_virtual_table_explore": True},
        "uuid": uid("database", DATABASE_NAME),
        "version": "1.0.0",
    }


def render() -> dict[str, str]:
    """{relative path: YAML text} of the whole asset tree."""
    def dump(obj: Any) -> str:
        return yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=100)

    files = {
        "metadata.yaml": dump({"version": "1.0.0", "type": "assets",
                               "timestamp": "2026-01-01T00:00:00+00:00"}),
        f"databases/{DATABASE_NAME}.yaml": dump(_database_yaml()),
    }
    for d in used_datasets():
        files[f"datasets/{DATABASE_NAME}/{d.table_name}.yaml"] = dump(_dataset_yaml(d))
    for dash in DASHBOARDS:
        for c in dash.charts:
            files[f"charts/{c.key}.yaml"] = dump(_chart_yaml(c))
        files[f"dashboards/{dash.key}.yaml"] = dump(_dashboard_yaml(dash))
    return files


def write(dest: Path = ASSETS) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    for rel, text in render().items():
        p = dest / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return dest


if __name__ == "__main__":
    print(write())
