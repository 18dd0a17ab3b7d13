{{ chronic_with_targets(
    'followup_by_community',
    ['year', 'region_code', 'district_code', 'as_of_date', 'is_complete', 'required_followups',
     'registered_patients', 'managed_patients', 'managed_share', 'standard_managed',
     'standard_mgmt_rate', 'controlled', 'control_rate'],
    {'managed_share_target': 'managed_share', 'standard_mgmt_target': 'standard_mgmt_rate',
     'control_target': 'control_rate'}
) }}
