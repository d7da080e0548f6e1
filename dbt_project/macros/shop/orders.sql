{#-
    The shop's per-order logic, shared by the intermediate views (over the whole raw history) and by the
    incremental marts (over only the orders a night touched). Each macro takes a relation and returns a
    query; an incremental mart filters its raw rows BEFORE these window functions, because DuckDB cannot
    push a semi-join through a window: filtering their output would still rank every raw row.
-#}

{% macro latest_version(relation, key, order_by='updated_at desc, _ingested_at desc, _batch_id desc') -%}
    {#- One row per `key`: the first by `order_by` (by default its latest version by updated_at; ties: the
        latest ingested, then batch). The shop's dedup and current-state logic all take this shape. -#}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ key }} order by {{ order_by }}) = 1
{%- endmacro %}


{% macro payments_first_delivery(payments) -%}
    {#- One row per payment_id: the source re-delivers ~0.5% of payment events; the first delivery wins. -#}
    {{ latest_version(payments, 'payment_id', '_ingested_at, _batch_id, _source_file, paid_at, amount') }}
{%- endmacro %}


{% macro order_items_per_order(order_items) -%}
    {#- Order lines summed per order; each order_item_id counted once (its latest delivery). -#}
    select
        order_id,
        count(*) as item_count,
        cast(sum(quantity) as bigint) as total_quantity,
        cast(sum(quantity * unit_price) as decimal(18, 2)) as order_amount

    from (
        {{ latest_version(order_items, 'order_item_id', '_ingested_at desc, _batch_id desc') }}
    ) as latest_lines
    group by order_id
{%- endmacro %}


{% macro payments_per_order(payments) -%}
    {#- Deduplicated payments (payments_first_delivery) summed per order. -#}
    select
        order_id,
        count(*) as payment_count,
        cast(sum(amount) as decimal(18, 2)) as amount_paid,
        max(paid_at) as last_paid_at

    from {{ payments }}
    group by order_id
{%- endmacro %}


{% macro orders_touched_by_unmerged_batches() -%}
    {#- The orders with a raw row (a version, a line or a payment) in a batch this model has not merged. -#}
    select order_id from {{ ref('stg_shop__orders') }} where {{ unmerged_batches(of=ref('stg_shop__orders')) }}
    union
    select order_id from {{ ref('stg_shop__order_items') }} where {{ unmerged_batches(of=ref('stg_shop__order_items')) }}
    union
    select order_id from {{ ref('stg_shop__payments') }} where {{ unmerged_batches(of=ref('stg_shop__payments')) }}
{%- endmacro %}
