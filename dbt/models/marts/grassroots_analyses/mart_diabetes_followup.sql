{{ chronic_followup_by_team('diabetes') }}
