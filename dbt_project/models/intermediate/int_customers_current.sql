{#- Current state of each customer: its latest version by updated_at (ties: the latest ingested). -#}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

latest_version as (

    select *
    from customers
    qualify row_number() over (
        partition by customer_id
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1

)

select * from latest_version
