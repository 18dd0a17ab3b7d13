{{ bed_utilization_rollup('district_code') }}
