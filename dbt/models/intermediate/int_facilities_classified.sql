with facilities as (
    select * from {{ ref('stg_raw__facilities') }}
),

districts as (
    select region_code, region_name from {{ ref('stg_raw__regions') }}
    where region_level = 'district'
)

select
    f.facility_code,
    f.facility_name,
    f.facility_type,
    f.facility_level,
    f.grade,
    f.region_code,
    f.district_code,
    d.region_name as district_name,
    coalesce(f.alliance_code, 'none') as alliance_code,
    f.parent_facility_code,
    f.approved_beds,
    f.facility_type in {{ in_list('grassroots_types') }} as is_grassroots,
    f.facility_type in {{ in_list('centre_types') }} as is_centre,
    case when f.facility_type in {{ in_list('grassroots_types') }} then 'grassroots'
         else 'hospital' end as facility_class,
    case
        when f.facility_type in {{ in_list('grassroots_types') }} then 'grassroots'
        when f.facility_level = 3 then 'level_3'
        when f.facility_level = 2 then 'level_2'
        when f.facility_level = 1 then 'level_1'
        else 'unrated'
    end as level_group,
    case
        when f.facility_type in {{ in_list('grassroots_types') }} then 0
        when f.facility_level >= 1 then f.facility_level
        else 1
    end as level_rank,
    -- the folder a facility's rows arrive in
    case
        when f.facility_type in {{ in_list('grassroots_types') }}
             and f.facility_type not in {{ in_list('centre_types') }}
             and f.parent_facility_code is not null
        then f.parent_facility_code
        else f.facility_code
    end as reporting_facility_code,
    f.facility_type in {{ in_list('centre_types') }}
        or f.facility_type in {{ in_list('hospital_types') }} as delivers_extracts
from facilities as f
left join districts as d on d.region_code = f.district_code
