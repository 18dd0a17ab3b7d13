{#- Roll-up of mart_bed_utilization to month x <group>: rates recomputed from the summed bed days,
    never averaged.  Average open beds are a stock per facility: the group's is their sum, and
    turnover divides the discharges of the facilities with a census by it. -#}
{% macro bed_utilization_rollup(group_col) %}
select
    month,
    {{ group_col }},
    {{ sum_int('open_bed_days') }} as open_bed_days,
    {{ sum_int('occupied_bed_days') }} as occupied_bed_days,
    {{ safe_divide('sum(occupied_bed_days)', 'sum(open_bed_days)') }} as bed_utilization_rate,
    sum(avg_open_beds) as avg_open_beds,
    {{ sum_int('discharges') }} as discharges,
    {{ sum_int('discharged_bed_days') }} as discharged_bed_days,
    {{ safe_divide('sum(discharged_bed_days)', 'sum(discharges)') }} as avg_length_of_stay,
    {{ safe_divide('sum(case when census_days > 0 then discharges end)', 'sum(avg_open_beds)') }} as bed_turnover
from {{ ref('mart_bed_utilization') }}
group by month, {{ group_col }}
{% endmacro %}

{#- Roll-up of mart_delivery_quality to business_date x <group>: completeness, timeliness and the
    quarantine rate from summed counts. -#}
{% macro delivery_quality_rollup(group_col) %}
select
    business_date,
    {{ group_col }},
    {{ sum_int('expected') }} as expected,
    {{ sum_int('delivered') }} as delivered,
    {{ safe_divide('sum(delivered)', 'sum(expected)') }} as completeness_rate,
    {{ sum_int('on_time') }} as on_time,
    {{ safe_divide('sum(on_time)', 'sum(expected)') }} as timeliness_rate,
    {{ sum_int('rows_loaded') }} as rows_loaded,
    {{ sum_int('rows_quarantined') }} as rows_quarantined,
    {{ safe_divide('sum(rows_quarantined)', 'sum(rows_loaded) + sum(rows_quarantined)') }} as quarantine_rate,
    {{ sum_int('files_rejected') }} as files_rejected
from {{ ref('mart_delivery_quality') }}
group by business_date, {{ group_col }}
{% endmacro %}

{#- Roll-up of mart_outpatient_cost to month x <group>: averages and shares from summed fees. -#}
{% macro outpatient_cost_rollup(group_col) %}
select
    month,
    {{ group_col }},
    {{ sum_int('visits') }} as visits,
    cast(sum(total_fee) as decimal(18, 2)) as total_fee,
    cast(sum(drug_fee) as decimal(18, 2)) as drug_fee,
    cast(sum(insurance_paid) as decimal(18, 2)) as insurance_paid,
    {{ safe_divide('sum(total_fee)', 'sum(visits)') }} as avg_fee_per_visit,
    {{ safe_divide('sum(drug_fee)', 'sum(visits)') }} as avg_drug_fee_per_visit,
    {{ safe_divide('sum(insurance_paid)', 'sum(total_fee)') }} as insurance_share
from {{ ref('mart_outpatient_cost') }}
group by month, {{ group_col }}
{% endmacro %}
