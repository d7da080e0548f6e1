with

source as (

    select * from {{ source('shop', 'order_items') }}

),

renamed as (

    select

        ---------- ids
        cast(order_item_id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(product_id as bigint) as product_id,

        ---------- numerics
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(18, 2)) as unit_price,

        ---------- lineage
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
