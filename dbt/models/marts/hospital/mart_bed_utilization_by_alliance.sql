-- Roll-up of mart_bed_utilization to month x alliance_code, from the additive bed-day columns.
{{ bed_utilization_rollup('alliance_code') }}
