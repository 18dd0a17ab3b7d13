{#- on_schema_change fail: a warehouse built before a column was added (the visit's resident) is
    rebuilt in full once (grassroots.build), rather than keeping nulls in its older rows -#}
{{ config(unique_key=['facility_code', 'prescription_id', 'line_no'], on_schema_change='fail') }}

{%- set visits = ref('int_outpatient_visits_current') %}

{% set extra_touched %}
    -- lines of visits whose current row changed since the watermark (e.g. a corrected visit_time
    -- or resident)
    select p.facility_code, p.prescription_id, p.line_no
    from {{ this }} as p
    inner join {{ visits }} as v
        on v.facility_code = p.facility_code and v.visit_id = p.visit_id
    where v._processed_batch_id > {{ watermark() }}
{% endset %}

{#- the visit's month and resident come with each line: the marts that count prescriptions by
    resident and year need not join every visit again -#}
{{ current_state(
    'prescriptions',
    ['facility_code', 'prescription_id', 'line_no'],
    month_of('v.visit_time'),
    ['prescriptions', 'outpatient_visits'],
    join_sql='left join ' ~ visits ~ ' as v on v.facility_code = c.facility_code and v.visit_id = c.visit_id',
    extra_touched=extra_touched if is_incremental() else '',
    join_columns=[('v.resident_id', 'resident_id')]
) }}
