-- Per resident, year, ICD-10 category and setting: the resident's episodes (outpatient visits by
-- year of visit_time, inpatient stays by year of discharge_time) and their fees.  The disease
-- cost mart sums these rows: a row is one patient, so its patients are a count, not a distinct
-- count over every episode of the year.
--
-- Maintained by difference, resident by resident (as int_resident_active_spans): a night
-- recomputes the residents its visits and stays touch (the old resident of a corrected row
-- included); a night whose loads deleted rows or brought a reference snapshot recomputes all.
-- depends_on: {{ ref('stg_raw__outpatient_visits') }}, {{ ref('stg_raw__inpatient_discharges') }}
{%- set datasets = ['outpatient_visits', 'inpatient_discharges'] %}
{{ config(materialized=incremental_materialization(), incremental_strategy='delete+insert',
          unique_key='resident_id', post_hook="{{ delete_tombstones() }}") }}
{%- set plan = difference_plan(datasets) %}

{{ with_touched(plan, datasets) }}

episodes as (
    select
        resident_id,
        {{ year_of('visit_time') }} as year,
        {{ icd10_category('diagnosis_code') }} as icd10_category,
        'outpatient' as setting,
        total_fee, insurance_paid, self_paid
    from {{ ref('int_outpatient_visits_current') }}
    where {{ plan.of_touched }}
    union all
    select
        resident_id,
        {{ year_of('discharge_time') }} as year,
        {{ icd10_category('diagnosis_code') }} as icd10_category,
        'inpatient' as setting,
        total_fee, insurance_paid, self_paid
    from {{ ref('int_inpatient_discharges_current') }}
    where {{ plan.of_touched }}
),

per_resident as (
    select
        resident_id,
        year,
        icd10_category,
        setting,
        count(*) as episodes,
        sum(total_fee) as total_fee,
        sum(insurance_paid) as insurance_paid,
        sum(self_paid) as self_paid
    from episodes
    where resident_id is not null
    group by resident_id, year, icd10_category, setting
)

{{ resident_rows('per_resident', ['year', 'icd10_category', 'setting', 'episodes', 'total_fee',
                                  'insurance_paid', 'self_paid'], plan.by_difference) }}
