{#- Revenue per order date. gross_revenue: order amounts of non-cancelled orders (returns included);
    paid_revenue: payments received for the day's orders. -#}

with

orders as (

    select * from {{ ref('fct_orders') }}

),

final as (

    select
        order_date,
        count(*) as order_count,
        count(distinct customer_id) as customer_count,
        cast(sum(item_count) as bigint) as item_count,
        cast(coalesce(sum(order_amount) filter (where status != 'cancelled'), 0) as decimal(18, 2))
            as gross_revenue,
        cast(sum(amount_paid) as decimal(18, 2)) as paid_revenue,
        count(*) filter (where status = 'cancelled') as cancelled_orders

    from orders
    group by order_date

)

select * from final
