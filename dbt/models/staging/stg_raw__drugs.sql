with source as (
    select * from {{ source('raw', 'drugs') }}
)

select
    drug_code,
    generic_name,
    atc_code,
    is_essential,
    is_antibiotic,
    is_vbp,
    _snapshot_sha256,
    _batch_id
from source
