{#- A value that changes from run to run (run_date, wap_run_id, wap_publish): `--vars` when given (an analyst's
    `dbt build --vars '{"run_date": "…"}'`), else the pipeline's env var LAKEHOUSE_DBT_<NAME>, read only while
    executing. The pipeline passes these values in the environment, not as --vars, because any change of --vars
    makes dbt discard target/partial_parse.msgpack and parse the whole project again; a value read only at
    execution time is never part of what dbt parsed, so the saved parse stays valid for every run_date. -#}
{% macro run_var(name, default=none) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('LAKEHOUSE_DBT_' ~ name | upper, '') or none -%}
    {%- endif -%}
    {{ return(default if value is none else value) }}
{%- endmacro %}


{#- dbt's get_where_subquery (a test's `where` config), plus, for the tests dbt_project.yml marks
    `meta: {run_batches_only: true}`, only the batches of run_date (`_batch_id` `<source>/<entity>/<run_date>`),
    and for those marked `meta: {written_rows_only: true}`, only the rows this build wrote to a delta model
    (its `__written` view: a merge's new and changed keys).
    Resolved when the test is compiled for a run, so it is right for each run_date with a reused parse. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set meta = config.get('meta') or {} -%}
    {%- if meta.get('written_rows_only') and relation.schema.endswith('_candidate') -%}
        {%- set relation = wap_written_relation(relation) -%}  {#- macros/wap.sql -#}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if config.get('where', '') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set run_date = run_var('run_date') if meta.get('run_batches_only') else none -%}
    {%- if run_date -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', run_date | string) -%}
            {{ exceptions.raise_compiler_error("run_date must be YYYY-MM-DD, got " ~ run_date) }}
        {%- endif -%}
        {#- the night's batch ids first (one cheap column), so DuckDB skips the older batches' data files -#}
        {%- do conditions.append("_batch_id in (select distinct _batch_id from " ~ relation
            ~ " where _batch_id like '%/" ~ run_date ~ "')") -%}
    {%- endif -%}
    {%- if conditions -%}
        {{ return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}
