{#- incremental by month: a night rebuilds the months whose visits changed or were classified
    anew (int_outpatient_visits_classified writes only the visits whose class changed), not
    every month of the history -#}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['outpatient_visits'], rows_of=ref('int_outpatient_visits_classified')) }}"
    )
}}
{%- set classified = ref('int_outpatient_visits_classified') %}

with classified as (
    select * from {{ classified }}
    where {{ month_needs_rebuild('month', ['outpatient_visits'], rows_of=classified) }}
),

by_facility_district as (
    select
        month,
        facility_district_code as district_code,
        count(*) as total_visits,
        {{ count_where('is_grassroots') }} as grassroots_visits,
        {{ count_where('is_signed') }} as signed_visits,
        {{ count_where('is_signed and is_grassroots') }} as signed_grassroots_visits,
        {{ count_where('not is_signed') }} as unsigned_visits,
        {{ count_where('not is_signed and is_grassroots') }} as unsigned_grassroots_visits
    from classified
    where facility_district_code is not null
    group by month, facility_district_code
),

by_resident_district as (
    select
        month,
        resident_district_code as district_code,
        count(*) as county_resident_visits,
        {{ count_where('facility_district_code = resident_district_code') }} as in_county_visits
    from classified
    where resident_district_code is not null
    group by month, resident_district_code
),

grain as (
    select month, district_code from by_facility_district
    union
    select month, district_code from by_resident_district
)

select
    g.month,
    g.district_code,
    coalesce(a.total_visits, 0) as total_visits,
    coalesce(a.grassroots_visits, 0) as grassroots_visits,
    {{ safe_divide('a.grassroots_visits', 'a.total_visits') }} as grassroots_share,
    coalesce(a.signed_visits, 0) as signed_visits,
    coalesce(a.signed_grassroots_visits, 0) as signed_grassroots_visits,
    {{ safe_divide('a.signed_grassroots_visits', 'a.signed_visits') }} as signed_grassroots_share,
    coalesce(a.unsigned_visits, 0) as unsigned_visits,
    coalesce(a.unsigned_grassroots_visits, 0) as unsigned_grassroots_visits,
    {{ safe_divide('a.unsigned_grassroots_visits', 'a.unsigned_visits') }} as unsigned_grassroots_share,
    coalesce(r.in_county_visits, 0) as in_county_visits,
    coalesce(r.county_resident_visits, 0) as county_resident_visits,
    {{ safe_divide('r.in_county_visits', 'r.county_resident_visits') }} as in_county_rate,
    {{ current_batch_id() }} as _processed_batch_id
from grain as g
left join by_facility_district as a on a.month = g.month and a.district_code = g.district_code
left join by_resident_district as r on r.month = g.month and r.district_code = g.district_code
