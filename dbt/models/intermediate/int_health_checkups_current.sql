{{ config(materialized='table') }}

{{ latest_wins('health_checkups', ['checkup_id']) }}
