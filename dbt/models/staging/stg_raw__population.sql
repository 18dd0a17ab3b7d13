with source as (
    select * from {{ source('raw', 'population') }}
)

select
    region_code,
    year,
    sex,
    age_band,
    population,
    _snapshot_sha256,
    _batch_id
from source
