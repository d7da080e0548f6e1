{#- Current state of each order: its latest version by updated_at (ties: the latest ingested). -#}

with

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

latest_version as (

    {{ latest_version('orders', 'order_id') }}

)

select * from latest_version
