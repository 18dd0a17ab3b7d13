{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='month',
        pre_hook="{{ delete_rebuilt_months(['referrals', 'outpatient_visits']) }}"
    )
}}

with referrals as (
    select
        *,
        -- directional counts take the referrals that went ahead (not rejected or cancelled)
        status not in ('rejected', 'cancelled') as went_ahead
    from {{ ref('int_referrals_current') }}
    where {{ month_needs_rebuild('month', ['referrals', 'outpatient_visits']) }}
),

sent as (
    select
        month,
        facility_code,
        count(*) as referrals_sent,
        {{ count_where("went_ahead and direction = 'up'") }} as up_out,
        {{ count_where("went_ahead and direction = 'down'") }} as down_out,
        {{ count_where("status = 'requested'") }} as requested_out,
        {{ count_where("status = 'accepted'") }} as accepted_out,
        {{ count_where("status = 'arrived'") }} as arrived_out,
        {{ count_where("status = 'rejected'") }} as rejected_out,
        {{ count_where("status = 'cancelled'") }} as cancelled_out,
        {{ count_where('team_code is not null') }} as family_doctor_out,
        {{ count_where('priority_slot') }} as priority_slot_out
    from referrals
    group by month, facility_code
),

received as (
    select
        month,
        to_facility_code as facility_code,
        {{ count_where("went_ahead and direction = 'up'") }} as up_in,
        {{ count_where("went_ahead and direction = 'down'") }} as down_in,
        {{ count_where("status = 'arrived'") }} as arrived_in
    from referrals
    group by month, to_facility_code
),

visits as (
    select month, facility_code, count(*) as outpatient_visits
    from {{ ref('int_outpatient_visits_current') }}
    where {{ month_needs_rebuild('month', ['referrals', 'outpatient_visits']) }}
    group by month, facility_code
),

grain as (
    -- every facility-month with visits or referrals: a facility's referral rate rolls up over
    -- all its visits, months without referrals included
    select month, facility_code from sent
    union
    select month, facility_code from received
    union
    select month, facility_code from visits
),

summary as (
    select
        g.month,
        g.facility_code,
        coalesce(s.up_out, 0) as up_out,
        coalesce(s.down_out, 0) as down_out,
        coalesce(r.up_in, 0) as up_in,
        coalesce(r.down_in, 0) as down_in,
        coalesce(s.referrals_sent, 0) as referrals_sent,
        coalesce(s.requested_out, 0) as requested_out,
        coalesce(s.accepted_out, 0) as accepted_out,
        coalesce(s.arrived_out, 0) as arrived_out,
        coalesce(s.rejected_out, 0) as rejected_out,
        coalesce(s.cancelled_out, 0) as cancelled_out,
        coalesce(r.arrived_in, 0) as arrived_in,
        coalesce(s.family_doctor_out, 0) as family_doctor_out,
        coalesce(s.priority_slot_out, 0) as priority_slot_out,
        coalesce(v.outpatient_visits, 0) as outpatient_visits
    from grain as g
    left join sent as s on s.month = g.month and s.facility_code = g.facility_code
    left join received as r on r.month = g.month and r.facility_code = g.facility_code
    left join visits as v on v.month = g.month and v.facility_code = g.facility_code
)

select
    s.month,
    s.facility_code,
    f.district_code,
    f.level_group,
    f.alliance_code,
    s.up_out,
    s.down_out,
    s.up_in,
    s.down_in,
    s.referrals_sent,
    {{ safe_divide('s.down_out', 's.up_out + s.down_out') }} as down_share,
    s.requested_out,
    s.accepted_out,
    s.arrived_out,
    s.rejected_out,
    s.cancelled_out,
    {{ safe_divide('s.arrived_out', 's.referrals_sent') }} as arrival_rate,
    s.arrived_in,
    s.family_doctor_out,
    {{ safe_divide('s.family_doctor_out', 's.referrals_sent') }} as family_doctor_share,
    s.priority_slot_out,
    {{ safe_divide('s.priority_slot_out', 's.referrals_sent') }} as priority_slot_share,
    s.outpatient_visits,
    {{ safe_divide('s.referrals_sent', 's.outpatient_visits') }} as referral_rate,
    {{ current_batch_id() }} as _processed_batch_id
from summary as s
left join {{ ref('int_facilities_classified') }} as f on f.facility_code = s.facility_code
