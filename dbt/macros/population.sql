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

{#- "The contract that started last" of a resident: later start, then later signing, then the
    greater contract_id.  Both forms below come from this one list. -#}
{% macro contract_rank_keys() -%}
    {{ return(['start_date', 'sign_date', 'contract_id']) }}
{%- endmacro %}

{#- Contract `a` outranks contract `b` of the same resident. -#}
{% macro ranks_after(a, b) -%}
    {%- set keys = contract_rank_keys() -%}
    (
    {%- for k in keys %}
        {% if not loop.first %}or {% endif %}(
        {%- for e in keys[:loop.index0] %}{{ a }}.{{ e }} = {{ b }}.{{ e }} and {% endfor -%}
        {{ a }}.{{ k }} > {{ b }}.{{ k }})
    {%- endfor %}
    )
{%- endmacro %}

{#- Window order that puts a resident's outranking contract first. -#}
{% macro contract_rank_order(c) -%}
    {%- for k in contract_rank_keys() %}{{ c }}.{{ k }} desc{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}
