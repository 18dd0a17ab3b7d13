{{ config(materialized='table') }}

with years as (
    select year, as_of_date, is_complete, quarters_begun from {{ ref('int_calendar_years') }}
),

diseases as (
    select 'hypertension' as disease
    union all
    select 'diabetes' as disease
),

patients as (
    -- patients as of the year's as-of date (Dec 31, or the last day loaded in the year still
    -- running): the record flag, or a diagnosis dated by then; age at that date
    select
        y.year,
        y.as_of_date,
        y.is_complete,
        y.quarters_begun,
        d.disease,
        r.resident_id,
        r.region_code,
        {{ age_at('r.birth_date', 'y.as_of_date') }} as age
    from years as y
    cross join diseases as d
    inner join {{ ref('int_residents_enriched') }} as r
        on (d.disease = 'hypertension' and {{ is_hypertension('r', 'y.as_of_date') }})
        or (d.disease = 'diabetes' and {{ is_diabetes('r', 'y.as_of_date') }})
),

followups as (
    select
        f.*,
        {{ year_of('f.followup_date') }} as year,
        row_number() over (
            partition by f.resident_id, f.disease, {{ year_of('f.followup_date') }}
            order by f.followup_date desc, f.followup_id desc
        ) as recency
    from {{ ref('int_chronic_followups_current') }} as f
),

per_patient as (
    select
        year,
        disease,
        resident_id,
        count(*) as followups,
        {{ count_where("mode in ('clinic', 'home')") }} as face_to_face_followups,
        max(case when recency = 1 then followup_date end) as latest_followup_date,
        max(case when recency = 1 then team_code end) as latest_team_code,
        max(case when recency = 1 then facility_code end) as latest_facility_code,
        max(case when recency = 1 then sbp end) as latest_sbp,
        max(case when recency = 1 then dbp end) as latest_dbp,
        max(case when recency = 1 then fasting_glucose end) as latest_fasting_glucose
    from followups
    group by year, disease, resident_id
)

select
    p.year,
    p.as_of_date,
    p.is_complete,
    -- 规范管理 needs 4 face-to-face follow-ups a year; a year still running needs one per
    -- quarter begun
    p.quarters_begun as required_followups,
    p.disease,
    p.resident_id,
    p.region_code,
    p.age,
    coalesce(f.followups, 0) as followups,
    coalesce(f.face_to_face_followups, 0) as face_to_face_followups,
    f.latest_followup_date,
    f.latest_team_code as team_code,
    f.latest_facility_code,
    f.latest_sbp,
    f.latest_dbp,
    f.latest_fasting_glucose,
    coalesce(f.followups, 0) >= 1 as is_managed,
    coalesce(f.face_to_face_followups, 0) >= p.quarters_begun as is_standard_managed,
    case
        when f.followups is null then false
        when p.disease = 'hypertension' then
            coalesce(
                f.latest_dbp < 90
                and f.latest_sbp < case when p.age >= 65 then 150 else 140 end,
                false
            )
        else coalesce(f.latest_fasting_glucose < 7.0, false)
    end as is_controlled
from patients as p
left join per_patient as f
    on f.year = p.year and f.disease = p.disease and f.resident_id = p.resident_id
where p.age >= 35
