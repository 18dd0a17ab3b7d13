{{ bed_utilization_rollup('alliance_code') }}
