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

{#-
  Rows of `rows_rel` (columns as_of_date, resident_id) whose resident had an event of
  `events_rel` (resident_id, event_date) in the `days` days up to as_of_date — (as_of - days + 1)
  .. as_of.  On DuckDB an ASOF join finds each row's latest event on or before the date (one
  sort); a range join of every event with every month-end grew with the months of history.
  Spark has no ASOF join: it keeps the range join.
-#}
{% macro active_on(rows_rel, events_rel, days) -%}
    {{ return(adapter.dispatch('active_on', 'grassroots')(rows_rel, events_rel, days)) }}
{%- endmacro %}

{% macro default__active_on(rows_rel, events_rel, days) -%}
    select r.as_of_date, r.resident_id
    from {{ rows_rel }} as r
    asof inner join {{ events_rel }} as e
        on e.resident_id = r.resident_id and e.event_date <= r.as_of_date
    where e.event_date > cast({{ dbt.dateadd('day', -days, 'r.as_of_date') }} as date)
{%- endmacro %}

{% macro spark__active_on(rows_rel, events_rel, days) -%}
    select distinct r.as_of_date, r.resident_id
    from {{ rows_rel }} as r
    inner join {{ events_rel }} as e
        on e.resident_id = r.resident_id
       and e.event_date <= r.as_of_date
       and e.event_date > cast({{ dbt.dateadd('day', -days, 'r.as_of_date') }} as date)
{%- endmacro %}
