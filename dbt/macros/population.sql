{#- Hypertension / diabetes patient on a date: record flag, or a qualifying diagnosis by then. -#}
{% macro is_hypertension(r, as_of) -%}
    ({{ r }}.hypertension_flag or coalesce({{ r }}.first_hypertension_dx_date <= {{ as_of }}, false))
{%- endmacro %}

{% macro is_diabetes(r, as_of) -%}
    ({{ r }}.diabetes_flag or coalesce({{ r }}.first_diabetes_dx_date <= {{ as_of }}, false))
{%- endmacro %}

{#- Key population (重点人群, 2022): any of the nine groups; a person counts once. -#}
{% macro is_key_population(r, age, as_of) -%}
    (
        {{ age }} >= 65 or {{ age }} <= 6
        or {{ r }}.pregnant
        or {{ is_hypertension(r, as_of) }}
        or {{ is_diabetes(r, as_of) }}
        or {{ r }}.tuberculosis
        or {{ r }}.severe_mental_disorder
        or {{ r }}.disability
        or {{ r }}.low_income
    )
{%- endmacro %}

{#- Contract `a` outranks contract `b` of the same resident: it started later, then was signed
    later, then has the greater contract_id ("the one that started last"). -#}
{% macro ranks_after(a, b) -%}
    (
        {{ a }}.start_date > {{ b }}.start_date
        or ({{ a }}.start_date = {{ b }}.start_date and {{ a }}.sign_date > {{ b }}.sign_date)
        or ({{ a }}.start_date = {{ b }}.start_date and {{ a }}.sign_date = {{ b }}.sign_date
            and {{ a }}.contract_id > {{ b }}.contract_id)
    )
{%- endmacro %}
