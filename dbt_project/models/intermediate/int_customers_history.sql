{#- History of each customer: one row per version, valid from the snapshot that brought it (an insert or an
    update) until the next change of the key (valid_to exclusive; null while current). A delete closes the
    version and starts none: a deleted customer has no current row here. Times are the snapshots' (_ingested_at:
    the end of the night delivered); updated_at is the shop's own time of the version. -#}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

changes as (

    select
        *,
        lead(_ingested_at) over (
            partition by customer_id
            order by _ingested_at, _batch_id
        ) as next_change_at

    from customers

),

final as (

    select
        * exclude (_change, next_change_at),
        _ingested_at as valid_from,
        next_change_at as valid_to,
        next_change_at is null as is_current

    from changes
    where _change <> 'delete'

)

select * from final
