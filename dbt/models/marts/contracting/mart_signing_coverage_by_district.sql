select
    as_of_date,
    district_code,
    {{ sum_int('population') }} as population,
    {{ sum_int('signed_residents') }} as signed_residents,
    {{ safe_divide('sum(signed_residents)', 'sum(population)') }} as signing_rate,
    {{ sum_int('key_population') }} as key_population,
    {{ sum_int('key_signed') }} as key_signed,
    {{ safe_divide('sum(key_signed)', 'sum(key_population)') }} as key_signing_rate,
    {{ sum_int('combo_111_signed') }} as combo_111_signed,
    {{ sum_int('contracts_ending') }} as contracts_ending,
    {{ sum_int('renewals') }} as renewals,
    {{ safe_divide('sum(renewals)', 'sum(contracts_ending)') }} as renewal_rate
from {{ ref('mart_signing_coverage_by_community') }}
group by as_of_date, district_code
