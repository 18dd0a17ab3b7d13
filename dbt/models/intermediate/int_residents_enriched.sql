{{ config(materialized='table') }}
-- a table: five marts read it, and as a view each recomputed the first diagnoses

with records as (
    select * from {{ ref('int_health_records_current') }}
),

first_dx as (
    select * from {{ ref('int_chronic_diagnoses_first') }}
)

select
    r.resident_id,
    r.facility_code as record_facility_code,
    r.region_code,
    h.street_code,
    h.district_code,
    r.sex,
    r.birth_date,
    r.registered_date,
    r.updated_date,
    r.hypertension as hypertension_flag,
    r.diabetes as diabetes_flag,
    r.tuberculosis,
    r.severe_mental_disorder,
    r.disability,
    r.pregnant,
    r.low_income,
    d.first_hypertension_dx_date,
    d.first_diabetes_dx_date,
    (
        {%- for f in var('record_completeness_fields', ['blood_type', 'allergy_history', 'past_history', 'family_history', 'occupation', 'education']) %}
        coalesce(trim(r.{{ f }}), '') <> ''{{ ' and' if not loop.last }}
        {%- endfor %}
    ) as is_complete
from records as r
left join first_dx as d on d.resident_id = r.resident_id
left join {{ ref('int_regions_hierarchy') }} as h on h.region_code = r.region_code
