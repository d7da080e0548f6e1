{#-
    materialized='delta': write-audit-publish of a Delta table (lakehouse/wap.py, docs/ARCHITECTURE.md).

    The model's result is streamed as Arrow by the `lakehouse` dbt-duckdb plugin (lakehouse/dbt_delta) into a
    CANDIDATE: a Delta table at <location>/candidates/<run id>, which readers of <location> do not see. The
    catalog view <schema>_candidate.<model> reads it; ref() and the model's tests read that view
    (macros/wap.sql). The published view <schema>.<model> (what analysts and Soda read) changes only when the
    run publishes: in on-run-end for a plain `dbt build` that passed, or in the pipeline after its Soda gate.

    Config:
      location              default <LAKEHOUSE_ROOT>/analytics/<model name>
      unique_key            column or list; implies incremental_strategy='merge'
      incremental_strategy  'merge' (update matching unique_key, insert others) | 'append' | 'overwrite'
      partition_by          column or list of Delta partition columns
      watermark             'batches': the model reads only raw batches it has not merged yet
                            (unmerged_batches(), macros/watermark.sql); each publish records the batch ids
                            it covers in its Delta commit (`lakehouse_batches`)
    Without unique_key/incremental_strategy the model is a table: every run overwrites it (schema too).
    An incremental model writes incrementally only when its published view already points at an existing
    Delta table and the run is not --full-refresh; otherwise it overwrites (see delta_is_incremental()).
    A merge's candidate holds only the model's rows (new and changed keys); its candidate view is the table's
    state after the merge (published rows with other keys + the model's rows), and the publish is a delta-rs
    MERGE that rewrites only the files holding those keys. The view <schema>_candidate.<model>__written
    holds the rows the build wrote (a merge's new and changed keys, else the whole candidate): the marts'
    tests judge those (meta written_rows_only, dbt_project.yml); the rest passed them when it was published.
-#}

{% materialization delta, adapter='duckdb', supported_languages=['sql'] %}

    {%- set location = delta_location(this) -%}
    {%- set strategy = delta_incremental_strategy() -%}
    {%- set mode = strategy if delta_is_incremental() else 'overwrite' -%}
    {%- set run_id = wap_run_id() -%}
    {%- set candidate = wap_candidate_relation(this) -%}
    {%- set candidate_location = location ~ '/candidates/' ~ run_id -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set store_config = {
        'sql': compiled_code,
        'mode': mode,
        'unique_key': config.get('unique_key'),
        'partition_by': config.get('partition_by'),
        'run_id': run_id,
        'model': this.identifier,
        'schema': this.schema,
        'commit_metadata': {
            'dbt_model': model.unique_id,
            'dbt_invocation_id': invocation_id,
            'dbt_mode': mode,
        },
    } -%}
    {%- if config.get('watermark') == 'batches' -%}
        {#- the batches this build covers, read before the model's query runs (macros/watermark.sql) -#}
        {%- do store_config.commit_metadata.update(
            {'lakehouse_batches': tojson(wap_upstream_batches(model))}) -%}
    {%- endif -%}
    {%- do adapter.store_relation(
        config.get('delta_plugin', 'lakehouse'), this, [], location, 'delta', store_config) -%}

    {%- do run_query('create schema if not exists ' ~ candidate.without_identifier()) -%}
    {% call statement('main') -%}
        create or replace view {{ candidate }} as
        {% if not delta_exists(candidate_location) -%}
            select * from {{ this }}  {#- a merge of no rows: nothing to publish #}
        {%- elif mode == 'merge' -%}
            {{ wap_merged_state(this, candidate_location, config.get('unique_key')) }}
        {%- else -%}
            {% if mode == 'append' -%}
                select * from {{ this }} union all by name
            {% endif -%}
            select * from delta_scan({{ sql_string(candidate_location) }})
        {%- endif %}
    {%- endcall %}

    {%- set merged = mode == 'merge' and delta_exists(candidate_location) -%}
    {%- do run_query('create or replace view ' ~ wap_written_relation(candidate) ~ ' as select * from '
        ~ ('delta_scan(' ~ sql_string(candidate_location) ~ ')' if merged else candidate)
        ~ (' where false' if mode == 'merge' and not merged else '')) -%}

    {{ run_hooks(post_hooks, inside_transaction=True) }}

    {% do persist_docs(candidate, model) %}

    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [candidate]}) }}

{% endmaterialization %}


{% macro delta_location(relation) -%}
    {%- set location = config.get('location') -%}
    {%- if location is none -%}
        {%- set location = lakehouse_uri('analytics/' ~ relation.identifier) -%}
    {%- endif -%}
    {{ return(location.rstrip('/')) }}
{%- endmacro %}


{% macro delta_incremental_strategy() -%}
    {%- set unique_key = config.get('unique_key') -%}
    {%- set strategy = config.get('incremental_strategy') or ('merge' if unique_key else 'overwrite') -%}
    {%- if strategy not in ['merge', 'append', 'overwrite'] -%}
        {{ exceptions.raise_compiler_error(
            "Model " ~ model.unique_id ~ ": incremental_strategy '" ~ strategy
            ~ "' is not supported by materialized='delta' (use merge, append or overwrite).") }}
    {%- endif -%}
    {%- if strategy == 'merge' and not unique_key -%}
        {{ exceptions.raise_compiler_error(
            "Model " ~ model.unique_id ~ ": incremental_strategy 'merge' needs config(unique_key=...).") }}
    {%- endif -%}
    {{ return(strategy) }}
{%- endmacro %}


{% macro delta_is_incremental() -%}
    {#- True when this run writes incrementally: an incremental strategy, no --full-refresh, and the
        model's published catalog view already reads the Delta table at this model's location. -#}
    {%- if not execute or this is none -%}  {#- a unit test: its inputs are fixtures -#}
        {{ return(false) }}
    {%- endif -%}
    {%- if delta_incremental_strategy() == 'overwrite' or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set location = delta_location(this) -%}
    {%- set query -%}
        select count(*)
        from duckdb_views()
        where database_name = {{ sql_string(this.database) }}
            and schema_name = {{ sql_string(this.schema) }}
            and view_name = {{ sql_string(this.identifier) }}
            and contains(sql, {{ sql_string('delta_scan(' ~ sql_string(location)) }})
    {%- endset -%}
    {%- if run_query(query).columns[0].values()[0] == 0 -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(delta_exists(location)) }}
{%- endmacro %}


{% macro wap_merged_state(published, changes_location, unique_key) -%}
    {#- The table's state once the changes at `changes_location` are merged on `unique_key` (the same query as
        lakehouse.wap.merged_state_sql, which the Soda gate uses). -#}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set changes = 'delta_scan(' ~ sql_string(changes_location) ~ ')' -%}
    select published.* from {{ published }} as published
    anti join {{ changes }} as changed
        on {% for key in keys %}published."{{ key }}" = changed."{{ key }}"{% if not loop.last %} and {% endif %}{% endfor %}
    union all by name
    select * from {{ changes }}
{%- endmacro %}
