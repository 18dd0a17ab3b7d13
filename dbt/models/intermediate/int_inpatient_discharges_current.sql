{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['facility_code', 'stay_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('inpatient_discharges', ['facility_code', 'stay_id'], month_of('c.discharge_time'), ['inpatient_discharges']) }}
