-- 2型糖尿病患者健康管理: year x family doctor team (the team of the patient's latest follow-up in the
-- year).  Patients: diabetes patients (record flag or diagnosis, see int_residents_enriched) aged
-- >= 35 at year end.  managed = >= 1 follow-up in the year; standard = >= 4 follow-ups of which
-- >= 4 face to face (clinic/home); controlled = latest follow-up fasting_glucose < 7.0 mmol/L.
with performance_period as (
    select distinct year from {{ ref('int_calendar_months') }}
),

patient_years as (
    select * from {{ ref('int_chronic_patients_yearly') }}
    where disease = 'diabetes'
),

denominator as (
    -- managed patients: the rate denominator of both standard management and control
    select * from patient_years where is_managed
),

summary as (
    select
        d.year,
        d.team_code,
        count(*) as managed_patients,
        {{ count_where('d.is_standard_managed') }} as standard_managed,
        {{ count_where('d.is_controlled') }} as controlled,
        {{ count_where('d.age >= 65') }} as managed_65plus,
        cast(sum(d.followups) as {{ dbt.type_bigint() }}) as followups,
        cast(sum(d.face_to_face_followups) as {{ dbt.type_bigint() }}) as face_to_face_followups
    from denominator as d
    inner join performance_period as p on p.year = d.year
    group by d.year, d.team_code
)

select
    s.year,
    s.team_code,
    t.facility_code,
    s.managed_patients,
    s.standard_managed,
    {{ safe_divide('s.standard_managed', 's.managed_patients') }} as standard_mgmt_rate,
    s.controlled,
    {{ safe_divide('s.controlled', 's.managed_patients') }} as control_rate,
    s.managed_65plus,
    s.followups,
    s.face_to_face_followups
from summary as s
left join {{ ref('stg_raw__teams') }} as t on t.team_code = s.team_code
