"""Source of the seven Superset dashboards; writes the YAML assets under ``dashboards/assets/``.

The committed YAML is what gets imported (``grassroots.superset.bundle``); this module is the
compact, reviewable definition it is generated from (``python -m grassroots.superset.authoring``
rewrites the YAML; a test checks the two agree).  UUIDs are uuid5 of a fixed namespace and each
object's key, so they never change between regenerations.

Conventions
* Datasets are virtual (SQL over the serving file): a mart joined to the name dimensions
  (``dims.*``), every one with a ``month`` date column so the month filter applies everywhere,
  and Chinese names in ``district_name`` / ``community_name`` / ``team_name`` / ``facility_name``.
  The GX history datasets read ``audit.validation_*`` (latest run per business date and layer).
* Rates are metrics ``SUM(num) / NULLIF(SUM(den), 0)``: any roll-up is a ratio of sums.
* Targets come from ``reference.metric_catalogue`` at query time (column ``target_<code>``,
  metric ``target_<code>`` = MAX), drawn as a second line next to the rate.
* Chinese names of metrics come from the catalogue seed (``name_zh``).
"""

from __future__ import annotations

import csv
import json
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dashboards" / "assets"
CATALOGUE_CSV = ROOT / "dbt" / "seeds" / "metric_catalogue.csv"
NS = uuid.UUID("6f1c2a52-0d7e-4b8e-9a51-3f0c6e1d2b77")
DATABASE_NAME = "grassroots_serving"
DATABASE_URI_PLACEHOLDER = "duckdb:///{{SERVING_PATH}}"


def uid(kind: str, key: str) -> str:
    return str(uuid.uuid5(NS, f"{kind}:{key}"))


def _catalogue() -> dict[str, dict[str, str]]:
    with CATALOGUE_CSV.open(encoding="utf-8") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


CAT = _catalogue()


def zh(code: str, fallback: str | None = None) -> str:
    return CAT[code]["name_zh"] if code in CAT else (fallback or code)


LEVEL_NAME = (
    "case {c} when 'grassroots' then '基层医疗卫生机构' when 'level_1' then '一级医院'"
    " when 'level_2' then '二级医院' when 'level_3' then '三级医院' else '未定级医院' end"
)


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


def target_col(code: str) -> str:
    return (
        f"(select max(target) from reference.metric_catalogue where code = '{code}') as target_{code}"
    )


# --------------------------------------------------------------------------------------------
# datasets


@dataclass
class Dataset:
    key: str
    sql: str
    columns: list[tuple[str, str, str]]  # name, type, Chinese label
    metrics: list[tuple[str, str, str, str]] = field(default_factory=list)  # name, expr, label, fmt
    rls: bool = False  # hospital-operations dataset: row-level security by facility_code

    @property
    def uuid(self) -> str:
        return uid("dataset", self.key)

    def has(self, col: str) -> bool:
        return any(c[0] == col for c in self.columns)


def rate(name: str, num: str, den: str, label: str | None = None, fmt: str = ".1%"):
    return (name, f"SUM({num}) / NULLIF(SUM({den}), 0)", label or zh(name), fmt)


def total(col: str, label: str, fmt: str = ",d"):
    return (col, f"SUM({col})", label, fmt)


def target(code: str):
    return (f"target_{code}", f"MAX(target_{code})", f"目标：{zh(code)}", ".1%")


D, V, I, F = "DATE", "VARCHAR", "BIGINT", "DOUBLE"  # noqa: E741
GEO = [("district_code", V, "区县编码"), ("district_name", V, "区县")]
FAC = [("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), ("level_name", V, "机构级别")]

DATASETS: list[Dataset] = [
    Dataset(
        "grassroots_visits",
        f"""select g.month, g.district_code, coalesce(d.district_name, g.district_code) as district_name,
  g.total_visits, g.grassroots_visits, g.signed_visits, g.signed_grassroots_visits,
  g.unsigned_visits, g.unsigned_grassroots_visits, g.in_county_visits, g.county_resident_visits,
  {target_col('grassroots_share')}, {target_col('in_county_rate')}
from marts.mart_grassroots_visits g
left join dims.dim_district d on d.district_code = g.district_code""",
        [("month", D, "月份"), *GEO, ("total_visits", I, "总诊疗人次"), ("grassroots_visits", I, "基层诊疗人次"),
         ("signed_visits", I, "签约居民诊疗人次"), ("signed_grassroots_visits", I, "签约居民基层诊疗人次"),
         ("unsigned_visits", I, "未签约居民诊疗人次"), ("unsigned_grassroots_visits", I, "未签约居民基层诊疗人次"),
         ("in_county_visits", I, "县域内就诊人次"), ("county_resident_visits", I, "本县居民就诊人次"),
         ("target_grassroots_share", F, "目标：基层诊疗量占比"), ("target_in_county_rate", F, "目标：县域内就诊率")],
        [rate("grassroots_share", "grassroots_visits", "total_visits"),
         rate("signed_grassroots_share", "signed_grassroots_visits", "signed_visits"),
         rate("unsigned_grassroots_share", "unsigned_grassroots_visits", "unsigned_visits"),
         rate("in_county_rate", "in_county_visits", "county_resident_visits"),
         total("total_visits", "总诊疗人次"), total("grassroots_visits", "基层诊疗人次"),
         target("grassroots_share"), target("in_county_rate")],
    ),
    Dataset(
        "signing_community",
        f"""select date_trunc('month', s.as_of_date)::date as month, s.as_of_date, s.region_code,
  coalesce(r.community_name, s.region_code) as community_name, s.district_code,
  coalesce(d.district_name, s.district_code) as district_name,
  s.population, s.signed_residents, s.key_population, s.key_signed, s.population_65plus, s.signed_65plus,
  s.hypertension_patients, s.signed_hypertension, s.diabetes_patients, s.signed_diabetes,
  s.combo_111_signed, s.contracts_ending, s.renewals,
  {target_col('signing_rate')}, {target_col('key_signing_rate')}
from marts.mart_signing_coverage_by_community s
left join dims.dim_region r on r.region_code = s.region_code
left join dims.dim_district d on d.district_code = s.district_code""",
        [("month", D, "月份"), ("as_of_date", D, "月末日期"), ("region_code", V, "社区编码"),
         ("community_name", V, "社区"), *GEO, ("population", I, "常住人口"), ("signed_residents", I, "签约人数"),
         ("key_population", I, "重点人群人数"), ("key_signed", I, "重点人群签约人数"),
         ("population_65plus", I, "65岁及以上人口"), ("signed_65plus", I, "65岁及以上签约人数"),
         ("hypertension_patients", I, "高血压患者"), ("signed_hypertension", I, "高血压患者签约人数"),
         ("diabetes_patients", I, "糖尿病患者"), ("signed_diabetes", I, "糖尿病患者签约人数"),
         ("combo_111_signed", I, "1+1+1签约人数"), ("contracts_ending", I, "到期合同数"), ("renewals", I, "续约数"),
         ("target_signing_rate", F, "目标：签约覆盖率"), ("target_key_signing_rate", F, "目标：重点人群签约覆盖率")],
        [rate("signing_rate", "signed_residents", "population"),
         rate("key_signing_rate", "key_signed", "key_population"),
         rate("signing_rate_65plus", "signed_65plus", "population_65plus"),
         rate("signing_rate_hypertension", "signed_hypertension", "hypertension_patients"),
         rate("signing_rate_diabetes", "signed_diabetes", "diabetes_patients"),
         rate("combo_111_share", "combo_111_signed", "signed_residents"),
         rate("renewal_rate", "renewals", "contracts_ending"),
         total("signed_residents", "签约人数"),
         target("signing_rate"), target("key_signing_rate")],
    ),
    Dataset(
        "signing_team",
        """select date_trunc('month', s.as_of_date)::date as month, s.as_of_date, s.team_code,
  coalesce(t.team_name, s.team_code) as team_name, coalesce(r.community_name, s.region_code) as community_name,
  s.district_code, coalesce(d.district_name, s.district_code) as district_name,
  s.signed_residents, s.key_signed, s.signed_65plus, s.signed_0_6, s.signed_hypertension, s.signed_diabetes,
  s.combo_111_signed, s.package_free, s.package_basic, s.package_personalized, s.package_checkup,
  s.contracts_ending, s.renewals
from marts.mart_signing_coverage s
left join dims.dim_team t on t.team_code = s.team_code
left join dims.dim_region r on r.region_code = s.region_code
left join dims.dim_district d on d.district_code = s.district_code
where s.team_code <> 'none'""",
        [("month", D, "月份"), ("as_of_date", D, "月末日期"), ("team_code", V, "团队编码"), ("team_name", V, "家庭医生团队"),
         ("community_name", V, "社区"), *GEO, ("signed_residents", I, "签约人数"), ("key_signed", I, "重点人群签约"),
         ("signed_65plus", I, "65岁及以上"), ("signed_0_6", I, "0-6岁儿童"), ("signed_hypertension", I, "高血压患者"),
         ("signed_diabetes", I, "糖尿病患者"), ("combo_111_signed", I, "1+1+1组合签约"),
         ("package_free", I, "免费包"), ("package_basic", I, "基础包"), ("package_personalized", I, "个性化包"),
         ("package_checkup", I, "体检包"), ("contracts_ending", I, "到期合同数"), ("renewals", I, "续约数")],
        [total("signed_residents", "签约人数"), total("key_signed", "重点人群签约人数"),
         total("signed_65plus", "65岁及以上"), total("signed_0_6", "0-6岁儿童"),
         total("signed_hypertension", "高血压患者"), total("signed_diabetes", "糖尿病患者"),
         total("package_free", "免费包"), total("package_basic", "基础包"),
         total("package_personalized", "个性化包"), total("package_checkup", "体检包"),
         rate("combo_111_share", "combo_111_signed", "signed_residents"),
         rate("renewal_rate", "renewals", "contracts_ending")],
    ),
    Dataset(
        "chronic_team",
        """select make_date(f.year, 1, 1) as month, f.year, f.disease, f.team_code,
  coalesce(t.team_name, f.team_code) as team_name, f.facility_code,
  coalesce(fc.facility_name, f.facility_code) as facility_name, fc.district_code,
  coalesce(fc.district_name, fc.district_code) as district_name,
  f.managed_patients, f.standard_managed, f.controlled, f.managed_65plus, f.followups, f.face_to_face_followups,
  (select max(target) from reference.metric_catalogue where code = 'htn_standard_mgmt_rate') as target_standard_mgmt_rate,
  (select max(target) from reference.metric_catalogue where code = 'htn_control_rate') as target_control_rate
from (
  select *, '高血压' as disease from marts.mart_hypertension_followup
  union all by name
  select *, '糖尿病' as disease from marts.mart_diabetes_followup
) f
left join dims.dim_team t on t.team_code = f.team_code
left join dims.dim_facility fc on fc.facility_code = f.facility_code""",
        [("month", D, "年度"), ("year", I, "年份"), ("disease", V, "病种"), ("team_code", V, "团队编码"),
         ("team_name", V, "家庭医生团队"), ("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), *GEO,
         ("managed_patients", I, "管理人数"), ("standard_managed", I, "规范管理人数"), ("controlled", I, "控制达标人数"),
         ("managed_65plus", I, "65岁及以上管理人数"), ("followups", I, "随访次数"),
         ("face_to_face_followups", I, "面对面随访次数"),
         ("target_standard_mgmt_rate", F, "目标：规范管理率"), ("target_control_rate", F, "目标：控制率")],
        [rate("standard_mgmt_rate", "standard_managed", "managed_patients", "规范管理率"),
         rate("control_rate", "controlled", "managed_patients", "控制率"),
         total("managed_patients", "管理人数"),
         ("target_standard_mgmt_rate", "MAX(target_standard_mgmt_rate)", "目标：规范管理率", ".1%"),
         ("target_control_rate", "MAX(target_control_rate)", "目标：控制率", ".1%")],
    ),
    Dataset(
        "chronic_community",
        """select make_date(f.year, 1, 1) as month, f.year, f.disease, f.region_code,
  coalesce(r.community_name, f.region_code) as community_name, f.district_code,
  coalesce(d.district_name, f.district_code) as district_name,
  f.registered_patients, f.managed_patients, f.standard_managed, f.controlled
from (
  select *, '高血压' as disease from marts.mart_hypertension_followup_by_community
  union all by name
  select *, '糖尿病' as disease from marts.mart_diabetes_followup_by_community
) f
left join dims.dim_region r on r.region_code = f.region_code
left join dims.dim_district d on d.district_code = f.district_code""",
        [("month", D, "年度"), ("year", I, "年份"), ("disease", V, "病种"), ("region_code", V, "社区编码"),
         ("community_name", V, "社区"), *GEO, ("registered_patients", I, "登记患者"), ("managed_patients", I, "管理人数"),
         ("standard_managed", I, "规范管理人数"), ("controlled", I, "控制达标人数")],
        [rate("managed_share", "managed_patients", "registered_patients", "随访覆盖率"),
         rate("standard_mgmt_rate", "standard_managed", "managed_patients", "规范管理率"),
         rate("control_rate", "controlled", "managed_patients", "控制率"),
         total("registered_patients", "登记患者"), total("managed_patients", "管理人数")],
    ),
    Dataset(
        "chronic_settlement",
        """select make_date(s.year, 1, 1) as month, s.year,
  case s.disease when 'hypertension' then '高血压' when 'diabetes' then '糖尿病' else s.disease end as disease,
  s.facility_code, coalesce(f.facility_name, s.facility_code) as facility_name, f.district_code,
  coalesce(f.district_name, f.district_code) as district_name,
  s.patients, s.budget, s.tier_full, s.tier_partial, s.tier_none, s.payable
from marts.mart_chronic_settlement s
left join dims.dim_facility f on f.facility_code = s.facility_code""",
        [("month", D, "年度"), ("year", I, "年份"), ("disease", V, "病种"), ("facility_code", V, "机构编码"),
         ("facility_name", V, "医疗机构"), *GEO, ("patients", I, "签约慢病患者"), ("budget", F, "预算（元）"),
         ("tier_full", I, "全额支付人数"), ("tier_partial", I, "部分支付人数"), ("tier_none", I, "不支付人数"),
         ("payable", F, "应付金额（元）")],
        [rate("settlement_full_tier_rate", "tier_full", "patients"),
         rate("settlement_payable_share", "payable", "budget"),
         total("payable", "应付金额（元）", ",.0f"), total("budget", "预算（元）", ",.0f"),
         total("tier_full", "全额支付人数"), total("tier_partial", "部分支付人数"), total("tier_none", "不支付人数")],
    ),
    Dataset(
        "outpatient_cost",
        f"""select c.month, c.facility_code, coalesce(f.facility_name, c.facility_code) as facility_name,
  {LEVEL_NAME.format(c='c.level_group')} as level_name, c.district_code,
  coalesce(d.district_name, c.district_code) as district_name,
  c.visits, c.total_fee, c.drug_fee, c.exam_fee, c.insurance_paid, c.self_paid,
  c.visits_last_year, c.total_fee_last_year
from marts.mart_outpatient_cost c
left join dims.dim_facility f on f.facility_code = c.facility_code
left join dims.dim_district d on d.district_code = c.district_code""",
        [("month", D, "月份"), *FAC, *GEO, ("visits", I, "门诊人次"), ("total_fee", F, "门诊总费用"),
         ("drug_fee", F, "药品费用"), ("exam_fee", F, "检查费用"), ("insurance_paid", F, "医保支付"),
         ("self_paid", F, "个人支付"), ("visits_last_year", I, "去年同期人次"), ("total_fee_last_year", F, "去年同期费用")],
        [("avg_fee_per_visit", "SUM(total_fee) / NULLIF(SUM(visits), 0)", zh("avg_fee_per_visit"), ",.1f"),
         ("avg_drug_fee_per_visit", "SUM(drug_fee) / NULLIF(SUM(visits), 0)", zh("avg_drug_fee_per_visit"), ",.1f"),
         ("avg_fee_per_visit_last_year", "SUM(total_fee_last_year) / NULLIF(SUM(visits_last_year), 0)",
          "去年同期次均费用", ",.1f"),
         ("avg_fee_growth",
          "(SUM(total_fee) / NULLIF(SUM(visits), 0)) / NULLIF(SUM(total_fee_last_year) / NULLIF(SUM(visits_last_year), 0), 0) - 1",
          zh("avg_fee_growth"), ".1%"),
         rate("insurance_share", "insurance_paid", "total_fee"),
         total("visits", "门诊人次")],
    ),
    Dataset(
        "outpatient_disease",
        """select o.month, case o.facility_level when 3 then '三级' when 2 then '二级' when 1 then '一级'
    else '未定级' end as level_name, o.icd10_category,
  o.icd10_category || ' ' || coalesce(o.title_en, '') as disease_name, o.chapter_title_zh,
  o.visits, o.patients
from marts.mart_outpatient_disease o""",
        [("month", D, "月份"), ("level_name", V, "机构级别"), ("icd10_category", V, "ICD-10类目"),
         ("disease_name", V, "疾病"), ("chapter_title_zh", V, "疾病章节"), ("visits", I, "门诊人次"),
         ("patients", I, "患者数")],
        [total("visits", "门诊人次"), total("patients", "患者数")],
    ),
    Dataset(
        "disease_cost",
        """select make_date(c.year, 1, 1) as month, c.year,
  case c.setting when 'outpatient' then '门诊' when 'inpatient' then '住院' else c.setting end as setting_name,
  c.icd10_category, c.icd10_category || ' ' || coalesce(c.title_en, '') as disease_name, c.chapter_title_zh,
  c.episodes, c.patients, c.total_fee, c.insurance_paid, c.self_paid
from marts.mart_disease_cost c""",
        [("month", D, "年度"), ("year", I, "年份"), ("setting_name", V, "就诊类型"), ("icd10_category", V, "ICD-10类目"),
         ("disease_name", V, "疾病"), ("chapter_title_zh", V, "疾病章节"), ("episodes", I, "例数"),
         ("patients", I, "患者数"), ("total_fee", F, "总费用"), ("insurance_paid", F, "医保支付"), ("self_paid", F, "个人支付")],
        [("avg_fee_per_episode", "SUM(total_fee) / NULLIF(SUM(episodes), 0)", zh("avg_fee_per_episode"), ",.0f"),
         ("cost_per_patient", "SUM(total_fee) / NULLIF(SUM(patients), 0)", zh("cost_per_patient"), ",.0f"),
         total("total_fee", "总费用（元）", ",.0f"), total("episodes", "例数")],
    ),
    Dataset(
        "medication",
        f"""select m.month, m.facility_code, coalesce(f.facility_name, m.facility_code) as facility_name,
  {LEVEL_NAME.format(c='m.level_group')} as level_name, m.district_code,
  coalesce(d.district_name, m.district_code) as district_name,
  m.visits, m.visits_with_rx, m.antibiotic_visits, m.rx_amount, m.essential_amount, m.vbp_amount,
  m.rx_lines, m.prescriptions, m.long_rx_lines, m.extended_rx_lines, m.drug_fee, m.total_fee,
  {target_col('antibiotic_rx_rate')}, {target_col('essential_amount_share')}
from marts.mart_medication_management m
left join dims.dim_facility f on f.facility_code = m.facility_code
left join dims.dim_district d on d.district_code = m.district_code""",
        [("month", D, "月份"), *FAC, *GEO, ("visits", I, "门诊人次"), ("visits_with_rx", I, "有处方人次"),
         ("antibiotic_visits", I, "使用抗菌药物人次"), ("rx_amount", F, "处方金额"), ("essential_amount", F, "基本药物金额"),
         ("vbp_amount", F, "集采药品金额"), ("rx_lines", I, "处方药品条目"), ("prescriptions", I, "处方数"),
         ("long_rx_lines", I, "长处方条目"), ("extended_rx_lines", I, "延伸处方条目"), ("drug_fee", F, "药品费"),
         ("total_fee", F, "门诊总费用"),
         ("target_antibiotic_rx_rate", F, "目标：抗菌药物使用率"), ("target_essential_amount_share", F, "目标：基本药物占比")],
        [rate("antibiotic_rx_rate", "antibiotic_visits", "visits_with_rx"),
         rate("essential_amount_share", "essential_amount", "rx_amount"),
         rate("vbp_amount_share", "vbp_amount", "rx_amount"),
         rate("long_rx_share", "long_rx_lines", "rx_lines"),
         rate("extended_rx_share", "extended_rx_lines", "rx_lines"),
         ("avg_lines_per_prescription", "SUM(rx_lines) / NULLIF(SUM(prescriptions), 0)",
          zh("avg_lines_per_prescription"), ".2f"),
         rate("drug_fee_share", "drug_fee", "total_fee"),
         target("antibiotic_rx_rate"), target("essential_amount_share")],
    ),
    Dataset(
        "drug_usage",
        """select u.month, u.facility_code, coalesce(f.facility_name, u.facility_code) as facility_name,
  f.district_code, coalesce(f.district_name, f.district_code) as district_name,
  u.drug_code, coalesce(u.generic_name, u.drug_code) as drug_name, u.atc_code,
  case when u.is_antibiotic then '抗菌药物' else '非抗菌药物' end as antibiotic_flag,
  case when u.is_essential then '基本药物' else '非基本药物' end as essential_flag,
  case when u.is_vbp then '集采中选' else '非集采' end as vbp_flag,
  u.prescription_lines, u.quantity, u.amount
from marts.mart_drug_usage u
left join dims.dim_facility f on f.facility_code = u.facility_code""",
        [("month", D, "月份"), ("facility_code", V, "机构编码"), ("facility_name", V, "医疗机构"), *GEO,
         ("drug_code", V, "药品编码"), ("drug_name", V, "药品通用名"), ("atc_code", V, "ATC编码"),
         ("antibiotic_flag", V, "抗菌药物"), ("essential_flag", V, "基本药物"), ("vbp_flag", V, "集采"),
         ("prescription_lines", I, "处方条目"), ("quantity", F, "数量"), ("amount", F, "金额")],
        [total("amount", "金额（元）", ",.0f"), total("prescription_lines", "处方条目")],
    ),
    Dataset(
        "beds",
        f"""select b.month, b.facility_code, coalesce(f.facility_name, b.facility_code) as facility_name,
  {LEVEL_NAME.format(c='b.level_group')} as level_name, b.district_code,
  coalesce(d.district_name, b.district_code) as district_name, b.alliance_code,
  b.days_in_month, b.open_bed_days, b.occupied_bed_days, b.discharges, b.discharged_bed_days,
  {target_col('bed_utilization_rate')}, {target_col('avg_length_of_stay')}
from marts.mart_bed_utilization b
left join dims.dim_facility f on f.facility_code = b.facility_code
left join dims.dim_district d on d.district_code = b.district_code""",
        [("month", D, "月份"), *FAC, *GEO, ("alliance_code", V, "医联体"), ("days_in_month", I, "当月天数"),
         ("open_bed_days", I, "实际开放总床日数"), ("occupied_bed_days", I, "实际占用总床日数"),
         ("discharges", I, "出院人数"), ("discharged_bed_days", I, "出院者占用总床日数"),
         ("target_bed_utilization_rate", F, "目标：病床使用率"), ("target_avg_length_of_stay", F, "目标：平均住院日")],
        [rate("bed_utilization_rate", "occupied_bed_days", "open_bed_days"),
         ("avg_length_of_stay", "SUM(discharged_bed_days) / NULLIF(SUM(discharges), 0)", zh("avg_length_of_stay"), ".1f"),
         ("bed_turnover",
          "SUM(discharges) / NULLIF(SUM(open_bed_days) / NULLIF(SUM(days_in_month) / COUNT(DISTINCT facility_code), 0), 0)",
          zh("bed_turnover"), ".2f"),
         total("discharges", "出院人数"),
         target("bed_utilization_rate"),
         ("target_avg_length_of_stay", "MAX(target_avg_length_of_stay)", "目标：出院者平均住院日", ".1f")],
        rls=True,
    ),
    Dataset(
        "referrals",
        f"""select r.month, r.facility_code, coalesce(f.facility_name, r.facility_code) as facility_name,
  {LEVEL_NAME.format(c='r.level_group')} as level_name, r.district_code,
  coalesce(d.district_name, r.district_code) as district_name, r.alliance_code,
  r.up_out, r.down_out, r.up_in, r.down_in, r.referrals_sent, r.arrived_out, r.family_doctor_out,
  r.priority_slot_out, r.outpatient_visits
from marts.mart_referrals r
left join dims.dim_facility f on f.facility_code = r.facility_code
left join dims.dim_district d on d.district_code = r.district_code""",
        [("month", D, "月份"), *FAC, *GEO, ("alliance_code", V, "医联体"), ("up_out", I, "上转（转出）"),
         ("down_out", I, "下转（转出）"), ("up_in", I, "上转（转入）"), ("down_in", I, "下转（转入）"),
         ("referrals_sent", I, "转出总数"), ("arrived_out", I, "转出到达数"), ("family_doctor_out", I, "家庭医生发起"),
         ("priority_slot_out", I, "使用预留号源"), ("outpatient_visits", I, "门诊人次")],
        [("down_share", "SUM(down_out) / NULLIF(SUM(up_out) + SUM(down_out), 0)", zh("down_share"), ".1%"),
         rate("arrival_rate", "arrived_out", "referrals_sent"),
         rate("referral_rate", "referrals_sent", "outpatient_visits", fmt=".2%"),
         total("up_out", "上转（转出）"), total("down_out", "下转（转出）"),
         total("up_in", "上转（转入）"), total("down_in", "下转（转入）")],
        rls=True,
    ),
    Dataset(
        "delivery_quality",
        f"""select date_trunc('month', q.business_date)::date as month, q.business_date, q.district_code,
  coalesce(d.district_name, q.district_code) as district_name,
  q.expected, q.delivered, q.on_time, q.rows_loaded, q.rows_quarantined, q.files_rejected,
  {target_col('delivery_completeness_rate')}, {target_col('delivery_timeliness_rate')}
from marts.mart_delivery_quality_by_district q
left join dims.dim_district d on d.district_code = q.district_code""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), *GEO, ("expected", I, "应报机构数"),
         ("delivered", I, "实报机构数"), ("on_time", I, "按时上报数"), ("rows_loaded", I, "入库行数"),
         ("rows_quarantined", I, "隔离行数"), ("files_rejected", I, "拒收文件数"),
         ("target_delivery_completeness_rate", F, "目标：上报完整率"),
         ("target_delivery_timeliness_rate", F, "目标：上报及时率")],
        [rate("delivery_completeness_rate", "delivered", "expected"),
         rate("delivery_timeliness_rate", "on_time", "expected"),
         ("delivery_quarantine_rate", "SUM(rows_quarantined) / NULLIF(SUM(rows_loaded) + SUM(rows_quarantined), 0)",
          zh("delivery_quarantine_rate"), ".2%"),
         total("rows_quarantined", "隔离行数"), total("files_rejected", "拒收文件数"),
         target("delivery_completeness_rate"), target("delivery_timeliness_rate")],
    ),
    Dataset(
        "quarantine_reasons",
        """select date_trunc('month', u.business_date)::date as month, u.business_date, u.district_code,
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
    else replace(u.reason, 'q_', '') end as reason_name,
  u.quarantined_rows
from (
  unpivot (select business_date, district_code, facility_code, columns('^q_') from marts.mart_delivery_quality)
  on columns('^q_') into name reason value quarantined_rows
) u
left join dims.dim_district d on d.district_code = u.district_code
left join dims.dim_facility f on f.facility_code = u.facility_code""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), *GEO, ("facility_code", V, "机构编码"),
         ("facility_name", V, "医疗机构"), ("reason_name", V, "隔离原因"), ("quarantined_rows", I, "隔离行数")],
        [total("quarantined_rows", "隔离行数")],
    ),
    Dataset(
        "validation_runs",
        f"""select date_trunc('month', v.business_date)::date as month, v.business_date,
  {LAYER_NAME.format(c='v.layer')} as layer_name, v.evaluated, v.evaluated - v.failed as passed, v.failed,
  v.errored, v.warnings, v.outliers, v.suites, v.failed_checks
from ({LATEST_RUNS}) v""",
        [("month", D, "月份"), ("business_date", D, "业务日期"), ("layer_name", V, "校验层"),
         ("evaluated", I, "已评估期望数"), ("passed", I, "通过期望数"), ("failed", I, "未通过（错误级）"),
         ("errored", I, "执行出错"), ("warnings", I, "警告"), ("outliers", I, "异常波动机构"),
         ("suites", I, "校验套件数"), ("failed_checks", V, "未通过检查项")],
        [rate("gx_pass_rate", "passed", "evaluated", "期望通过率", ".2%"),
         total("failed", "未通过（错误级）"), total("warnings", "警告"), total("outliers", "异常波动机构"),
         total("evaluated", "已评估期望数")],
    ),
    Dataset(
        "validation_categories",
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
        [("not_passed", "SUM(failed) + SUM(warnings)", "未通过与警告期望数", ",d"),
         total("failed", "未通过（错误级）"), total("warnings", "警告")],
    ),
    Dataset(
        "validation_failures",
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
        [("failing_days", "COUNT(DISTINCT business_date)", "未通过天数", ",d"),
         total("unexpected_count", "异常行数")],
    ),
]
DS = {d.key: d for d in DATASETS}


# --------------------------------------------------------------------------------------------
# charts

_chart_ids = iter(range(1, 10_000))


@dataclass
class Chart:
    key: str
    title: str
    viz: str
    ds: str
    params: dict[str, Any]
    columns: list[Any]
    metrics: list[str]
    orderby: list[Any] = field(default_factory=list)
    row_limit: int = 1000
    width: int = 4
    height: int = 50
    description: str | None = None
    local_id: int = field(default_factory=lambda: next(_chart_ids))

    @property
    def uuid(self) -> str:
        return uid("chart", self.key)


def _axis(col: str, grain: str = "P1M") -> dict[str, Any]:
    return {"columnType": "BASE_AXIS", "expressionType": "SQL", "label": col, "sqlExpression": col,
            "timeGrain": grain}


def _time_filter(col: str = "month") -> dict[str, Any]:
    return {"clause": "WHERE", "comparator": "No filter", "expressionType": "SIMPLE",
            "operator": "TEMPORAL_RANGE", "subject": col}


def _where(col: str, val: str) -> dict[str, Any]:
    return {"clause": "WHERE", "comparator": val, "expressionType": "SIMPLE", "operator": "==",
            "subject": col}


def _base(viz: str, extra_filters: list[dict] | None = None, time_col: str = "month") -> dict[str, Any]:
    return {"viz_type": viz, "adhoc_filters": [_time_filter(time_col), *(extra_filters or [])],
            "extra_form_data": {}, "dashboards": []}


def big(key, title, ds, metric, fmt=".1%", filters=None, x="month", width=3, grain="P1M"):
    p = _base("big_number", filters, x) | {
        "metric": metric, "x_axis": x, "time_grain_sqla": grain, "y_axis_format": fmt,
        "show_trend_line": True, "start_y_axis_at_zero": True, "compare_lag": None,
        "compare_suffix": "", "header_font_size": 0.4, "subheader_font_size": 0.15,
        "rolling_type": "None", "time_format": "%Y-%m",
    }
    return Chart(key, title, "big_number", ds, p, [_axis(x, grain)], [metric], width=width, height=30)


def line(key, title, ds, metrics, fmt=".1%", groupby=None, filters=None, x="month", width=6, bar=False,
         grain="P1M", truncate_y=False):
    viz = "echarts_timeseries_bar" if bar else "echarts_timeseries_line"
    p = _base(viz, filters, x) | {
        "x_axis": x, "time_grain_sqla": grain, "metrics": metrics, "groupby": groupby or [],
        "y_axis_format": fmt, "x_axis_time_format": "%Y-%m" if grain == "P1M" else "%Y-%m-%d", "show_legend": True,
        "legendOrientation": "top", "legendType": "scroll", "rich_tooltip": True, "row_limit": 10000,
        "truncate_metric": True, "show_empty_columns": True, "markerEnabled": True, "markerSize": 4,
        "zoomable": False, "seriesType": "line", "order_desc": True, "comparison_type": "values",
        "annotation_layers": [], "y_axis_bounds": [None, None],
    }
    if bar:
        p |= {"orientation": "vertical", "stack": "Stack" if groupby else None}
    if truncate_y:  # the axis fits the data instead of starting at 0 (rates close to 100 %)
        p["truncateYAxis"] = True
    return Chart(key, title, viz, ds, p, [_axis(x, grain), *(groupby or [])], metrics, width=width)


def bar(key, title, ds, x, metrics, fmt=".1%", groupby=None, filters=None, horizontal=False,
        width=6, limit=50, height=50):
    p = _base("echarts_timeseries_bar", filters) | {
        "x_axis": x, "metrics": metrics, "groupby": groupby or [], "y_axis_format": fmt,
        "orientation": "horizontal" if horizontal else "vertical", "show_legend": True,
        "legendOrientation": "top", "legendType": "scroll", "rich_tooltip": True, "row_limit": limit,
        "x_axis_sort": metrics[0], "x_axis_sort_asc": horizontal, "x_axis_sort_series": "name",
        "x_axis_sort_series_ascending": True, "show_value": True, "only_total": True,
        "truncate_metric": True, "annotation_layers": [], "y_axis_bounds": [None, None],
        "order_desc": True, "sort_series_type": "sum", "xAxisLabelRotation": 0,
    }
    return Chart(key, title, "echarts_timeseries_bar", ds, p, [x, *(groupby or [])], metrics,
                 orderby=[[metrics[0], False]], row_limit=limit, width=width, height=height)


def heat(key, title, ds, x, y, metric, fmt=".1%", width=12, height=50, time_x=True):
    p = _base("heatmap_v2") | {
        "x_axis": x, "groupby": y, "metric": metric, "time_grain_sqla": "P1M" if time_x else None,
        "linear_color_scheme": "blue_white_yellow", "normalize_across": "heatmap",
        "show_legend": True, "show_values": True, "value_bounds": [None, None],
        "y_axis_format": fmt, "x_axis_time_format": "%Y-%m", "sort_x_axis": "alpha_asc",
        "sort_y_axis": "alpha_asc", "row_limit": 10000, "left_margin": "auto", "bottom_margin": "auto",
        "xscale_interval": -1, "yscale_interval": -1,
    }
    cols = [_axis(x) if time_x else x, y]
    return Chart(key, title, "heatmap_v2", ds, p, cols, [metric], width=width, height=height)


def table(key, title, ds, groupby, metrics, width=12, height=50, sort=None, limit=100, filters=None):
    p = _base("table", filters) | {
        "query_mode": "aggregate", "groupby": groupby, "metrics": metrics, "all_columns": [],
        "percent_metrics": [], "order_by_cols": [], "row_limit": limit, "server_page_length": 10,
        "order_desc": True, "table_timestamp_format": "%Y-%m", "show_cell_bars": True,
        "color_pn": True, "allow_rearrange_columns": False, "conditional_formatting": [],
        "timeseries_limit_metric": sort or metrics[0], "include_search": True,
    }
    return Chart(key, title, "table", ds, p, list(groupby), metrics,
                 orderby=[[sort or metrics[0], False]], row_limit=limit, width=width, height=height)


def pie(key, title, ds, groupby, metric, width=4):
    p = _base("pie") | {
        "groupby": [groupby], "metric": metric, "row_limit": 100, "sort_by_metric": True,
        "show_labels": True, "show_legend": True, "label_type": "key_percent", "number_format": "SMART_NUMBER",
        "donut": True, "innerRadius": 35, "outerRadius": 70, "labels_outside": True, "color_scheme": "supersetColors",
    }
    return Chart(key, title, "pie", ds, p, [groupby], [metric], orderby=[[metric, False]], width=width)


# --------------------------------------------------------------------------------------------
# dashboards


@dataclass
class Dashboard:
    key: str
    title: str
    slug: str
    intro: str
    rows: list[list[Chart]]
    filters: list[str]  # district, facility, month, team, community

    @property
    def uuid(self) -> str:
        return uid("dashboard", self.key)

    @property
    def charts(self) -> list[Chart]:
        return [c for row in self.rows for c in row]


FILTER_COLUMNS = {
    "district": ("区县", "district_name"),
    "community": ("社区", "community_name"),
    "facility": ("医疗机构", "facility_name"),
    "team": ("家庭医生团队", "team_name"),
    "disease": ("病种", "disease"),
}

DRILL = "下钻：在柱状图上右键选择“钻取”（Drill by）可从区县 → 社区 → 团队逐级查看；点击图形可交叉筛选。"

DASHBOARDS: list[Dashboard] = [
    Dashboard(
        "overview", "分级诊疗总览", "fenji-zhenliao",
        "面向卫健委：基层诊疗量占比（目标 ≥65%）、县域内就诊率、家庭医生签约与重点人群覆盖、双向转诊。"
        "比率均由分子、分母汇总后计算；目标线取自指标目录（metric_catalogue）。",
        [
            [big("ov_gs", zh("grassroots_share"), "grassroots_visits", "grassroots_share"),
             big("ov_ic", zh("in_county_rate"), "grassroots_visits", "in_county_rate"),
             big("ov_sr", zh("signing_rate"), "signing_community", "signing_rate"),
             big("ov_ks", zh("key_signing_rate"), "signing_community", "key_signing_rate")],
            [line("ov_gs_trend", "基层诊疗量占比趋势（对比 65% 目标）", "grassroots_visits",
                  ["grassroots_share", "target_grassroots_share"]),
             line("ov_ic_trend", "县域内就诊率趋势（对比目标）", "grassroots_visits",
                  ["in_county_rate", "target_in_county_rate"])],
            [bar("ov_gs_district", "各区县基层诊疗量占比", "grassroots_visits", "district_name",
                 ["grassroots_share", "target_grassroots_share"]),
             line("ov_ref_trend", "双向转诊：上转与下转（转出人次）", "referrals", ["up_out", "down_out"],
                  fmt=",d", bar=True)],
            [line("ov_signed_gs", "签约与未签约居民基层就诊率", "grassroots_visits",
                  ["signed_grassroots_share", "unsigned_grassroots_share"], width=6),
             line("ov_sign_trend", "签约覆盖率趋势（对比目标）", "signing_community",
                  ["signing_rate", "key_signing_rate", "target_signing_rate", "target_key_signing_rate"], width=6)],
            [heat("ov_heat", "区县 × 月份：基层诊疗量占比", "grassroots_visits", "month", "district_name",
                  "grassroots_share")],
        ],
        ["district", "month"],
    ),
    Dashboard(
        "signing", "家庭医生签约", "jiating-yisheng-qianyue",
        "签约覆盖按区县 → 社区 → 团队；重点人群、“1+1+1”组合签约、服务包构成与续约。"
        "人口分母为社区常住人口，按社区汇总（团队层只展示签约人数，不计算覆盖率）。" + DRILL,
        [
            [big("sg_sr", zh("signing_rate"), "signing_community", "signing_rate"),
             big("sg_ks", zh("key_signing_rate"), "signing_community", "key_signing_rate"),
             big("sg_111", zh("combo_111_share"), "signing_community", "combo_111_share"),
             big("sg_rn", zh("renewal_rate"), "signing_community", "renewal_rate")],
            [line("sg_trend", "签约覆盖率趋势（对比目标）", "signing_community",
                  ["signing_rate", "key_signing_rate", "target_signing_rate", "target_key_signing_rate"]),
             bar("sg_district", "各区县签约覆盖率（可钻取到社区）", "signing_community", "district_name",
                 ["signing_rate", "key_signing_rate"])],
            [bar("sg_community", "各社区签约覆盖率排名", "signing_community", "community_name",
                 ["signing_rate"], horizontal=True, width=6),
             bar("sg_groups", "重点人群签约率（按区县）", "signing_community", "district_name",
                 ["signing_rate_65plus", "signing_rate_hypertension", "signing_rate_diabetes"], width=6)],
            [bar("sg_team", "各家庭医生团队签约人数排名", "signing_team", "team_name",
                 ["signed_residents"], fmt=",d", horizontal=True, width=8),
             pie("sg_pkg_basic", "服务包构成（基础包签约人数按区县）", "signing_team", "district_name",
                 "package_basic", width=4)],
            [table("sg_team_table", "团队明细：签约、重点人群、1+1+1 与续约", "signing_team",
                   ["district_name", "community_name", "team_name"],
                   ["signed_residents", "key_signed", "signed_65plus", "signed_hypertension", "signed_diabetes",
                    "package_free", "package_basic", "package_personalized", "package_checkup",
                    "combo_111_share", "renewal_rate"])],
        ],
        ["district", "community", "team", "month"],
    ),
    Dashboard(
        "chronic", "慢病管理", "manbing-guanli",
        "高血压、糖尿病患者规范管理率与控制率（按团队、社区），以及慢病签约医保结算。"
        "年度指标，月份筛选按年度起始日匹配。" + DRILL,
        [
            [bar("ch_team_htn", "高血压：各团队规范管理率与血压控制率", "chronic_team", "team_name",
                 ["standard_mgmt_rate", "control_rate", "target_standard_mgmt_rate"],
                 filters=[_where("disease", "高血压")]),
             bar("ch_team_dm", "糖尿病：各团队规范管理率与血糖控制率", "chronic_team", "team_name",
                 ["standard_mgmt_rate", "control_rate"], filters=[_where("disease", "糖尿病")])],
            [bar("ch_district", "各区县慢病控制率（按病种）", "chronic_community", "district_name",
                 ["control_rate"], groupby=["disease"]),
             bar("ch_community", "各社区随访覆盖率（按病种）", "chronic_community", "community_name",
                 ["managed_share"], groupby=["disease"], horizontal=True)],
            [table("ch_comm_table", "社区明细", "chronic_community",
                   ["district_name", "community_name", "disease"],
                   ["registered_patients", "managed_patients", "managed_share", "standard_mgmt_rate",
                    "control_rate"], width=12)],
            [big("ch_pay_share", zh("settlement_payable_share"), "chronic_settlement",
                 "settlement_payable_share", width=4),
             bar("ch_settle", "慢病签约医保结算：各机构应付与预算（元）", "chronic_settlement", "facility_name",
                 ["payable", "budget"], fmt=",.0f", groupby=None, width=8)],
            [bar("ch_tiers", "结算档位人数（按病种）", "chronic_settlement", "disease",
                 ["tier_full", "tier_partial", "tier_none"], fmt=",d", width=12, height=40)],
        ],
        ["district", "team", "disease", "month"],
    ),
    Dashboard(
        "cost", "门诊费用与疾病", "menzhen-feiyong",
        "门诊次均费用（按机构级别、区县）及同比增幅；门诊疾病排名与病种费用。",
        [
            [line("co_avg_level", "门诊次均费用（按机构级别）", "outpatient_cost", ["avg_fee_per_visit"],
                  fmt=",.1f", groupby=["level_name"]),
             bar("co_growth_level", "门诊次均费用增幅（按机构级别）", "outpatient_cost", "level_name",
                 ["avg_fee_growth"])],
            [bar("co_district", "各区县门诊次均费用与次均药费", "outpatient_cost", "district_name",
                 ["avg_fee_per_visit", "avg_drug_fee_per_visit"], fmt=",.1f"),
             bar("co_disease_rank", "门诊疾病排名（前 15 位，门诊人次）", "outpatient_disease", "disease_name",
                 ["visits"], fmt=",d", horizontal=True, limit=15)],
            [heat("co_heat", "区县 × 月份：门诊次均费用", "outpatient_cost", "month", "district_name",
                  "avg_fee_per_visit", fmt=",.0f")],
            [table("co_disease_cost", "病种费用（门诊与住院）", "disease_cost",
                   ["disease_name", "chapter_title_zh", "setting_name"],
                   ["episodes", "total_fee", "avg_fee_per_episode", "cost_per_patient"], sort="total_fee")],
        ],
        ["district", "facility", "month"],
    ),
    Dashboard(
        "medication", "用药管理", "yongyao-guanli",
        "门诊药占比、抗菌药物使用率（目标 ≤20%）、基本药物与集采药品金额占比、长处方与延伸处方。",
        [
            [big("md_ab", zh("antibiotic_rx_rate"), "medication", "antibiotic_rx_rate"),
             big("md_es", zh("essential_amount_share"), "medication", "essential_amount_share"),
             big("md_vbp", zh("vbp_amount_share"), "medication", "vbp_amount_share"),
             big("md_dfs", zh("drug_fee_share"), "medication", "drug_fee_share")],
            [line("md_ab_trend", "抗菌药物使用率趋势（对比目标）", "medication",
                  ["antibiotic_rx_rate", "target_antibiotic_rx_rate"]),
             bar("md_fac_share", "各机构基本药物与集采药品金额占比", "medication", "facility_name",
                 ["essential_amount_share", "vbp_amount_share", "target_essential_amount_share"])],
            [bar("md_long", "各机构长处方与延伸处方占比", "medication", "facility_name",
                 ["long_rx_share", "extended_rx_share"]),
             bar("md_level", "各级机构门诊药占比与抗菌药物使用率", "medication", "level_name",
                 ["drug_fee_share", "antibiotic_rx_rate"])],
            [table("md_drugs", "药品使用排名（金额）", "drug_usage",
                   ["drug_name", "atc_code", "essential_flag", "vbp_flag", "antibiotic_flag"],
                   ["amount", "prescription_lines"], limit=50)],
        ],
        ["district", "facility", "month"],
    ),
    Dashboard(
        "hospital", "医院运营", "yiyuan-yunying",
        "医院管理者视图：病床使用率、出院者平均住院日、病床周转次数、双向转诊（转入/转出、下转占比）。"
        "行级权限：医院管理者只看到本院数据，卫健委分析员看到全部。",
        [
            [big("ho_bur", zh("bed_utilization_rate"), "beds", "bed_utilization_rate"),
             big("ho_alos", zh("avg_length_of_stay"), "beds", "avg_length_of_stay", fmt=".1f"),
             big("ho_turn", zh("bed_turnover"), "beds", "bed_turnover", fmt=".2f"),
             big("ho_down", zh("down_share"), "referrals", "down_share")],
            [line("ho_bur_trend", "病床使用率趋势（对比目标）", "beds",
                  ["bed_utilization_rate", "target_bed_utilization_rate"]),
             line("ho_alos_trend", "出院者平均住院日趋势（对比目标）", "beds",
                  ["avg_length_of_stay", "target_avg_length_of_stay"], fmt=".1f")],
            [line("ho_ref_flow", "转诊：转入与转出", "referrals", ["up_out", "down_out", "up_in", "down_in"],
                  fmt=",d", bar=True),
             bar("ho_fac_bur", "各医院病床使用率排名", "beds", "facility_name",
                 ["bed_utilization_rate"], horizontal=True)],
            [table("ho_fac_table", "医院明细：床位与住院", "beds", ["district_name", "facility_name", "level_name"],
                   ["bed_utilization_rate", "avg_length_of_stay", "bed_turnover", "discharges"], width=6),
             table("ho_ref_table", "医院明细：转诊", "referrals", ["facility_name"],
                   ["up_out", "down_out", "up_in", "down_in", "down_share", "arrival_rate", "referral_rate"],
                   width=6, sort="down_out")],
        ],
        ["district", "facility", "month"],
    ),
    Dashboard(
        "quality", "数据质量", "shuju-zhiliang",
        "机构数据上报完整率与及时率（DHIS2 口径）、隔离原因分布与趋势；Great Expectations 校验结果随时间变化"
        "（每个业务日期、每层取最近一次校验；期望通过率 = (已评估 − 错误级未通过) / 已评估，警告不计为未通过）。",
        [
            [big("dq_comp", zh("delivery_completeness_rate"), "delivery_quality", "delivery_completeness_rate",
                 x="business_date", width=4, grain="P1D"),
             big("dq_time", zh("delivery_timeliness_rate"), "delivery_quality", "delivery_timeliness_rate",
                 x="business_date", width=4, grain="P1D"),
             big("dq_quar", zh("delivery_quarantine_rate"), "delivery_quality", "delivery_quarantine_rate",
                 fmt=".2%", x="business_date", width=4, grain="P1D")],
            [line("dq_trend", "上报完整率与及时率（按日，对比目标）", "delivery_quality",
                  ["delivery_completeness_rate", "delivery_timeliness_rate",
                   "target_delivery_completeness_rate", "target_delivery_timeliness_rate"], width=12,
                  x="business_date", grain="P1D")],
            [heat("dq_heat", "区县 × 月份：上报完整率", "delivery_quality", "month", "district_name",
                  "delivery_completeness_rate", width=6),
             bar("dq_reasons", "隔离原因排名（行数）", "quarantine_reasons", "reason_name", ["quarantined_rows"],
                 fmt=",d", horizontal=True, width=6)],
            [line("dq_quar_trend", "隔离行数趋势（按周、按原因）", "quarantine_reasons", ["quarantined_rows"],
                  fmt=",d", groupby=["reason_name"], width=12, bar=True, x="business_date", grain="P1W")],
            [line("dq_gx_pass", "GX 校验：期望通过率（按日、按层）", "validation_runs", ["gx_pass_rate"],
                  fmt=".2%", groupby=["layer_name"], x="business_date", grain="P1D", width=4,
                  truncate_y=True),
             line("dq_gx_fail", "GX 校验：未通过、警告与异常波动（按日）", "validation_runs",
                  ["failed", "warnings", "outliers"], fmt="SMART_NUMBER", bar=True, x="business_date", grain="P1D",
                  width=4),
             line("dq_gx_cat", "GX 校验：未通过与警告（按日、按质量类别）", "validation_categories",
                  ["not_passed"], fmt="SMART_NUMBER", groupby=["category_name"], bar=True, x="business_date",
                  grain="P1D", width=4)],
            [table("dq_gx_checks", "GX 未通过的检查项（各业务日期最近一次校验）", "validation_failures",
                   ["check_id", "layer_name", "category_name", "severity_name"],
                   ["failing_days", "unexpected_count"], sort="failing_days")],
        ],
        ["district", "facility", "month"],
    ),
]


# --------------------------------------------------------------------------------------------
# YAML rendering


def _dataset_yaml(d: Dataset) -> dict[str, Any]:
    return {
        "table_name": f"ds_{d.key}",
        "main_dttm_col": "month",
        "description": None,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "catalog": None,
        "schema": "marts",
        "sql": d.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": json.dumps({"grassroots_rls": d.rls}),
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": d.uuid,
        "metrics": [
            {"metric_name": m, "verbose_name": label, "metric_type": None, "expression": expr,
             "description": None, "d3format": fmt, "currency": None, "extra": {"warning_markdown": ""},
             "warning_text": None}
            for m, expr, label, fmt in d.metrics
        ],
        "columns": [
            {"column_name": c, "verbose_name": label, "is_dttm": t == D, "is_active": True, "type": t,
             "advanced_data_type": None, "groupby": True, "filterable": True, "expression": None,
             "description": None, "python_date_format": None, "extra": {}}
            for c, t, label in d.columns
        ],
        "version": "1.0.0",
        "database_uuid": uid("database", DATABASE_NAME),
    }


def _query_context(c: Chart) -> str:
    query = {
        "filters": [{"col": f["subject"], "op": f["operator"], "val": f["comparator"]}
                    for f in c.params["adhoc_filters"] if f["operator"] != "TEMPORAL_RANGE"],
        "extras": {"having": "", "where": ""},
        "applied_time_extras": {},
        "columns": c.columns,
        "metrics": c.metrics,
        "orderby": c.orderby,
        "annotation_layers": [],
        "row_limit": c.row_limit,
        "series_limit": 0,
        "order_desc": True,
        "url_params": {},
        "custom_params": {},
        "custom_form_data": {},
        "time_range": "No filter",
    }
    return json.dumps({
        "datasource": {"id": 0, "type": "table"},
        "force": False,
        "queries": [query],
        "form_data": {**c.params, "datasource": "0__table", "slice_id": None},
        "result_format": "json",
        "result_type": "full",
    }, ensure_ascii=False)


def _chart_yaml(c: Chart) -> dict[str, Any]:
    return {
        "slice_name": c.title,
        "description": c.description,
        "certified_by": None,
        "certification_details": None,
        "viz_type": c.viz,
        "params": c.params,
        "query_context": _query_context(c),
        "cache_timeout": None,
        "uuid": c.uuid,
        "version": "1.0.0",
        "dataset_uuid": DS[c.ds].uuid,
    }


def _native_filters(dash: Dashboard) -> list[dict[str, Any]]:
    out = []
    charts = dash.charts
    for f in dash.filters:
        fid = f"NATIVE_FILTER-{dash.key}-{f}"
        if f == "month":
            excluded = [c.local_id for c in charts if not DS[c.ds].has("month")]
            out.append({
                "id": fid, "name": "月份", "filterType": "filter_time", "targets": [{}],
                "controlValues": {"enableEmptyFilter": False}, "defaultDataMask":
                {"extraFormData": {}, "filterState": {}, "ownState": {}}, "cascadeParentIds": [],
                "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded}, "type": "NATIVE_FILTER",
                "description": "按月份（时间范围）筛选", "chartsInScope": [],
            })
            continue
        name, col = FILTER_COLUMNS[f]
        source = next(DS[c.ds] for c in charts if DS[c.ds].has(col))
        excluded = [c.local_id for c in charts if not DS[c.ds].has(col)]
        parents = []
        if f in ("community", "facility", "team") and "district" in dash.filters and source.has("district_name"):
            parents = [f"NATIVE_FILTER-{dash.key}-district"]
        out.append({
            "id": fid, "name": name, "filterType": "filter_select",
            "targets": [{"column": {"name": col}, "datasetUuid": source.uuid}],
            "controlValues": {"multiSelect": True, "enableEmptyFilter": False, "defaultToFirstItem": False,
                              "inverseSelection": False, "searchAllOptions": False},
            "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
            "cascadeParentIds": parents,
            "scope": {"rootPath": ["ROOT_ID"], "excluded": excluded}, "type": "NATIVE_FILTER",
            "description": "", "chartsInScope": [],
        })
    return out


def _dashboard_yaml(dash: Dashboard) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": dash.title}, "type": "HEADER"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
    }
    rows = [["MARKDOWN"], *dash.rows]
    for i, row in enumerate(rows):
        rid = f"ROW-{dash.key}-{i}"
        position["GRID_ID"]["children"].append(rid)
        position[rid] = {"children": [], "id": rid, "meta": {"background": "BACKGROUND_TRANSPARENT"},
                         "parents": ["ROOT_ID", "GRID_ID"], "type": "ROW"}
        for c in row:
            if c == "MARKDOWN":
                mid = f"MARKDOWN-{dash.key}"
                position[rid]["children"].append(mid)
                position[mid] = {"children": [], "id": mid, "parents": ["ROOT_ID", "GRID_ID", rid],
                                 "type": "MARKDOWN", "meta": {"width": 12, "height": 20,
                                 "code": f"### {dash.title}\n\n{dash.intro}"}}
                continue
            cid = f"CHART-{c.key}"
            position[rid]["children"].append(cid)
            position[cid] = {"children": [], "id": cid, "parents": ["ROOT_ID", "GRID_ID", rid], "type": "CHART",
                             "meta": {"chartId": c.local_id, "height": c.height, "width": c.width,
                                      "sliceName": c.title, "uuid": c.uuid}}
    return {
        "dashboard_title": dash.title,
        "description": None,
        "css": "",
        "slug": dash.slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": dash.uuid,
        "position": position,
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
        "extra": {"engine_params": {"connect_args": {"read_only": True}}, "metadata_params": {},
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
    for d in DATASETS:
        files[f"datasets/{DATABASE_NAME}/ds_{d.key}.yaml"] = dump(_dataset_yaml(d))
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
