with source as (
    select * from {{ source('raw', 'inpatient_discharges') }}
)

select
    stay_id,
    facility_code,
    resident_id,
    id_card_hash,
    admit_time,
    discharge_time,
    department_code,
    diagnosis_code,
    total_fee,
    drug_fee,
    insurance_paid,
    self_paid,
    discharge_status,
    referral_id,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
