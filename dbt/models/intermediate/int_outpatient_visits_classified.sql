-- Every current outpatient visit with what mart_grassroots_visits counts it by: the facility's
-- district and class, whether the resident had a contract in force on the visit day, and the
-- district of the resident's health record.
--
-- Maintained by difference: a visit's class changes only when the visit changes, when its
-- resident's contracts change (signings) or when its resident's record moves (health records).
-- A night classifies those visits again and writes the ones whose class changed, so the mart
-- rebuilds only the months they fall in.  A night whose loads deleted rows of these datasets (a
-- redelivery) or brought a reference snapshot (facilities, regions) classifies every visit again
-- and writes a tombstone for each visit gone.
-- depends_on: {{ ref('stg_raw__signings') }}, {{ ref('stg_raw__health_records') }}
{%- set datasets = ['outpatient_visits', 'signings', 'health_records'] %}
{%- set key = ['facility_code', 'visit_id'] %}
{%- set columns = ['month', 'resident_id', 'facility_district_code', 'is_grassroots', 'is_signed',
                   'resident_district_code'] %}
{{ config(materialized=incremental_materialization(), incremental_strategy='delete+insert',
          unique_key=key, post_hook="{{ delete_tombstones() }}") }}
{%- set plan = difference_plan(datasets) %}
{%- set by_difference, wm = plan.by_difference, plan.wm %}

{{ with_touched(plan, ['signings', 'health_records'], 'touched_residents') }}

visits as (
    select
        v.facility_code,
        v.visit_id,
        v.month,
        v.resident_id,
        {{ to_date('v.visit_time') }} as visit_date,
        f.district_code as facility_district_code,
        coalesce(f.is_grassroots, false) as is_grassroots
    from {{ ref('int_outpatient_visits_current') }} as v
    left join {{ ref('int_facilities_classified') }} as f on f.facility_code = v.facility_code
    {%- if by_difference %}
    where v._processed_batch_id > {{ wm }}
       or v.resident_id in (select resident_id from touched_residents)
    {%- endif %}
),

classified as (
    -- signed: the resident had a contract in force on the visit day (int_contracts_in_force
    -- has at most one piece a resident and day, so the join keeps one row per visit)
    select
        v.facility_code,
        v.visit_id,
        v.month,
        v.resident_id,
        v.facility_district_code,
        v.is_grassroots,
        s.resident_id is not null as is_signed,
        r.district_code as resident_district_code
    from visits as v
    left join {{ ref('int_contracts_in_force') }} as s
        on s.resident_id = v.resident_id
       and v.visit_date >= s.in_force_from
       and v.visit_date <= s.in_force_to
    left join {{ ref('int_residents_enriched') }} as r on r.resident_id = v.resident_id
)

{% if is_incremental() %}
{%- set same_key = keys_equal(key, 'o', 'n') %}
, previous as (
    -- the model's rows of the candidates' residents: an inner join whose hash table holds those
    -- few residents (DuckDB planned a semi-join on the key or an `in` as a hash of every visit
    -- of the model).  A candidate filed under another resident before is missing here and is
    -- written again, as it should be: its resident changed.
    select o.* from {{ this }} as o
    {%- if by_difference %}
    inner join (select distinct resident_id from classified) as r on r.resident_id = o.resident_id
    {%- endif %}
)

-- the visits whose class changed (or that are new), and a tombstone for each visit gone
select
    n.*,
    {{ current_batch_id() }} as _processed_batch_id,
    false as _is_deleted
from classified as n
where not exists (
    select 1 from previous as o
    where {{ same_key }}
      {%- for c in columns %}
      and o.{{ c }} is not distinct from n.{{ c }}
      {%- endfor %}
)
{%- if not by_difference %}
union all
select
    {%- for k in key %}
    o.{{ k }},
    {%- endfor %}
    {%- for c in columns %}
    o.{{ c }},
    {%- endfor %}
    {{ current_batch_id() }} as _processed_batch_id,
    true as _is_deleted
from {{ this }} as o
where not exists (select 1 from classified as n where {{ same_key }})
{%- endif %}
{% else %}
select *, {{ current_batch_id() }} as _processed_batch_id, false as _is_deleted
from classified
{% endif %}
