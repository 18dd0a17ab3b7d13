{{ config(unique_key=['referral_id']) }}

{{ current_state('referrals', ['referral_id'], month_of('c.referral_time'), ['referrals']) }}
