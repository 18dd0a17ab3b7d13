{{ chronic_with_targets(
    'followup',
    ['year', 'team_code', 'facility_code', 'as_of_date', 'is_complete', 'required_followups',
     'managed_patients', 'standard_managed', 'standard_mgmt_rate', 'controlled', 'control_rate',
     'managed_65plus', 'followups', 'face_to_face_followups'],
    {'standard_mgmt_target': 'standard_mgmt_rate', 'control_target': 'control_rate'}
) }}
