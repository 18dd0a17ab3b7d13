with performance_period as (
    select year, as_of_date, is_complete from {{ ref('int_calendar_years') }}
),

communities as (
    select region_code, district_code from {{ ref('int_regions_hierarchy') }}
),

denominator as (
    select region_code, year, {{ sum_int('population') }} as population_65plus
    from {{ ref('stg_raw__population') }}
    where age_band in ('65-79', '80+')
    group by region_code, year
),

checkups as (
    select
        c.*,
        {{ year_of('c.checkup_date') }} as year,
        r.region_code,
        r.birth_date
    from {{ ref('int_health_checkups_current') }} as c
    inner join {{ ref('int_residents_enriched') }} as r on r.resident_id = c.resident_id
),

numerator as (
    select c.year, c.region_code, count(distinct c.resident_id) as checked_65plus
    from checkups as c
    inner join performance_period as p on p.year = c.year
    where c.checkup_type = 'elderly_annual'
      and c.items_completed = 8
      and {{ age_at('c.birth_date', 'p.as_of_date') }} >= 65
    group by c.year, c.region_code
),

activity as (
    select
        year,
        region_code,
        count(*) as checkups,
        {{ count_where('abnormal_findings > 0') }} as abnormal_checkups,
        {{ count_where("checkup_type = 'elderly_annual'") }} as elderly_annual_checkups
    from checkups
    group by year, region_code
)

select
    p.year,
    c.region_code,
    c.district_code,
    p.as_of_date,
    p.is_complete,
    coalesce(d.population_65plus, 0) as population_65plus,
    coalesce(n.checked_65plus, 0) as checked_65plus,
    {{ safe_divide('coalesce(n.checked_65plus, 0)', 'd.population_65plus') }} as elderly_health_mgmt_rate,
    coalesce(a.checkups, 0) as checkups,
    coalesce(a.abnormal_checkups, 0) as abnormal_checkups,
    {{ safe_divide('coalesce(a.abnormal_checkups, 0)', 'a.checkups') }} as abnormal_rate,
    coalesce(a.elderly_annual_checkups, 0) as elderly_annual_checkups
from performance_period as p
cross join communities as c
left join denominator as d on d.year = p.year and d.region_code = c.region_code
left join numerator as n on n.year = p.year and n.region_code = c.region_code
left join activity as a on a.year = p.year and a.region_code = c.region_code
