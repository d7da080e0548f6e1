{#-
    on-run-start: every source with `config.meta.delta_path` (relative to the lake root, `{name}` = table
    name) becomes a catalog view `<source schema>.<table>` over delta_scan() of that Delta table. The view is
    re-created on every run, so sources follow LAKEHOUSE_ROOT (local or s3://), and analysts can query raw
    tables in the catalog like any other relation.

    A source table whose Delta table has not landed yet (a new source, an entity not delivered) is skipped
    with a message: the build of the other sources goes on. `lakehouse run` (lakehouse/transform.py)
    excludes the models reading it (`--exclude source:<s>.<t>+`). For a plain `dbt build`, a table whose
    columns all declare a `data_type` gets an empty placeholder view with those columns (its models build
    empty, its tests pass); without declared types any old view is dropped and only its models fail.
-#}

{% macro register_delta_sources() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set root = lakehouse_root() -%}
    {%- set schemas = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- set location = delta_source_location(node, root) -%}
        {%- if location -%}
            {%- set relation = api.Relation.create(
                database=node.database, schema=node.schema, identifier=node.identifier) -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query("create schema if not exists " ~ relation.without_identifier()) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- if delta_exists(location) -%}
                {%- do run_query(
                    "create or replace view " ~ relation ~ " as select * from delta_scan("
                    ~ sql_string(location) ~ ")") -%}
                {{ log("Registered source " ~ relation ~ " -> " ~ location) }}
            {%- else -%}
                {%- set typed = [] -%}
                {%- for column in node.columns.values() if column.data_type -%}
                    {%- do typed.append("cast(null as " ~ column.data_type ~ ") as " ~ adapter.quote(column.name)) -%}
                {%- endfor -%}
                {%- if typed and typed | length == node.columns | length -%}
                    {%- do run_query("create or replace view " ~ relation ~ " as select "
                        ~ typed | join(", ") ~ " where false") -%}
                    {%- set placeholder = " (an empty placeholder view of its declared columns for now)" -%}
                {%- else -%}
                    {%- do run_query("drop view if exists " ~ relation) -%}
                    {%- set placeholder = "" -%}
                {%- endif -%}
                {{ log("Source " ~ node.source_name ~ "." ~ node.name ~ ": no Delta table at " ~ location
                    ~ " yet — skipped" ~ placeholder ~ "; models reading it are excluded by `lakehouse run`"
                    ~ " (ingest it first, or check LAKEHOUSE_ROOT)", info=True) }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}


{% macro delta_source_location(node, root=none) -%}
    {#- The Delta table of a source node (its `config.meta.delta_path` under the lake root), or none. -#}
    {%- set delta_path = node.config.meta.get('delta_path') or node.meta.get('delta_path') -%}
    {%- if not delta_path -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return((root or lakehouse_root()) ~ '/' ~ delta_path.replace('{name}', node.name).strip('/')) }}
{%- endmacro %}
