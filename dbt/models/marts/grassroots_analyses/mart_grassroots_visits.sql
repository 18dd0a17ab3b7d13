-- 基层就医人次分析: month x district.  Two views of a district in one row:
-- * activity (by the facility's district): total_visits, grassroots_visits, grassroots_share
--   (基层诊疗量占比, target >= 0.65) and the same split for signed / unsigned residents (签约居民
--   基层就诊率: a visit is "signed" when the resident had a counted contract covering the visit
--   date, see int_contracts_active_month_end for which statuses count);
-- * residents (by the district of the resident's health-record community):
--   county_resident_visits, in_county_visits (made at a facility of the same district) and
--   in_county_rate (县域内就诊率, target ~0.90).  Visits of residents without a health record have
--   no home district and are left out of these two columns.
-- Rebuilt in full: a late contract or record change can move visits of any month.
with visits as (
    select
        v.month,
        v.facility_code,
        v.visit_id,
        v.resident_id,
        {{ to_date('v.visit_time') }} as visit_date,
        f.district_code as facility_district_code,
        coalesce(f.is_grassroots, false) as is_grassroots
    from {{ ref('int_outpatient_visits_current') }} as v
    left join {{ ref('int_facilities_classified') }} as f on f.facility_code = v.facility_code
),

signed as (
    -- visits covered by a counted contract on the visit date
    select distinct v.facility_code, v.visit_id
    from visits as v
    inner join {{ ref('int_signings_current') }} as s
        on s.resident_id = v.resident_id
       and s.start_date <= v.visit_date
       and s.end_date >= v.visit_date
    where s.status in {{ in_list('signing_counted_statuses') }}
),

classified as (
    select
        v.*,
        s.visit_id is not null as is_signed,
        r.district_code as resident_district_code
    from visits as v
    left join signed as s on s.facility_code = v.facility_code and s.visit_id = v.visit_id
    left join {{ ref('int_residents_enriched') }} as r on r.resident_id = v.resident_id
),

by_facility_district as (
    select
        month,
        facility_district_code as district_code,
        count(*) as total_visits,
        {{ count_where('is_grassroots') }} as grassroots_visits,
        {{ count_where('is_signed') }} as signed_visits,
        {{ count_where('is_signed and is_grassroots') }} as signed_grassroots_visits,
        {{ count_where('not is_signed') }} as unsigned_visits,
        {{ count_where('not is_signed and is_grassroots') }} as unsigned_grassroots_visits
    from classified
    where facility_district_code is not null
    group by month, facility_district_code
),

by_resident_district as (
    select
        month,
        resident_district_code as district_code,
        count(*) as county_resident_visits,
        {{ count_where('facility_district_code = resident_district_code') }} as in_county_visits
    from classified
    where resident_district_code is not null
    group by month, resident_district_code
),

grain as (
    select month, district_code from by_facility_district
    union
    select month, district_code from by_resident_district
)

select
    g.month,
    g.district_code,
    coalesce(a.total_visits, 0) as total_visits,
    coalesce(a.grassroots_visits, 0) as grassroots_visits,
    {{ safe_divide('a.grassroots_visits', 'a.total_visits') }} as grassroots_share,
    coalesce(a.signed_visits, 0) as signed_visits,
    coalesce(a.signed_grassroots_visits, 0) as signed_grassroots_visits,
    {{ safe_divide('a.signed_grassroots_visits', 'a.signed_visits') }} as signed_grassroots_share,
    coalesce(a.unsigned_visits, 0) as unsigned_visits,
    coalesce(a.unsigned_grassroots_visits, 0) as unsigned_grassroots_visits,
    {{ safe_divide('a.unsigned_grassroots_visits', 'a.unsigned_visits') }} as unsigned_grassroots_share,
    coalesce(r.in_county_visits, 0) as in_county_visits,
    coalesce(r.county_resident_visits, 0) as county_resident_visits,
    {{ safe_divide('r.in_county_visits', 'r.county_resident_visits') }} as in_county_rate
from grain as g
left join by_facility_district as a on a.month = g.month and a.district_code = g.district_code
left join by_resident_district as r on r.month = g.month and r.district_code = g.district_code
