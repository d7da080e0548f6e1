{#-
    on-run-start: every source with `config.meta.delta_path` (relative to the lake root, `{name}` = table
    name) becomes a catalog view `<source schema>.<table>` over delta_scan() of that Delta table. The view is
    re-created on every run, so sources follow LAKEHOUSE_ROOT (local or s3://), and analysts can query raw
    tables in the catalog like any other relation.
-#}

{% macro register_delta_sources() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set root = lakehouse_root() -%}
    {%- set schemas = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- set delta_path = node.config.meta.get('delta_path') or node.meta.get('delta_path') -%}
        {%- if delta_path -%}
            {%- set location = root ~ '/' ~ delta_path.replace('{name}', node.name).strip('/') -%}
            {%- if not delta_exists(location) -%}
                {{ exceptions.raise_compiler_error(
                    "Source " ~ node.source_name ~ "." ~ node.name ~ ": no Delta table at " ~ location
                    ~ ". Ingest the raw data first (lakehouse run), or check LAKEHOUSE_ROOT.") }}
            {%- endif -%}
            {%- set relation = api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.identifier) -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query("create schema if not exists " ~ relation.without_identifier()) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- do run_query(
                "create or replace view " ~ relation ~ " as select * from delta_scan("
                ~ sql_string(location) ~ ")") -%}
            {{ log("Registered source " ~ relation ~ " -> " ~ location) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
