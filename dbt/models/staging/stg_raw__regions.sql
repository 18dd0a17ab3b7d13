with source as (
    select * from {{ source('raw', 'regions') }}
)

select
    region_code,
    region_name,
    level as region_level,
    parent_code as parent_region_code,
    urban_rural,
    _snapshot_sha256,
    _batch_id
from source
