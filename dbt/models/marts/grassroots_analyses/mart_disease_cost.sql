{#- incremental by year: a night rebuilds the years its deliveries touched and the year still
    running, not every year of the history -#}
{%- set datasets = ['outpatient_visits', 'inpatient_discharges'] %}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='year',
        pre_hook="{{ delete_rebuilt_years(" ~ datasets ~ ") }}"
    )
}}

with summary as (
    -- a row of int_resident_disease_years is one patient's episodes of the row
    select
        year,
        icd10_category,
        setting,
        {{ sum_int('episodes') }} as episodes,
        count(*) as patients,
        cast(sum(total_fee) as decimal(18, 2)) as total_fee,
        cast(sum(insurance_paid) as decimal(18, 2)) as insurance_paid,
        cast(sum(self_paid) as decimal(18, 2)) as self_paid
    from {{ ref('int_resident_disease_years') }}
    where {{ year_needs_rebuild('year', datasets) }}
    group by year, icd10_category, setting
)

select
    s.year,
    s.icd10_category,
    s.setting,
    y.as_of_date,
    y.is_complete,
    i.title_zh,
    i.title_en,
    i.chapter,
    i.chapter_title_zh,
    s.episodes,
    s.patients,
    s.total_fee,
    {{ safe_divide('s.total_fee', 's.episodes') }} as avg_fee_per_episode,
    s.insurance_paid,
    s.self_paid,
    {{ safe_divide('s.total_fee', 's.patients') }} as cost_per_patient,
    {{ current_batch_id() }} as _processed_batch_id
from summary as s
left join {{ ref('icd10_categories') }} as i on i.category = s.icd10_category
left join {{ ref('int_calendar_years') }} as y on y.year = s.year
