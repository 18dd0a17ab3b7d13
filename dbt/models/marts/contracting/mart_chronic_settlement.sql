-- 慢病签约医保结算 (local capitation rule, all parameters from seed settlement_rules):
-- year x centre x disease.  Patients: residents who are patients of the disease by year end
-- (record flag or diagnosis; no record needed) and had a counted contract (status active) overlapping the year
-- with the centre; a resident with contracts at several centres in a year is paid to the centre
-- of the contract that started last.  Volume = sum of days_supply of the patient's prescription
-- lines in the year (visit date) at the centre or its stations/village clinics, for drugs whose
-- 3-character ATC code lies in [atc_from, atc_to] (C02-C10, A10).  coverage = volume / need_days;
-- tier full when coverage >= full_threshold (paid amount_per_patient), partial when >=
-- partial_threshold (paid partial_payout x amount), none below; thresholds are inclusive.
with rules as (
    select * from {{ ref('settlement_rules') }}
),

years as (
    select distinct year,
        {{ year_start('year') }} as year_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, year_start('year'))) }} as date) as year_end
    from {{ ref('int_calendar_months') }}
),

contracts as (
    select
        y.year,
        s.resident_id,
        s.facility_code,
        row_number() over (
            partition by y.year, s.resident_id order by s.start_date desc, s.contract_id desc
        ) as pick
    from years as y
    inner join {{ ref('int_signings_current') }} as s
        on s.start_date <= y.year_end and s.end_date >= y.year_start
    where s.status in {{ in_list('signing_counted_statuses') }}
),

patients as (
    select c.year, c.resident_id, c.facility_code, r.disease, y.year_end
    from contracts as c
    inner join years as y on y.year = c.year
    inner join rules as r on c.year between r.valid_from and r.valid_to
    -- a patient needs no health record: the record flag or a diagnosis by year end
    left join {{ ref('int_health_records_current') }} as hr on hr.resident_id = c.resident_id
    left join {{ ref('int_chronic_diagnoses_first') }} as dx on dx.resident_id = c.resident_id
    where c.pick = 1
      and (
          (r.disease = 'hypertension' and (coalesce(hr.hypertension, false)
              or coalesce(dx.first_hypertension_dx_date <= y.year_end, false)))
          or (r.disease = 'diabetes' and (coalesce(hr.diabetes, false)
              or coalesce(dx.first_diabetes_dx_date <= y.year_end, false)))
      )
),

volume as (
    select
        {{ year_of('v.visit_time') }} as year,
        v.resident_id,
        fc.reporting_facility_code as centre_code,
        r.disease,
        sum(p.days_supply) as days_supply
    from {{ ref('int_prescriptions_current') }} as p
    inner join {{ ref('int_outpatient_visits_current') }} as v
        on v.facility_code = p.facility_code and v.visit_id = p.visit_id
    inner join {{ ref('stg_raw__drugs') }} as d on d.drug_code = p.drug_code
    inner join {{ ref('int_facilities_classified') }} as fc on fc.facility_code = p.facility_code
    inner join rules as r
        on upper(substring(d.atc_code, 1, 3)) between r.atc_from and r.atc_to
    group by {{ year_of('v.visit_time') }}, v.resident_id, fc.reporting_facility_code, r.disease
),

coverage as (
    select
        p.year,
        p.facility_code,
        p.disease,
        p.resident_id,
        r.amount_per_patient,
        r.partial_payout,
        {{ safe_divide('coalesce(v.days_supply, 0)', 'r.need_days') }} as coverage,
        r.full_threshold,
        r.partial_threshold
    from patients as p
    inner join rules as r on r.disease = p.disease and p.year between r.valid_from and r.valid_to
    left join volume as v
        on v.year = p.year and v.resident_id = p.resident_id
       and v.centre_code = p.facility_code and v.disease = p.disease
),

tiered as (
    select
        *,
        case
            when coverage >= full_threshold then 'full'
            when coverage >= partial_threshold then 'partial'
            else 'none'
        end as tier
    from coverage
)

select
    year,
    facility_code,
    disease,
    count(*) as patients,
    cast(sum(amount_per_patient) as decimal(18, 2)) as budget,
    {{ count_where("tier = 'full'") }} as tier_full,
    {{ count_where("tier = 'partial'") }} as tier_partial,
    {{ count_where("tier = 'none'") }} as tier_none,
    cast(sum(
        case tier
            when 'full' then amount_per_patient
            when 'partial' then amount_per_patient * partial_payout
            else 0
        end
    ) as decimal(18, 2)) as payable,
    {{ safe_divide("sum(" ~ flag("tier = 'full'") ~ ")", 'count(*)') }} as full_tier_rate,
    {{ safe_divide('sum(case tier when \'full\' then amount_per_patient when \'partial\' then amount_per_patient * partial_payout else 0 end)', 'sum(amount_per_patient)') }} as payable_share
from tiered
group by year, facility_code, disease
