{#-
    Batch watermarks of incremental delta models (config(watermark='batches')).

    A model's watermark is the set of raw batch ids (`_batch_id`, `<source>/<entity>/<date>`) it has merged.
    It is kept with the model's Delta commits: every publish of the model carries the batch ids of all its
    upstream raw tables at build time in its commit metadata (`lakehouse_batches`), so the watermark moves
    with the data, in the same atomic commit, and a withheld or killed build leaves it where it was.
    Batch ids, not `_ingested_at`: ingestion stamps `_ingested_at` with the end of the logical date, so a
    backfilled date is older than rows already merged, but its batch id is new.

    - unmerged_batches(): in an incremental model, the predicate "this row's batch is not merged yet";
    - wap_upstream_batches(node): the batch ids now in the node's upstream raw tables (the new watermark).

    A retracted and redelivered batch keeps its id: `lakehouse batch retract` marks the lake so that the
    next `lakehouse run` rebuilds the marts in full (docs/ARCHITECTURE.md).
-#}

{% macro merged_batches(relation=none) -%}
    {#- The batch ids merged into the published Delta table of `relation` (default: this model): the
        `lakehouse_batches` of its newest commit that carries one. -#}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set location = delta_location(relation or this) -%}
    {%- set query -%}
        select json_extract_string(json, '$.commitInfo.lakehouse_batches') as batches
        from read_ndjson_objects({{ sql_string(location ~ '/_delta_log/*.json') }}, filename = true)
        where json_extract_string(json, '$.commitInfo.lakehouse_batches') is not null
        order by filename desc
        limit 1
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {{ return(fromjson(rows[0][0]) if rows else []) }}
{%- endmacro %}


{% macro unmerged_batches(column='_batch_id') -%}
    {#- SQL: true for rows of batches this model has not merged yet. -#}
    {%- set merged = merged_batches() -%}
    {%- if not merged -%}
        true
    {%- else -%}
        {{ column }} not in ({% for batch in merged %}{{ sql_string(batch) }}{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}


{% macro wap_upstream_sources(node, found=none) -%}
    {#- The source nodes `node` reads, directly or through other models. -#}
    {%- set found = [] if found is none else found -%}
    {%- for parent in node.depends_on.nodes -%}
        {%- if parent in graph.sources and parent not in found -%}
            {%- do found.append(parent) -%}
        {%- elif parent in graph.nodes -%}
            {%- do wap_upstream_sources(graph.nodes[parent], found) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{% macro wap_upstream_batches(node) -%}
    {#- The distinct `_batch_id`s now in the raw tables `node` reads, sorted. -#}
    {%- set selects = [] -%}
    {%- for unique_id in wap_upstream_sources(node) -%}
        {%- set source = graph.sources[unique_id] -%}
        {%- set relation = api.Relation.create(
            database=source.database, schema=source.schema, identifier=source.identifier) -%}
        {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
            {%- do selects.append('select distinct _batch_id from ' ~ relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not selects -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query = 'select _batch_id from (' ~ selects | join(' union ') ~ ') where _batch_id is not null '
        ~ 'order by _batch_id' -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}
