-- Maintained by difference, resident by resident (a resident's pieces depend on that
-- resident's contracts only): a night recomputes the residents whose contracts its signings
-- rows touch; a night whose loads deleted signings rows or brought a reference snapshot
-- recomputes every resident.
-- depends_on: {{ ref('stg_raw__signings') }}
{%- set datasets = ['signings'] %}
{{ config(materialized=incremental_materialization(), incremental_strategy='delete+insert',
          unique_key='resident_id', post_hook="{{ delete_tombstones() }}") }}
{%- set plan = difference_plan(datasets) %}

{{ with_touched(plan, datasets) }}

contracts as (
    -- status does not matter: an expired contract was in force for its whole term, a
    -- terminated one until the end_date its terminating delivery carries.  Dates are never
    -- null and never reversed (the loader quarantines such rows).
    select
        contract_id,
        resident_id,
        facility_code,
        team_code,
        package_code,
        district_hospital_code is not null and city_hospital_code is not null as is_combo_111,
        sign_date,
        start_date,
        end_date
    from {{ ref('int_signings_current') }}
    where {{ plan.of_touched }}
),

cuts as (
    -- the days of a contract's term on which another contract of the resident, one that
    -- started later (then: signed later, then: the greater contract_id), is in force too: that
    -- one counts on those days.  Only overlapping contracts give rows, a small set.
    select
        c.contract_id,
        greatest(c.start_date, o.start_date) as cut_from,
        least(c.end_date, o.end_date) as cut_to
    from contracts as c
    inner join contracts as o
        on o.resident_id = c.resident_id
       and o.contract_id <> c.contract_id
       and o.start_date <= c.end_date
       and o.end_date >= c.start_date
       and {{ ranks_after('o', 'c') }}
),

uncut as (
    select c.*, c.start_date as in_force_from, c.end_date as in_force_to
    from contracts as c
    where not exists (select 1 from cuts as x where x.contract_id = c.contract_id)
),

piece_starts as (
    -- a cut contract counts again from its start and from the day after each cut, where that
    -- day is inside its term and not inside another cut
    select c.contract_id, c.start_date as piece_from
    from contracts as c
    where exists (select 1 from cuts as x where x.contract_id = c.contract_id)
    union
    select x.contract_id, {{ dbt.dateadd('day', 1, 'x.cut_to') }} as piece_from
    from cuts as x
),

open_starts as (
    select s.contract_id, cast(s.piece_from as date) as piece_from
    from piece_starts as s
    inner join contracts as c on c.contract_id = s.contract_id
    where s.piece_from <= c.end_date
      and not exists (
          select 1 from cuts as x
          where x.contract_id = s.contract_id
            and s.piece_from >= x.cut_from and s.piece_from <= x.cut_to
      )
),

pieces as (
    -- each piece runs to the day before the next cut, or to the end of the term
    select
        s.contract_id,
        s.piece_from,
        min(cast({{ dbt.dateadd('day', -1, 'x.cut_from') }} as date)) as next_cut_eve
    from open_starts as s
    left join cuts as x on x.contract_id = s.contract_id and x.cut_from > s.piece_from
    group by s.contract_id, s.piece_from
),

in_force as (
    select
        resident_id, contract_id, facility_code, team_code, package_code, is_combo_111,
        sign_date, start_date, end_date, in_force_from, in_force_to
    from uncut
    union all
    select
        c.resident_id, c.contract_id, c.facility_code, c.team_code, c.package_code, c.is_combo_111,
        c.sign_date, c.start_date, c.end_date,
        p.piece_from as in_force_from,
        coalesce(p.next_cut_eve, c.end_date) as in_force_to
    from pieces as p
    inner join contracts as c on c.contract_id = p.contract_id
)

{{ resident_rows('in_force', ['contract_id', 'facility_code', 'team_code', 'package_code',
    'is_combo_111', 'sign_date', 'start_date', 'end_date', 'in_force_from', 'in_force_to'], plan.by_difference) }}
