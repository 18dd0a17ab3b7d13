{{ config(unique_key=['contract_id']) }}

{{ current_state('signings', ['contract_id'], month_of('c.sign_date'), ['signings']) }}
