{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['followup_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('chronic_followups', ['followup_id'], month_of('c.followup_date'), ['chronic_followups']) }}
