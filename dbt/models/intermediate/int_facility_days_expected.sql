{{ config(materialized='table') }}

-- A folder dated after the day it was received (rejected by the loader) does not stretch the range.
{%- set seen %}(select business_date from {{ source('audit', 'deliveries') }} where received_at is null or business_date <= cast(received_at as date)){% endset %}
{%- set first_day %}coalesce((select min(business_date) from {{ seen }}), cast('{{ var("calendar_default_start") }}' as date)){% endset %}
{%- set last_day %}coalesce((select max(business_date) from {{ seen }}), cast('{{ var("calendar_default_start") }}' as date)){% endset %}

with days as (
    {{ dbt.date_spine('day', first_day, dbt.dateadd('day', 1, last_day)) }}
),

bounds as (
    select count(*) as deliveries from {{ seen }}
)

select
    cast(d.date_day as date) as business_date,
    f.facility_code,
    f.facility_type,
    f.district_code
from days as d
cross join {{ ref('int_facilities_classified') }} as f
where f.delivers_extracts
  and (select deliveries from bounds) > 0  -- no delivery seen: nothing expected
