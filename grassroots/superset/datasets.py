"""The dashboards' datasets: virtual SQL over the serving file, one definition each.

A definition names the rows it reads from a mart (``body``: the mart joined to the name
dimensions ``dims.*``, Chinese names in ``*_name`` columns) and the catalogue marts its measures
belong to.  The metric catalogue decides the time rule (``grassroots.superset.periods``):

* a mart with an annual indicator (``period_rule`` set) gives an ``annual`` dataset: one year;
* a column is a snapshot or a flow by the catalogue's ``kind``: the kind of the indicator stored
  in that column, else of the indicators that use it as numerator or denominator (flow when any
  flow indicator uses it), else the mart's grain (a month-end ``as_of_date`` mart holds stocks);
* a dataset with snapshot columns is published twice: the range variant (snapshots on the
  latest month of the range only) and ``<key>_trend`` (every month-end, for trend charts).

Rates are metrics ``SUM(num) / NULLIF(SUM(den), 0)``: any roll-up is a ratio of sums.  Every
ratio names the count metrics it divides (``parts``), which the charts show in the tooltip.
Every numeric column has a ``SUM`` metric of the same name.
"""

from __future__ import annotations

import csv
import re
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from grassroots.superset import periods

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_CSV = ROOT / "dbt" / "seeds" / "metric_catalogue.csv"
NS = uuid.UUID("6f1c2a52-0d7e-4b8e-9a51-3f0c6e1d2b77")


def uid(kind: str, key: str) -> str:
    """Fixed UUIDs: uuid5 of the namespace and the object's key."""
    return str(uuid.uuid5(NS, f"{kind}:{key}"))


def _catalogue() -> dict[str, dict[str, str]]:
    with CATALOGUE_CSV.open(encoding="utf-8") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


CAT = _catalogue()


def zh(code: str, fallback: str | None = None) -> str:
    return CAT[code]["name_zh"] if code in CAT else (fallback or code)


D, V, I, F, B = "DATE", "VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN"  # noqa: E741
NUMERIC = (I, F)

LEVEL_NAME = (
    "case {c} when 'grassroots' then '基层医疗卫生机构' when 'level_1' then '一级医院'"
    " when 'level_2' then '二级医院' when 'level_3' then '三级医院' else '未定级医院' end"
)
FACILITY_TYPE_NAME = (
    "case {c} when 'general_hospital' then '综合医院' when 'tcm_hospital' then '中医医院'"
    " when 'specialty_hospital' then '专科医院' when 'community_health_centre' then '社区卫生服务中心'"
    " when 'township_health_centre' then '乡镇卫生院' when 'community_health_station' then '社区卫生服务站'"
    " when 'village_clinic' then '村卫生室' else {c} end"
)
DISEASE_NAME = "coalesce({c}.icd10_category || ' ' || {c}.title_zh, {c}.icd10_category)"
LAYER_NAME = "case {c} when 'raw' then '原始层' when 'marts' then '指标层' else {c} end"
# Kahn et al. data-quality categories of the GX checks (expectations/README.md)
CATEGORY_NAME = (
    "case {c} when 'conformance' then '一致性' when 'completeness' then '完整性'"
    " when 'plausibility' then '合理性' else {c} end"
)
# GX validation history (grassroots.quality.history): a re-validated business date has several
# runs, the latest one per layer counts
LATEST_RUNS = (
    "select * from audit.validation_results where business_date is not null qualify"
    " row_number() over (partition by business_date, layer order by recorded_at desc) = 1"
)


@dataclass(frozen=True)
class Metric:
    name: str
    expr: str
    label: str
    fmt: str
    parts: tuple[str, ...] = ()  # the count metrics it divides, shown beside it in tooltips
    target: str | None = None  # catalogue code whose target is drawn next to it

    @property
    def target_value(self) -> float | None:
        return target_value(self.target)


def target_value(code: str | None) -> float | None:
    """The catalogue's target of an indicator (None: no target, or no such code)."""
    row = CAT.get(code or "")
    return float(row["target"]) if row and row["target"] else None


def rate(name: str, num: str, den: str, label: str | None = None, fmt: str = ".1%",
         target: str | None = None) -> Metric:
    """SUM(num) / SUM(den) of two columns (their SUM metrics are the parts)."""
    return Metric(name, f"SUM({num}) / NULLIF(SUM({den}), 0)", label or zh(name), fmt, (num, den),
                  target or (name if name in CAT else None))


def ratio(name: str, expr: str, parts: tuple[str, ...], label: str | None = None,
          fmt: str = ".1%", target: str | None = None) -> Metric:
    return Metric(name, expr, label or zh(name), fmt, parts, target or (name if name in CAT else None))


def total(name: str, expr: str, label: str, fmt: str = ",d") -> Metric:
    return Metric(name, expr, label, fmt)


@dataclass
class Dataset:
    key: str
    marts: tuple[str, ...]  # catalogue marts of its measures: they decide the time rule
    body: str  # the mart's rows with names; a `month` column (annual: `year`, `as_of_date`, `is_complete`)
    columns: list[tuple[str, str, str]]  # name, type, Chinese label (as the body returns them)
    metrics: list[Metric] = field(default_factory=list)
    rls: bool = False  # row-level security by facility_code (hospital operations)
    grain: str = "month"  # the mart's time: month, as_of_date (month-end snapshots), year
    post: str | None = None  # aggregation over the range's rows (named `f`), when the grain changes
    trend: bool = False  # the every-month-end variant of a dataset with snapshot columns
    not_additive: tuple[str, ...] = ()  # numeric columns without a SUM metric (ranks, ratios)

    def __post_init__(self) -> None:
        if not any(c[0] == "range_label" for c in self.columns):
            self.columns = [*self.columns, *((c, V, label) for c, label in periods.LABEL_COLUMNS)]
            if self.rule == "annual":
                self.columns.append(("period_label", V, "年度"))
        named = {m.name for m in self.metrics}
        self.metrics = [*self.metrics, *(
            Metric(c, f"SUM({c})", label, ",d" if t == I else ",.0f")
            for c, t, label in self.columns
            if t in NUMERIC and c not in named and c != "year" and c not in self.not_additive)]
        by_name = {m.name for m in self.metrics}
        for m in self.metrics:
            assert set(m.parts) <= by_name, (self.key, m.name, set(m.parts) - by_name)

    @property
    def table_name(self) -> str:
        return f"ds_{self.key}"

    @property
    def uuid(self) -> str:
        return uid("dataset", self.key)

    @property
    def catalogue(self) -> list[dict[str, str]]:
        return [r for r in CAT.values() if any(r["mart"].startswith(m) or m.startswith(r["mart"])
                                               for m in self.marts)]

    @property
    def rule(self) -> str:
        if any(r["period_rule"] for r in self.catalogue):
            assert self.grain == "year", self.key
            return "annual"
        return "snapshot" if self.snapshot_columns and not self.trend else "flow"

    def kind(self, column: str) -> str:
        """snapshot or flow, from the catalogue (see the module's doc)."""
        rows = self.catalogue
        own = {r["kind"] for r in rows if r["column_name"] == column}
        if own:
            return own.pop()
        uses = {r["kind"] for r in rows
                if column in _terms(r["numerator"]) | _terms(r["denominator"])}
        if uses:
            return "flow" if "flow" in uses else "snapshot"
        return "snapshot" if self.grain == "as_of_date" else "flow"

    @property
    def snapshot_columns(self) -> list[str]:
        if self.grain == "year":
            return []
        return [c for c, t, _ in self.columns if t in NUMERIC and self.kind(c) == "snapshot"]

    def metric(self, name: str) -> Metric:
        return next(m for m in self.metrics if m.name == name)

    def metric_kind(self, name: str) -> str:
        """The rule a metric reads by: annual, snapshot, flow or mixed (a flow over a stock)."""
        if self.rule == "annual":
            return "annual"
        m = self.metric(name)
        cols = [p for p in m.parts if self.has(p)] or [name]
        kinds = {self.kind(c) for c in cols if self.has(c)} or {"flow"}
        return kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def template(self) -> str:
        """The dataset's SQL as stored in Superset (Jinja: reads the dashboard's range)."""
        if self.rule == "annual":
            sql = periods.annual(self.body)
        elif self.rule == "snapshot":
            sql = periods.snapshot(self.body, self.snapshot_columns)
        else:
            sql = periods.flow(self.body)
        if self.post:
            sql = f"{self.post.format(f=f'({sql})')}"
        return sql

    @property
    def sql(self) -> str:
        """The SQL for the default range ("No filter")."""
        return periods.render(self.template)

    def has(self, col: str) -> bool:
        return any(c[0] == col for c in self.columns)

    def trend_variant(self) -> Dataset:
        return replace(self, key=f"{self.key}_trend", trend=True, metrics=list(self.metrics))


def _terms(expr: str) -> set[str]:
    return set(re.findall(r"[a-z_][a-z0-9_]*", expr or ""))


@dataclass
class PeriodDataset(Dataset):
    """The range the dashboard's datasets read, as one row of labels."""

    @property
    def template(self) -> str:
        return periods.period()


GEO = [("district_code", V, "区县编码"), ("district_name", V, "区县")]
FAC = [("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), ("level_name", V, "机构级别")]
COMMUNITY = [("region_code", V, "社区编码"), ("community_name", V, "社区"), *GEO]
YEAR = [("month", D, "测量月份"), ("year", I, "年份"), ("as_of_date", D, "截至日期"),
        ("is_complete", B, "年度已结束")]


def _district_join(alias: str) -> str:
    return f"left join dims.dim_district d on d.district_code = {alias}.district_code"


def _names(alias: str, *, community: bool = False, facility: bool = False, level: bool = False) -> str:
    out = []
    if community:
        out.append(f"{alias}.region_code, coalesce(r.community_name, {alias}.region_code) as community_name")
    if facility:
        out.append(f"{alias}.facility_code, coalesce(f.facility_name, {alias}.facility_code) as facility_name")
    if level:
        out.append(f"{LEVEL_NAME.format(c=f'{alias}.level_group')} as level_name")
    out.append(f"{alias}.district_code, coalesce(d.district_name, {alias}.district_code) as district_name")
    return ", ".join(out)


# the catalogue's targets of the chronic indicators, joined per disease in dbt (mart_chronic_followup*)
CHRONIC_TARGETS = [("managed_share_target", F, "随访覆盖率目标"), ("standard_mgmt_target", F, "规范管理率目标"),
                   ("control_target", F, "控制率目标")]
DISEASE_ZH = "case {c} when 'hypertension' then '高血压' when 'diabetes' then '糖尿病' else {c} end"


def target_metrics(columns: list[tuple[str, str, str]]) -> list[Metric]:
    """A target per row group (one disease's rows share it): MAX, never a sum."""
    return [Metric(c, f"MAX({c})", label, ".0%") for c, _, label in columns]


def _year_cols(alias: str) -> str:
    return (f"date_trunc('month', {alias}.as_of_date)::date as month, {alias}.year, {alias}.as_of_date,"
            f" {alias}.is_complete")


DATASETS: list[Dataset] = [
    PeriodDataset(
        "period", (), "",
        [("month", D, "月份"), ("range_label", V, "统计期（按月）"), ("as_of_label", V, "时点指标截至"),
         ("year_label", V, "年度指标"), ("data_as_of", D, "数据截至")],
    ),
    Dataset(
        "grassroots_visits", ("mart_grassroots_visits",),
        f"""select g.month, {_names('g')},
  g.total_visits, g.grassroots_visits, g.signed_visits, g.signed_grassroots_visits,
  g.unsigned_visits, g.unsigned_grassroots_visits, g.in_county_visits, g.county_resident_visits
from marts.mart_grassroots_visits g
{_district_join('g')}""",
        [("month", D, "月份"), *GEO, ("total_visits", I, "总诊疗人次"), ("grassroots_visits", I, "基层诊疗人次"),
         ("signed_visits", I, "签约居民诊疗人次"), ("signed_grassroots_visits", I, "签约居民基层诊疗人次"),
         ("unsigned_visits", I, "未签约居民诊疗人次"), ("unsigned_grassroots_visits", I, "未签约居民基层诊疗人次"),
         ("in_county_visits", I, "县域内就诊人次"), ("county_resident_visits", I, "本县居民就诊人次")],
        [rate("grassroots_share", "grassroots_visits", "total_visits"),
         rate("signed_grassroots_share", "signed_grassroots_visits", "signed_visits"),
         rate("unsigned_grassroots_share", "unsigned_grassroots_visits", "unsigned_visits"),
         rate("in_county_rate", "in_county_visits", "county_resident_visits")],
    ),
    Dataset(
        "signing_community", ("mart_signing_coverage",),
        f"""select date_trunc('month', s.as_of_date)::date as month, s.as_of_date, {_names('s', community=True)},
  s.population, s.signed_residents, s.key_population, s.key_signed, s.population_65plus, s.signed_65plus,
  s.population_0_6, s.signed_0_6, s.hypertension_patients, s.signed_hypertension, s.diabetes_patients,
  s.signed_diabetes, s.combo_111_signed, s.contracts_ending, s.renewals
from marts.mart_signing_coverage_by_community s
left join dims.dim_region r on r.region_code = s.region_code
{_district_join('s')}""",
        [("month", D, "月份"), ("as_of_date", D, "月末日期"), *COMMUNITY, ("population", I, "常住人口"),
         ("signed_residents", I, "签约人数"), ("key_population", I, "重点人群人数"), ("key_signed", I, "重点人群签约人数"),
         ("population_65plus", I, "65岁及以上人口"), ("signed_65plus", I, "65岁及以上签约人数"),
         ("population_0_6", I, "0-6岁儿童人口"), ("signed_0_6", I, "0-6岁儿童签约人数"),
         ("hypertension_patients", I, "高血压患者"), ("signed_hypertension", I, "高血压患者签约人数"),
         ("diabetes_patients", I, "糖尿病患者"), ("signed_diabetes", I, "糖尿病患者签约人数"),
         ("combo_111_signed", I, "1+1+1签约人数"), ("contracts_ending", I, "到期合同数"), ("renewals", I, "续约数")],
        [rate("signing_rate", "signed_residents", "population"),
         rate("key_signing_rate", "key_signed", "key_population"),
         rate("signing_rate_65plus", "signed_65plus", "population_65plus"),
         rate("signing_rate_0_6", "signed_0_6", "population_0_6"),
         rate("signing_rate_hypertension", "signed_hypertension", "hypertension_patients"),
         rate("signing_rate_diabetes", "signed_diabetes", "diabetes_patients"),
         rate("combo_111_share", "combo_111_signed", "signed_residents"),
         rate("renewal_rate", "renewals", "contracts_ending")],
        grain="as_of_date",
    ),
    Dataset(
        "signing_team", ("mart_signing_coverage",),
        f"""select date_trunc('month', s.as_of_date)::date as month, s.as_of_date, s.team_code,
  coalesce(t.team_name, s.team_code) as team_name, {_names('s', community=True)},
  s.signed_residents, s.key_signed, s.signed_65plus, s.signed_0_6, s.signed_hypertension, s.signed_diabetes,
  s.combo_111_signed, s.package_free, s.package_basic, s.package_personalized, s.package_checkup,
  s.contracts_ending, s.renewals
from marts.mart_signing_coverage s
left join dims.dim_team t on t.team_code = s.team_code
left join dims.dim_region r on r.region_code = s.region_code
{_district_join('s')}
where s.team_code <> 'none'""",
        [("month", D, "月份"), ("as_of_date", D, "月末日期"), ("team_code", V, "团队编码"), ("team_name", V, "家庭医生团队"),
         *COMMUNITY, ("signed_residents", I, "签约人数"), ("key_signed", I, "重点人群签约"),
         ("signed_65plus", I, "65岁及以上"), ("signed_0_6", I, "0-6岁儿童"), ("signed_hypertension", I, "高血压患者"),
         ("signed_diabetes", I, "糖尿病患者"), ("combo_111_signed", I, "1+1+1组合签约"),
         ("package_free", I, "免费包"), ("package_basic", I, "基础包"), ("package_personalized", I, "个性化包"),
         ("package_checkup", I, "体检包"), ("contracts_ending", I, "到期合同数"), ("renewals", I, "续约数")],
        [rate("combo_111_share", "combo_111_signed", "signed_residents"),
         rate("renewal_rate", "renewals", "contracts_ending")],
        grain="as_of_date",
    ),
    Dataset(
        "health_records", ("mart_health_records",),
        f"""select date_trunc('month', h.as_of_date)::date as month, h.as_of_date, {_names('h', community=True)},
  h.population, h.records, h.complete_records, h.active_records
from marts.mart_health_records h
left join dims.dim_region r on r.region_code = h.region_code
{_district_join('h')}""",
        [("month", D, "月份"), ("as_of_date", D, "月末日期"), *COMMUNITY, ("population", I, "常住人口"),
         ("records", I, "建档人数"), ("complete_records", I, "完整档案数"), ("active_records", I, "动态使用档案数")],
        [rate("record_rate", "records", "population"),
         rate("record_completeness_rate", "complete_records", "records"),
         rate("record_activation_rate", "active_records", "records")],
        grain="as_of_date",
    ),
    Dataset(
        "health_checkups", ("mart_health_checkups",),
        f"""select {_year_cols('h')}, {_names('h', community=True)},
  h.population_65plus, h.checked_65plus, h.checkups, h.abnormal_checkups, h.elderly_annual_checkups
from marts.mart_health_checkups h
left join dims.dim_region r on r.region_code = h.region_code
{_district_join('h')}""",
        [*YEAR, *COMMUNITY, ("population_65plus", I, "65岁及以上常住人口"), ("checked_65plus", I, "65岁及以上健康管理人数"),
         ("checkups", I, "体检人次"), ("abnormal_checkups", I, "体检异常人次"),
         ("elderly_annual_checkups", I, "老年人年度体检人次")],
        [rate("elderly_health_mgmt_rate", "checked_65plus", "population_65plus"),
         rate("checkup_abnormal_rate", "abnormal_checkups", "checkups")],
        grain="year",
    ),
    Dataset(
        "chronic_team", ("mart_hypertension_followup", "mart_diabetes_followup"),
        f"""select {_year_cols('c')}, {DISEASE_ZH.format(c='c.disease')} as disease, c.team_code,
  coalesce(t.team_name, c.team_code) as team_name,
  c.facility_code, coalesce(fc.facility_name, c.facility_code) as facility_name, fc.district_code,
  coalesce(fc.district_name, fc.district_code) as district_name,
  c.managed_patients, c.standard_managed, c.controlled, c.managed_65plus, c.followups, c.face_to_face_followups,
  c.standard_mgmt_target, c.control_target
from marts.mart_chronic_followup c
left join dims.dim_team t on t.team_code = c.team_code
left join dims.dim_facility fc on fc.facility_code = c.facility_code""",
        [*YEAR, ("disease", V, "病种"), ("team_code", V, "团队编码"), ("team_name", V, "家庭医生团队"),
         ("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), *GEO,
         ("managed_patients", I, "管理人数"), ("standard_managed", I, "规范管理人数"), ("controlled", I, "控制达标人数"),
         ("managed_65plus", I, "65岁及以上管理人数"), ("followups", I, "随访次数"),
         ("face_to_face_followups", I, "面对面随访次数"), *CHRONIC_TARGETS[1:]],
        [rate("standard_mgmt_rate", "standard_managed", "managed_patients", "规范管理率"),
         rate("control_rate", "controlled", "managed_patients", "控制率"),
         *target_metrics(CHRONIC_TARGETS[1:])],
        grain="year", not_additive=tuple(c for c, _, _ in CHRONIC_TARGETS[1:]),
    ),
    Dataset(
        "chronic_community", ("mart_hypertension_followup_by_community", "mart_diabetes_followup_by_community"),
        f"""select {_year_cols('c')}, {DISEASE_ZH.format(c='c.disease')} as disease, {_names('c', community=True)},
  c.registered_patients, c.managed_patients, c.standard_managed, c.controlled, c.managed_share_target,
  c.standard_mgmt_target, c.control_target
from marts.mart_chronic_followup_by_community c
left join dims.dim_region r on r.region_code = c.region_code
{_district_join('c')}""",
        [*YEAR, ("disease", V, "病种"), *COMMUNITY, ("registered_patients", I, "登记患者"),
         ("managed_patients", I, "管理人数"), ("standard_managed", I, "规范管理人数"), ("controlled", I, "控制达标人数"),
         *CHRONIC_TARGETS],
        [rate("managed_share", "managed_patients", "registered_patients", "随访覆盖率"),
         rate("standard_mgmt_rate", "standard_managed", "managed_patients", "规范管理率"),
         rate("control_rate", "controlled", "managed_patients", "控制率"),
         *target_metrics(CHRONIC_TARGETS)],
        grain="year", not_additive=tuple(c for c, _, _ in CHRONIC_TARGETS),
    ),
    Dataset(
        "chronic_settlement", ("mart_chronic_settlement",),
        f"""select {_year_cols('s')},
  {DISEASE_ZH.format(c='s.disease')} as disease,
  s.facility_code, coalesce(f.facility_name, s.facility_code) as facility_name, f.district_code,
  coalesce(f.district_name, f.district_code) as district_name,
  s.patients, s.budget::double as budget, s.tier_full, s.tier_partial, s.tier_none, s.payable::double as payable
from marts.mart_chronic_settlement s
left join dims.dim_facility f on f.facility_code = s.facility_code""",
        [*YEAR, ("disease", V, "病种"), ("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), *GEO,
         ("patients", I, "签约慢病患者"), ("budget", F, "预算（元）"), ("tier_full", I, "全额支付人数"),
         ("tier_partial", I, "部分支付人数"), ("tier_none", I, "不支付人数"), ("payable", F, "应付金额（元）")],
        [rate("settlement_full_tier_rate", "tier_full", "patients"),
         rate("settlement_payable_share", "payable", "budget")],
        grain="year",
    ),
    Dataset(
        "outpatient_cost", ("mart_outpatient_cost",),
        f"""select c.month, {_names('c', facility=True, level=True)},
  c.visits, c.total_fee::double as total_fee, c.drug_fee::double as drug_fee, c.insurance_paid::double as insurance_paid,
  -- growth compares only the facility-months that have the same month a year earlier
  case when c.visits_last_year is not null then c.visits end as visits_matched,
  case when c.visits_last_year is not null then c.total_fee::double end as total_fee_matched,
  c.visits_last_year, c.total_fee_last_year::double as total_fee_last_year
from marts.mart_outpatient_cost c
left join dims.dim_facility f on f.facility_code = c.facility_code
{_district_join('c')}""",
        [("month", D, "月份"), *FAC, *GEO, ("visits", I, "门诊人次"), ("total_fee", F, "门诊总费用（元）"),
         ("drug_fee", F, "药品费用（元）"), ("insurance_paid", F, "医保支付（元）"),
         ("visits_matched", I, "可比月份门诊人次"), ("total_fee_matched", F, "可比月份门诊费用（元）"),
         ("visits_last_year", I, "上年同期门诊人次"), ("total_fee_last_year", F, "上年同期门诊费用（元）")],
        [ratio("avg_fee_per_visit", "SUM(total_fee) / NULLIF(SUM(visits), 0)", ("total_fee", "visits"), fmt=",.1f"),
         ratio("avg_drug_fee_per_visit", "SUM(drug_fee) / NULLIF(SUM(visits), 0)", ("drug_fee", "visits"),
               fmt=",.1f"),
         rate("insurance_share", "insurance_paid", "total_fee"),
         ratio("avg_fee_matched", "SUM(total_fee_matched) / NULLIF(SUM(visits_matched), 0)",
               ("total_fee_matched", "visits_matched"), "可比月份门诊次均费用", ",.1f"),
         ratio("avg_fee_per_visit_last_year", "SUM(total_fee_last_year) / NULLIF(SUM(visits_last_year), 0)",
               ("total_fee_last_year", "visits_last_year"), fmt=",.1f"),
         ratio("avg_fee_growth",
               "(SUM(total_fee_matched) / NULLIF(SUM(visits_matched), 0))"
               " / NULLIF(SUM(total_fee_last_year) / NULLIF(SUM(visits_last_year), 0), 0) - 1",
               ("avg_fee_matched", "avg_fee_per_visit_last_year"))],
    ),
    Dataset(
        "outpatient_visits", ("mart_outpatient_visits",),
        f"""select o.month, {_names('o', facility=True, level=True)},
  o.visits, o.outpatient_visits, o.emergency_visits, o.home_visits,
  -- year-on-year growth compares only the facility-months that have the same month a year earlier
  case when o.visits_same_month_last_year is not null then o.visits end as visits_matched,
  o.visits_same_month_last_year
from marts.mart_outpatient_visits o
left join dims.dim_facility f on f.facility_code = o.facility_code
{_district_join('o')}""",
        [("month", D, "月份"), *FAC, *GEO, ("visits", I, "门急诊人次"), ("outpatient_visits", I, "门诊人次"),
         ("emergency_visits", I, "急诊人次"), ("home_visits", I, "出诊人次"),
         ("visits_matched", I, "可比月份门急诊人次"), ("visits_same_month_last_year", I, "上年同期门急诊人次")],
        [ratio("outpatient_yoy_growth",
               "SUM(visits_matched) / NULLIF(SUM(visits_same_month_last_year), 0) - 1",
               ("visits_matched", "visits_same_month_last_year"))],
    ),
    Dataset(
        "disease_rank", ("mart_outpatient_disease",),
        f"""select o.month, o.level_group, {LEVEL_NAME.format(c='o.level_group')} as level_name, o.icd10_category,
  {DISEASE_NAME.format(c='o')} as disease_name, o.chapter_title_zh, o.visits
from marts.mart_outpatient_disease o""",
        [("month", D, "统计期末月份"), ("level_group", V, "级别分组"), ("level_name", V, "机构级别"),
         ("icd10_category", V, "ICD-10类目"), ("disease_name", V, "疾病"), ("chapter_title_zh", V, "疾病章节"),
         ("range_label", V, "统计期"), ("as_of_label", V, "时点"), ("visits", I, "门诊人次"), ("level_visits", I, "该级别门诊人次"), ("share_of_visits", F, "构成比"),
         ("rank", I, "级别内排名")],
        [rate("disease_share_of_visits", "visits", "level_visits", "构成比")],
        # the range's visits per level group and category, ranked within the level group
        post="""select max(month) as month, level_group, level_name, icd10_category, disease_name, chapter_title_zh,
  any_value(range_label) as range_label, any_value(as_of_label) as as_of_label, sum(visits) as visits, sum(sum(visits)) over (partition by level_group) as level_visits,
  sum(visits) / sum(sum(visits)) over (partition by level_group) as share_of_visits,
  rank() over (partition by level_group order by sum(visits) desc) as rank
from {f} as f
group by level_group, level_name, icd10_category, disease_name, chapter_title_zh""",
        not_additive=("share_of_visits", "rank"),
    ),
    Dataset(
        "disease_cost", ("mart_disease_cost",),
        f"""select {_year_cols('c')},
  case c.setting when 'outpatient' then '门诊' when 'inpatient' then '住院' else c.setting end as setting_name,
  c.icd10_category, {DISEASE_NAME.format(c='c')} as disease_name, c.chapter_title_zh,
  c.episodes, c.patients, c.total_fee::double as total_fee, c.insurance_paid::double as insurance_paid
from marts.mart_disease_cost c""",
        [*YEAR, ("setting_name", V, "就诊类型"), ("icd10_category", V, "ICD-10类目"), ("disease_name", V, "疾病"),
         ("chapter_title_zh", V, "疾病章节"), ("episodes", I, "例数"), ("patients", I, "患者数"),
         ("total_fee", F, "总费用（元）"), ("insurance_paid", F, "医保支付（元）")],
        [ratio("avg_fee_per_episode", "SUM(total_fee) / NULLIF(SUM(episodes), 0)", ("total_fee", "episodes"),
               fmt=",.0f"),
         ratio("cost_per_patient", "SUM(total_fee) / NULLIF(SUM(patients), 0)", ("total_fee", "patients"),
               fmt=",.0f")],
        grain="year",
    ),
    Dataset(
        "medication", ("mart_medication_management",),
        f"""select m.month, {_names('m', facility=True, level=True)},
  m.visits_with_rx, m.antibiotic_visits, m.rx_amount::double as rx_amount,
  m.essential_amount::double as essential_amount, m.vbp_amount::double as vbp_amount,
  m.rx_lines, m.prescriptions, m.long_rx_lines, m.extended_rx_lines, m.drug_fee::double as drug_fee,
  m.total_fee::double as total_fee
from marts.mart_medication_management m
left join dims.dim_facility f on f.facility_code = m.facility_code
{_district_join('m')}""",
        [("month", D, "月份"), *FAC, *GEO, ("visits_with_rx", I, "有处方人次"),
         ("antibiotic_visits", I, "使用抗菌药物人次"), ("rx_amount", F, "处方金额（元）"),
         ("essential_amount", F, "基本药物金额（元）"), ("vbp_amount", F, "集采药品金额（元）"),
         ("rx_lines", I, "处方药品条目"), ("prescriptions", I, "处方数"), ("long_rx_lines", I, "长处方条目"),
         ("extended_rx_lines", I, "延伸处方条目"), ("drug_fee", F, "门诊药品费（元）"),
         ("total_fee", F, "门诊总费用（元）")],
        [rate("antibiotic_rx_rate", "antibiotic_visits", "visits_with_rx"),
         rate("essential_amount_share", "essential_amount", "rx_amount"),
         rate("vbp_amount_share", "vbp_amount", "rx_amount"),
         rate("long_rx_share", "long_rx_lines", "rx_lines"),
         rate("extended_rx_share", "extended_rx_lines", "rx_lines"),
         ratio("avg_lines_per_prescription", "SUM(rx_lines) / NULLIF(SUM(prescriptions), 0)",
               ("rx_lines", "prescriptions"), fmt=".2f"),
         rate("drug_fee_share", "drug_fee", "total_fee")],
    ),
    Dataset(
        "drug_usage", ("mart_drug_usage",),
        """select u.month, u.facility_code, coalesce(f.facility_name, u.facility_code) as facility_name,
  f.district_code, coalesce(f.district_name, f.district_code) as district_name,
  u.drug_code, coalesce(u.generic_name, u.drug_code) as drug_name, u.atc_code,
  case when u.is_antibiotic then '抗菌药物' else '非抗菌药物' end as antibiotic_flag,
  case when u.is_essential then '基本药物' else '非基本药物' end as essential_flag,
  case when u.is_vbp then '集采中选' else '非集采' end as vbp_flag,
  u.prescription_lines, u.quantity, u.amount::double as amount
from marts.mart_drug_usage u
left join dims.dim_facility f on f.facility_code = u.facility_code""",
        [("month", D, "月份"), ("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), *GEO,
         ("drug_code", V, "药品编码"), ("drug_name", V, "药品通用名"), ("atc_code", V, "ATC编码"),
         ("antibiotic_flag", V, "抗菌药物"), ("essential_flag", V, "基本药物"), ("vbp_flag", V, "集采"),
         ("prescription_lines", I, "处方条目"), ("quantity", F, "数量"), ("amount", F, "金额（元）")],
    ),
    Dataset(
        "beds", ("mart_bed_utilization",),
        f"""select b.month, {_names('b', facility=True, level=True)},
  b.census_days, b.open_bed_days, b.occupied_bed_days, b.avg_open_beds, b.discharges, b.discharged_bed_days
from marts.mart_bed_utilization b
left join dims.dim_facility f on f.facility_code = b.facility_code
{_district_join('b')}""",
        [("month", D, "月份"), *FAC, *GEO, ("census_days", I, "有床位日报的天数"),
         ("open_bed_days", I, "实际开放总床日数"), ("occupied_bed_days", I, "实际占用总床日数"),
         ("avg_open_beds", F, "平均开放病床数"), ("discharges", I, "出院人数"),
         ("discharged_bed_days", I, "出院者占用总床日数")],
        [rate("bed_utilization_rate", "occupied_bed_days", "open_bed_days"),
         ratio("avg_length_of_stay", "SUM(discharged_bed_days) / NULLIF(SUM(discharges), 0)",
               ("discharged_bed_days", "discharges"), fmt=".1f"),
         # turnover over the range: its discharges over the open beds at the range's end
         ratio("bed_turnover", "SUM(discharges) / NULLIF(SUM(avg_open_beds), 0)",
               ("discharges", "avg_open_beds"), fmt=".2f"),
         total("avg_open_beds", "SUM(avg_open_beds)", "平均开放病床数", ",.1f")],
        rls=True,
    ),
    Dataset(
        "referrals", ("mart_referrals",),
        f"""select r.month, {_names('r', facility=True, level=True)},
  r.up_out, r.down_out, r.up_in, r.down_in, r.referrals_sent, r.arrived_out, r.family_doctor_out,
  r.priority_slot_out, r.outpatient_visits
from marts.mart_referrals r
left join dims.dim_facility f on f.facility_code = r.facility_code
{_district_join('r')}""",
        [("month", D, "月份"), *FAC, *GEO, ("up_out", I, "上转（转出）"), ("down_out", I, "下转（转出）"),
         ("up_in", I, "上转（转入）"), ("down_in", I, "下转（转入）"), ("referrals_sent", I, "发起转诊总数"),
         ("arrived_out", I, "转出到达数"), ("family_doctor_out", I, "家庭医生发起"),
         ("priority_slot_out", I, "使用预留号源"), ("outpatient_visits", I, "门诊人次")],
        [ratio("down_share", "SUM(down_out) / NULLIF(SUM(up_out) + SUM(down_out), 0)",
               ("down_out", "directional_out")),
         total("directional_out", "SUM(up_out) + SUM(down_out)", "上转与下转（转出）"),
         rate("arrival_rate", "arrived_out", "referrals_sent"),
         rate("family_doctor_share", "family_doctor_out", "referrals_sent"),
         rate("priority_slot_share", "priority_slot_out", "referrals_sent"),
         rate("referral_rate", "referrals_sent", "outpatient_visits", fmt=".2%")],
        rls=True,
    ),
    Dataset(
        "delivery_quality", ("mart_delivery_quality",),
        f"""select date_trunc('month', q.business_date)::date as month, q.business_date,
  {_names('q', facility=True)}, {FACILITY_TYPE_NAME.format(c='q.facility_type')} as facility_type_name,
  q.expected, q.delivered, q.on_time, q.rows_loaded, q.rows_quarantined, q.files_rejected
from marts.mart_delivery_quality q
left join dims.dim_facility f on f.facility_code = q.facility_code
{_district_join('q')}""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), ("facility_code", V, "机构编码"),
         ("facility_name", V, "医疗机构"), *GEO, ("facility_type_name", V, "机构类型"),
         ("expected", I, "应报机构日数"), ("delivered", I, "实报机构日数"), ("on_time", I, "按时上报机构日数"),
         ("rows_loaded", I, "入库行数"), ("rows_quarantined", I, "隔离行数"), ("files_rejected", I, "拒收文件数")],
        [rate("delivery_completeness_rate", "delivered", "expected"),
         rate("delivery_timeliness_rate", "on_time", "expected"),
         ratio("delivery_quarantine_rate", "SUM(rows_quarantined) / NULLIF(SUM(rows_loaded) + SUM(rows_quarantined), 0)",
               ("rows_quarantined", "rows_received"), fmt=".2%"),
         total("rows_received", "SUM(rows_loaded) + SUM(rows_quarantined)", "接收行数")],
    ),
    Dataset(
        "quarantine_reasons", ("mart_delivery_quality",),
        f"""select date_trunc('month', u.business_date)::date as month, u.business_date, u.district_code,
  coalesce(d.district_name, u.district_code) as district_name, u.facility_code,
  coalesce(f.facility_name, u.facility_code) as facility_name,
  case replace(u.reason, 'q_', '')
    when 'bad_encoding' then '编码错误' when 'missing_column' then '缺少列' when 'type_error' then '类型错误'
    when 'missing_required' then '必填项缺失' when 'unknown_facility' then '未知机构' when 'unknown_team' then '未知团队'
    when 'unknown_drug' then '未知药品' when 'bad_icd10' then 'ICD-10编码错误' when 'bad_id_checksum' then '身份证校验位错误'
    when 'id_birthdate_mismatch' then '身份证与出生日期不符' when 'future_date' then '未来日期'
    when 'negative_amount' then '金额为负' when 'fee_mismatch' then '费用不平衡' when 'bad_enum' then '枚举值错误'
    when 'bad_direction' then '转诊方向错误' when 'duplicate_key' then '主键重复' when 'orphan_row' then '孤立记录'
    when 'out_of_range' then '数值越界' when 'row_count_mismatch' then '行数不符' when 'checksum_mismatch' then '校验和不符'
    when 'bad_identifier' then '标识符格式错误' when 'personal_data' then '疑似个人信息' when 'symlink' then '符号链接'
    else replace(u.reason, 'q_', '') end as reason_name,
  u.quarantined_rows
from (
  unpivot (select business_date, district_code, facility_code, columns('^q_') from marts.mart_delivery_quality)
  on columns('^q_') into name reason value quarantined_rows
) u
{_district_join('u')}
left join dims.dim_facility f on f.facility_code = u.facility_code""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), *GEO, ("facility_code", V, "机构编码"),
         ("facility_name", V, "医疗机构"), ("reason_name", V, "隔离原因"), ("quarantined_rows", I, "隔离行数")],
    ),
    Dataset(
        "validation_runs", ("audit.validation_results",),
        f"""select date_trunc('month', v.business_date)::date as month, v.business_date,
  {LAYER_NAME.format(c='v.layer')} as layer_name, v.evaluated, v.evaluated - v.failed as passed, v.failed,
  v.errored, v.warnings, v.outliers, v.suites, v.failed_checks
from ({LATEST_RUNS}) v""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), ("layer_name", V, "校验层"),
         ("evaluated", I, "已评估期望数"), ("passed", I, "通过期望数"), ("failed", I, "未通过（错误级）"),
         ("errored", I, "执行出错"), ("warnings", I, "警告"), ("outliers", I, "异常波动机构"),
         ("suites", I, "校验套件数"), ("failed_checks", V, "未通过检查项")],
        [rate("gx_pass_rate", "passed", "evaluated", "期望通过率", ".2%")],
    ),
    Dataset(
        "validation_categories", ("audit.validation_failures",),
        f"""select date_trunc('month', r.business_date)::date as month, r.business_date,
  {LAYER_NAME.format(c='r.layer')} as layer_name, {CATEGORY_NAME.format(c='c.category')} as category_name,
  count(f.check_id) filter (where f.severity = 'error') as failed,
  count(f.check_id) filter (where f.severity = 'warning') as warnings
from ({LATEST_RUNS}) r
cross join (select unnest(['conformance', 'completeness', 'plausibility']) as category
            union select category from audit.validation_failures) c
left join audit.validation_failures f on f.business_date = r.business_date and f.layer = r.layer
  and f.recorded_at = r.recorded_at and f.category = c.category
group by all""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), ("layer_name", V, "校验层"),
         ("category_name", V, "质量类别"), ("failed", I, "未通过（错误级）"), ("warnings", I, "警告")],
        [total("not_passed", "SUM(failed) + SUM(warnings)", "未通过与警告期望数")],
    ),
    Dataset(
        "validation_failures", ("audit.validation_failures",),
        f"""select date_trunc('month', f.business_date)::date as month, f.business_date,
  {LAYER_NAME.format(c='f.layer')} as layer_name, f.suite, f.check_id,
  {CATEGORY_NAME.format(c='f.category')} as category_name,
  case f.severity when 'error' then '错误' when 'warning' then '警告' else f.severity end as severity_name,
  f.observed, coalesce(f.unexpected_count, 0) as unexpected_count
from audit.validation_failures f
join ({LATEST_RUNS}) r using (business_date, layer, recorded_at)""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), ("layer_name", V, "校验层"),
         ("suite", V, "校验套件"), ("check_id", V, "检查项"), ("category_name", V, "质量类别"),
         ("severity_name", V, "严重程度"), ("observed", V, "观测值"), ("unexpected_count", I, "异常行数")],
        [total("failing_days", "COUNT(DISTINCT business_date)", "未通过天数")],
    ),
]
# snapshot datasets: their trend variant, for charts with a time axis
DATASETS += [d.trend_variant() for d in DATASETS if d.rule == "snapshot"]
DS = {d.key: d for d in DATASETS}
