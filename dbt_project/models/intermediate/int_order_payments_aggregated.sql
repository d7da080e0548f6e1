{#- Deduplicated payments summed per order. -#}

with

payments as (

    select * from {{ ref('int_payments_deduplicated') }}

),

final as (

    {{ payments_per_order('payments') }}

)

select * from final
