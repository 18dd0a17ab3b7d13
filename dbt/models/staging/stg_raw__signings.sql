with source as (
    select * from {{ source('raw', 'signings') }}
)

select
    contract_id,
    facility_code,
    team_code,
    resident_id,
    id_card_hash,
    package_code,
    sign_date,
    start_date,
    end_date,
    status,
    fee_total,
    fee_city,
    fee_district,
    fee_self,
    district_hospital_code,
    city_hospital_code,
    renewal_of,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
