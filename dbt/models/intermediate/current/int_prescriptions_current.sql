{{ config(unique_key=['facility_code', 'prescription_id', 'line_no']) }}

{%- set visits = ref('int_outpatient_visits_current') %}

{% set extra_touched %}
    -- lines of visits whose current row changed since the watermark (e.g. a corrected visit_time)
    select p.facility_code, p.prescription_id, p.line_no
    from {{ this }} as p
    inner join {{ visits }} as v
        on v.facility_code = p.facility_code and v.visit_id = p.visit_id
    where v._processed_batch_id > {{ watermark() }}
{% endset %}

{{ current_state(
    'prescriptions',
    ['facility_code', 'prescription_id', 'line_no'],
    month_of('v.visit_time'),
    ['prescriptions', 'outpatient_visits'],
    join_sql='left join ' ~ visits ~ ' as v on v.facility_code = c.facility_code and v.visit_id = c.visit_id',
    extra_touched=extra_touched if is_incremental() else ''
) }}
