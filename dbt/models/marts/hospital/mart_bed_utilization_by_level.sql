{{ bed_utilization_rollup('level_group') }}
