with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select

        ---------- ids
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,

        ---------- text
        status,

        ---------- dates
        cast(order_date as date) as order_date,
        cast(ordered_at as timestamptz) as ordered_at,
        cast(updated_at as timestamptz) as updated_at,

        ---------- lineage
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
