{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['outpatient_visits'], yoy=true) }}"
    )
}}

with visits as (
    select * from {{ ref('int_outpatient_visits_current') }}
    where {{ month_needs_rebuild('month', ['outpatient_visits'], yoy=true) }}
       or {{ month_needs_rebuild(dbt.dateadd('month', 12, 'month'), ['outpatient_visits'], yoy=true) }}
),

monthly as (
    select
        month,
        facility_code,
        count(*) as visits,
        {{ count_where("visit_type = 'outpatient'") }} as outpatient_visits,
        {{ count_where("visit_type = 'emergency'") }} as emergency_visits,
        {{ count_where("visit_type = 'home_visit'") }} as home_visits,
        count(distinct resident_id) as patients
    from visits
    group by month, facility_code
)

select
    m.month,
    m.facility_code,
    f.district_code,
    f.level_group,
    m.visits,
    m.outpatient_visits,
    m.emergency_visits,
    m.home_visits,
    m.patients,
    ly.visits as visits_same_month_last_year,
    {{ safe_divide('m.visits - ly.visits', 'ly.visits') }} as yoy_growth,
    {{ current_batch_id() }} as _processed_batch_id
from monthly as m
left join monthly as ly
    on ly.facility_code = m.facility_code
   and ly.month = cast({{ dbt.dateadd('month', -12, 'm.month') }} as date)
left join {{ ref('int_facilities_classified') }} as f on f.facility_code = m.facility_code
where {{ month_needs_rebuild('m.month', ['outpatient_visits'], yoy=true) }}
