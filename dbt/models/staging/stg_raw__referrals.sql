with source as (
    select * from {{ source('raw', 'referrals') }}
)

select
    referral_id,
    facility_code,
    to_facility_code,
    resident_id,
    referral_time,
    direction,
    referral_kind,
    diagnosis_code,
    team_code,
    priority_slot,
    status,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
