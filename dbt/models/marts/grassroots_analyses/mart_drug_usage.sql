{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['prescriptions', 'outpatient_visits']) }}"
    )
}}

with lines as (
    select
        p.facility_code,
        p.prescription_id,
        p.drug_code,
        p.quantity,
        p.amount,
        p.days_supply,
        p.is_extended,
        p.month
    -- p.month is the month of the line's current visit, null when the visit is gone
    -- (int_prescriptions_current): no join of the visits
    from {{ ref('int_prescriptions_current') }} as p
    where p.month is not null
      and {{ month_needs_rebuild('p.month', ['prescriptions', 'outpatient_visits']) }}
)

select
    l.month,
    l.facility_code,
    l.drug_code,
    d.generic_name,
    d.atc_code,
    coalesce(d.is_essential, false) as is_essential,
    coalesce(d.is_antibiotic, false) as is_antibiotic,
    coalesce(d.is_vbp, false) as is_vbp,
    count(*) as prescription_lines,
    count(distinct l.prescription_id) as prescriptions,
    cast(sum(l.quantity) as {{ type_double() }}) as quantity,
    cast(sum(l.amount) as decimal(18, 2)) as amount,
    cast(sum(l.days_supply) as {{ dbt.type_bigint() }}) as days_supply,
    {{ count_where('l.days_supply >= 28') }} as long_rx_lines,
    {{ count_where('l.is_extended') }} as extended_rx_lines,
    {{ current_batch_id() }} as _processed_batch_id
from lines as l
left join {{ ref('stg_raw__drugs') }} as d on d.drug_code = l.drug_code
group by l.month, l.facility_code, l.drug_code, d.generic_name, d.atc_code,
         d.is_essential, d.is_antibiotic, d.is_vbp
