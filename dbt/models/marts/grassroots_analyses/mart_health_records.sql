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

spans as (
    -- a resident's activity spans (int_resident_active_spans), counted from the record's
    -- registration on
    select
        r.region_code,
        greatest(s.first_month, r.registered_month) as first_month,
        s.stop_month
    from {{ ref('int_resident_active_spans') }} as s
    inner join residents as r on r.resident_id = s.resident_id
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
    -- window is counted from the events themselves: a resident's last event of each month
    -- suffices (no event lies after the last day loaded)
    select p.as_of_date, r.region_code, count(distinct s.resident_id) as active_records
    from performance_period as p
    inner join {{ ref('int_resident_active_spans') }} as s
        on s.last_event <= p.as_of_date
       and s.last_event > {{ dbt.dateadd('day', -var('active_record_days'), 'p.as_of_date') }}
    inner join residents as r on r.resident_id = s.resident_id
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
