-- 高血压患者健康管理 by community of residence (year x community): same definitions as
-- mart_hypertension_followup, plus the patients known to the warehouse (>= 35, with or without a
-- follow-up) as a registered-patient denominator.
with patient_years as (
    select * from {{ ref('int_chronic_patients_yearly') }}
    where disease = 'hypertension'
)

select
    p.year,
    p.region_code,
    max(h.district_code) as district_code,
    count(*) as registered_patients,
    {{ count_where('p.is_managed') }} as managed_patients,
    {{ safe_divide("sum(" ~ flag('p.is_managed') ~ ")", 'count(*)') }} as managed_share,
    {{ count_where('p.is_managed and p.is_standard_managed') }} as standard_managed,
    {{ safe_divide("sum(" ~ flag('p.is_managed and p.is_standard_managed') ~ ")", "sum(" ~ flag('p.is_managed') ~ ")") }} as standard_mgmt_rate,
    {{ count_where('p.is_managed and p.is_controlled') }} as controlled,
    {{ safe_divide("sum(" ~ flag('p.is_managed and p.is_controlled') ~ ")", "sum(" ~ flag('p.is_managed') ~ ")") }} as control_rate
from patient_years as p
left join {{ ref('int_regions_hierarchy') }} as h on h.region_code = p.region_code
group by p.year, p.region_code
