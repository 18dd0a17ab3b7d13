with rules as (
    select * from {{ ref('settlement_rules') }}
),

years as (
    select year, year_start, as_of_date, is_complete, days_elapsed, days_in_year
    from {{ ref('int_calendar_years') }}
),

contracts as (
    -- the contract that started last among those in force on some day of the year up to its
    -- as-of date (int_contracts_in_force holds the counted contract of every day)
    select
        y.year,
        c.resident_id,
        c.facility_code,
        row_number() over (
            partition by y.year, c.resident_id
            order by {{ contract_rank_order('c') }}
        ) as pick
    from years as y
    inner join {{ ref('int_contracts_in_force') }} as c
        on c.in_force_from <= y.as_of_date and c.in_force_to >= y.year_start
),

patients as (
    select c.year, c.resident_id, c.facility_code, r.disease
    from contracts as c
    inner join years as y on y.year = c.year
    inner join rules as r on c.year between r.valid_from and r.valid_to
    -- a patient needs no health record: the record flag or a diagnosis by the as-of date
    left join {{ ref('int_health_records_current') }} as hr on hr.resident_id = c.resident_id
    left join {{ ref('int_chronic_diagnoses_first') }} as dx on dx.resident_id = c.resident_id
    where c.pick = 1
      and (
          (r.disease = 'hypertension' and (coalesce(hr.hypertension, false)
              or coalesce(dx.first_hypertension_dx_date <= y.as_of_date, false)))
          or (r.disease = 'diabetes' and (coalesce(hr.diabetes, false)
              or coalesce(dx.first_diabetes_dx_date <= y.as_of_date, false)))
      )
),

volume as (
    -- the year's days supplied per patient, centre and disease: a prescription line carries its
    -- visit's resident and month (int_prescriptions_current), so no join of every visit
    select
        {{ year_of('p.month') }} as year,
        p.resident_id,
        fc.reporting_facility_code as centre_code,
        r.disease,
        sum(p.days_supply) as days_supply
    from {{ ref('int_prescriptions_current') }} as p
    inner join {{ ref('stg_raw__drugs') }} as d on d.drug_code = p.drug_code
    inner join {{ ref('int_facilities_classified') }} as fc on fc.facility_code = p.facility_code
    inner join rules as r
        on upper(substring(d.atc_code, 1, 3)) between r.atc_from and r.atc_to
    where p.resident_id is not null
    group by {{ year_of('p.month') }}, p.resident_id, fc.reporting_facility_code, r.disease
),

coverage as (
    select
        p.year,
        p.facility_code,
        p.disease,
        p.resident_id,
        r.amount_per_patient,
        r.partial_payout,
        -- the year's need, pro-rated to the days elapsed while the year is still running
        cast(r.need_days as {{ type_double() }}) * y.days_elapsed / y.days_in_year as required_days,
        r.need_days,
        y.days_elapsed,
        y.days_in_year,
        r.full_threshold,
        r.partial_threshold,
        coalesce(v.days_supply, 0) as days_supply
    from patients as p
    inner join years as y on y.year = p.year
    inner join rules as r on r.disease = p.disease and p.year between r.valid_from and r.valid_to
    left join volume as v
        on v.year = p.year and v.resident_id = p.resident_id
       and v.centre_code = p.facility_code and v.disease = p.disease
),

tiered as (
    -- thresholds inclusive, compared in exact decimals: volume >= threshold x need_days x days
    -- elapsed / days in the year, multiplied out (binary fractions such as 0.7 x 365 are not
    -- exact)
    select
        *,
        case
            when cast(days_supply as decimal(18, 4)) * days_in_year
                 >= cast(full_threshold as decimal(18, 4)) * need_days * days_elapsed then 'full'
            when cast(days_supply as decimal(18, 4)) * days_in_year
                 >= cast(partial_threshold as decimal(18, 4)) * need_days * days_elapsed then 'partial'
            else 'none'
        end as tier
    from coverage
)

select
    t.year,
    t.facility_code,
    t.disease,
    max(y.as_of_date) as as_of_date,
    {{ bool_and('y.is_complete') }} as is_complete,
    max(t.required_days) as required_days,
    count(*) as patients,
    cast(sum(t.amount_per_patient) as decimal(18, 2)) as budget,
    {{ count_where("t.tier = 'full'") }} as tier_full,
    {{ count_where("t.tier = 'partial'") }} as tier_partial,
    {{ count_where("t.tier = 'none'") }} as tier_none,
    cast(sum(
        case t.tier
            when 'full' then t.amount_per_patient
            when 'partial' then t.amount_per_patient * t.partial_payout
            else 0
        end
    ) as decimal(18, 2)) as payable,
    {{ safe_divide("sum(" ~ flag("t.tier = 'full'") ~ ")", 'count(*)') }} as full_tier_rate,
    {{ safe_divide("sum(case t.tier when 'full' then t.amount_per_patient when 'partial' then t.amount_per_patient * t.partial_payout else 0 end)", 'sum(t.amount_per_patient)') }} as payable_share
from tiered as t
inner join years as y on y.year = t.year
group by t.year, t.facility_code, t.disease
