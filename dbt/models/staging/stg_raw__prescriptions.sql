with source as (
    select * from {{ source('raw', 'prescriptions') }}
)

select
    prescription_id,
    line_no,
    facility_code,
    visit_id,
    drug_code,
    quantity,
    days_supply,
    amount,
    is_extended,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
