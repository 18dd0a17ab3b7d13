{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['bed_census', 'inpatient_discharges']) }}"
    )
}}

with census as (
    select
        month,
        facility_code,
        cast(sum(open_beds) as {{ dbt.type_bigint() }}) as open_bed_days,
        cast(sum(occupied_beds) as {{ dbt.type_bigint() }}) as occupied_bed_days,
        count(distinct census_date) as census_days
    from {{ ref('int_bed_census_current') }}
    where {{ month_needs_rebuild('month', ['bed_census', 'inpatient_discharges']) }}
    group by month, facility_code
),

stays as (
    select
        month,
        facility_code,
        case
            when {{ dbt.datediff(to_date('admit_time'), to_date('discharge_time'), 'day') }} < 1 then 1
            else {{ dbt.datediff(to_date('admit_time'), to_date('discharge_time'), 'day') }}
        end as length_of_stay
    from {{ ref('int_inpatient_discharges_current') }}
    where {{ month_needs_rebuild('month', ['bed_census', 'inpatient_discharges']) }}
),

discharges as (
    select
        month,
        facility_code,
        count(*) as discharges,
        cast(sum(length_of_stay) as {{ dbt.type_bigint() }}) as discharged_bed_days
    from stays
    group by month, facility_code
),

grain as (
    select month, facility_code from census
    union
    select month, facility_code from discharges
),

summary as (
    select
        g.month,
        g.facility_code,
        {{ days_in_month('g.month') }} as days_in_month,
        coalesce(c.census_days, 0) as census_days,
        coalesce(c.open_bed_days, 0) as open_bed_days,
        coalesce(c.occupied_bed_days, 0) as occupied_bed_days,
        coalesce(d.discharges, 0) as discharges,
        coalesce(d.discharged_bed_days, 0) as discharged_bed_days
    from grain as g
    left join census as c on c.month = g.month and c.facility_code = g.facility_code
    left join discharges as d on d.month = g.month and d.facility_code = g.facility_code
)

select
    s.month,
    s.facility_code,
    f.district_code,
    f.level_group,
    f.alliance_code,
    cast(s.days_in_month as {{ dbt.type_bigint() }}) as days_in_month,
    cast(s.census_days as {{ dbt.type_bigint() }}) as census_days,
    s.open_bed_days,
    s.occupied_bed_days,
    {{ safe_divide('s.occupied_bed_days', 's.open_bed_days') }} as bed_utilization_rate,
    -- beds open on an average day reported (a month with missing census days is not diluted)
    {{ safe_divide('s.open_bed_days', 's.census_days') }} as avg_open_beds,
    s.discharges,
    s.discharged_bed_days,
    {{ safe_divide('s.discharged_bed_days', 's.discharges') }} as avg_length_of_stay,
    {{ safe_divide('s.discharges', safe_divide('s.open_bed_days', 's.census_days')) }} as bed_turnover,
    {{ current_batch_id() }} as _processed_batch_id
from summary as s
left join {{ ref('int_facilities_classified') }} as f on f.facility_code = s.facility_code
