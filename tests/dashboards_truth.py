"""What every dashboard chart must show, computed independently from the serving file.

This module has its own SQL over the marts (and its own names for levels, facility types,
quarantine reasons, ...), written from the spec's definitions, not from the datasets' SQL in
``grassroots.superset``: only what a chart asks for (its columns, metric names and filters) is
taken from the chart.  The time rules are re-implemented here too (spec "Time on dashboards"):

* the range: the months whose first day lies in the picked range, up to the latest business date
  loaded; with "No filter" the latest 12 months of data;
* flows add over the range's months; snapshots (signing counts, populations, records, open beds)
  are read at the range's last month-end when the chart has no time axis, per month on a trend;
* annual indicators: the year of the range's last month, labelled 年度至今 while it runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

LEVEL = ("case {c} when 'grassroots' then '基层医疗卫生机构' when 'level_1' then '一级医院'"
         " when 'level_2' then '二级医院' when 'level_3' then '三级医院' else '未定级医院' end")
FACILITY_TYPE = {"general_hospital": "综合医院", "tcm_hospital": "中医医院", "specialty_hospital": "专科医院",
                 "community_health_centre": "社区卫生服务中心", "township_health_centre": "乡镇卫生院",
                 "community_health_station": "社区卫生服务站", "village_clinic": "村卫生室"}
REASON = {"bad_encoding": "编码错误", "missing_column": "缺少列", "type_error": "类型错误",
          "missing_required": "必填项缺失", "unknown_facility": "未知机构", "unknown_team": "未知团队",
          "unknown_drug": "未知药品", "bad_icd10": "ICD-10编码错误", "bad_id_checksum": "身份证校验位错误",
          "id_birthdate_mismatch": "身份证与出生日期不符", "future_date": "未来日期", "negative_amount": "金额为负",
          "fee_mismatch": "费用不平衡", "bad_enum": "枚举值错误", "bad_direction": "转诊方向错误",
          "duplicate_key": "主键重复", "orphan_row": "孤立记录", "out_of_range": "数值越界",
          "row_count_mismatch": "行数不符", "checksum_mismatch": "校验和不符",
          "bad_identifier": "标识符格式错误", "personal_data": "疑似个人信息", "symlink": "符号链接"}


def _case(col: str, mapping: dict[str, str]) -> str:
    whens = " ".join(f"when '{k}' then '{v}'" for k, v in mapping.items())
    return f"case {col} {whens} else {col} end"


def _month_end(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1) - timedelta(days=1)


def _add_months(m: date, n: int) -> date:
    k = m.year * 12 + m.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    months: tuple[date, ...]
    data_as_of: date

    @property
    def first(self) -> date:
        return self.months[0]

    @property
    def last(self) -> date:
        return self.months[-1]

    @property
    def range_label(self) -> str:
        return f"{self.first:%Y-%m} 至 {self.last:%Y-%m}"

    @property
    def as_of_label(self) -> str:
        return min(_month_end(self.last), self.data_as_of).isoformat()

    @property
    def year(self) -> int:
        return self.last.year

    @property
    def year_label(self) -> str:
        end = date(self.year, 12, 31)
        if self.data_as_of >= end:
            return f"{self.year}年"
        return f"{self.year}年（年度至今，截至{self.data_as_of.isoformat()}）"


def period(con: duckdb.DuckDBPyConnection, since: date | None = None, until: date | None = None) -> Period:
    """The months a dashboard reads for the range [since, until) (both None: "No filter")."""
    data_as_of, first = con.execute(
        "select (select max(business_date) from marts.mart_delivery_quality where delivered > 0),"
        " (select min(month) from marts.mart_outpatient_visits)").fetchone()
    last = date(data_as_of.year, data_as_of.month, 1)
    if since is None and until is None:
        since = _add_months(last, -11)
    months, m = [], first
    while m <= last:
        if (since is None or m >= since) and (until is None or m < until):
            months.append(m)
        m = _add_months(m, 1)
    return Period(tuple(months), data_as_of)


# ---------------------------------------------------------------------------------------------
# the sources: the marts' rows with names, which columns are stocks, how each measure is computed

D = "left join dims.dim_district dd on dd.district_code = m.district_code"
DN = "coalesce(dd.district_name, m.district_code) as district_name"
F = "left join dims.dim_facility ff on ff.facility_code = m.facility_code"
FN = "coalesce(ff.facility_name, m.facility_code) as facility_name"
R = "left join dims.dim_region rr on rr.region_code = m.region_code"
RN = "coalesce(rr.community_name, m.region_code) as community_name"
MONTH = "date_trunc('month', {c})::date as month"


def ratio(num: str, den: str) -> str:
    return f"({num}) / nullif({den}, 0)"


@dataclass
class Source:
    rows: str  # SQL: one row per mart row, with the names the charts group by
    time: str = "month"  # month (flow/snapshot rows), year (annual) or day (business_date rows)
    stocks: tuple[str, ...] = ()  # snapshot columns
    measures: dict[str, str] | None = None  # metric name -> SQL over s(col) sums

    def s(self, col: str) -> str:
        return f"sum({col}) filter (where {{last}})" if col in self.stocks else f"sum({col})"

    def measure(self, name: str) -> str:
        """The metric's SQL; S(col) is the sum of col over the range (a stock: at its last month)."""
        expr = (self.measures or {}).get(name, f"S({name})")
        out, i = [], 0
        while (j := expr.find("S(", i)) >= 0:
            k = expr.index(")", j)
            out += [expr[i:j], self.s(expr[j + 2:k])]
            i = k + 1
        return "".join(out) + expr[i:]


SIGNING_STOCKS = ("population", "signed_residents", "key_population", "key_signed", "population_65plus",
                  "signed_65plus", "population_0_6", "signed_0_6", "hypertension_patients", "signed_hypertension",
                  "diabetes_patients", "signed_diabetes", "combo_111_signed", "package_free", "package_basic",
                  "package_personalized", "package_checkup")
SIGNING_RATES = {
    "signing_rate": ratio("S(signed_residents)", "S(population)"),
    "key_signing_rate": ratio("S(key_signed)", "S(key_population)"),
    "signing_rate_65plus": ratio("S(signed_65plus)", "S(population_65plus)"),
    "signing_rate_0_6": ratio("S(signed_0_6)", "S(population_0_6)"),
    "signing_rate_hypertension": ratio("S(signed_hypertension)", "S(hypertension_patients)"),
    "signing_rate_diabetes": ratio("S(signed_diabetes)", "S(diabetes_patients)"),
    "combo_111_share": ratio("S(combo_111_signed)", "S(signed_residents)"),
    "renewal_rate": ratio("S(renewals)", "S(contracts_ending)"),
}
CHRONIC = {"standard_mgmt_rate": ratio("S(standard_managed)", "S(managed_patients)"),
           "control_rate": ratio("S(controlled)", "S(managed_patients)"),
           "managed_share": ratio("S(managed_patients)", "S(registered_patients)")}
# last year's same month of the same facility: a self-join, so growth compares matched months only
LAST_YEAR = ("left join marts.{mart} ly on ly.facility_code = m.facility_code"
             " and ly.month = (m.month - interval 12 month)::date")

SOURCES: dict[str, Source] = {
    "grassroots_visits": Source(
        f"select m.*, {DN} from marts.mart_grassroots_visits m {D}",
        measures={"grassroots_share": ratio("S(grassroots_visits)", "S(total_visits)"),
                  "signed_grassroots_share": ratio("S(signed_grassroots_visits)", "S(signed_visits)"),
                  "unsigned_grassroots_share": ratio("S(unsigned_grassroots_visits)", "S(unsigned_visits)"),
                  "in_county_rate": ratio("S(in_county_visits)", "S(county_resident_visits)")}),
    # communities from the team-level mart: signed counts add over teams, denominators once
    "signing_community": Source(
        f"""select m.*, {RN}, {DN} from (
              select {MONTH.format(c='as_of_date')}, region_code, any_value(district_code) as district_code,
                max(population) as population, sum(signed_residents) as signed_residents,
                max(key_population) as key_population, sum(key_signed) as key_signed,
                max(population_65plus) as population_65plus, sum(signed_65plus) as signed_65plus,
                max(population_0_6) as population_0_6, sum(signed_0_6) as signed_0_6,
                max(hypertension_patients) as hypertension_patients, sum(signed_hypertension) as signed_hypertension,
                max(diabetes_patients) as diabetes_patients, sum(signed_diabetes) as signed_diabetes,
                sum(combo_111_signed) as combo_111_signed, sum(contracts_ending) as contracts_ending,
                sum(renewals) as renewals
              from marts.mart_signing_coverage group by as_of_date, region_code) m {R} {D}""",
        stocks=SIGNING_STOCKS, measures=SIGNING_RATES),
    "signing_team": Source(
        f"""select {MONTH.format(c='m.as_of_date')}, m.*, coalesce(t.team_name, m.team_code) as team_name, {RN}, {DN}
            from marts.mart_signing_coverage m left join dims.dim_team t on t.team_code = m.team_code {R} {D}
            where m.team_code <> 'none'""",
        stocks=SIGNING_STOCKS, measures=SIGNING_RATES),
    "health_records": Source(
        f"select {MONTH.format(c='m.as_of_date')}, m.*, {RN}, {DN} from marts.mart_health_records m {R} {D}",
        stocks=("population", "records", "complete_records", "active_records"),
        measures={"record_rate": ratio("S(records)", "S(population)"),
                  "record_completeness_rate": ratio("S(complete_records)", "S(records)"),
                  "record_activation_rate": ratio("S(active_records)", "S(records)")}),
    "health_checkups": Source(
        f"select m.*, {RN}, {DN} from marts.mart_health_checkups m {R} {D}", time="year",
        measures={"elderly_health_mgmt_rate": ratio("S(checked_65plus)", "S(population_65plus)"),
                  "checkup_abnormal_rate": ratio("S(abnormal_checkups)", "S(checkups)")}),
    "chronic_team": Source(
        """select m.*, coalesce(t.team_name, m.team_code) as team_name,
              coalesce(ff.district_name, ff.district_code) as district_name
           from (select *, '高血压' as disease from marts.mart_hypertension_followup union all by name
                 select *, '糖尿病' as disease from marts.mart_diabetes_followup) m
           left join dims.dim_team t on t.team_code = m.team_code
           left join dims.dim_facility ff on ff.facility_code = m.facility_code""",
        time="year", measures=CHRONIC),
    "chronic_community": Source(
        f"""select m.*, {RN}, {DN}
           from (select *, '高血压' as disease from marts.mart_hypertension_followup_by_community union all by name
                 select *, '糖尿病' as disease from marts.mart_diabetes_followup_by_community) m {R} {D}""",
        time="year", measures=CHRONIC),
    "chronic_settlement": Source(
        f"""select m.* replace ({_case('m.disease', {'hypertension': '高血压', 'diabetes': '糖尿病'})} as disease),
              {FN}, coalesce(ff.district_name, ff.district_code) as district_name
           from marts.mart_chronic_settlement m {F}""",
        time="year", measures={"settlement_full_tier_rate": ratio("S(tier_full)", "S(patients)"),
                               "settlement_payable_share": ratio("S(payable)", "S(budget)")}),
    "outpatient_cost": Source(
        f"""select m.*, {FN}, {LEVEL.format(c='m.level_group')} as level_name, {DN},
              ly.facility_code is not null as matched, ly.visits as ly_visits, ly.total_fee as ly_total_fee
           from marts.mart_outpatient_cost m {LAST_YEAR.format(mart='mart_outpatient_cost')} {F} {D}""",
        measures={
            "avg_fee_per_visit": ratio("S(total_fee)", "S(visits)"),
            "avg_drug_fee_per_visit": ratio("S(drug_fee)", "S(visits)"),
            "avg_fee_matched": ratio("sum(total_fee) filter (where matched)", "sum(visits) filter (where matched)"),
            "avg_fee_per_visit_last_year": ratio("S(ly_total_fee)", "S(ly_visits)"),
            "avg_fee_growth": ratio(ratio("sum(total_fee) filter (where matched)", "sum(visits) filter (where matched)"),
                                    ratio("S(ly_total_fee)", "S(ly_visits)")) + " - 1"}),
    "outpatient_visits": Source(
        f"""select m.*, {FN}, {LEVEL.format(c='m.level_group')} as level_name, {DN},
              ly.facility_code is not null as matched, ly.visits as ly_visits
           from marts.mart_outpatient_visits m {LAST_YEAR.format(mart='mart_outpatient_visits')} {F} {D}""",
        measures={"visits_matched": "sum(visits) filter (where matched)",
                  "visits_same_month_last_year": "S(ly_visits)",
                  "outpatient_yoy_growth": ratio("sum(visits) filter (where matched)", "S(ly_visits)") + " - 1"}),
    "disease_cost": Source(
        f"""select m.*, {_case('m.setting', {'outpatient': '门诊', 'inpatient': '住院'})} as setting_name,
              m.icd10_category || ' ' || m.title_zh as disease_name
           from marts.mart_disease_cost m""",
        time="year", measures={"avg_fee_per_episode": ratio("S(total_fee)", "S(episodes)"),
                               "cost_per_patient": ratio("S(total_fee)", "S(patients)")}),
    "medication": Source(
        f"select m.*, {FN}, {LEVEL.format(c='m.level_group')} as level_name, {DN} "
        f"from marts.mart_medication_management m {F} {D}",
        measures={"antibiotic_rx_rate": ratio("S(antibiotic_visits)", "S(visits_with_rx)"),
                  "essential_amount_share": ratio("S(essential_amount)", "S(rx_amount)"),
                  "vbp_amount_share": ratio("S(vbp_amount)", "S(rx_amount)"),
                  "long_rx_share": ratio("S(long_rx_lines)", "S(rx_lines)"),
                  "extended_rx_share": ratio("S(extended_rx_lines)", "S(rx_lines)"),
                  "avg_lines_per_prescription": ratio("S(rx_lines)", "S(prescriptions)"),
                  "drug_fee_share": ratio("S(drug_fee)", "S(total_fee)")}),
    "drug_usage": Source(
        """select m.*, coalesce(m.generic_name, m.drug_code) as drug_name,
              case when m.is_antibiotic then '抗菌药物' else '非抗菌药物' end as antibiotic_flag,
              case when m.is_essential then '基本药物' else '非基本药物' end as essential_flag,
              case when m.is_vbp then '集采中选' else '非集采' end as vbp_flag
           from marts.mart_drug_usage m"""),
    # open beds are a stock: turnover divides the range's discharges by the beds at its end
    "beds": Source(
        f"select m.*, {FN}, {LEVEL.format(c='m.level_group')} as level_name, {DN} "
        f"from marts.mart_bed_utilization m {F} {D}",
        stocks=("avg_open_beds",),
        measures={"bed_utilization_rate": ratio("S(occupied_bed_days)", "S(open_bed_days)"),
                  "avg_length_of_stay": ratio("S(discharged_bed_days)", "S(discharges)"),
                  "bed_turnover": ratio("S(discharges)", "S(avg_open_beds)")}),
    "referrals": Source(
        f"select m.*, {FN}, {LEVEL.format(c='m.level_group')} as level_name, {DN} "
        f"from marts.mart_referrals m {F} {D}",
        measures={"directional_out": "S(up_out) + S(down_out)",
                  "down_share": ratio("S(down_out)", "S(up_out) + S(down_out)"),
                  "arrival_rate": ratio("S(arrived_out)", "S(referrals_sent)"),
                  "referral_rate": ratio("S(referrals_sent)", "S(outpatient_visits)")}),
    "delivery_quality": Source(
        f"""select m.*, {MONTH.format(c='m.business_date')}, {FN}, {DN},
              {_case('m.facility_type', FACILITY_TYPE)} as facility_type_name
           from marts.mart_delivery_quality m {F} {D}""",
        time="day",
        measures={"delivery_completeness_rate": ratio("S(delivered)", "S(expected)"),
                  "delivery_timeliness_rate": ratio("S(on_time)", "S(expected)"),
                  "rows_received": "S(rows_loaded) + S(rows_quarantined)",
                  "delivery_quarantine_rate": ratio("S(rows_quarantined)", "S(rows_loaded) + S(rows_quarantined)")}),
    "quarantine_reasons": Source(
        f"""select {MONTH.format(c='u.business_date')}, u.business_date,
              {_case("replace(u.reason, 'q_', '')", REASON)} as reason_name, u.quarantined_rows
           from (unpivot (select business_date, columns('^q_') from marts.mart_delivery_quality)
                 on columns('^q_') into name reason value quarantined_rows) u""",
        time="day"),
    "validation_runs": Source(
        f"""select {MONTH.format(c='v.business_date')}, v.business_date,
              case v.layer when 'raw' then '原始层' else '指标层' end as layer_name,
              v.evaluated, v.evaluated - v.failed as passed, v.failed, v.warnings, v.outliers
           from audit.validation_results v
           where v.business_date is not null and v.recorded_at = (select max(recorded_at) from
             audit.validation_results w where w.business_date = v.business_date and w.layer = v.layer)""",
        time="day", measures={"gx_pass_rate": ratio("S(passed)", "S(evaluated)")}),
    "validation_categories": Source(
        f"""select {MONTH.format(c='v.business_date')}, v.business_date, c.category_name,
              (select count(*) from audit.validation_failures f where f.business_date = v.business_date
                 and f.layer = v.layer and f.recorded_at = v.recorded_at and f.category = c.category) as n
           from audit.validation_results v,
             (values ('conformance', '一致性'), ('completeness', '完整性'), ('plausibility', '合理性'))
               c(category, category_name)
           where v.business_date is not null and v.recorded_at = (select max(recorded_at) from
             audit.validation_results w where w.business_date = v.business_date and w.layer = v.layer)""",
        time="day", measures={"not_passed": "sum(n)"}),
    "validation_failures": Source(
        f"""select {MONTH.format(c='f.business_date')}, f.business_date, f.check_id,
              case f.layer when 'raw' then '原始层' else '指标层' end as layer_name,
              case f.category when 'conformance' then '一致性' when 'completeness' then '完整性'
                else '合理性' end as category_name,
              case f.severity when 'error' then '错误' else '警告' end as severity_name,
              coalesce(f.unexpected_count, 0) as unexpected_count
           from audit.validation_failures f
           where f.recorded_at = (select max(recorded_at) from audit.validation_results w
             where w.business_date = f.business_date and w.layer = f.layer)""",
        time="day", measures={"failing_days": "count(distinct business_date)"}),
}
SOURCES["signing_community_trend"] = SOURCES["signing_community"]
SOURCES["signing_team_trend"] = SOURCES["signing_team"]
SOURCES["health_records_trend"] = SOURCES["health_records"]
SOURCES["beds_trend"] = SOURCES["beds"]


# ---------------------------------------------------------------------------------------------
# expected rows of one query


def _label(col: Any) -> str:
    return col["label"] if isinstance(col, dict) else col


def _dim(col: Any) -> str:
    if not isinstance(col, dict):
        return col
    grain = {"P1M": "month", "P1W": "week", "P1D": "day"}[col["timeGrain"]]
    return f"date_trunc('{grain}', {col['sqlExpression']})::date"


def _where(source: Source, per: Period, filters: list[dict[str, Any]], facility: str | None) -> str:
    months = ", ".join(f"date '{m}'" for m in per.months) or "null"
    out = [f"year = {per.year}" if source.time == "year" else f"month in ({months})"]
    for f in filters:
        if f["op"] == "TEMPORAL_RANGE":
            continue
        val = f"'{f['val']}'" if isinstance(f["val"], str) else str(f["val"])
        out.append(f"{f['col']} {'=' if f['op'] == '==' else f['op']} {val}")
    if facility:
        out.append(f"facility_code = '{facility}'")
    return " and ".join(out)


def expected(con: duckdb.DuckDBPyConnection, ds: str, q: dict[str, Any], per: Period,
             facility: str | None = None) -> list[dict[str, Any]]:
    """The rows a query object of a chart on dataset ``ds`` must return."""
    if ds == "period":
        return [{"range_label": f"{per.range_label}（{len(per.months)} 个月）", "as_of_label": per.as_of_label,
                 "year_label": per.year_label}]
    if ds == "disease_rank":
        return _disease_rank(con, q, per)
    source = SOURCES[ds]
    trend = any(isinstance(c, dict) for c in q["columns"])
    last = "true" if trend or source.time != "month" else f"month = date '{per.last}'"
    labels = {"range_label": f"'{per.range_label}'", "as_of_label": f"'{per.as_of_label}'",
              "period_label": f"'{per.year_label}'"}
    dims = [(_label(c), labels.get(_label(c), _dim(c))) for c in q["columns"]]
    mets = [(m, source.measure(m).format(last=last))
            for m in q["metrics"] or [] if isinstance(m, str)]
    select = ", ".join([f"{e} as \"{n}\"" for n, e in dims] + [f"{e} as \"{n}\"" for n, e in mets])
    sql = (f"select {select} from ({source.rows}) t where {_where(source, per, q['filters'], facility)}"
           + (f" group by {', '.join(str(i + 1) for i in range(len(dims)))}" if dims else ""))
    cur = con.execute(sql)
    names = [c[0] for c in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    if not dims and rows and all(v is None for v in rows[0].values()):
        return []  # an aggregate over no rows
    return rows


def _disease_rank(con: duckdb.DuckDBPyConnection, q: dict[str, Any], per: Period) -> list[dict[str, Any]]:
    """Visits of the range per level group and ICD-10 category, ranked within the level group."""
    months = ", ".join(f"date '{m}'" for m in per.months) or "null"
    base = f"""select level_group, {LEVEL.format(c='level_group')} as level_name,
          icd10_category || ' ' || title_zh as disease_name, chapter_title_zh, sum(visits) as visits
        from marts.mart_outpatient_disease where month in ({months}) group by all"""
    ranked = f"""select *, sum(visits) over (partition by level_group) as level_visits,
          visits / sum(visits) over (partition by level_group) as share_of_visits,
          rank() over (partition by level_group order by visits desc) as rank from ({base})"""
    cols = [_label(c) for c in q["columns"]]
    if q["metrics"] is None:  # the ranking table: its rows as they are
        cond = " and ".join(f"{f['col']} {f['op']} {f['val']}" for f in q["filters"]
                            if f["op"] != "TEMPORAL_RANGE") or "true"
        cur = con.execute(f"select {', '.join(cols)} from ({ranked}) where {cond}")
    else:
        cur = con.execute(f"select {', '.join(cols)}, sum(visits) as visits from ({ranked}) group by all")
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# ---------------------------------------------------------------------------------------------
# comparing a chart's answer with the expected rows


def _norm(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v)
    if hasattr(v, "__float__") and not isinstance(v, str | date):
        return float(v)
    return v


def _same(a: Any, e: Any) -> bool:
    a, e = _norm(a), _norm(e)
    if a is None or e is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and e is None
    if isinstance(a, float) and isinstance(e, float):
        return math.isclose(a, e, rel_tol=1e-9, abs_tol=1e-9)
    return a == e


def _api_value(v: Any, col: Any) -> Any:
    """A time axis comes back as epoch milliseconds."""
    if isinstance(col, dict) and isinstance(v, int | float):
        return datetime.fromtimestamp(v / 1000, tz=UTC).date()
    return v


def compare(got: list[dict[str, Any]], want: list[dict[str, Any]], q: dict[str, Any]) -> list[str]:
    """Differences between a query's rows and the expected ones (keys: its columns)."""
    keys = [_label(c) for c in q["columns"]]
    values = [m for m in (q["metrics"] or []) if isinstance(m, str)]
    if q["metrics"] is None:
        keys, values = keys, []
    got = [{k: _api_value(r.get(k), c) for k, c in zip(keys, q["columns"], strict=True)}
           | {m: r.get(m) for m in values} for r in got]

    def key(r: dict[str, Any]) -> tuple:
        return tuple(str(r[k]) for k in keys)

    want_by = {key(r): r for r in want}
    errors = []
    limit = q.get("row_limit") or 10**9
    if len(want_by) > limit:  # a top-N: the N largest by the sort metric
        sort = q["orderby"][0][0] if q["orderby"] else values[0]
        if len(got) != limit:
            errors.append(f"{len(got)} rows, expected the top {limit} of {len(want_by)}")
        shown = {key(r) for r in got}
        rest = [_norm(r[sort]) for k, r in want_by.items() if k not in shown and r[sort] is not None]
        low = min((_norm(r[sort]) for r in got if r[sort] is not None), default=None)
        if rest and low is not None and max(rest) > low + 1e-9:
            errors.append(f"not the top {limit} by {sort}: {max(rest)} left out, {low} shown")
    elif {key(r) for r in got} != set(want_by):
        errors.append(f"rows {sorted({key(r) for r in got} ^ set(want_by))[:6]} differ")
    for r in got:
        w = want_by.get(key(r))
        if w is None:
            errors.append(f"unexpected row {key(r)}")
            continue
        for m in values + (list(r) if q["metrics"] is None else []):
            if not _same(r[m], w.get(m)):
                errors.append(f"{key(r)} {m}: shown {r[m]}, expected {w.get(m)}")
    return errors[:8]


def check_card(row: dict[str, Any], metric: str, fmt: str) -> list[str]:
    """A KPI card shows its exact value rounded as the metric's d3 format says."""
    shown, value = row.get("display"), row.get(metric)
    if value is None:
        return [] if shown is None else [f"card shows {shown} for no value"]
    digits = int(fmt.split(".")[1][0]) if "." in fmt else 0
    scale = 100 if fmt.endswith("%") else 1
    if abs(float(str(shown).replace(",", "")) - scale * value) > 0.5 * 10 ** -digits + 1e-9:
        return [f"card shows {shown}, value {value}"]
    return []

