{#- Current state of each product: its latest change (snapshot load: insert, update or delete). A deleted
    product keeps its last known values with is_deleted = true. Same columns as the staging model, without
    _change, plus is_deleted. -#}

with

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    {{ latest_change('products', 'product_id') }}

)

select * from final
