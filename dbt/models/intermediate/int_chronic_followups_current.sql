-- Latest-wins current state of chronic_followups (key: 'followup_id'): of all loaded rows of one key, the row of the latest
-- (_business_date, _delivery_version) wins.  Small dataset: rebuilt in full every run.
{{ config(materialized='table') }}

{{ latest_wins('chronic_followups', ['followup_id']) }}
