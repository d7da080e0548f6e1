{#- Current state of each order: its latest version by updated_at (ties: the latest ingested). -#}

with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

latest_version as (

    select *
    from orders
    qualify row_number() over (
        partition by order_id
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1

)

select * from latest_version
