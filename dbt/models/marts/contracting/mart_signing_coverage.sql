{#- a resident's groups that do not depend on the date (age and diagnoses by then do) -#}
{%- set group_flags = ['pregnant', 'tuberculosis', 'severe_mental_disorder', 'disability',
                       'low_income', 'hypertension_flag', 'diabetes_flag'] %}

with performance_period as (
    select month, as_of_date, year from {{ ref('int_calendar_months') }}
),

data_as_of as (
    select {{ day_of('max(data_as_of)') }} as day_of_month from {{ ref('int_calendar_months') }}
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

resident_keys as (
    -- What decides a resident's groups at a snapshot date, and nothing finer: residents with the
    -- same keys are counted together (a residents x month-ends table was 10 M rows at 1 M
    -- residents after a year).  A diagnosis counts at a date iff its month has begun (no event
    -- is later than the last day loaded).  Age and "born yet" at a month-end depend only on the
    -- birth year and month; at the running month's snapshot (the last day loaded, day D) also on
    -- whether the birthday is after day D: those birth dates, and 29 February ones (28 February
    -- month-ends), are kept whole.
    select
        r.region_code,
        case
            when extract(month from r.birth_date) = 2 and {{ day_of('r.birth_date') }} = 29 then r.birth_date
            when {{ day_of('r.birth_date') }} > d.day_of_month then r.birth_date
            else {{ month_of('r.birth_date') }}
        end as birth_date,
        {%- for f in group_flags %}
        r.{{ f }},
        {%- endfor %}
        {{ month_of('r.first_hypertension_dx_date') }} as first_hypertension_dx_date,
        {{ month_of('r.first_diabetes_dx_date') }} as first_diabetes_dx_date
    from residents as r
    cross join data_as_of as d
),

resident_groups as (
    {%- set keys = ['region_code', 'birth_date'] + group_flags
                   + ['first_hypertension_dx_date', 'first_diabetes_dx_date'] %}
    select {{ keys | join(', ') }}, count(*) as residents
    from resident_keys
    group by {{ keys | join(', ') }}
),

community_counts as (
    -- every resident with a health record, born by the date (placed by its community of
    -- residence, the current record's): key population and disease groups known from records.
    -- Not limited to records registered by then: a contract signed before the record was keyed
    -- still counts.
    select
        p.as_of_date,
        g.region_code,
        {{ sum_int('g.residents') }} as registered_residents,
        {{ sum_int("case when " ~ is_key_population('g', age_at('g.birth_date', 'p.as_of_date'), 'p.as_of_date') ~ " then g.residents else 0 end") }} as key_population,
        {{ sum_int("case when " ~ is_hypertension('g', 'p.as_of_date') ~ " then g.residents else 0 end") }} as hypertension_patients,
        {{ sum_int("case when " ~ is_diabetes('g', 'p.as_of_date') ~ " then g.residents else 0 end") }} as diabetes_patients
    from performance_period as p
    inner join resident_groups as g on g.birth_date <= p.as_of_date
    group by p.as_of_date, g.region_code
),

signed as {{ materialized_cte() }} (
    -- every counted contract piece (int_contracts_in_force: one per resident and day) with its
    -- resident's groups, joined once here and then placed at the month-ends it spans (joining
    -- residents after the month-ends repeated that join at every month-end)
    select
        c.in_force_from,
        c.in_force_to,
        c.team_code,
        c.package_code,
        c.is_combo_111,
        r.region_code,
        r.birth_date,
        {%- for f in group_flags %}
        r.{{ f }},
        {%- endfor %}
        r.first_hypertension_dx_date,
        r.first_diabetes_dx_date
    from {{ ref('int_contracts_in_force') }} as c
    inner join residents as r on r.resident_id = c.resident_id
),

status as (
    -- signed residents with a health record, born by the date, with age and groups at the date
    select
        p.as_of_date,
        s.region_code,
        s.team_code,
        s.package_code,
        s.is_combo_111,
        {{ age_at('s.birth_date', 'p.as_of_date') }} as age,
        {{ is_key_population('s', age_at('s.birth_date', 'p.as_of_date'), 'p.as_of_date') }} as is_key,
        {{ is_hypertension('s', 'p.as_of_date') }} as is_hypertension,
        {{ is_diabetes('s', 'p.as_of_date') }} as is_diabetes
    from performance_period as p
    inner join signed as s
        on p.as_of_date >= s.in_force_from and p.as_of_date <= s.in_force_to
    where s.birth_date <= p.as_of_date
),

team_counts as (
    select
        as_of_date,
        region_code,
        team_code,
        count(*) as signed_residents,
        {{ count_where('is_key') }} as key_signed,
        {{ count_where('age >= 65') }} as signed_65plus,
        {{ count_where('age <= 6') }} as signed_0_6,
        {{ count_where('is_hypertension') }} as signed_hypertension,
        {{ count_where('is_diabetes') }} as signed_diabetes,
        {{ count_where('is_combo_111') }} as combo_111_signed,
        {{ count_where("package_code = 'free'") }} as package_free,
        {{ count_where("package_code = 'basic'") }} as package_basic,
        {{ count_where("package_code = 'personalized'") }} as package_personalized,
        {{ count_where("package_code = 'checkup'") }} as package_checkup
    from status
    group by as_of_date, region_code, team_code
),

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
