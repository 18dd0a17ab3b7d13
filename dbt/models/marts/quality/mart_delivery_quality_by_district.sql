-- Reporting completeness (delivered / expected) and timeliness (on_time / expected) by
-- business_date x district_code, from the sums of mart_delivery_quality.
{{ delivery_quality_rollup('district_code') }}
