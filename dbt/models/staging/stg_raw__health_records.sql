with source as (
    select * from {{ source('raw', 'health_records') }}
)

select
    resident_id,
    facility_code,
    id_card_hash,
    sex,
    birth_date,
    region_code,
    registered_date,
    updated_date,
    hypertension,
    diabetes,
    tuberculosis,
    severe_mental_disorder,
    disability,
    pregnant,
    low_income,
    blood_type,
    allergy_history,
    past_history,
    family_history,
    occupation,
    education,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
