{{ config(unique_key=['followup_id']) }}

{{ current_state('chronic_followups', ['followup_id'], month_of('c.followup_date'), ['chronic_followups']) }}
