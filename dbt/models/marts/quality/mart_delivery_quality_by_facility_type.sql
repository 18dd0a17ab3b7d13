{{ delivery_quality_rollup('facility_type') }}
