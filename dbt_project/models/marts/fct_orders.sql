{{
    config(
        materialized='delta',
        unique_key='order_id',
    )
}}

{#-
    One row per order in its current state. Incremental runs MERGE on order_id the orders touched by raw
    batches this table has not seen yet (the watermark is the set of batch ids in _source_batch_ids), each
    recomputed from its full raw history: status changes, late payments and backfilled dates are picked up,
    and a rerun without new batches leaves the contents unchanged.
-#}

with

orders as (

    select * from {{ ref('int_orders_current') }}

),

order_items as (

    select * from {{ ref('int_order_items_aggregated') }}

),

order_payments as (

    select * from {{ ref('int_order_payments_aggregated') }}

),

order_lineage as (

    select * from {{ ref('int_order_lineage') }}

),

{% if is_incremental() %}

loaded_batches as (

    select distinct unnest(_source_batch_ids) as batch_id
    from {{ this }}

),

touched_orders as (

    -- orders with a raw row (version, line or payment) from a batch this table has not merged yet
    select distinct lineage.order_id
    from (
        select order_id, unnest(source_batch_ids) as batch_id
        from order_lineage
    ) as lineage
    where lineage.batch_id not in (select batch_id from loaded_batches)

),

{% endif %}

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

        ---------- lineage: the raw batches this row was built from (the incremental watermark)
        order_lineage.source_batch_ids as _source_batch_ids,
        order_lineage.last_ingested_at as _source_ingested_at

    from orders
    left join order_items on orders.order_id = order_items.order_id
    left join order_payments on orders.order_id = order_payments.order_id
    left join order_lineage on orders.order_id = order_lineage.order_id

    {% if is_incremental() %}
    where orders.order_id in (select order_id from touched_orders)
    {% endif %}

)

select * from final
