{{ config(materialized='table') }}
-- a table: one scan of every visit, read by int_residents_enriched and the settlement mart

with diagnoses as (
    select resident_id, {{ icd10_category('diagnosis_code') }} as category,
           {{ to_date('visit_time') }} as dx_date
    from {{ ref('int_outpatient_visits_current') }}
    union all
    select resident_id, {{ icd10_category('diagnosis_code') }} as category,
           {{ to_date('discharge_time') }} as dx_date
    from {{ ref('int_inpatient_discharges_current') }}
)

select
    resident_id,
    min(case when category between 'I10' and 'I13' then dx_date end) as first_hypertension_dx_date,
    min(case when category in ('E11', 'E14') then dx_date end) as first_diabetes_dx_date
from diagnoses
group by resident_id
