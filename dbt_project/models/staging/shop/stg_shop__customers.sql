with

source as (

    select * from {{ source('shop', 'customers') }}

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
        coalesce(_change, 'insert') as _change,  -- rows landed before snapshot loads: full snapshots
        _batch_id,
        cast(_ingested_at as timestamptz) as _ingested_at,
        _source_file

    from source

)

select * from renamed
