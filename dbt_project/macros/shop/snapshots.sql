{#- The current state and the history of a snapshot-loaded entity (ingestion `load: snapshot`: rows are
    changes with `_change` insert | update | delete), shared by the int_*_current and int_*_history views (whole
    history) and by dim_customers (only the customers a night touched: filtered before the window, which
    DuckDB cannot push a semi-join through). -#}

{% macro latest_change(relation, key) -%}
    {#- One row per `key`: its latest change; a deleted key keeps its last known values, is_deleted true. -#}
    select
        * exclude (_change),
        _change = 'delete' as is_deleted

    from (
        {{ latest_version(relation, key, '_ingested_at desc, _batch_id desc, updated_at desc') }}
    ) as latest
{%- endmacro %}


{% macro change_history(relation, key) -%}
    {#- One row per version of each `key`: valid from the snapshot that brought it (an insert or an update)
        until the key's next change (valid_to exclusive; null while current). A delete closes the version and
        starts none. Times are the snapshots' (_ingested_at: the end of the night delivered). -#}
    select
        * exclude (_change, next_change_at),
        _ingested_at as valid_from,
        next_change_at as valid_to,
        next_change_at is null as is_current

    from (
        select
            *,
            lead(_ingested_at) over (partition by {{ key }} order by _ingested_at, _batch_id) as next_change_at

        from {{ relation }}
    ) as changes
    where _change <> 'delete'
{%- endmacro %}
