with performance_period as (
    select month, as_of_date, year, is_complete from {{ ref('int_calendar_months') }}
),

communities as (
    select region_code, district_code from {{ ref('int_regions_hierarchy') }}
),

population as (
    select region_code, year, {{ sum_int('population') }} as population
    from {{ ref('stg_raw__population') }}
    group by region_code, year
),

residents as (
    -- a record counts at every month-end from the end of its registration month on (and of the
    -- resident's birth month: residents count from birth)
    select
        resident_id,
        region_code,
        greatest({{ month_of('registered_date') }}, {{ month_of('birth_date') }}) as registered_month,
        is_complete
    from {{ ref('int_residents_enriched') }}
),

registered as (
    select
        region_code,
        registered_month,
        count(*) as records,
        {{ count_where('is_complete') }} as complete_records
    from residents
    group by region_code, registered_month
),

record_counts as (
    select
        p.as_of_date,
        g.region_code,
        {{ sum_int('g.records') }} as records,
        {{ sum_int('g.complete_records') }} as complete_records
    from performance_period as p
    inner join registered as g on g.registered_month <= p.month
    group by p.as_of_date, g.region_code
),

events as (
    -- per resident and month the last activity event: visits, follow-ups and checkups come
    -- grouped by month (int_resident_event_months, incremental); each signing is one more row,
    -- possibly in a month that already has one.  A record update is the updated_date of every
    -- delivered version of the record: the current version keeps only the latest one, and
    -- the go-live stock's update dates would vanish as soon as a record changes again.
    select resident_id, month, last_event from {{ ref('int_resident_event_months') }}
    union all
    select resident_id, {{ month_of('sign_date') }}, sign_date from {{ ref('int_signings_current') }}
    union all
    select resident_id, {{ month_of('updated_date') }}, max(updated_date)
    from {{ ref('stg_raw__health_records') }}
    where updated_date is not null
    group by resident_id, {{ month_of('updated_date') }}
),

event_months as (
    -- one row per resident and month: its last event
    select resident_id, month, max(last_event) as last_event
    from events
    group by resident_id, month
),

spans as (
    -- From an event month up to the resident's next one, the latest event on or before each
    -- month-end is that month's last_event: the resident is active at those month-ends while
    -- month-end <= last_event + (days - 1), i.e. in the months before the month of
    -- last_event + days.  Months are counted from the record's registration on.
    select
        r.region_code,
        greatest(e.month, r.registered_month) as first_month,
        -- least() skips the null lead of the last event month (DuckDB and Spark alike)
        least(
            lead(e.month) over (partition by e.resident_id order by e.month),
            {{ month_of(dbt.dateadd('day', var('active_record_days'), 'e.last_event')) }}
        ) as stop_month
    from event_months as e
    inner join residents as r on r.resident_id = e.resident_id
    where r.registered_month is not null
),

span_ends as (
    select region_code, first_month as month, 1 as delta from spans where first_month < stop_month
    union all
    select region_code, stop_month, -1 from spans where first_month < stop_month
),

active_deltas as (
    select region_code, month, {{ sum_int('delta') }} as delta
    from span_ends
    group by region_code, month
),

active_counts as (
    select p.as_of_date, d.region_code, {{ sum_int('d.delta') }} as active_records
    from performance_period as p
    inner join active_deltas as d on d.month <= p.month
    where p.is_complete
    group by p.as_of_date, d.region_code
),

running_active as (
    -- the month still running is measured at the last day loaded, not at a month-end: its
    -- window is counted from the events themselves (their monthly last events suffice)
    select p.as_of_date, r.region_code, count(distinct e.resident_id) as active_records
    from performance_period as p
    inner join events as e
        on e.last_event <= p.as_of_date
       and e.last_event > {{ dbt.dateadd('day', -var('active_record_days'), 'p.as_of_date') }}
    inner join residents as r on r.resident_id = e.resident_id
    where not p.is_complete and r.registered_month <= p.month
    group by p.as_of_date, r.region_code
),

all_active as (
    select * from active_counts
    union all
    select * from running_active
)

select
    p.as_of_date,
    c.region_code,
    c.district_code,
    coalesce(pop.population, 0) as population,
    coalesce(rc.records, 0) as records,
    {{ safe_divide('coalesce(rc.records, 0)', 'pop.population') }} as record_rate,
    coalesce(rc.complete_records, 0) as complete_records,
    {{ safe_divide('coalesce(rc.complete_records, 0)', 'rc.records') }} as completeness_rate,
    coalesce(ac.active_records, 0) as active_records,
    {{ safe_divide('coalesce(ac.active_records, 0)', 'rc.records') }} as activation_rate
from performance_period as p
cross join communities as c
left join population as pop on pop.region_code = c.region_code and pop.year = p.year
left join record_counts as rc on rc.as_of_date = p.as_of_date and rc.region_code = c.region_code
left join all_active as ac on ac.as_of_date = p.as_of_date and ac.region_code = c.region_code
