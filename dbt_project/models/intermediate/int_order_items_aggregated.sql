{#- Order lines summed per order; each order_item_id counted once (its latest delivery). -#}

with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

final as (

    {{ order_items_per_order('order_items') }}

)

select * from final
