{#-
    dbt's `relationships` test (dbt-core 1.11, macros/generic_test_sql/relationships.sql), with the parent
    side reduced to the keys the children name before the anti-join: DuckDB then builds its hash on the
    children (a night's rows, or a merge's written rows) and skips the parent's data files whose key range
    holds none of them, instead of hashing every key of the parent's whole history. Same result rows.
-#}
{% macro duckdb__test_relationships(model, column_name, to, field) %}

with child as materialized (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select distinct {{ field }} as to_field
    from {{ to }}
    where {{ field }} in (select from_field from child)
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null

{% endmacro %}
