{#- One row per payment_id: the source re-delivers ~0.5% of payment events; the first delivery wins. -#}

with

payments as (

    select * from {{ ref('stg_shop__payments') }}

),

first_delivery as (

    {{ payments_first_delivery('payments') }}

)

select * from first_delivery
