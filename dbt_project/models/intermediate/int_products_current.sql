{#- Current state of each product: its latest version by updated_at (ties: the latest ingested). -#}

with

products as (

    select * from {{ ref('stg_shop__products') }}

),

latest_version as (

    select *
    from products
    qualify row_number() over (
        partition by product_id
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1

)

select * from latest_version
