-- A table of every resident's first diagnoses, read by int_residents_enriched and the
-- settlement mart.  Maintained by difference, resident by resident: a night recomputes the
-- residents its visits and discharges touch (over all their rows); a night whose loads deleted
-- such rows or brought a reference snapshot recomputes every resident.
-- depends_on: {{ ref('stg_raw__outpatient_visits') }}, {{ ref('stg_raw__inpatient_discharges') }}
{%- set datasets = ['outpatient_visits', 'inpatient_discharges'] %}
{{ config(materialized=incremental_materialization(), incremental_strategy='delete+insert',
          unique_key='resident_id', post_hook="{{ delete_tombstones() }}") }}
{%- set plan = difference_plan(datasets) %}

{{ with_touched(plan, datasets) }}

diagnoses as (
    select resident_id, {{ icd10_category('diagnosis_code') }} as category,
           {{ to_date('visit_time') }} as dx_date
    from {{ ref('int_outpatient_visits_current') }}
    where {{ plan.of_touched }}
    union all
    select resident_id, {{ icd10_category('diagnosis_code') }} as category,
           {{ to_date('discharge_time') }} as dx_date
    from {{ ref('int_inpatient_discharges_current') }}
    where {{ plan.of_touched }}
),

first_dx as (
    select
        resident_id,
        min(case when category between 'I10' and 'I13' then dx_date end) as first_hypertension_dx_date,
        min(case when category in ('E11', 'E14') then dx_date end) as first_diabetes_dx_date
    from diagnoses
    where resident_id is not null
    group by resident_id
)

{{ resident_rows('first_dx', ['first_hypertension_dx_date', 'first_diabetes_dx_date'], plan.by_difference) }}
