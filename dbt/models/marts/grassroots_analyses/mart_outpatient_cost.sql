{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['outpatient_visits'], yoy=true) }}"
    )
}}

with visits as (
    select * from {{ ref('int_outpatient_visits_current') }}
    where {{ month_needs_rebuild('month', ['outpatient_visits'], yoy=true) }}
       or {{ month_needs_rebuild(dbt.dateadd('month', 12, 'month'), ['outpatient_visits'], yoy=true) }}
),

monthly as (
    select
        month,
        facility_code,
        count(*) as visits,
        cast(sum(total_fee) as decimal(18, 2)) as total_fee,
        cast(sum(drug_fee) as decimal(18, 2)) as drug_fee,
        cast(sum(exam_fee) as decimal(18, 2)) as exam_fee,
        cast(sum(treatment_fee) as decimal(18, 2)) as treatment_fee,
        cast(sum(other_fee) as decimal(18, 2)) as other_fee,
        cast(sum(insurance_paid) as decimal(18, 2)) as insurance_paid,
        cast(sum(self_paid) as decimal(18, 2)) as self_paid
    from visits
    group by month, facility_code
)

select
    m.month,
    m.facility_code,
    f.district_code,
    f.level_group,
    f.alliance_code,
    m.visits,
    m.total_fee,
    m.drug_fee,
    m.exam_fee,
    m.treatment_fee,
    m.other_fee,
    m.insurance_paid,
    m.self_paid,
    {{ safe_divide('m.total_fee', 'm.visits') }} as avg_fee_per_visit,
    {{ safe_divide('m.drug_fee', 'm.visits') }} as avg_drug_fee_per_visit,
    {{ safe_divide('m.insurance_paid', 'm.total_fee') }} as insurance_share,
    ly.visits as visits_last_year,
    ly.total_fee as total_fee_last_year,
    {{ safe_divide('ly.total_fee', 'ly.visits') }} as avg_fee_per_visit_last_year,
    {{ safe_divide(
        safe_divide('m.total_fee', 'm.visits') ~ ' - ' ~ safe_divide('ly.total_fee', 'ly.visits'),
        safe_divide('ly.total_fee', 'ly.visits')) }} as avg_fee_growth,
    {{ current_batch_id() }} as _processed_batch_id
from monthly as m
left join monthly as ly
    on ly.facility_code = m.facility_code
   and ly.month = cast({{ dbt.dateadd('month', -12, 'm.month') }} as date)
left join {{ ref('int_facilities_classified') }} as f on f.facility_code = m.facility_code
where {{ month_needs_rebuild('m.month', ['outpatient_visits'], yoy=true) }}
