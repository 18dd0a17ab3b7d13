with source as (
    select * from {{ source('raw', 'facilities') }}
)

select
    facility_code,
    facility_name,
    facility_type,
    level as facility_level,
    grade,
    region_code,
    district_code,
    alliance_code,
    parent_facility_code,
    approved_beds,
    _snapshot_sha256,
    _batch_id
from source
