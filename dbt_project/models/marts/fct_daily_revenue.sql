{{
    config(
        materialized='delta',
        unique_key='order_date',
        watermark='batches',
    )
}}

{#- Revenue per order date. gross_revenue: order amounts of non-cancelled orders (returns included);
    paid_revenue: payments received for the day's orders. An incremental run recomputes only the dates of
    the orders touched by batches it has not merged (macros/watermark.sql) and merges them on order_date. -#}

-- depends_on: {{ ref('stg_shop__orders') }}, {{ ref('stg_shop__order_items') }}, {{ ref('stg_shop__payments') }}

with

orders as (

    select * from {{ ref('fct_orders') }}

),

{% if is_incremental() %}

touched_dates as (

    select distinct order_date  -- of every version: also a date an order left
    from {{ ref('stg_shop__orders') }}
    where order_id in ({{ orders_touched_by_unmerged_batches() }})

),

{% endif %}

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
    {% if is_incremental() %}
    where order_date in (select order_date from touched_dates)
    {% endif %}
    group by order_date

)

select * from final
