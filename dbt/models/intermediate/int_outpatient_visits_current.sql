{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['facility_code', 'visit_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('outpatient_visits', ['facility_code', 'visit_id'], month_of('c.visit_time'), ['outpatient_visits']) }}
