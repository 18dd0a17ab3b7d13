select
    month,
    level_group,
    {{ sum_int('up_out') }} as up_out,
    {{ sum_int('down_out') }} as down_out,
    {{ sum_int('up_in') }} as up_in,
    {{ sum_int('down_in') }} as down_in,
    {{ sum_int('referrals_sent') }} as referrals_sent,
    {{ safe_divide('sum(down_out)', 'sum(up_out) + sum(down_out)') }} as down_share,
    {{ sum_int('arrived_out') }} as arrived_out,
    {{ safe_divide('sum(arrived_out)', 'sum(referrals_sent)') }} as arrival_rate,
    {{ sum_int('outpatient_visits') }} as outpatient_visits,
    {{ safe_divide('sum(referrals_sent)', 'sum(outpatient_visits)') }} as referral_rate
from {{ ref('mart_referrals') }}
group by month, level_group
