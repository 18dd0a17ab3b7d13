{#- The chronic-disease management marts (hypertension, diabetes) differ only in the disease:
    the per-patient logic (managed, standard, controlled) lives in int_chronic_patients_yearly. -#}
{% macro chronic_followup_by_team(disease) %}
with patient_years as (
    select * from {{ ref('int_chronic_patients_yearly') }}
    where disease = '{{ disease }}'
),

denominator as (
    -- managed patients: the rate denominator of both standard management and control
    select * from patient_years where is_managed
),

summary as (
    select
        year,
        team_code,
        max(as_of_date) as as_of_date,
        {{ bool_and('is_complete') }} as is_complete,
        max(required_followups) as required_followups,
        count(*) as managed_patients,
        {{ count_where('is_standard_managed') }} as standard_managed,
        {{ count_where('is_controlled') }} as controlled,
        {{ count_where('age >= 65') }} as managed_65plus,
        cast(sum(followups) as {{ dbt.type_bigint() }}) as followups,
        cast(sum(face_to_face_followups) as {{ dbt.type_bigint() }}) as face_to_face_followups
    from denominator
    group by year, team_code
)

select
    s.year,
    s.team_code,
    t.facility_code,
    s.as_of_date,
    s.is_complete,
    s.required_followups,
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
    max(p.as_of_date) as as_of_date,
    {{ bool_and('p.is_complete') }} as is_complete,
    max(p.required_followups) as required_followups,
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

{#- Both diseases in one table, each row with the metric catalogue's targets of ITS disease's
    indicators (catalogue rows of the disease's marts, mart_<disease>_followup and its roll-ups).
    `rates` maps a target column to the rate column it is the target of. -#}
{% macro chronic_with_targets(suffix, columns, rates) %}
{%- set diseases = ['hypertension', 'diabetes'] -%}
with followup as (
    {%- for disease in diseases %}
    select
        '{{ disease }}' as disease,
        {{ columns | join(', ') }}
    from {{ ref('mart_' ~ disease ~ '_' ~ suffix) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

targets as (
    {%- for disease in diseases %}
    select
        '{{ disease }}' as disease,
        {%- for target, rate in rates.items() %}
        max(case when column_name = '{{ rate }}' then target end) as {{ target }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('metric_catalogue') }}
    where mart like 'mart_{{ disease }}_followup%'
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
)

select
    f.disease,
    {%- for c in columns %}
    f.{{ c }},
    {%- endfor %}
    {%- for target in rates %}
    t.{{ target }}{{ ',' if not loop.last }}
    {%- endfor %}
from followup as f
left join targets as t on t.disease = f.disease
{% endmacro %}
