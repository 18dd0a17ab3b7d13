-- Per resident and month with an activity event (a visit, follow-up or checkup, a signing, an
-- update of the health record): the month's last event, and the months whose ends it keeps the
-- record active at, [first_month, stop_month): up to the resident's next event month or the month
-- of last_event + active_record_days, whichever comes first (so a resident's spans never overlap).
--
-- Maintained by difference, resident by resident: a night recomputes the spans of the residents
-- its rows touch (every resident a changed key's versions name, the old one of a corrected row
-- included), so its cost follows the night, not the history.  A night whose loads deleted rows
-- (a redelivery) or brought a reference snapshot rebuilds every resident.  A touched resident
-- left with no event is written as a tombstone and removed by the post_hook.
-- depends_on: {{ ref('stg_raw__outpatient_visits') }}, {{ ref('stg_raw__chronic_followups') }}
-- depends_on: {{ ref('stg_raw__health_checkups') }}, {{ ref('stg_raw__signings') }}
{%- set datasets = ['outpatient_visits', 'chronic_followups', 'health_checkups', 'signings',
                    'health_records'] %}
{{ config(materialized=incremental_materialization(), incremental_strategy='delete+insert',
          unique_key='resident_id', post_hook="{{ delete_tombstones() }}") }}
{%- set plan = difference_plan(datasets) %}

{{ with_touched(plan, datasets) }}

events as (
    -- visits, follow-ups and checkups come grouped by month (int_resident_event_months); each
    -- signing is one more row.  A record update is the updated_date of every delivered version
    -- of the record: the current version keeps only the latest one, and the go-live stock's
    -- update dates would vanish as soon as a record changes again.
    select resident_id, month, last_event from {{ ref('int_resident_event_months') }}
    where {{ plan.of_touched }}
    union all
    select resident_id, {{ month_of('sign_date') }}, sign_date from {{ ref('int_signings_current') }}
    where sign_date is not null and {{ plan.of_touched }}
    union all
    select resident_id, {{ month_of('updated_date') }}, max(updated_date)
    from {{ ref('stg_raw__health_records') }}
    where updated_date is not null and {{ plan.of_touched }}
    group by resident_id, {{ month_of('updated_date') }}
),

event_months as (
    select resident_id, month, max(last_event) as last_event
    from events
    where resident_id is not null
    group by resident_id, month
),

spans as (
    select
        resident_id,
        month as first_month,
        last_event,
        -- least() skips the null lead of the last event month (DuckDB and Spark alike)
        least(
            lead(month) over (partition by resident_id order by month),
            {{ month_of(dbt.dateadd('day', var('active_record_days'), 'last_event')) }}
        ) as stop_month
    from event_months
)

{{ resident_rows('spans', ['first_month', 'last_event', 'stop_month'], plan.by_difference) }}
