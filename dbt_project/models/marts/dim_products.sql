{#- One row per product, current version. -#}

with

products as (

    select * from {{ ref('int_products_current') }}

),

final as (

    select

        ---------- ids
        product_id,

        ---------- text
        product_name,
        category,

        ---------- numerics
        unit_price,

        ---------- booleans
        is_active,
        is_deleted,

        ---------- versions
        updated_at

    from products

)

select * from final
