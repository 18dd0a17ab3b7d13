with source as (
    select * from {{ source('raw', 'chronic_followups') }}
)

select
    followup_id,
    facility_code,
    team_code,
    resident_id,
    disease,
    followup_date,
    mode,
    sbp,
    dbp,
    fasting_glucose,
    medication_adherence,
    referred,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
