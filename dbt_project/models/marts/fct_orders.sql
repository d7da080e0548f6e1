{{
    config(
        materialized='delta',
        unique_key='order_id',
        watermark='batches',
    )
}}

{#-
    One row per order in its current state. An incremental run merges on order_id only the orders with a raw
    row (a version, a line, a payment) in a batch this table has not merged yet (its watermark: the batch ids
    in its Delta commits, macros/watermark.sql), each recomputed from its full raw history: status changes,
    late payments and backfilled dates are picked up, and a rerun without new batches changes nothing.
    The touched orders' raw rows are filtered before the per-order windows (macros/shop/orders.sql).
-#}

with

{% if is_incremental() %}

touched_orders as materialized (

    {{ orders_touched_by_unmerged_batches() }}

),

{% endif %}

order_versions as (

    select * from {{ ref('stg_shop__orders') }}
    {% if is_incremental() %} where order_id in (select order_id from touched_orders) {% endif %}

),

order_lines as (

    select * from {{ ref('stg_shop__order_items') }}
    {% if is_incremental() %} where order_id in (select order_id from touched_orders) {% endif %}

),

payment_events as (

    select * from {{ ref('stg_shop__payments') }}
    {% if is_incremental() %} where order_id in (select order_id from touched_orders) {% endif %}

),

orders as (

    {{ latest_version('order_versions', 'order_id') }}

),

order_items as (

    {{ order_items_per_order('order_lines') }}

),

payments as (

    {{ payments_first_delivery('payment_events') }}

),

order_payments as (

    {{ payments_per_order('payments') }}

),

order_lineage as (

    select order_id, max(_ingested_at) as last_ingested_at
    from (
        select order_id, _ingested_at from order_versions
        union all
        select order_id, _ingested_at from order_lines
        union all
        select order_id, _ingested_at from payment_events
    ) as raw_rows
    group by order_id

),

final as (

    select

        ---------- ids
        orders.order_id,
        orders.customer_id,

        ---------- dates
        orders.order_date,
        orders.ordered_at,

        ---------- status
        orders.status,

        ---------- items
        coalesce(order_items.item_count, 0) as item_count,
        coalesce(order_items.total_quantity, 0) as total_quantity,
        coalesce(order_items.order_amount, 0) as order_amount,

        ---------- payments
        coalesce(order_payments.payment_count, 0) as payment_count,
        coalesce(order_payments.amount_paid, 0) as amount_paid,
        order_payments.last_paid_at,
        coalesce(order_payments.amount_paid, 0) > 0
        and coalesce(order_payments.amount_paid, 0)
        >= coalesce(order_items.order_amount, 0) as is_paid,

        ---------- versions
        orders.updated_at,

        ---------- lineage: the latest raw _ingested_at among the order's versions, lines and payments
        order_lineage.last_ingested_at as _source_ingested_at

    from orders
    left join order_items on orders.order_id = order_items.order_id
    left join order_payments on orders.order_id = order_payments.order_id
    left join order_lineage on orders.order_id = order_lineage.order_id

)

select * from final
