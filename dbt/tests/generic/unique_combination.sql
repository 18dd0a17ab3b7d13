{#- Grain test: no two rows share the same values of `columns` (nulls compare equal, as in
    group by).  The project has no packages (no dbt_utils offline).
    Rows are grouped on a hash of the columns first and only rows whose hash repeats are grouped
    on the values themselves: the result is exact, and on the large latest-wins tables, tested
    in full every night, one integer per row groups faster than two or three strings. -#}
{% test unique_combination(model, columns) %}
with repeated_hashes as (
    select hash({{ columns | join(', ') }}) as h
    from {{ model }}
    group by hash({{ columns | join(', ') }})
    having count(*) > 1
)

select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
where hash({{ columns | join(', ') }}) in (select h from repeated_hashes)
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
