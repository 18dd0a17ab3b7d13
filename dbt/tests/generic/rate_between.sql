{#- A rate (or share) lies in [min_value, max_value] when it is not null (null = undefined,
    e.g. a zero denominator). -#}
{% test rate_between(model, column_name, min_value=0, max_value=1) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}
