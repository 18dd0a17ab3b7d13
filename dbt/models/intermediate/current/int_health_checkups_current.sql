{{ config(unique_key=['checkup_id']) }}

{{ current_state('health_checkups', ['checkup_id'], month_of('c.checkup_date'), ['health_checkups']) }}
