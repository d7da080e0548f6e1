{#- dbt's is_incremental(), extended to the delta materialization (otherwise identical to dbt's). -#}
{% macro is_incremental() -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- elif model.config.materialized == 'delta' -%}
        {{ return(delta_is_incremental()) }}
    {%- else -%}
        {%- set relation = adapter.get_relation(this.database, this.schema, this.table) -%}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and model.config.materialized == 'incremental'
                  and not should_full_refresh()) }}
    {%- endif -%}
{%- endmacro %}
