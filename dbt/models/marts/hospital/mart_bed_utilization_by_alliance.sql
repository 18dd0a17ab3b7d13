-- Roll-up of mart_bed_utilization to month x alliance_code, from the additive bed-day columns.
select
    month,
    alliance_code,
    {{ sum_int('open_bed_days') }} as open_bed_days,
    {{ sum_int('occupied_bed_days') }} as occupied_bed_days,
    {{ safe_divide('sum(occupied_bed_days)', 'sum(open_bed_days)') }} as bed_utilization_rate,
    {{ safe_divide('sum(open_bed_days)', 'max(days_in_month)') }} as avg_open_beds,
    {{ sum_int('discharges') }} as discharges,
    {{ sum_int('discharged_bed_days') }} as discharged_bed_days,
    {{ safe_divide('sum(discharged_bed_days)', 'sum(discharges)') }} as avg_length_of_stay,
    {{ safe_divide('sum(discharges)', safe_divide('sum(open_bed_days)', 'max(days_in_month)')) }} as bed_turnover
from {{ ref('mart_bed_utilization') }}
group by month, alliance_code
