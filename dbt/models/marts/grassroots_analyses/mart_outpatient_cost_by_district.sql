{{ outpatient_cost_rollup('district_code') }}
