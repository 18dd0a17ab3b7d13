select
    month,
    {{ sum_int('total_visits') }} as total_visits,
    {{ sum_int('grassroots_visits') }} as grassroots_visits,
    {{ safe_divide('sum(grassroots_visits)', 'sum(total_visits)') }} as grassroots_share,
    {{ sum_int('signed_visits') }} as signed_visits,
    {{ sum_int('signed_grassroots_visits') }} as signed_grassroots_visits,
    {{ safe_divide('sum(signed_grassroots_visits)', 'sum(signed_visits)') }} as signed_grassroots_share,
    {{ sum_int('unsigned_visits') }} as unsigned_visits,
    {{ sum_int('unsigned_grassroots_visits') }} as unsigned_grassroots_visits,
    {{ safe_divide('sum(unsigned_grassroots_visits)', 'sum(unsigned_visits)') }} as unsigned_grassroots_share,
    {{ sum_int('in_county_visits') }} as in_county_visits,
    {{ sum_int('county_resident_visits') }} as county_resident_visits,
    {{ safe_divide('sum(in_county_visits)', 'sum(county_resident_visits)') }} as in_county_rate
from {{ ref('mart_grassroots_visits') }}
group by month
