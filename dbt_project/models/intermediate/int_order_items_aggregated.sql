{#- Order lines summed per order; each order_item_id counted once (its latest delivery). -#}

with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

latest_lines as (

    select *
    from order_items
    qualify row_number() over (
        partition by order_item_id
        order by _ingested_at desc, _batch_id desc
    ) = 1

),

final as (

    select
        order_id,
        count(*) as item_count,
        cast(sum(quantity) as bigint) as total_quantity,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as order_amount

    from latest_lines
    group by order_id

)

select * from final
