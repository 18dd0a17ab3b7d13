with source as (
    select * from {{ source('raw', 'teams') }}
)

select
    team_code,
    facility_code,
    team_name,
    gp_count,
    nurse_count,
    public_health_count,
    specialist_count,
    volunteer_count,
    _snapshot_sha256,
    _batch_id
from source
