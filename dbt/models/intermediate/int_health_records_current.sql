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
