{#- Current state of each product: its latest change (snapshot load: insert, update or delete). A deleted
    product keeps its last known values with is_deleted = true. Same columns as the staging model, without
    _change, plus is_deleted. -#}

with

products as (

    select * from {{ ref('stg_shop__products') }}

),

latest_change as (

    select *
    from products
    qualify row_number() over (
        partition by product_id
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
