with

source as (

    select * from {{ source('shop', 'customers') }}
    -- a raw table landed before snapshot loads has no _change column: it reads as null (a full snapshot)
    union all by name
    select cast(null as varchar) as _change where false

),

renamed as (

    select

        ---------- ids
        cast(customer_id as bigint) as customer_id,

        ---------- text
        first_name,
        last_name,
        email,
        country,

        ---------- dates
        cast(signup_date as date) as signup_date,
        cast(updated_at as timestamptz) as updated_at,

        ---------- lineage
        coalesce(_change, 'insert') as _change,
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
