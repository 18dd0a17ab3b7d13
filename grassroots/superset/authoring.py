"""Source of the Superset dashboards; writes the YAML assets under ``dashboards/assets/``.

The committed YAML is what gets imported (``grassroots.superset.manage.import_bundle``); this
module, with ``datasets`` (the virtual datasets and their time rules) and ``charts`` (the chart
builders), is the compact, reviewable definition it is generated from (``python -m
grassroots.superset.authoring`` rewrites the YAML; a test checks the two agree).  UUIDs are
uuid5 of a fixed namespace and each object's key, so they never change between regenerations.

Every dashboard has one time filter (月份), read by every dataset (``periods``), and a 统计期 chart
that shows the range its numbers cover.  Chinese names of metrics and targets come from the
metric catalogue seed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grassroots.superset.charts import Chart, counts, kpi, rates, rows, table, where
from grassroots.superset.datasets import CAT, DATASETS, DS, Dataset, uid, zh
from grassroots.superset.periods import DEFAULT_MONTHS

__all__ = ["ASSETS", "CAT", "DASHBOARDS", "DATASETS", "DS", "Chart", "Dashboard", "render", "uid", "write"]

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dashboards" / "assets"
DATABASE_NAME = "grassroots_serving"
DATABASE_URI_PLACEHOLDER = "duckdb:///{{SERVING_PATH}}"


@dataclass
class Dashboard:
    key: str
    title: str
    slug: str
    intro: str
    rows: list[list[Chart]]
    filters: list[str]  # district, community, facility, team, disease; the month filter is always there
    period: Chart = field(init=False)

    def __post_init__(self) -> None:
        self.period = rows(f"{self.key}_period", "统计期", "period",
                           ["range_label", "as_of_label", "year_label"], order=[], search=False,
                           width=5, height=34)

    @property
    def uuid(self) -> str:
        return uid("dashboard", self.key)

    @property
    def charts(self) -> list[Chart]:
        return [self.period, *(c for row in self.rows for c in row)]


FILTER_COLUMNS = {
    "district": ("区县", "district_name"),
    "community": ("社区", "community_name"),
    "facility": ("医疗机构", "facility_name"),
    "team": ("家庭医生团队", "team_name"),
    "disease": ("病种", "disease"),
}

TIME_NOTE = (
    f"**统计期**（右侧）是每个图表读取的月份范围：默认为数据最近 {DEFAULT_MONTHS} 个月（截至最新业务日期）；"
    "在左侧“月份”中用“自定义”或“高级”可选任一时期（按月，起始月含、结束月不含；“去年”等相对范围按今天的日期计算，可能无数据）。"
    "人次、费用、处方、出院、转诊为统计期内合计，趋势图每月一点；签约、档案、人口等时点指标取统计期最后一个月末；"
    "年度指标取统计期最后一个月所在年度，当年未结束时为“年度至今”。"
    "比率 = 分子合计 ÷ 分母合计，悬停可见分子与分母；虚线为指标目录中的目标值。"
)
DRILL = "在柱状图上右键“钻取”（Drill by）可逐级查看；点击图形可交叉筛选。"
HTN = [where("disease", "高血压")]
DM = [where("disease", "糖尿病")]

DASHBOARDS: list[Dashboard] = [
    Dashboard(
        "overview", "分级诊疗总览", "fenji-zhenliao",
        "面向卫健委：基层诊疗量占比（目标 ≥65%）、县域内就诊率、家庭医生签约与重点人群覆盖、双向转诊。",
        [
            [kpi("ov_gs", "grassroots_visits", "grassroots_share"),
             kpi("ov_ic", "grassroots_visits", "in_county_rate"),
             kpi("ov_sr", "signing_community", "signing_rate"),
             kpi("ov_ks", "signing_community", "key_signing_rate")],
            [rates("ov_gs_trend", "基层诊疗量占比趋势", "grassroots_visits", "month", ["grassroots_share"],
                   bar=False),
             rates("ov_ic_trend", "县域内就诊率趋势", "grassroots_visits", "month", ["in_county_rate"], bar=False)],
            [rates("ov_gs_district", "各区县基层诊疗量占比", "grassroots_visits", "district_name",
                   ["grassroots_share"]),
             counts("ov_ref_trend", "双向转诊：上转与下转（转出人次）", "referrals", "month", ["up_out", "down_out"])],
            [rates("ov_signed_gs", "签约与未签约居民基层就诊率", "grassroots_visits", "month",
                   ["signed_grassroots_share", "unsigned_grassroots_share"], bar=False),
             rates("ov_sign_trend", "签约覆盖率趋势（每月末）", "signing_community_trend", "month",
                   ["signing_rate", "key_signing_rate"], bar=False)],
            [table("ov_district_table", "区县汇总（合计行即全市）", "grassroots_visits", ["district_name"],
                   ["grassroots_visits", "total_visits", "grassroots_share", "in_county_visits",
                    "county_resident_visits", "in_county_rate"], totals=True, height=40)],
        ],
        ["district"],
    ),
    Dashboard(
        "signing", "家庭医生签约", "jiating-yisheng-qianyue",
        "签约覆盖按区县 → 社区 → 团队；重点人群（65岁及以上、0-6岁儿童、高血压、糖尿病）、“1+1+1”组合签约、"
        "服务包构成与续约（续约率为统计期内到期合同的续约比例）。人口分母为社区常住人口，按社区汇总"
        "（团队层只展示签约人数，不计算覆盖率）。" + DRILL,
        [
            [kpi("sg_sr", "signing_community", "signing_rate"),
             kpi("sg_ks", "signing_community", "key_signing_rate"),
             kpi("sg_111", "signing_community", "combo_111_share"),
             kpi("sg_rn", "signing_community", "renewal_rate")],
            [rates("sg_trend", "签约覆盖率趋势（每月末）", "signing_community_trend", "month",
                   ["signing_rate", "key_signing_rate"], bar=False),
             rates("sg_district", "各区县签约覆盖率", "signing_community", "district_name",
                   ["signing_rate", "key_signing_rate"])],
            [rates("sg_groups_age", "65岁及以上老人与0-6岁儿童签约率（按区县）", "signing_community", "district_name",
                   ["signing_rate_65plus", "signing_rate_0_6"]),
             rates("sg_groups_disease", "高血压与糖尿病患者签约率（按区县）", "signing_community", "district_name",
                   ["signing_rate_hypertension", "signing_rate_diabetes"])],
            [table("sg_community", "各社区签约覆盖率排名", "signing_community", ["district_name", "community_name"],
                   ["signed_residents", "population", "signing_rate", "key_signed", "key_population",
                    "key_signing_rate"], sort="signing_rate", totals=True, width=12, height=40)],
            [counts("sg_team", "各家庭医生团队签约人数排名", "signing_team", "team_name", ["signed_residents"],
                    horizontal=True, width=6, height=55),
             counts("sg_packages", "服务包构成（签约人数，按区县）", "signing_team", "district_name",
                    ["package_free", "package_basic", "package_personalized", "package_checkup"], stack=True,
                    width=6, height=55, values=False)],
            [table("sg_team_table", "团队明细：签约、重点人群、1+1+1 与续约", "signing_team",
                   ["district_name", "community_name", "team_name"],
                   ["signed_residents", "key_signed", "signed_65plus", "signed_0_6", "signed_hypertension",
                    "signed_diabetes", "package_free", "package_basic", "package_personalized",
                    "package_checkup", "combo_111_signed", "combo_111_share", "renewals", "contracts_ending",
                    "renewal_rate"])],
        ],
        ["district", "community", "team"],
    ),
    Dashboard(
        "public_health", "基本公共卫生", "jiben-gonggong-weisheng",
        "居民电子健康档案（建档率、完整率、使用率，月末时点）与65岁及以上老年人健康管理（年度）。"
        "高血压、糖尿病患者管理见“慢病管理”。" + DRILL,
        [
            [kpi("ph_rr", "health_records", "record_rate"),
             kpi("ph_rc", "health_records", "record_completeness_rate"),
             kpi("ph_ra", "health_records", "record_activation_rate"),
             kpi("ph_elderly", "health_checkups", "elderly_health_mgmt_rate")],
            [rates("ph_records_trend", "健康档案建档率、完整率与使用率趋势（每月末）", "health_records_trend", "month",
                   ["record_rate", "record_completeness_rate", "record_activation_rate"], bar=False),
             rates("ph_records_district", "各区县健康档案建档率、完整率与使用率", "health_records", "district_name",
                   ["record_rate", "record_completeness_rate", "record_activation_rate"])],
            [rates("ph_elderly_district", "各区县65岁及以上老年人健康管理率（年度）", "health_checkups",
                   "district_name", ["elderly_health_mgmt_rate"], groupby=["period_label"]),
             rates("ph_abnormal_district", "各区县体检异常检出率（年度）", "health_checkups", "district_name",
                   ["checkup_abnormal_rate"], groupby=["period_label"])],
            [table("ph_records_table", "社区明细：健康档案（统计期末）", "health_records",
                   ["district_name", "community_name"],
                   ["records", "population", "record_rate", "complete_records", "record_completeness_rate",
                    "active_records", "record_activation_rate"], sort="record_rate", totals=True, height=45)],
            [table("ph_elderly_table", "社区明细：老年人健康管理与体检（年度）", "health_checkups",
                   ["period_label", "district_name", "community_name"],
                   ["checked_65plus", "population_65plus", "elderly_health_mgmt_rate", "checkups",
                    "abnormal_checkups", "checkup_abnormal_rate"], sort="elderly_health_mgmt_rate",
                   totals=True, height=45)],
        ],
        ["district", "community"],
    ),
    Dashboard(
        "chronic", "慢病管理", "manbing-guanli",
        "高血压、糖尿病患者规范管理率与控制率（按团队、社区），以及慢病签约医保结算。均为年度指标："
        "取统计期最后一个月所在年度，当年未结束时为年度至今（规范管理按已开始的季度数折算随访要求，"
        "结算按已过天数折算用药需求）。" + DRILL,
        [
            [kpi("ch_htn_std", "chronic_team", "standard_mgmt_rate", zh("htn_standard_mgmt_rate"), filters=HTN),
             kpi("ch_htn_ctl", "chronic_team", "control_rate", zh("htn_control_rate"), filters=HTN),
             kpi("ch_dm_std", "chronic_team", "standard_mgmt_rate", zh("dm_standard_mgmt_rate"), filters=DM),
             kpi("ch_dm_ctl", "chronic_team", "control_rate", zh("dm_control_rate"), filters=DM)],
            [rates("ch_team_htn", "高血压：各团队规范管理率与血压控制率（年度）", "chronic_team", "team_name",
                   ["standard_mgmt_rate", "control_rate"], filters=HTN, width=12, height=50, rotate=20)],
            [rates("ch_team_dm", "糖尿病：各团队规范管理率与血糖控制率（年度）", "chronic_team", "team_name",
                   ["standard_mgmt_rate", "control_rate"], filters=DM, width=12, height=50, rotate=20)],
            [rates("ch_district", "各区县慢病控制率（按病种，年度）", "chronic_community", "district_name",
                   ["control_rate"], groupby=["disease"]),
             rates("ch_district_managed", "各区县已知患者随访覆盖率（按病种，年度）", "chronic_community",
                   "district_name", ["managed_share"], groupby=["disease"])],
            [table("ch_comm_table", "社区明细（年度）", "chronic_community",
                   ["period_label", "district_name", "community_name", "disease"],
                   ["registered_patients", "managed_patients", "managed_share", "standard_managed",
                    "standard_mgmt_rate", "controlled", "control_rate"], sort="registered_patients")],
            [kpi("ch_pay_share", "chronic_settlement", "settlement_payable_share", width=6),
             kpi("ch_full_share", "chronic_settlement", "settlement_full_tier_rate", width=6)],
            [counts("ch_settle", "慢病签约医保结算：各机构应付与预算（元，年度）", "chronic_settlement", "facility_name",
                    ["payable", "budget"], width=8, height=45, values=False, rotate=20),
             counts("ch_tiers", "结算档位人数（按病种，年度）", "chronic_settlement", "disease",
                    ["tier_full", "tier_partial", "tier_none"], stack=True, width=4, height=45, values=False)],
        ],
        ["district", "team", "disease"],
    ),
    Dashboard(
        "cost", "门诊费用与疾病", "menzhen-feiyong",
        "门诊人次与同比增长、门诊次均费用（按机构级别、区县）及增幅、门诊疾病排名（按机构级别组）与病种费用。"
        "同比与增幅只比较上年同月有数据的机构-月份（可比月份）。疾病排名按机构级别组汇总，不受区县、机构筛选影响；"
        "病种费用为年度指标。",
        [
            [kpi("co_avg", "outpatient_cost", "avg_fee_per_visit"),
             kpi("co_growth", "outpatient_cost", "avg_fee_growth"),
             kpi("co_visits", "outpatient_visits", "visits", title="门急诊人次"),
             kpi("co_yoy", "outpatient_visits", "outpatient_yoy_growth")],
            [counts("co_visits_level", "门急诊人次（按机构级别，按月）", "outpatient_visits", "month", ["visits"],
                    groupby=["level_name"], stack=True, values=False),
             rates("co_yoy_level", "门急诊人次同比增长（按机构级别，可比月份）", "outpatient_visits", "level_name",
                   ["outpatient_yoy_growth"], upper=None, lower=None)],
            [rates("co_avg_level", "门诊次均费用（按机构级别，按月）", "outpatient_cost", "month",
                   ["avg_fee_per_visit"], groupby=["level_name"], bar=False, upper=None),
             rates("co_growth_level", "门诊次均费用增幅（按机构级别，可比月份）", "outpatient_cost", "level_name",
                   ["avg_fee_growth"], upper=None, lower=None)],
            [rates("co_district", "各区县门诊次均费用与次均药费", "outpatient_cost", "district_name",
                   ["avg_fee_per_visit", "avg_drug_fee_per_visit"], upper=None),
             table("co_fac_visits", "各机构门急诊人次与同比", "outpatient_visits", ["facility_name", "level_name"],
                   ["visits", "emergency_visits", "home_visits", "visits_matched", "visits_same_month_last_year",
                    "outpatient_yoy_growth"], totals=True, width=6)],
            [counts("co_disease_rank", "门诊疾病排名（前 15 位，门诊人次，各级别合计）", "disease_rank",
                    "disease_name", ["visits"], horizontal=True, limit=15, width=5, height=60),
             rows("co_disease_level", "门诊疾病排名（按机构级别组，前 10 位）", "disease_rank",
                  ["level_name", "rank", "disease_name", "chapter_title_zh", "visits", "level_visits",
                   "share_of_visits"], order=[("level_group", True), ("rank", True)],
                  formats={"share_of_visits": ".1%", "visits": ",d", "level_visits": ",d"},
                  filters=[where("rank", 10, "<=")], width=7, height=60)],
            [table("co_disease_cost", "病种费用（门诊与住院，年度）", "disease_cost",
                   ["period_label", "disease_name", "chapter_title_zh", "setting_name"],
                   ["episodes", "total_fee", "avg_fee_per_episode", "patients", "cost_per_patient"],
                   sort="total_fee")],
        ],
        ["district", "facility"],
    ),
    Dashboard(
        "medication", "用药管理", "yongyao-guanli",
        "门诊药占比、抗菌药物使用率（目标 ≤20%）、基本药物与集采药品金额占比、长处方与延伸处方。",
        [
            [kpi("md_ab", "medication", "antibiotic_rx_rate"),
             kpi("md_es", "medication", "essential_amount_share"),
             kpi("md_vbp", "medication", "vbp_amount_share"),
             kpi("md_dfs", "medication", "drug_fee_share")],
            [rates("md_ab_trend", "抗菌药物使用率趋势", "medication", "month", ["antibiotic_rx_rate"], bar=False),
             rates("md_level_share", "各级机构基本药物与集采药品金额占比", "medication", "level_name",
                   ["essential_amount_share", "vbp_amount_share"])],
            [rates("md_long", "各级机构长处方与延伸处方占比", "medication", "level_name",
                   ["long_rx_share", "extended_rx_share"]),
             rates("md_level", "各级机构门诊药占比与抗菌药物使用率", "medication", "level_name",
                   ["drug_fee_share", "antibiotic_rx_rate"])],
            [table("md_fac_table", "各机构用药指标", "medication", ["facility_name", "level_name"],
                   ["antibiotic_visits", "visits_with_rx", "antibiotic_rx_rate", "essential_amount_share",
                    "vbp_amount_share", "long_rx_share", "extended_rx_share", "drug_fee_share",
                    "avg_lines_per_prescription"], sort="visits_with_rx", totals=True)],
            [table("md_drugs", "药品使用排名（金额）", "drug_usage",
                   ["drug_name", "atc_code", "essential_flag", "vbp_flag", "antibiotic_flag"],
                   ["amount", "prescription_lines"], limit=50)],
        ],
        ["district", "facility"],
    ),
    Dashboard(
        "hospital", "医院运营", "yiyuan-yunying",
        "医院管理者视图：病床使用率、出院者平均住院日、病床周转次数（统计期出院人数 ÷ 期末平均开放病床数）、"
        "双向转诊（转入/转出、下转占比）。行级权限：医院管理者只看到本院数据，卫健委分析员看到全部。",
        [
            [kpi("ho_bur", "beds", "bed_utilization_rate"),
             kpi("ho_alos", "beds", "avg_length_of_stay"),
             kpi("ho_turn", "beds", "bed_turnover"),
             kpi("ho_down", "referrals", "down_share")],
            [rates("ho_bur_trend", "病床使用率趋势", "beds_trend", "month", ["bed_utilization_rate"], bar=False,
                   upper=None),
             rates("ho_alos_trend", "出院者平均住院日趋势", "beds_trend", "month", ["avg_length_of_stay"],
                   bar=False, upper=None)],
            [counts("ho_ref_flow", "转诊：转入与转出（按月）", "referrals", "month",
                    ["up_out", "down_out", "up_in", "down_in"]),
             rates("ho_level_bur", "各级医院病床使用率", "beds", "level_name",
                   ["bed_utilization_rate"], upper=None)],
            [table("ho_fac_table", "医院明细：床位与住院", "beds", ["district_name", "facility_name", "level_name"],
                   ["occupied_bed_days", "open_bed_days", "bed_utilization_rate", "discharges",
                    "discharged_bed_days", "avg_length_of_stay", "avg_open_beds", "bed_turnover"],
                   sort="bed_utilization_rate", totals=True)],
            [table("ho_ref_table", "医院明细：转诊", "referrals", ["facility_name"],
                   ["up_out", "down_out", "down_share", "up_in", "down_in", "referrals_sent", "arrived_out",
                    "arrival_rate", "outpatient_visits", "referral_rate"], sort="down_out", totals=True)],
        ],
        ["district", "facility"],
    ),
    Dashboard(
        "quality", "数据质量", "shuju-zhiliang",
        "机构数据上报完整率与及时率（DHIS2 口径，按机构、机构类型、区县）、隔离原因分布与趋势；Great Expectations "
        "校验结果随时间变化（每个业务日期、每层取最近一次校验；期望通过率 = (已评估 − 错误级未通过) / 已评估，"
        "警告不计为未通过）。",
        [
            [kpi("dq_comp", "delivery_quality", "delivery_completeness_rate", width=4),
             kpi("dq_time", "delivery_quality", "delivery_timeliness_rate", width=4),
             kpi("dq_quar", "delivery_quality", "delivery_quarantine_rate", width=4)],
            [rates("dq_trend", "上报完整率与及时率（按日）", "delivery_quality", "business_date",
                   ["delivery_completeness_rate", "delivery_timeliness_rate"], bar=False, grain="P1D", width=12,
                   height=45)],
            [rates("dq_type", "各类机构上报完整率与及时率", "delivery_quality", "facility_type_name",
                   ["delivery_completeness_rate", "delivery_timeliness_rate"]),
             rates("dq_district", "各区县上报完整率（按月）", "delivery_quality", "month",
                   ["delivery_completeness_rate"], groupby=["district_name"], bar=False)],
            [table("dq_facility", "各机构上报完整率与及时率", "delivery_quality",
                   ["district_name", "facility_name", "facility_type_name"],
                   ["delivered", "on_time", "expected", "delivery_completeness_rate", "delivery_timeliness_rate",
                    "rows_quarantined", "delivery_quarantine_rate"], sort="expected", totals=True, width=12)],
            [counts("dq_reasons", "隔离原因排名（行数）", "quarantine_reasons", "reason_name", ["quarantined_rows"],
                    horizontal=True, width=5, height=65),
             counts("dq_quar_trend", "隔离行数趋势（按周、按原因）", "quarantine_reasons", "business_date",
                    ["quarantined_rows"], groupby=["reason_name"], stack=True, grain="P1W", width=7, height=65)],
            [rates("dq_gx_pass", "GX 校验：期望通过率（按日、按层）", "validation_runs", "business_date",
                   ["gx_pass_rate"], groupby=["layer_name"], bar=False, grain="P1D", width=4),
             counts("dq_gx_fail", "GX 校验：未通过、警告与异常波动（按日）", "validation_runs", "business_date",
                    ["failed", "warnings", "outliers"], grain="P1D", width=4),
             counts("dq_gx_cat", "GX 校验：未通过与警告（按日、按质量类别）", "validation_categories",
                    "business_date", ["not_passed"], groupby=["category_name"], stack=True, grain="P1D", width=4)],
            [table("dq_gx_checks", "GX 未通过的检查项（各业务日期最近一次校验）", "validation_failures",
                   ["check_id", "layer_name", "category_name", "severity_name"],
                   ["failing_days", "unexpected_count"], sort="failing_days")],
        ],
        ["district", "facility"],
    ),
]


# --------------------------------------------------------------------------------------------
# YAML rendering


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
