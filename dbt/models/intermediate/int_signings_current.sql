-- Latest-wins current state of signings (key: 'contract_id'), month of sign_date: see macro current_state.
-- Incremental like the visits: a year of deliveries holds over a million rows at 1 M residents,
-- and a full rebuild every night grew with history.
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['contract_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('signings', ['contract_id'], month_of('c.sign_date'), ['signings']) }}
