{#- dbt's `relationships`, except for rows of the first night of `to`'s history (and before): on a lake's first
    night a late event may reference a record of a night before the lake began (the shop's late payments are
    for the previous day's orders). Nights are the run dates ending the `_batch_id`s (`<source>/<entity>/<date>`).
    As macros/overrides/test_relationships.sql, the parent side is reduced to the keys the children name. -#}
{% test relationships_after_first_night(model, column_name, to, field) %}

with

first_night as (

    select right(min(_batch_id), 10) as night from {{ to }}

),

children as materialized (

    select {{ column_name }} as child_key from {{ model }}
    where {{ column_name }} is not null
      and right(_batch_id, 10) > (select night from first_night)

),

parents as (

    select distinct {{ field }} as parent_key from {{ to }}
    where {{ field }} in (select child_key from children)

)

select child_key
from children
where child_key not in (select parent_key from parents)

{% endtest %}
