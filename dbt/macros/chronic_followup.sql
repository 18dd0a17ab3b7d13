{#- The chronic-disease management marts (hypertension, diabetes) differ only in the disease:
    the per-patient logic (managed, standard, controlled) lives in int_chronic_patients_yearly. -#}
{% macro chronic_followup_by_team(disease) %}
with performance_period as (
    select distinct year from {{ ref('int_calendar_months') }}
),

patient_years as (
    select * from {{ ref('int_chronic_patients_yearly') }}
    where disease = '{{ disease }}'
),

denominator as (
    -- managed patients: the rate denominator of both standard management and control
    select * from patient_years where is_managed
),

summary as (
    select
        d.year,
        d.team_code,
        count(*) as managed_patients,
        {{ count_where('d.is_standard_managed') }} as standard_managed,
        {{ count_where('d.is_controlled') }} as controlled,
        {{ count_where('d.age >= 65') }} as managed_65plus,
        cast(sum(d.followups) as {{ dbt.type_bigint() }}) as followups,
        cast(sum(d.face_to_face_followups) as {{ dbt.type_bigint() }}) as face_to_face_followups
    from denominator as d
    inner join performance_period as p on p.year = d.year
    group by d.year, d.team_code
)

select
    s.year,
    s.team_code,
    t.facility_code,
    s.managed_patients,
    s.standard_managed,
    {{ safe_divide('s.standard_managed', 's.managed_patients') }} as standard_mgmt_rate,
    s.controlled,
    {{ safe_divide('s.controlled', 's.managed_patients') }} as control_rate,
    s.managed_65plus,
    s.followups,
    s.face_to_face_followups
from summary as s
left join {{ ref('stg_raw__teams') }} as t on t.team_code = s.team_code
{% endmacro %}

{% macro chronic_followup_by_community(disease) %}
with patient_years as (
    select * from {{ ref('int_chronic_patients_yearly') }}
    where disease = '{{ disease }}'
)

select
    p.year,
    p.region_code,
    max(h.district_code) as district_code,
    count(*) as registered_patients,
    {{ count_where('p.is_managed') }} as managed_patients,
    {{ safe_divide("sum(" ~ flag('p.is_managed') ~ ")", 'count(*)') }} as managed_share,
    {{ count_where('p.is_managed and p.is_standard_managed') }} as standard_managed,
    {{ safe_divide("sum(" ~ flag('p.is_managed and p.is_standard_managed') ~ ")", "sum(" ~ flag('p.is_managed') ~ ")") }} as standard_mgmt_rate,
    {{ count_where('p.is_managed and p.is_controlled') }} as controlled,
    {{ safe_divide("sum(" ~ flag('p.is_managed and p.is_controlled') ~ ")", "sum(" ~ flag('p.is_managed') ~ ")") }} as control_rate
from patient_years as p
left join {{ ref('int_regions_hierarchy') }} as h on h.region_code = p.region_code
group by p.year, p.region_code
{% endmacro %}
