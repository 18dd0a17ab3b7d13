{#- Grain test: no two rows share the same values of `columns` (nulls compare equal, as in
    group by).  The project has no packages (no dbt_utils offline). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
