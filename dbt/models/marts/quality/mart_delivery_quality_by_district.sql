-- Reporting completeness (delivered / expected) and timeliness (on_time / expected) by
-- business_date x district_code, from the sums of mart_delivery_quality.
select
    business_date,
    district_code,
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
group by business_date, district_code
