{{ config(unique_key=['resident_id']) }}

{{ current_state('health_records', ['resident_id'], month_of('c.registered_date'), ['health_records']) }}
