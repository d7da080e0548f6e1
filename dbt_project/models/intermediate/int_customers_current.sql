{#- Current state of each customer: its latest change (snapshot load: insert, update or delete). A deleted
    customer keeps its last known values with is_deleted = true. Same columns as the staging model, without
    _change, plus is_deleted. -#}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

latest_change as (

    select *
    from customers
    qualify row_number() over (
        partition by customer_id
        order by _ingested_at desc, _batch_id desc, updated_at desc
    ) = 1

),

final as (

    select
        * exclude (_change),
        _change = 'delete' as is_deleted

    from latest_change

)

select * from final
