{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key=['referral_id'],
        post_hook="{{ delete_tombstones() }}",
        on_schema_change='append_new_columns'
    )
}}

{{ current_state('referrals', ['referral_id'], month_of('c.referral_time'), ['referrals']) }}
