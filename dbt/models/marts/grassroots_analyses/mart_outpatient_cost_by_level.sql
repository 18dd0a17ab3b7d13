{{ outpatient_cost_rollup('level_group') }}
