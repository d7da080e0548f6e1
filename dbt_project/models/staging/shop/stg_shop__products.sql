with

source as (

    select * from {{ source('shop', 'products') }}
    -- a raw table landed before snapshot loads has no _change column: it reads as null (a full snapshot)
    union all by name
    select cast(null as varchar) as _change where false

),

renamed as (

    select

        ---------- ids
        cast(product_id as bigint) as product_id,

        ---------- text
        product_name,
        category,

        ---------- numerics
        cast(unit_price as decimal(18, 2)) as unit_price,

        ---------- booleans
        cast(is_active as boolean) as is_active,

        ---------- dates
        cast(updated_at as timestamptz) as updated_at,

        ---------- lineage
        coalesce(_change, 'insert') as _change,
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
