{#- History of each customer: one row per version, valid from the snapshot that brought it (an insert or an
    update) until the next change of the key (valid_to exclusive; null while current). A delete closes the
    version and starts none: a deleted customer has no current row here. Times are the snapshots' (_ingested_at:
    the end of the night delivered); updated_at is the shop's own time of the version. -#}

with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

final as (

    {{ change_history('customers', 'customer_id') }}

)

select * from final
