{#-
  Small portable helpers.  Everything adapter-specific goes through adapter.dispatch so the
  Spark issue only has to add spark__ versions; default__ implementations use dbt's own
  cross-database macros where one exists.
-#}

{#- First day of the month of a date/timestamp, as a date. -#}
{% macro month_of(expr) -%}
    {{ return(adapter.dispatch('month_of', 'grassroots')(expr)) }}
{%- endmacro %}
{% macro default__month_of(expr) -%}
    cast({{ dbt.date_trunc('month', expr) }} as date)
{%- endmacro %}

{#- Timestamp/date -> date. -#}
{% macro to_date(expr) -%}
    {{ return(adapter.dispatch('to_date', 'grassroots')(expr)) }}
{%- endmacro %}
{% macro default__to_date(expr) -%}
    cast({{ expr }} as date)
{%- endmacro %}

{#- Last day of the month of a date. -#}
{% macro month_end(expr) -%}
    cast({{ dbt.last_day(expr, 'month') }} as date)
{%- endmacro %}

{#- 1 January of an integer year. -#}
{% macro year_start(year_expr) -%}
    {{ return(adapter.dispatch('year_start', 'grassroots')(year_expr)) }}
{%- endmacro %}
{% macro default__year_start(year_expr) -%}
    make_date(cast({{ year_expr }} as integer), 1, 1)
{%- endmacro %}

{#- Integer year of a date. -#}
{% macro year_of(expr) -%}
    cast(extract(year from {{ expr }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- Completed years between birth_date and as_of (age on as_of). -#}
{% macro age_at(birth_date, as_of) -%}
    {{ return(adapter.dispatch('age_at', 'grassroots')(birth_date, as_of)) }}
{%- endmacro %}
{% macro default__age_at(birth_date, as_of) -%}
    (
        extract(year from {{ as_of }}) - extract(year from {{ birth_date }})
        - case
            when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
               < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
            then 1 else 0
          end
    )
{%- endmacro %}

{#- num / den as a double, null when the denominator is 0 or null (never a division error). -#}
{% macro safe_divide(num, den) -%}
    {{ return(adapter.dispatch('safe_divide', 'grassroots')(num, den)) }}
{%- endmacro %}
{% macro default__safe_divide(num, den) -%}
    case when {{ den }} is null or {{ den }} = 0 then null
         else cast({{ num }} as {{ type_double() }}) / cast({{ den }} as {{ type_double() }})
    end
{%- endmacro %}

{#- 1/0 for a boolean condition (sums of flags are portable, count_if is not). -#}
{% macro flag(condition) -%}
    case when {{ condition }} then 1 else 0 end
{%- endmacro %}

{#- First three characters of an ICD-10 code (`E11.9` -> `E11`). -#}
{% macro icd10_category(code) -%}
    upper(substring({{ code }}, 1, 3))
{%- endmacro %}

{#- Days in the month starting at a month-start date. -#}
{% macro days_in_month(month_start) -%}
    {{ dbt.datediff(month_start, dbt.dateadd('month', 1, month_start), 'day') }}
{%- endmacro %}

{#- Typed null literal for padding rows. -#}
{% macro null_as(type_macro) -%}
    cast(null as {{ type_macro }})
{%- endmacro %}

{#- SQL list literal of a project var holding strings: ('a', 'b'). -#}
{% macro in_list(var_name) -%}
    ('{{ var(var_name) | join("', '") }}')
{%- endmacro %}

{#- Number of rows of a group meeting a condition, as a bigint (count_if is not portable). -#}
{% macro count_where(condition) -%}
    cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- A sum kept as bigint (DuckDB widens sums of bigint to hugeint). -#}
{% macro sum_int(expr) -%}
    cast(sum({{ expr }}) as {{ dbt.type_bigint() }})
{%- endmacro %}

{#- Double precision float (dbt.type_float() is single precision on DuckDB). -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'grassroots')()) }}
{%- endmacro %}
{% macro default__type_double() -%}
    double
{%- endmacro %}

{#- Day of the month of a date, as an integer. -#}
{% macro day_of(expr) -%}
    cast(extract(day from {{ expr }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- True when the condition holds on every row of the group (bool_and is not portable). -#}
{% macro bool_and(condition) -%}
    (min({{ flag(condition) }}) = 1)
{%- endmacro %}

{#- `name as {{ materialized_cte() }} (...)`: DuckDB computes the CTE once, as written, instead of
    folding it into the joins around it (its join order then sometimes repeats a large join at
    every month-end).  Spark has no such hint and plans it as it likes. -#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'grassroots')()) }}
{%- endmacro %}
{% macro default__materialized_cte() -%}
    materialized
{%- endmacro %}
{% macro spark__materialized_cte() -%}
{%- endmacro %}
