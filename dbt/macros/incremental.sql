{#-
  Incremental bookkeeping.

  The loader writes audit.load_changes(batch_id, dataset, facility_code, month): the months whose
  rows were inserted or deleted by each batch.  Every incremental model stamps the rows it writes
  with `_processed_batch_id` = the newest batch in audit.load_changes at build time; on the next
  run, max(_processed_batch_id) in the model is its watermark and only what changed in later
  batches is recomputed.  Recomputing is idempotent, so a watermark that moves backwards (rows
  deleted) only costs extra work, never correctness.  A new reference snapshot (facilities,
  regions, drugs, ...) after the watermark rebuilds every month, since it can move any row.
-#}

{#-
  Materialization of the incremental models (`config(materialized=incremental_materialization())`):
  `incremental` (delete+insert on the watermark) where the warehouse has row-level DELETE, `table`
  where it has not: on Spark, plain Parquet tables support neither DELETE nor delete+insert, so
  every Spark run is a full build (is_incremental() is then false, and the delete hooks below are
  no-ops).  A Delta/Iceberg catalogue could map this to `merge`/`insert_overwrite` later.
-#}
{% macro incremental_materialization() -%}
    {{ return(adapter.dispatch('incremental_materialization', 'grassroots')()) }}
{%- endmacro %}
{% macro default__incremental_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}
{% macro spark__incremental_materialization() -%}
    {{ return('table') }}
{%- endmacro %}

{#- post_hook of the latest-wins models: drop the tombstones an incremental run wrote (a full
    build writes none). -#}
{% macro delete_tombstones() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where _is_deleted
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{% macro current_batch_id() -%}
    (select coalesce(max(batch_id), 0) from {{ source('audit', 'load_changes') }})
{%- endmacro %}

{#-
  The watermark, the reference check and the months to rebuild are looked up when the model is
  compiled, just before it runs, and written into its SQL as constants: DuckDB then filters the
  scans themselves (and skips the row groups of other batches and months), where subqueries
  made a join against every row of the large tables each night.  Outside a run (parsing, unit
  tests) they stay subqueries.
-#}
{% macro watermark() -%}
    {%- if execute and is_incremental() -%}
        {%- set r = run_query('select coalesce(max(_processed_batch_id), -1) from ' ~ this) -%}
        {{- return(r.columns[0].values()[0] | int | string) -}}
    {%- endif -%}
    (select coalesce(max(_processed_batch_id), -1) from {{ this }})
{%- endmacro %}

{#- True when a reference snapshot arrived after the watermark (everything must be rebuilt). -#}
{% macro reference_changed(wm=none) -%}
    {%- set sql -%}
    exists (
        select 1 from {{ source('audit', 'reference_snapshots') }}
        where batch_id > {{ wm or watermark() }}
    )
    {%- endset -%}
    {%- if execute and is_incremental() -%}
        {%- set r = run_query('select ' ~ sql) -%}
        {{- return('(1 = 1)' if r.columns[0].values()[0] else '(1 = 0)') -}}
    {%- endif -%}
    {{ sql }}
{%- endmacro %}

{#-
  Boolean SQL: the month in `month_col` must be (re)built in this run.  `yoy`: a change in month M
  also rebuilds M + 12 (its "same month last year" columns read M).  `rows_of`: an incremental
  model whose rows written since the watermark name more months (a `month` column).  Always true
  on a full build.
-#}
{% macro month_needs_rebuild(month_col, datasets, yoy=false, rows_of=none) -%}
    {%- if is_incremental() -%}
    {%- set wm = watermark() -%}
    {%- set changed -%}
            select month from {{ source('audit', 'load_changes') }}
            where dataset in ('{{ datasets | join("', '") }}') and batch_id > {{ wm }}
            {%- if yoy %}
            union
            select cast({{ dbt.dateadd('month', 12, 'month') }} as date)
            from {{ source('audit', 'load_changes') }}
            where dataset in ('{{ datasets | join("', '") }}') and batch_id > {{ wm }}
            {%- endif %}
            {%- if rows_of %}
            union
            select month from {{ rows_of }} where _processed_batch_id > {{ wm }}
            {%- endif %}
    {%- endset -%}
    {{- return(rebuild_condition(month_col, changed, 'month', wm)) -}}
    {%- else -%}
    (1 = 1)
    {%- endif -%}
{%- endmacro %}

{#-
  `col in (the `name` values of the query `changed`)`, resolved to constants when the model is
  compiled (no rows: false); true when a reference snapshot arrived after the watermark `wm`.
-#}
{% macro rebuild_condition(col, changed, name, wm) -%}
    {%- if execute -%}
        {%- if reference_changed(wm) == '(1 = 1)' -%}
            {{- return('(1 = 1)') -}}
        {%- endif -%}
        {%- set values = run_query('select distinct ' ~ name ~ ' from (' ~ changed ~ ') as c where ' ~ name ~ ' is not null order by 1').columns[0].values() -%}
        {%- if values | length == 0 -%}
            {{- return('(1 = 0)') -}}
        {%- endif -%}
        {%- set literals = [] -%}
        {%- for v in values -%}
            {%- do literals.append("cast('" ~ v ~ "' as date)" if name == 'month' else v | string) -%}
        {%- endfor -%}
        {{- return(col ~ ' in (' ~ literals | join(', ') ~ ')') -}}
    {%- endif -%}
    {{- return('(' ~ reference_changed(wm) ~ ' or ' ~ col ~ ' in (' ~ changed ~ '))') -}}
{%- endmacro %}

{#-
  pre_hook of the incremental marts: delete the months about to be rebuilt, so that a month whose
  rows all disappeared (a redelivery retracting them) does not keep stale rows; delete+insert on
  `month` alone only replaces months that still produce rows.
-#}
{% macro delete_rebuilt_months(datasets, yoy=false, rows_of=none) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ month_needs_rebuild('month', datasets, yoy, rows_of) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#-
  Column names of a raw dataset, read from the generated sources file through the graph (no
  database round trip; unit tests, which get no graph.sources, read the raw table).  Staging models of daily
  datasets keep the source names unchanged.
-#}
{% macro source_columns(dataset) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- set sources = graph.get('sources') -%}
        {%- if sources -%}
            {%- for name in sources['source.grassroots.raw.' ~ dataset].columns -%}
                {%- do names.append(name) -%}
            {%- endfor -%}
        {%- else -%}
            {#- unit tests get no graph.sources: read the raw table's columns instead -#}
            {%- set rel = api.Relation.create(database=target.database, schema='raw', identifier=dataset) -%}
            {%- for col in adapter.get_columns_in_relation(rel) -%}
                {%- do names.append(col.name) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}

{#-
  Latest-wins current state of a daily dataset (incremental, unique_key = the dataset key).

  Of all loaded rows of one key (the same id delivered on several business dates), the row of the
  latest (_business_date, _delivery_version) wins; keys are unique within one delivery file, and
  _line_no only makes the order total.

  Incremental run: the keys to recompute are (a) keys of raw rows from batches after the watermark
  and (b) keys already in the model in a (facility, month) where the loader reports rows deleted
  by a redelivery; `extra_touched` adds more (prescriptions whose visit changed).  Their
  winner is recomputed over ALL their raw rows.  A key with no raw row left comes out as a
  tombstone (_is_deleted), deleting the old row through delete+insert; the post_hook then removes
  the tombstone.  Cost follows the size of the change, plus a key-only semi-join on raw.
  Without deletions or a new reference snapshot the model's own rows are not scanned for (b).

  month_expr: the event month, over alias `c` (the winning row) and whatever `join_sql` joins.
-#}
{#- True when the deletions scope of current_state has rows (or may have: outside a run). -#}
{% macro scope_has_rows(datasets, wm) -%}
    {%- set r = run_query("select count(*) from " ~ source('audit', 'load_changes')
        ~ " where dataset in ('" ~ datasets | join("', '") ~ "') and batch_id > " ~ wm
        ~ " and coalesce(kind, 'deleted') = 'deleted'") -%}
    {{ return(r.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- SQL: `left` and `right` (aliases) agree on every column of `key`. -#}
{% macro keys_equal(key, left, right) -%}
    {%- for k in key %}{{ left }}.{{ k }} = {{ right }}.{{ k }}{{ ' and ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{#- The key of a daily dataset: the unique_key of its latest-wins model (int_<dataset>_current). -#}
{% macro current_key(dataset) -%}
    {%- set key = graph.nodes['model.grassroots.int_' ~ dataset ~ '_current'].config.unique_key -%}
    {{ return([key] if key is string else key) }}
{%- endmacro %}

{#-
  The by-difference models (per resident): true when a night can recompute only the residents
  its rows touch, i.e. no load since the watermark `wm` deleted rows of `datasets` (a
  redelivery) and no reference snapshot arrived.  Otherwise they recompute every resident.
-#}
{% macro by_difference(datasets, wm) -%}
    {{ return(reference_changed(wm) == '(1 = 0)' and not scope_has_rows(datasets, wm)) }}
{%- endmacro %}

{#- The plan of a by-difference model's run: its watermark `wm` (none on a full build), whether
    it runs `by_difference`, and `of_touched`, the condition on resident_id of the rows to read. -#}
{% macro difference_plan(datasets) -%}
    {%- set wm = watermark() if is_incremental() else none -%}
    {%- set by_diff = is_incremental() and by_difference(datasets, wm) -%}
    {{ return({'wm': wm, 'by_difference': by_diff,
               'of_touched': 'resident_id in (select resident_id from touched)' if by_diff else 'true'}) }}
{%- endmacro %}

{#- `with`, then the CTE `name` of the residents a by-difference run touches (touched_residents)
    and a comma; `with` alone when the run recomputes every resident. -#}
{% macro with_touched(plan, datasets, name='touched') -%}
with
{%- if plan.by_difference %}
{{ name }} as (
    {{- touched_residents(datasets, plan.wm) }}
),
{%- endif %}
{%- endmacro %}

{#-
  SQL: the residents a night's rows touch in `datasets`, i.e. every resident that any delivered
  version of a key changed since the watermark `wm` names (a corrected row that moves a visit
  from one resident to another touches both).  The model needs `-- depends_on:` the staging
  models of `datasets` (the refs here are rendered only in an incremental run).
-#}
{% macro touched_residents(datasets, wm) -%}
{%- for dataset in datasets %}
{%- set key = current_key(dataset) %}
{%- set stg = ref('stg_raw__' ~ dataset) %}
{%- if key == ['resident_id'] %}
    select distinct resident_id from {{ stg }} where _batch_id > {{ wm }}
{%- else %}
    -- distinct: every delivered version of a key names its resident again
    select distinct o.resident_id
    from {{ stg }} as o
    where exists (
        select 1 from {{ stg }} as n
        where n._batch_id > {{ wm }}
          and {{ keys_equal(key, 'n', 'o') }}
    )
{%- endif %}
{%- if not loop.last %}
    union
{%- endif %}
{%- endfor %}
{%- endmacro %}

{#-
  The final select of a by-difference model: the rows of CTE `rows` (keyed by resident_id) with
  the model's bookkeeping.  An incremental run writes every rewritten resident (the touched
  ones, or all of them) and a tombstone for a resident left with no row; delete+insert on
  resident_id replaces their old rows and the post_hook `delete_tombstones` drops the tombstones.
-#}
{% macro resident_rows(rows, columns, by_difference) -%}
{%- if is_incremental() %}
, rewritten as (
    {%- if by_difference %}
    select resident_id from touched where resident_id is not null
    {%- else %}
    select resident_id from {{ this }}
    union
    select resident_id from {{ rows }}
    {%- endif %}
)

select
    k.resident_id,
    {%- for c in columns %}
    s.{{ c }},
    {%- endfor %}
    {{ current_batch_id() }} as _processed_batch_id,
    s.resident_id is null as _is_deleted
from rewritten as k
left join {{ rows }} as s on s.resident_id = k.resident_id
{%- else %}
select
    resident_id,
    {%- for c in columns %}
    {{ c }},
    {%- endfor %}
    {{ current_batch_id() }} as _processed_batch_id,
    false as _is_deleted
from {{ rows }}
{%- endif %}
{%- endmacro %}

{#- `join_columns`: (expression, name) pairs of further columns read through `join_sql` (e.g. the
    prescription's visit's resident), kept beside the dataset's own columns. -#}
{% macro current_state(dataset, key, month_expr, datasets, join_sql='', extra_touched='',
                       join_columns=[]) -%}
{%- set incremental = is_incremental() -%}
{%- set wm = watermark() if incremental else none -%}
{%- set stg = ref('stg_raw__' ~ dataset) -%}
{%- set cols = source_columns(dataset) -%}
{%- set non_key = [] -%}
{%- for c in cols -%}{%- if c not in key -%}{%- do non_key.append(c) -%}{%- endif -%}{%- endfor %}
{%- set same_key = keys_equal(key, 'k', 'r') %}
with
{% if incremental %}
scope as (
    -- (facility, month) pairs where a redelivery deleted rows since the watermark (keys of new
    -- rows come with them; a null kind is an older warehouse's row and may be a deletion)
    select distinct facility_code, month
    from {{ source('audit', 'load_changes') }}
    where dataset in ('{{ datasets | join("', '") }}') and batch_id > {{ wm }}
      and coalesce(kind, 'deleted') = 'deleted'
),

touched as (
    -- distinct: a key may come on several business dates of one batch (the union below, when
    -- there is one, would drop the repeats too)
    select distinct {{ key | join(', ') }} from {{ stg }}
    where _batch_id > {{ wm }}
    {%- if not execute or reference_changed(wm) != '(1 = 0)' or scope_has_rows(datasets, wm) %}
    union
    select {{ key | join(', ') }} from {{ this }} as t
    where {{ reference_changed(wm) }}
       or exists (
            select 1 from scope as s
            where s.month = t.month
              and (s.facility_code = t.facility_code or s.facility_code = t._delivery_facility)
       )
    {%- endif %}
    {%- if extra_touched %}
    union
    {{ extra_touched }}
    {%- endif %}
),

candidates as (
    select r.*
    from {{ stg }} as r
    where exists (select 1 from touched as k where {{ same_key }})
),
{% else %}
candidates as (
    select * from {{ stg }}
),
{% endif %}

repeated as (
    -- keys with more than one delivered row: only theirs need ranking (a few thousand of
    -- millions; a window over every row sorted the whole of raw on a full build)
    select {{ key | join(', ') }} from candidates
    group by {{ key | join(', ') }}
    having count(*) > 1
),

ranked as (
    select r.*, cast(1 as {{ dbt.type_bigint() }}) as _version_rank
    from candidates as r
    where not exists (select 1 from repeated as k where {{ same_key }})
    union all
    select
        r.*,
        row_number() over (
            partition by {{ key | join(', ') }}
            order by _business_date desc, _delivery_version desc, _line_no desc
        ) as _version_rank
    from candidates as r
    where exists (select 1 from repeated as k where {{ same_key }})
),

latest as (
    select
        {%- for c in cols %}
        c.{{ c }},
        {%- endfor %}
        {%- for expr, name in join_columns %}
        {{ expr }} as {{ name }},
        {%- endfor %}
        {{ month_expr }} as month
    from ranked as c
    {{ join_sql }}
    where c._version_rank = 1
)

{% if incremental %}
select
    {%- for k in key %}
    k.{{ k }},
    {%- endfor %}
    {%- for c in non_key %}
    l.{{ c }},
    {%- endfor %}
    {%- for expr, name in join_columns %}
    l.{{ name }},
    {%- endfor %}
    l.month,
    {{ current_batch_id() }} as _processed_batch_id,
    l.{{ key[0] }} is null as _is_deleted
from touched as k
left join latest as l
    on {{ keys_equal(key, 'l', 'k') }}
{% else %}
select
    {%- for c in cols %}
    {{ c }},
    {%- endfor %}
    {%- for expr, name in join_columns %}
    {{ name }},
    {%- endfor %}
    month,
    {{ current_batch_id() }} as _processed_batch_id,
    false as _is_deleted
from latest
{% endif %}
{%- endmacro %}

{#-
  Boolean SQL: the year in `year_col` must be (re)built in this run (the year-grain marts whose
  rows depend only on the year's own events): a year with a month that changed, or whose
  calendar moved (the running year's as-of date moves every night; a year completes).  A night
  then rebuilds the running year, not every year of the history.  Always true on a full build.
-#}
{% macro year_needs_rebuild(year_col, datasets) -%}
    {%- if is_incremental() -%}
    {%- set wm = watermark() -%}
    {%- set changed -%}
            select {{ year_of('month') }} as year from {{ source('audit', 'load_changes') }}
            where dataset in ('{{ datasets | join("', '") }}') and batch_id > {{ wm }}
            union
            select y.year from {{ ref('int_calendar_years') }} as y
            where not exists (
                select 1 from {{ this }} as t
                where t.year = y.year and t.as_of_date = y.as_of_date
                  and t.is_complete = y.is_complete
            )
    {%- endset -%}
    {{- return(rebuild_condition(year_col, changed, 'year', wm)) -}}
    {%- else -%}
    (1 = 1)
    {%- endif -%}
{%- endmacro %}

{#- pre_hook of the year-incremental marts: delete the years about to be rebuilt. -#}
{% macro delete_rebuilt_years(datasets) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ year_needs_rebuild('year', datasets) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
