{{ delivery_quality_rollup('district_code') }}
