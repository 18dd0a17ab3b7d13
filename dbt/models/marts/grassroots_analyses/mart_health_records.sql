-- 健康档案建立完整率 / 使用率: month-end (as_of_date) x community of residence.
-- records: residents whose (current) record was registered on or before the date, one per
-- resident; complete: the six completeness fields non-empty; active: any outpatient visit,
-- chronic follow-up, checkup, signing or record update (the spec's list; inpatient stays are not
-- in it) in the 365 days up to the
-- date ((as_of - 364 days) .. as_of).  Denominator population: population.csv of the year.
with performance_period as (
    select as_of_date, year from {{ ref('int_calendar_months') }}
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
    select resident_id, region_code, registered_date, is_complete
    from {{ ref('int_residents_enriched') }}
),

records as (
    select p.as_of_date, r.region_code, r.resident_id, r.is_complete
    from performance_period as p
    inner join residents as r on r.registered_date <= p.as_of_date
),

events as (
    select resident_id, {{ to_date('visit_time') }} as event_date
    from {{ ref('int_outpatient_visits_current') }}
    union
    select resident_id, followup_date from {{ ref('int_chronic_followups_current') }}
    union
    select resident_id, checkup_date from {{ ref('int_health_checkups_current') }}
    union
    select resident_id, sign_date from {{ ref('int_signings_current') }}
    union
    select resident_id, updated_date from {{ ref('int_health_records_current') }}
    where updated_date is not null
),

active as (
    {{ active_on('records', 'events', var('active_record_days')) }}
),

summary as (
    select
        r.as_of_date,
        r.region_code,
        count(*) as records,
        {{ count_where('r.is_complete') }} as complete_records,
        {{ count_where('a.resident_id is not null') }} as active_records
    from records as r
    left join active as a on a.as_of_date = r.as_of_date and a.resident_id = r.resident_id
    group by r.as_of_date, r.region_code
)

select
    p.as_of_date,
    c.region_code,
    c.district_code,
    coalesce(pop.population, 0) as population,
    coalesce(s.records, 0) as records,
    {{ safe_divide('coalesce(s.records, 0)', 'pop.population') }} as record_rate,
    coalesce(s.complete_records, 0) as complete_records,
    {{ safe_divide('coalesce(s.complete_records, 0)', 's.records') }} as completeness_rate,
    coalesce(s.active_records, 0) as active_records,
    {{ safe_divide('coalesce(s.active_records, 0)', 's.records') }} as activation_rate
from performance_period as p
cross join communities as c
left join population as pop on pop.region_code = c.region_code and pop.year = p.year
left join summary as s on s.as_of_date = p.as_of_date and s.region_code = c.region_code
