{{ config(unique_key=['facility_code', 'visit_id']) }}

{{ current_state('outpatient_visits', ['facility_code', 'visit_id'], month_of('c.visit_time'), ['outpatient_visits']) }}
