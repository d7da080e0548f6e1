{#- One row per payment_id: the source re-delivers ~0.5% of payment events; the first delivery wins. -#}

with

payments as (

    select * from {{ ref('stg_shop__payments') }}

),

first_delivery as (

    select *
    from payments
    qualify row_number() over (
        partition by payment_id
        order by _ingested_at, _batch_id, _source_file, paid_at, amount
    ) = 1

)

select * from first_delivery
