{{
    config(
        materialized='delta',
        unique_key='customer_id',
        watermark='batches',
    )
}}

{#- One row per customer, current version (a customer deleted from the source's snapshot stays, with
    is_deleted), with lifetime order metrics (cancelled orders excluded). An incremental run recomputes only
    the customers with a change or a touched order in a batch it has not merged (macros/watermark.sql) and
    merges them on customer_id; their changes are filtered before the current-state window
    (macros/shop/snapshots.sql, the same logic as int_customers_current). -#}

-- depends_on: {{ ref('stg_shop__orders') }}, {{ ref('stg_shop__order_items') }}, {{ ref('stg_shop__payments') }}

with

{% if is_incremental() %}

touched_customers as materialized (

    select customer_id from {{ ref('stg_shop__customers') }}
    where {{ unmerged_batches(of=ref('stg_shop__customers')) }}
    union
    select customer_id from {{ ref('stg_shop__orders') }}  -- every version: also a customer an order left
    where order_id in ({{ orders_touched_by_unmerged_batches() }})

),

{% endif %}

customer_changes as (

    select * from {{ ref('stg_shop__customers') }}
    {% if is_incremental() %} where customer_id in (select customer_id from touched_customers) {% endif %}

),

customers as (

    {{ latest_change('customer_changes', 'customer_id') }}

),

orders as (

    select * from {{ ref('fct_orders') }}
    {% if is_incremental() %} where customer_id in (select customer_id from touched_customers) {% endif %}

),

customer_orders as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as lifetime_orders,
        cast(sum(order_amount) as decimal(18, 2)) as lifetime_value

    from orders
    where status != 'cancelled'
    group by customer_id

),

final as (

    select

        ---------- ids
        customers.customer_id,

        ---------- text
        customers.first_name,
        customers.last_name,
        customers.email,
        customers.country,

        ---------- dates
        customers.signup_date,
        customer_orders.first_order_date,
        customer_orders.last_order_date,

        ---------- metrics
        coalesce(customer_orders.lifetime_orders, 0) as lifetime_orders,
        coalesce(customer_orders.lifetime_value, 0) as lifetime_value,

        ---------- status
        customers.is_deleted,

        ---------- versions
        customers.updated_at

    from customers
    left join customer_orders on customers.customer_id = customer_orders.customer_id

)

select * from final
