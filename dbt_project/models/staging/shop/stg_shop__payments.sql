with

source as (

    select * from {{ source('shop', 'payments') }}

),

renamed as (

    select

        ---------- ids
        cast(payment_id as bigint) as payment_id,
        cast(order_id as bigint) as order_id,

        ---------- text
        payment_method,

        ---------- numerics
        cast(amount as decimal(18, 2)) as amount,

        ---------- dates
        cast(paid_at as timestamptz) as paid_at,

        ---------- lineage
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
