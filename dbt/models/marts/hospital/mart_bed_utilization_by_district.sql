-- Roll-up of mart_bed_utilization to month x district_code, from the additive bed-day columns.
{{ bed_utilization_rollup('district_code') }}
