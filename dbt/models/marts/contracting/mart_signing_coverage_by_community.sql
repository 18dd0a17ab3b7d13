-- mart_signing_coverage rolled up over teams: month-end x community.  Signed counts are summed
-- over teams; the community denominators (population, key_population, groups) are taken once.
select
    as_of_date,
    region_code,
    max(district_code) as district_code,
    max(population) as population,
    sum(signed_residents) as signed_residents,
    {{ safe_divide('sum(signed_residents)', 'max(population)') }} as signing_rate,
    max(key_population) as key_population,
    sum(key_signed) as key_signed,
    {{ safe_divide('sum(key_signed)', 'max(key_population)') }} as key_signing_rate,
    max(population_65plus) as population_65plus,
    sum(signed_65plus) as signed_65plus,
    max(hypertension_patients) as hypertension_patients,
    sum(signed_hypertension) as signed_hypertension,
    max(diabetes_patients) as diabetes_patients,
    sum(signed_diabetes) as signed_diabetes,
    sum(combo_111_signed) as combo_111_signed,
    sum(contracts_ending) as contracts_ending,
    sum(renewals) as renewals,
    {{ safe_divide('sum(renewals)', 'sum(contracts_ending)') }} as renewal_rate
from {{ ref('mart_signing_coverage') }}
group by as_of_date, region_code
