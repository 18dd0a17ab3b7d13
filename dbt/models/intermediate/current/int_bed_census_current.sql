{{ config(unique_key=['facility_code', 'census_date', 'department_code']) }}

{{ current_state('bed_census', ['facility_code', 'census_date', 'department_code'], month_of('c.census_date'), ['bed_census']) }}
