with regions as (
    select * from {{ ref('stg_raw__regions') }}
),

communities as (
    select * from regions where region_level = 'community'
),

with_parent as (
    select
        c.region_code,
        c.region_name as community_name,
        c.urban_rural,
        case when p.region_level = 'street' then p.region_code end as street_code,
        case when p.region_level = 'street' then p.region_name end as street_name,
        case when p.region_level = 'district' then p.region_code else p.parent_region_code end
            as district_code
    from communities as c
    left join regions as p on p.region_code = c.parent_region_code
)

select
    w.region_code,
    w.community_name,
    w.urban_rural,
    w.street_code,
    w.street_name,
    w.district_code,
    d.region_name as district_name,
    d.parent_region_code as city_code,
    ci.region_name as city_name
from with_parent as w
left join regions as d on d.region_code = w.district_code
left join regions as ci on ci.region_code = d.parent_region_code
