select
    as_of_date,
    region_code,
    max(district_code) as district_code,
    max(population) as population,
    {{ sum_int('signed_residents') }} as signed_residents,
    {{ safe_divide('sum(signed_residents)', 'max(population)') }} as signing_rate,
    max(key_population) as key_population,
    {{ sum_int('key_signed') }} as key_signed,
    {{ safe_divide('sum(key_signed)', 'max(key_population)') }} as key_signing_rate,
    max(population_65plus) as population_65plus,
    {{ sum_int('signed_65plus') }} as signed_65plus,
    max(population_0_6) as population_0_6,
    {{ sum_int('signed_0_6') }} as signed_0_6,
    max(hypertension_patients) as hypertension_patients,
    {{ sum_int('signed_hypertension') }} as signed_hypertension,
    max(diabetes_patients) as diabetes_patients,
    {{ sum_int('signed_diabetes') }} as signed_diabetes,
    {{ sum_int('combo_111_signed') }} as combo_111_signed,
    {{ sum_int('contracts_ending') }} as contracts_ending,
    {{ sum_int('renewals') }} as renewals,
    {{ safe_divide('sum(renewals)', 'sum(contracts_ending)') }} as renewal_rate
from {{ ref('mart_signing_coverage') }}
group by as_of_date, region_code
