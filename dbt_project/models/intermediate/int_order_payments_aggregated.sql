{#- Deduplicated payments summed per order. -#}

with

payments as (

    select * from {{ ref('int_payments_deduplicated') }}

),

final as (

    select
        order_id,
        count(*) as payment_count,
        cast(sum(amount) as decimal(18, 2)) as amount_paid,
        max(paid_at) as last_paid_at

    from payments
    group by order_id

)

select * from final
