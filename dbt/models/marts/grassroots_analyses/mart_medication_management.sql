{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['prescriptions', 'outpatient_visits']) }}"
    )
}}

with visits as (
    select * from {{ ref('int_outpatient_visits_current') }}
    where {{ month_needs_rebuild('month', ['prescriptions', 'outpatient_visits']) }}
),

lines as (
    -- p.month is the month of the line's current visit, null when the visit is gone
    -- (int_prescriptions_current): no join of the visits
    select p.*, d.is_antibiotic, d.is_essential, d.is_vbp
    from {{ ref('int_prescriptions_current') }} as p
    left join {{ ref('stg_raw__drugs') }} as d on d.drug_code = p.drug_code
    where p.month is not null
      and {{ month_needs_rebuild('p.month', ['prescriptions', 'outpatient_visits']) }}
),

rx_visits as (
    -- one row per visit with a prescription
    select
        month,
        facility_code,
        visit_id,
        max({{ flag('coalesce(is_antibiotic, false)') }}) as has_antibiotic
    from lines
    group by month, facility_code, visit_id
),

rx as (
    select
        month,
        facility_code,
        count(*) as rx_lines,
        count(distinct prescription_id) as prescriptions,
        cast(sum(amount) as decimal(18, 2)) as rx_amount,
        cast(sum(case when is_essential then amount else 0 end) as decimal(18, 2)) as essential_amount,
        cast(sum(case when is_vbp then amount else 0 end) as decimal(18, 2)) as vbp_amount,
        {{ count_where('days_supply >= 28') }} as long_rx_lines,
        {{ count_where('is_extended') }} as extended_rx_lines
    from lines
    group by month, facility_code
),

rxv as (
    select month, facility_code, count(*) as visits_with_rx, {{ sum_int('has_antibiotic') }} as antibiotic_visits
    from rx_visits
    group by month, facility_code
),

fees as (
    select
        month,
        facility_code,
        count(*) as visits,
        cast(sum(drug_fee) as decimal(18, 2)) as drug_fee,
        cast(sum(total_fee) as decimal(18, 2)) as total_fee
    from visits
    group by month, facility_code
)

select
    f.month,
    f.facility_code,
    c.district_code,
    c.level_group,
    f.visits,
    coalesce(v.visits_with_rx, 0) as visits_with_rx,
    coalesce(v.antibiotic_visits, 0) as antibiotic_visits,
    {{ safe_divide('v.antibiotic_visits', 'v.visits_with_rx') }} as antibiotic_rx_rate,
    coalesce(r.rx_amount, 0) as rx_amount,
    coalesce(r.essential_amount, 0) as essential_amount,
    {{ safe_divide('r.essential_amount', 'r.rx_amount') }} as essential_amount_share,
    coalesce(r.vbp_amount, 0) as vbp_amount,
    {{ safe_divide('r.vbp_amount', 'r.rx_amount') }} as vbp_amount_share,
    coalesce(r.rx_lines, 0) as rx_lines,
    coalesce(r.prescriptions, 0) as prescriptions,
    {{ safe_divide('r.rx_lines', 'r.prescriptions') }} as avg_lines_per_prescription,
    coalesce(r.long_rx_lines, 0) as long_rx_lines,
    {{ safe_divide('r.long_rx_lines', 'r.rx_lines') }} as long_rx_share,
    coalesce(r.extended_rx_lines, 0) as extended_rx_lines,
    {{ safe_divide('r.extended_rx_lines', 'r.rx_lines') }} as extended_rx_share,
    f.drug_fee,
    f.total_fee,
    {{ safe_divide('f.drug_fee', 'f.total_fee') }} as drug_fee_share,
    {{ current_batch_id() }} as _processed_batch_id
from fees as f
left join rx as r on r.month = f.month and r.facility_code = f.facility_code
left join rxv as v on v.month = f.month and v.facility_code = f.facility_code
left join {{ ref('int_facilities_classified') }} as c on c.facility_code = f.facility_code
