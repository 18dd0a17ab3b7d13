{#-
  Counts at every as-of date of int_calendar_months (each month's last day; in the month still
  running, the latest day loaded) of spans: rows that hold from `lo` to `hi` (inclusive; a null
  `hi` never ends), each counted in a measure while that measure's condition holds.

  Joining every span to every as-of date costs spans x months, and the months grow with the
  history.  Instead each span gives one row per date on which one of its counts can change --
  its first day, the day after its last, and its `breakpoints` (the days a condition turns, such
  as a birthday or a first diagnosis) -- carrying that change, placed in the first month whose
  as-of date is on or after it; a running sum over the months gives the counts.  What a span
  holds at the first as-of date is one row (the sum of its earlier changes).  Every condition
  must be constant between the span's breakpoints.

  Emits the CTEs <prefix>_changes and <prefix>_counts (as_of_date, the group_keys, one bigint
  per measure; only the rows where the first measure is above 0).

  spans        a CTE: the group_keys columns, lo, hi, and what the conditions read
  group_keys   the columns the counts are grouped by (never null)
  measures     [(name, condition)]: the condition reads the span as `s` and the date as `@d`
  breakpoints  expressions on `s`: the other days on which a condition can turn
-#}
{% macro snapshot_counts(prefix, spans, group_keys, measures, breakpoints) -%}
{%- set days = ['s.lo'] + breakpoints + ['cast(' ~ dbt.dateadd('day', 1, 's.hi') ~ ' as date)'] -%}
{{ prefix }}_changes as (
    -- a count's change on day d: held on d, less held the day before.  Breakpoints are taken
    -- strictly inside the span (after its first day, up to its last) and each day once.
    -- Changes up to the first as-of date are summed up as the span's state on that date;
    -- changes after the last day loaded never reach an as-of date.
    select
        {%- for k in group_keys %}
        {{ k }},
        {%- endfor %}
        greatest({{ month_of('d') }}, first_month) as month
        {%- for name, condition in measures %},
        {{ sum_int(name) }} as {{ name }}
        {%- endfor %}
    from (
        -- what every span holds at the first as-of date: the sum of its changes up to then
        select
            {%- for k in group_keys %}
            s.{{ k }},
            {%- endfor %}
            cal.first_month,
            cal.first_as_of as d
            {%- for name, condition in measures %},
            {{ _snapshot_held(condition, 'cal.first_as_of') }} as {{ name }}
            {%- endfor %}
        from {{ spans }} as s
        cross join {{ _snapshot_calendar() }} as cal
        where s.lo <= cal.first_as_of and (s.hi is null or s.hi >= cal.first_as_of)
        {%- for day in days %}
        {%- set day_loop = loop %}
        union all
        select
            {%- for k in group_keys %}
            s.{{ k }},
            {%- endfor %}
            cal.first_month,
            {{ day }} as d
            {#- nothing is held the day before the first day, nor on the day after the last #}
            {%- for name, condition in measures %},
            {% if not day_loop.last %}{{ _snapshot_held(condition, day) }}{% else %}0{% endif %}
            {%- if not day_loop.first %}
            - {{ _snapshot_held(condition, 'cast(' ~ dbt.dateadd('day', -1, day) ~ ' as date)') }}
            {%- endif %} as {{ name }}
            {%- endfor %}
        from {{ spans }} as s
        cross join {{ _snapshot_calendar() }} as cal
        where {{ day }} > cal.first_as_of and {{ day }} <= cal.data_as_of
        {%- if not loop.first and not loop.last %}
          and {{ day }} > s.lo and (s.hi is null or {{ day }} <= s.hi)
          {%- for earlier in days[1:loop.index0] %}
          and not coalesce({{ day }} = {{ earlier }}, false)
          {%- endfor %}
        {%- endif %}
        {%- endfor %}
    ) as changes
    group by
        {%- for k in group_keys %} {{ k }},{% endfor %}
        greatest({{ month_of('d') }}, first_month)
),

{{ prefix }}_counts as (
    select * from (
        select
            p.as_of_date,
            {%- for k in group_keys %}
            g.{{ k }},
            {%- endfor %}
            {%- for name, condition in measures %}
            cast(sum(coalesce(c.{{ name }}, 0)) over (
                partition by {% for k in group_keys %}{% if not loop.first %}, {% endif %}g.{{ k }}{% endfor %}
                order by p.month rows between unbounded preceding and current row
            ) as {{ dbt.type_bigint() }}) as {{ name }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from (select distinct {{ group_keys | join(', ') }} from {{ prefix }}_changes) as g
        cross join {{ ref('int_calendar_months') }} as p
        left join {{ prefix }}_changes as c
            on c.month = p.month
            {%- for k in group_keys %} and c.{{ k }} = g.{{ k }}{% endfor %}
    ) as running
    where {{ measures[0][0] }} > 0
)
{%- endmacro %}

{#- the calendar's first month, its as-of date and the last day loaded -#}
{% macro _snapshot_calendar() -%}
    (
        select min(month) as first_month, min(as_of_date) as first_as_of, max(as_of_date) as data_as_of
        from {{ ref('int_calendar_months') }}
    )
{%- endmacro %}

{#- 1 when the span holds on day `d` and the condition is true then, else 0 -#}
{% macro _snapshot_held(condition, d) -%}
    case
        when s.lo <= {{ d }} and (s.hi is null or {{ d }} <= s.hi) and ({{ condition | replace('@d', d) }})
        then 1 else 0
    end
{%- endmacro %}

{#- The first day on which a person born on `birth_date` is `years` old, as age_at counts
    (born on 29 February: 1 March in a common year) -#}
{% macro birthday(birth_date, years) -%}
    cast({{ dbt.dateadd('day', day_of(birth_date) ~ ' - 1',
                        dbt.dateadd('year', years, month_of(birth_date))) }} as date)
{%- endmacro %}
