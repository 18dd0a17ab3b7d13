{{ config(materialized='table') }}

{%- set default_start = "cast('" ~ var('calendar_default_start') ~ "' as date)" %}
{%- set first_month %}
coalesce(
    (select min(month) from {{ source('audit', 'load_changes') }}
     where dataset not in ('health_records', 'signings')),
    {{ default_start }}
)
{%- endset %}
{%- set last_loaded %}(select max(business_date) from {{ source('audit', 'deliveries') }} where status = 'loaded'){% endset %}
{%- set last_month %}
coalesce(
    {{ month_of(last_loaded) }},
    (select max(month) from {{ source('audit', 'load_changes') }}),
    {{ default_start }}
)
{%- endset %}

with spine as (
    {{ dbt.date_spine('month', first_month, dbt.dateadd('month', 1, last_month)) }}
),

months as (
    select
        cast(date_month as date) as month,
        {{ month_end('date_month') }} as month_end
    from spine
),

data as (
    -- the latest business date loaded; without deliveries, the end of the calendar
    select coalesce({{ last_loaded }}, max(month_end)) as data_as_of from months
)

select
    m.month,
    m.month_end,
    -- a month is measured at its last day, the month still running at the latest day loaded
    least(m.month_end, d.data_as_of) as as_of_date,
    m.month_end <= d.data_as_of as is_complete,
    d.data_as_of,
    {{ year_of('m.month') }} as year,
    {{ days_in_month('m.month') }} as days_in_month,
    cast({{ dbt.dateadd('month', -12, 'm.month') }} as date) as month_last_year
from months as m
cross join data as d
