{#- Values outside [min_value, max_value]; with absolute=true the magnitude is checked (the sign is left to
    another test, e.g. a warn-level not_negative). NULLs are not_null's concern. -#}
{% test in_range(model, column_name, min_value, max_value, absolute=false) %}

{%- set value = "abs(" ~ column_name ~ ")" if absolute else column_name %}

select {{ column_name }}
from {{ model }}
where {{ value }} < {{ min_value }} or {{ value }} > {{ max_value }}

{% endtest %}
