{#- dbt's `relationships`, except for rows of the first night of `to`'s history (and before): on a lake's first
    night a late event may reference a record of a night before the lake began (the shop's late payments are
    for the previous day's orders). Nights are the run dates ending the `_batch_id`s (`<source>/<entity>/<date>`). -#}
{% test relationships_after_first_night(model, column_name, to, field) %}

with

parents as (

    select {{ field }} as parent_key, right(_batch_id, 10) as night from {{ to }}

),

children as (

    select {{ column_name }} as child_key from {{ model }}
    where {{ column_name }} is not null
      and right(_batch_id, 10) > (select min(night) from parents)

)

select child_key
from children
where child_key not in (select parent_key from parents where parent_key is not null)

{% endtest %}
