{{ config(unique_key=['facility_code', 'stay_id']) }}

{{ current_state('inpatient_discharges', ['facility_code', 'stay_id'], month_of('c.discharge_time'), ['inpatient_discharges']) }}
