{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['facility_code', 'census_date', 'department_code'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('bed_census', ['facility_code', 'census_date', 'department_code'], month_of('c.census_date'), ['bed_census']) }}
