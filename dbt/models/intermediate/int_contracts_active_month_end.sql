-- Contracts in force on each month-end (as_of_date): status counted (var
-- signing_counted_statuses, default: active only, as the spec says) and start_date <= as_of_date <= end_date.
-- Why `expired` counts: an expired contract ran its full term, and the month-end snapshots are
-- recomputed from the current contract state on every build -- counting only `active` would
-- erase all past coverage as soon as last year's contracts expire.  `terminated` never counts:
-- the standard carries no termination date, so the contract is treated as void.
select
    c.as_of_date,
    c.month,
    s.contract_id,
    s.resident_id,
    s.facility_code,
    s.team_code,
    s.package_code,
    s.start_date,
    s.end_date,
    s.district_hospital_code is not null and s.city_hospital_code is not null as is_combo_111
from {{ ref('int_calendar_months') }} as c
inner join {{ ref('int_signings_current') }} as s
    on s.start_date <= c.as_of_date
   and s.end_date >= c.as_of_date
where s.status in {{ in_list('signing_counted_statuses') }}
