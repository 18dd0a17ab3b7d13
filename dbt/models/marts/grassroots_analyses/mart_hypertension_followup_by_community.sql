{{ chronic_followup_by_community('hypertension') }}
