with source as (
    select * from {{ source('raw', 'bed_census') }}
)

select
    facility_code,
    census_date,
    department_code,
    open_beds,
    occupied_beds,
    admissions,
    discharges,
    _delivery_facility,
    _business_date,
    _delivery_version,
    _file_name,
    _line_no,
    _batch_id
from source
