-- Month calendar (dbt.date_spine): from the first event month of the activity data to the month
-- of the last business_date delivered.  Health records and signings are left out of the lower
-- bound (registration/sign dates reach back years before the warehouse starts).  With no data
-- at all, a single month (var calendar_default_start).
{{ config(materialized='table') }}

{%- set default_start = "cast('" ~ var('calendar_default_start') ~ "' as date)" %}
{%- set first_month %}
coalesce(
    (select min(month) from {{ source('audit', 'load_changes') }}
     where dataset not in ('health_records', 'signings')),
    {{ default_start }}
)
{%- endset %}
{%- set last_month %}
coalesce(
    {{ month_of("(select max(business_date) from " ~ source('audit', 'deliveries') ~ " where status = 'loaded')") }},
    (select max(month) from {{ source('audit', 'load_changes') }}),
    {{ default_start }}
)
{%- endset %}

with spine as (
    {{ dbt.date_spine('month', first_month, dbt.dateadd('month', 1, last_month)) }}
)

select
    cast(date_month as date) as month,
    {{ month_end('date_month') }} as as_of_date,
    {{ year_of('date_month') }} as year,
    {{ days_in_month('date_month') }} as days_in_month,
    cast({{ dbt.dateadd('month', -12, 'date_month') }} as date) as month_last_year
from spine
