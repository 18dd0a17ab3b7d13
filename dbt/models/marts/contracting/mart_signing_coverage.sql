{#- a resident's groups that do not depend on the date (age and diagnoses by then do) -#}
{%- set group_flags = ['pregnant', 'tuberculosis', 'severe_mental_disorder', 'disability',
                       'low_income', 'hypertension_flag', 'diabetes_flag'] %}

with performance_period as (
    select month, as_of_date, year from {{ ref('int_calendar_months') }}
),

residents as (
    select * from {{ ref('int_residents_enriched') }}
),

population as (
    select
        region_code,
        year,
        {{ sum_int('population') }} as population,
        {{ sum_int("case when age_band in ('65-79', '80+') then population else 0 end") }} as population_65plus,
        {{ sum_int("case when age_band = '0-6' then population else 0 end") }} as population_0_6
    from {{ ref('stg_raw__population') }}
    group by region_code, year
),

{%- set resident_columns %}
        r.birth_date,
        {%- for f in group_flags %}
        r.{{ f }},
        {%- endfor %}
        r.first_hypertension_dx_date,
        r.first_diabetes_dx_date,
        {{ birthday('r.birth_date', 7) }} as turns_7,
        {{ birthday('r.birth_date', 65) }} as turns_65
{%- endset %}
{#- the days on which a resident's age band or disease groups can change -#}
{%- set group_turns = ['s.turns_7', 's.turns_65', 's.first_hypertension_dx_date',
                       's.first_diabetes_dx_date'] %}
{%- set key_population = is_key_population('s', age_at('s.birth_date', '@d'), '@d') %}

record_spans as {{ materialized_cte() }} (
    -- every resident with a health record, from birth on, placed by its community of residence
    -- (the current record's): key population and disease groups known from records.  Not
    -- limited to records registered by then: a contract signed before the record was keyed
    -- still counts.
    select
        r.region_code,
        r.birth_date as lo,
        cast(null as date) as hi,
        {{- resident_columns }}
    from residents as r
    where r.birth_date is not null
),

{{ snapshot_counts('community', 'record_spans', ['region_code'], [
    ('registered_residents', '1 = 1'),
    ('key_population', key_population),
    ('hypertension_patients', is_hypertension('s', '@d')),
    ('diabetes_patients', is_diabetes('s', '@d')),
], group_turns) }},

contract_spans as {{ materialized_cte() }} (
    -- every counted contract piece (int_contracts_in_force: one per resident and day) of a
    -- resident with a health record, from the piece's first day (or the resident's birth) to
    -- its last, under the contract's team
    select
        r.region_code,
        c.team_code,
        greatest(c.in_force_from, r.birth_date) as lo,
        c.in_force_to as hi,
        c.package_code,
        c.is_combo_111,
        {{- resident_columns }}
    from {{ ref('int_contracts_in_force') }} as c
    inner join residents as r on r.resident_id = c.resident_id
    where r.birth_date is not null
),

{{ snapshot_counts('team', 'contract_spans', ['region_code', 'team_code'], [
    ('signed_residents', '1 = 1'),
    ('key_signed', key_population),
    ('signed_65plus', age_at('s.birth_date', '@d') ~ ' >= 65'),
    ('signed_0_6', age_at('s.birth_date', '@d') ~ ' <= 6'),
    ('signed_hypertension', is_hypertension('s', '@d')),
    ('signed_diabetes', is_diabetes('s', '@d')),
    ('combo_111_signed', 's.is_combo_111'),
    ('package_free', "s.package_code = 'free'"),
    ('package_basic', "s.package_code = 'basic'"),
    ('package_personalized', "s.package_code = 'personalized'"),
    ('package_checkup', "s.package_code = 'checkup'"),
], group_turns) }},

ending as (
    -- contracts that ran to their end in the month (terminated ones ended early and are not
    -- up for renewal), up to the snapshot date, and those of them that a later contract renews
    select
        p.as_of_date,
        r.region_code,
        s.team_code,
        count(*) as contracts_ending,
        {{ count_where('n.contract_id is not null') }} as renewals
    from {{ ref('int_signings_current') }} as s
    inner join performance_period as p on s.end_date >= p.month and s.end_date <= p.as_of_date
    inner join residents as r on r.resident_id = s.resident_id
    left join (
        select distinct renewal_of as contract_id from {{ ref('int_signings_current') }}
        where renewal_of is not null
    ) as n on n.contract_id = s.contract_id
    where s.status <> 'terminated'
    group by p.as_of_date, r.region_code, s.team_code
),

grain as (
    select as_of_date, region_code, team_code from team_counts
    union
    select as_of_date, region_code, team_code from ending
),

communities as (
    select p.as_of_date, p.year, h.region_code, h.district_code
    from performance_period as p
    cross join {{ ref('int_regions_hierarchy') }} as h
),

full_grain as (
    -- communities without any signed team still get a row (team 'none')
    select c.as_of_date, c.year, c.region_code, c.district_code, coalesce(g.team_code, 'none') as team_code
    from communities as c
    left join grain as g on g.as_of_date = c.as_of_date and g.region_code = c.region_code
)

select
    f.as_of_date,
    f.region_code,
    f.team_code,
    f.district_code,
    coalesce(pop.population, 0) as population,
    coalesce(t.signed_residents, 0) as signed_residents,
    {{ safe_divide('coalesce(t.signed_residents, 0)', 'pop.population') }} as signing_rate,
    coalesce(cc.key_population, 0) as key_population,
    coalesce(t.key_signed, 0) as key_signed,
    {{ safe_divide('coalesce(t.key_signed, 0)', 'cc.key_population') }} as key_signing_rate,
    coalesce(pop.population_65plus, 0) as population_65plus,
    coalesce(t.signed_65plus, 0) as signed_65plus,
    {{ safe_divide('coalesce(t.signed_65plus, 0)', 'pop.population_65plus') }} as signing_rate_65plus,
    coalesce(pop.population_0_6, 0) as population_0_6,
    coalesce(t.signed_0_6, 0) as signed_0_6,
    {{ safe_divide('coalesce(t.signed_0_6, 0)', 'pop.population_0_6') }} as signing_rate_0_6,
    coalesce(cc.hypertension_patients, 0) as hypertension_patients,
    coalesce(t.signed_hypertension, 0) as signed_hypertension,
    {{ safe_divide('coalesce(t.signed_hypertension, 0)', 'cc.hypertension_patients') }} as signing_rate_hypertension,
    coalesce(cc.diabetes_patients, 0) as diabetes_patients,
    coalesce(t.signed_diabetes, 0) as signed_diabetes,
    {{ safe_divide('coalesce(t.signed_diabetes, 0)', 'cc.diabetes_patients') }} as signing_rate_diabetes,
    coalesce(t.combo_111_signed, 0) as combo_111_signed,
    {{ safe_divide('coalesce(t.combo_111_signed, 0)', 't.signed_residents') }} as combo_111_share,
    coalesce(t.package_free, 0) as package_free,
    coalesce(t.package_basic, 0) as package_basic,
    coalesce(t.package_personalized, 0) as package_personalized,
    coalesce(t.package_checkup, 0) as package_checkup,
    coalesce(e.contracts_ending, 0) as contracts_ending,
    coalesce(e.renewals, 0) as renewals,
    {{ safe_divide('coalesce(e.renewals, 0)', 'e.contracts_ending') }} as renewal_rate
from full_grain as f
left join population as pop on pop.region_code = f.region_code and pop.year = f.year
left join community_counts as cc on cc.as_of_date = f.as_of_date and cc.region_code = f.region_code
left join team_counts as t
    on t.as_of_date = f.as_of_date and t.region_code = f.region_code and t.team_code = f.team_code
left join ending as e
    on e.as_of_date = f.as_of_date and e.region_code = f.region_code and e.team_code = f.team_code
