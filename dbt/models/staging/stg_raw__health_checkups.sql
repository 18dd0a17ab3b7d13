with source as (
    select * from {{ source('raw', 'health_checkups') }}
)

select
    checkup_id,
    facility_code,
    resident_id,
    checkup_date,
    checkup_type,
    items_completed,
    sbp,
    dbp,
    fasting_glucose,
    bmi,
    abnormal_findings,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
