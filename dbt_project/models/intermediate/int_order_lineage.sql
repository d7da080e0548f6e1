{#- Which raw batches each order was built from: its versions, lines and payment deliveries. -#}

with

order_versions as (

    select * from {{ ref('stg_shop__orders') }}

),

order_lines as (

    select * from {{ ref('stg_shop__order_items') }}

),

payment_events as (

    select * from {{ ref('stg_shop__payments') }}

),

raw_rows as (

    select order_id, _batch_id, _ingested_at from order_versions
    union all
    select order_id, _batch_id, _ingested_at from order_lines
    union all
    select order_id, _batch_id, _ingested_at from payment_events

),

final as (

    select
        order_id,
        list_sort(list(distinct _batch_id)) as source_batch_ids,
        max(_ingested_at) as last_ingested_at

    from raw_rows
    group by order_id

)

select * from final
