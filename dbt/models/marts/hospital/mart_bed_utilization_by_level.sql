-- Roll-up of mart_bed_utilization to month x level_group, from the additive bed-day columns.
{{ bed_utilization_rollup('level_group') }}
