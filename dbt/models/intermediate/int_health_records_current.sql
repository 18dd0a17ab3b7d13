-- Latest-wins current state of health_records (key: 'resident_id'), month of registered_date: see macro current_state.
-- Incremental like the visits: a year of deliveries holds over a million rows at 1 M residents,
-- and a full rebuild every night grew with history.
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['resident_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('health_records', ['resident_id'], month_of('c.registered_date'), ['health_records']) }}
