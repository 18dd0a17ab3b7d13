select
    month,
    district_code,
    {{ sum_int('visits') }} as visits,
    cast(sum(total_fee) as decimal(18, 2)) as total_fee,
    cast(sum(drug_fee) as decimal(18, 2)) as drug_fee,
    cast(sum(insurance_paid) as decimal(18, 2)) as insurance_paid,
    {{ safe_divide('sum(total_fee)', 'sum(visits)') }} as avg_fee_per_visit,
    {{ safe_divide('sum(drug_fee)', 'sum(visits)') }} as avg_drug_fee_per_visit,
    {{ safe_divide('sum(insurance_paid)', 'sum(total_fee)') }} as insurance_share
from {{ ref('mart_outpatient_cost') }}
group by month, district_code
