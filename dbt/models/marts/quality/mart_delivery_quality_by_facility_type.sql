-- Reporting completeness (delivered / expected) and timeliness (on_time / expected) by
-- business_date x facility_type, from the sums of mart_delivery_quality.
{{ delivery_quality_rollup('facility_type') }}
