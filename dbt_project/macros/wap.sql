{#-
    Write-audit-publish inside a dbt build (lakehouse/wap.py has the design).

    - ref() of a delta model resolves to its candidate view <schema>_candidate.<model>, so downstream models
      and tests in the same build read what this build wrote, while analysts keep reading <schema>.<model>.
      A model not rebuilt in this build has a candidate view over its published view (wap_reset_candidates).
    - on-run-start resets every candidate view to the published view: a killed or withheld build never leaks
      into the next one.
    - on-run-end publishes the build's candidates when every node passed, unless the caller publishes
      (the pipeline passes --vars '{"wap_publish": false, "wap_run_id": ...}' and publishes after Soda).
-#}

{% macro ref() -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {%- if execute and relation is not none and relation.identifier and wap_is_delta_model(relation.identifier) -%}
        {{ return(wap_candidate_relation(relation)) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}


{% macro wap_is_delta_model(name) -%}
    {#- A unit test's graph is empty: its refs are fixtures anyway. -#}
    {%- for node in (graph.get('nodes') or {}).values() -%}
        {%- if node.resource_type == 'model' and node.name == name and node.config.materialized == 'delta' -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}


{% macro wap_candidate_relation(relation) -%}
    {{ return(relation.incorporate(path={'schema': relation.schema ~ '_candidate'})) }}
{%- endmacro %}


{% macro wap_written_relation(candidate) -%}
    {#- The view `<schema>_candidate.<model>__written`: the rows this build wrote to the model (on a merge,
        only its new and changed keys; else the whole candidate). Tests marked `meta: {written_rows_only:
        true}` judge these rows (get_where_subquery in macros/run_var.sql). -#}
    {{ return(candidate.incorporate(path={'identifier': candidate.identifier ~ '__written'})) }}
{%- endmacro %}


{% macro wap_run_id() -%}
    {#- One id per build: the pipeline's, or the invocation's start time + id (sortable). -#}
    {%- set run_id = run_var('wap_run_id') -%}
    {%- if not run_id -%}
        {%- set run_id = run_started_at.strftime('%Y%m%dT%H%M%S') ~ '-' ~ invocation_id[:8] -%}
    {%- endif -%}
    {{ return(run_id) }}
{%- endmacro %}


{% macro wap_reset_candidates() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.config.materialized == 'delta' -%}
        {%- set published = api.Relation.create(
            database=node.database, schema=node.schema, identifier=node.alias) -%}
        {%- set candidate = wap_candidate_relation(published) -%}
        {%- do run_query('create schema if not exists ' ~ candidate.without_identifier()) -%}
        {%- for view in [candidate, wap_written_relation(candidate)] -%}
            {%- if adapter.get_relation(published.database, published.schema, published.identifier) -%}
                {%- do run_query('create or replace view ' ~ view ~ ' as select * from ' ~ published) -%}
            {%- else -%}
                {%- do run_query('drop view if exists ' ~ view) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endmacro %}


{% macro wap_publish_on_run_end(results) -%}
    {%- if not execute or run_var('wap_publish', true) | string | lower == 'false' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set built = [] -%}
    {%- set failed = [] -%}
    {%- for result in results -%}
        {%- if result.node.resource_type == 'model' and result.node.config.materialized == 'delta'
                and result.status == 'success' -%}
            {%- do built.append(result.node.name) -%}
        {%- endif -%}
        {%- if result.status in ['error', 'fail', 'runtime error'] -%}
            {%- do failed.append(result.node.resource_type ~ ' ' ~ result.node.name ~ ': ' ~ result.status) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not built -%}
        {{ return('') }}
    {%- endif -%}
    {%- set action = 'withhold' if failed else 'publish' -%}
    {%- do adapter.store_relation('lakehouse', api.Relation.create(identifier='wap'), [], '', 'wap', {
        'action': action, 'run_id': wap_run_id(), 'run_date': run_var('run_date'), 'failures': failed}) -%}
    {%- if failed -%}
        {{ log("Write-audit-publish: " ~ built | length ~ " candidate(s) WITHHELD (the last good versions stay "
            ~ "published): " ~ failed | join('; '), info=True) }}
    {%- else -%}
        {{ log("Write-audit-publish: published " ~ built | join(', '), info=True) }}
    {%- endif -%}
{%- endmacro %}
