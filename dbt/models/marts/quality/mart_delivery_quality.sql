with expected as (
    select * from {{ ref('int_facility_days_expected') }}
),

deliveries as (
    select * from {{ source('audit', 'deliveries') }}
),

first_complete as (
    select facility_code, business_date, min(generated_at) as first_generated_at
    from deliveries
    where status in ('loaded', 'superseded')
    group by facility_code, business_date
),

reported as (
    select
        facility_code,
        business_date,
        delivery_version,
        status,
        rows_loaded,
        rows_quarantined,
        files_rejected,
        row_number() over (
            partition by facility_code, business_date
            order by case when status = 'loaded' then 0 else 1 end,
                     delivery_version desc nulls last, received_at desc
        ) as pick
    from deliveries
),

quarantine as (
    select
        q.facility_code,
        q.business_date,
        coalesce(q.delivery_version, -1) as delivery_version,
        {%- for reason in var('quarantine_reasons') %}
        {{ count_where("q.reason = '" ~ reason ~ "'") }} as q_{{ reason }},
        {%- endfor %}
        {{ count_where('q.line_no is null') }} as quarantined_files,
        count(*) as quarantine_records
    from {{ source('audit', 'quarantine') }} as q
    group by q.facility_code, q.business_date, coalesce(q.delivery_version, -1)
)

select
    e.business_date,
    e.facility_code,
    e.facility_type,
    e.district_code,
    cast(1 as {{ dbt.type_bigint() }}) as expected,
    cast({{ flag("r.status = 'loaded'") }} as {{ dbt.type_bigint() }}) as delivered,
    -- 06:00 on the day after business_date = business_date + 30 hours
    cast({{ flag('fc.first_generated_at < ' ~ dbt.dateadd('hour', 30, 'cast(e.business_date as ' ~ dbt.type_timestamp() ~ ')')) }} as {{ dbt.type_bigint() }}) as on_time,
    r.status as delivery_status,
    r.delivery_version,
    fc.first_generated_at,
    cast(coalesce(r.rows_loaded, 0) as {{ dbt.type_bigint() }}) as rows_loaded,
    cast(coalesce(r.rows_quarantined, 0) as {{ dbt.type_bigint() }}) as rows_quarantined,
    cast(coalesce(r.files_rejected, q.quarantined_files, 0) as {{ dbt.type_bigint() }}) as files_rejected,
    {%- for reason in var('quarantine_reasons') %}
    cast(coalesce(q.q_{{ reason }}, 0) as {{ dbt.type_bigint() }}) as q_{{ reason }},
    {%- endfor %}
    cast(coalesce(q.quarantine_records, 0) as {{ dbt.type_bigint() }}) as quarantine_records
from expected as e
left join reported as r
    on r.facility_code = e.facility_code and r.business_date = e.business_date and r.pick = 1
left join first_complete as fc
    on fc.facility_code = e.facility_code and fc.business_date = e.business_date
left join quarantine as q
    on q.facility_code = e.facility_code
   and q.business_date = e.business_date
   and q.delivery_version = coalesce(r.delivery_version, -1)
