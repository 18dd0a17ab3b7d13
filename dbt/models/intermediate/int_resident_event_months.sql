-- incremental by month: grouping every event of the history each night grew with it.  Signings
-- and record updates are added by the mart: a contract's status changes every month or so (which
-- would rebuild every month of the year here), and the loader tracks records by registration
-- month, not by update.
{%- set datasets = ['outpatient_visits', 'chronic_followups', 'health_checkups'] %}
{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(" ~ datasets ~ ") }}"
    )
}}

with events as (
    select resident_id, {{ to_date('visit_time') }} as event_date, month
    from {{ ref('int_outpatient_visits_current') }}
    where {{ month_needs_rebuild('month', datasets) }}
    union all
    select resident_id, followup_date, {{ month_of('followup_date') }}
    from {{ ref('int_chronic_followups_current') }}
    where {{ month_needs_rebuild(month_of('followup_date'), datasets) }}
    union all
    select resident_id, checkup_date, {{ month_of('checkup_date') }}
    from {{ ref('int_health_checkups_current') }}
    where {{ month_needs_rebuild(month_of('checkup_date'), datasets) }}
)

select
    resident_id,
    month,
    max(event_date) as last_event,
    {{ current_batch_id() }} as _processed_batch_id
from events
group by resident_id, month
