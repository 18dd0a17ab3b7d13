{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['outpatient_visits']) }}"
    )
}}

with visits as (
    select v.*, {{ icd10_category('v.diagnosis_code') }} as icd10_category, f.level_group
    from {{ ref('int_outpatient_visits_current') }} as v
    left join {{ ref('int_facilities_classified') }} as f on f.facility_code = v.facility_code
    where {{ month_needs_rebuild('v.month', ['outpatient_visits']) }}
),

by_category as (
    select
        month,
        level_group,
        icd10_category,
        count(*) as visits,
        count(distinct resident_id) as patients
    from visits
    group by month, level_group, icd10_category
),

totals as (
    select month, level_group, sum(visits) as level_visits
    from by_category
    group by month, level_group
)

select
    b.month,
    b.level_group,
    b.icd10_category,
    i.title_zh,
    i.title_en,
    i.chapter,
    i.chapter_range,
    i.chapter_title_zh,
    i.chapter_title_en,
    b.visits,
    b.patients,
    cast(t.level_visits as {{ dbt.type_bigint() }}) as level_visits,
    {{ safe_divide('b.visits', 't.level_visits') }} as share_of_visits,
    cast(rank() over (partition by b.month, b.level_group order by b.visits desc) as {{ dbt.type_bigint() }}) as rank,
    {{ current_batch_id() }} as _processed_batch_id
from by_category as b
inner join totals as t on t.month = b.month and t.level_group is not distinct from b.level_group
left join {{ ref('icd10_categories') }} as i on i.category = b.icd10_category
