with source as (
    select * from {{ source('raw', 'outpatient_visits') }}
)

select
    visit_id,
    facility_code,
    resident_id,
    id_card_hash,
    visit_time,
    department_code,
    visit_type,
    doctor_id,
    team_code,
    diagnosis_code,
    total_fee,
    drug_fee,
    exam_fee,
    treatment_fee,
    other_fee,
    insurance_paid,
    self_paid,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
