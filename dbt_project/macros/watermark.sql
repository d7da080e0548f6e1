{#-
    Batch watermarks of incremental delta models (config(watermark='batches')).

    A model's watermark is the set of raw batch ids (`_batch_id`, `<source>/<entity>/<date>`) it has merged.
    It is kept with the model's Delta commits: every publish of the model carries the batch ids of all its
    upstream raw tables at build time in its commit metadata (`lakehouse_batches`), so the watermark moves
    with the data, in the same atomic commit, and a withheld or killed build leaves it where it was.
    Batch ids, not `_ingested_at`: ingestion stamps `_ingested_at` with the end of the logical date, so a
    backfilled date is older than rows already merged, but its batch id is new.

    - unmerged_batches(of=ref(...)): in an incremental model, the predicate "this row's batch is not merged
      yet" for rows of that relation;
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


{% macro unmerged_batches(column='_batch_id', of=none) -%}
    {#- SQL: true for rows of batches this model has not merged yet: `<column> in (<the new batch ids>)`,
        the upstream raw tables' batch ids less this model's watermark. With `of` (a ref() or source()),
        only the new batches of the raw tables upstream of that relation are listed: a short list of one
        table's ids lets DuckDB skip every data file of the older batches. -#}
    {%- set merged = {} -%}
    {%- for batch in merged_batches() -%}
        {%- do merged.update({batch: true}) -%}
    {%- endfor -%}
    {%- set new = [] -%}
    {%- for batch in wap_upstream_batches(model if of is none else wap_node_of(of)) if batch not in merged -%}
        {%- do new.append(batch) -%}
    {%- endfor -%}
    {%- if not new -%}
        false
    {%- else -%}
        {{ column }} in (select unnest([{% for batch in new %}{{ sql_string(batch) }}{% if not loop.last %}, {% endif %}{% endfor %}]))
    {%- endif -%}
{%- endmacro %}


{% macro wap_node_of(relation) -%}
    {#- The graph node (model or source) that `relation` (a ref() or source()) names. -#}
    {%- for node in graph.nodes.values() | list + graph.sources.values() | list
            if node.resource_type in ('model', 'source')
            and (node.alias if node.resource_type == 'model' else node.identifier) == relation.identifier
            and node.schema == wap_published_schema(relation.schema) -%}
        {{ return(node) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("unmerged_batches(of=...): no model or source is named " ~ relation) }}
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


{% macro wap_published_schema(schema) -%}
    {{ return(schema[:-10] if schema.endswith('_candidate') else schema) }}
{%- endmacro %}


{% macro wap_upstream_batches(node) -%}
    {#- The distinct `_batch_id`s now in the raw tables `node` reads (or `node` itself, a source), sorted. -#}
    {%- set sources = [node.unique_id] if node.resource_type == 'source' else wap_upstream_sources(node) -%}
    {%- set batches = [] -%}
    {%- for unique_id in sources -%}
        {%- do batches.extend(source_batch_ids(graph.sources[unique_id])) -%}
    {%- endfor -%}
    {{ return(batches | unique | sort) }}
{%- endmacro %}


{% macro source_batch_ids(source) -%}
    {#- The batch ids in one raw source table ([] before it lands): from its Delta log's file statistics
        (lakehouse_batch_ids(), registered by the lakehouse plugin: no data file is read), else, when they
        cannot tell (a file holding several batches), from a scan of its `_batch_id` column. -#}
    {%- set relation = api.Relation.create(
        database=source.database, schema=source.schema, identifier=source.identifier) -%}
    {%- if not adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set location = delta_source_location(source) -%}
    {%- if location -%}
        {%- set query -%}
            select ids is null as unknown, unnest(coalesce(ids, [null])) as batch_id
            from (select lakehouse_batch_ids({{ sql_string(location) }}) as ids)
        {%- endset -%}
        {%- set rows = run_query(query).rows -%}
        {%- if not (rows and rows[0][0]) -%}
            {{ return(rows | map(attribute=1) | list) }}
        {%- endif -%}
    {%- endif -%}
    {%- set query = 'select distinct _batch_id from ' ~ relation ~ ' where _batch_id is not null' -%}
    {{ return(run_query(query).columns[0].values() | list) }}
{%- endmacro %}
