-- Latest-wins current state of chronic_followups (key: 'followup_id'), month of followup_date: see macro current_state.
-- Incremental like the visits: a year of deliveries holds over a million rows at 1 M residents,
-- and a full rebuild every night grew with history.
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
