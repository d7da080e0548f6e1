{#- The current state of a snapshot-loaded entity (ingestion `load: snapshot`: rows are changes with
    `_change` insert | update | delete), shared by the int_*_current views (whole history) and by
    dim_customers (only the customers a night touched: filtered before the window, which DuckDB cannot
    push a semi-join through). -#}

{% macro latest_change(relation, key) -%}
    {#- One row per `key`: its latest change; a deleted key keeps its last known values, is_deleted true. -#}
    select
        * exclude (_change),
        _change = 'delete' as is_deleted

    from {{ relation }}
    qualify row_number() over (
        partition by {{ key }}
        order by _ingested_at desc, _batch_id desc, updated_at desc
    ) = 1
{%- endmacro %}
