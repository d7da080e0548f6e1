{#- Current state of each customer: its latest change (snapshot load: insert, update or delete). A deleted
    customer keeps its last known values with is_deleted = true. Same columns as the staging model, without
    _change, plus is_deleted. -#}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

final as (

    {{ latest_change('customers', 'customer_id') }}

)

select * from final
