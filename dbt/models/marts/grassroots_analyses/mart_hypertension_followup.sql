{{ chronic_followup_by_team('hypertension') }}
