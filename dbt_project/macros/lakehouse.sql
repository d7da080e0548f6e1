{#-
    Where things live in the lake. The `lakehouse` dbt-duckdb plugin reads lakehouse.settings and sets the
    DuckDB variable `lakehouse_root` on every dbt connection, so dbt, Python and the pipeline agree on one
    root (LAKEHOUSE_ROOT, default <repo>/lake, or s3://bucket/prefix).
-#}

{% macro lakehouse_root() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set root = run_query("select getvariable('lakehouse_root')").columns[0].values()[0] -%}
    {%- if not root -%}
        {{ exceptions.raise_compiler_error(
            "The DuckDB variable lakehouse_root is not set: profiles.yml must load the plugin "
            ~ "`lakehouse.dbt_delta` (alias `lakehouse`).") }}
    {%- endif -%}
    {{ return(root.rstrip('/')) }}
{%- endmacro %}


{% macro lakehouse_uri(path) -%}
    {{ return(lakehouse_root() ~ '/' ~ path.strip('/')) }}
{%- endmacro %}


{% macro sql_string(value) -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}


{% macro delta_exists(location) -%}
    {#- A Delta table has a _delta_log folder with at least one file (works for local paths and s3://). -#}
    {%- set query -%}
        select count(*) from glob({{ sql_string(location ~ '/_delta_log/*') }})
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}
