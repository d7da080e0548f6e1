{#- Dates or timestamps later than the run's date: the day of run_var('run_date') (UTC; the pipeline passes it),
    or today (UTC, the profile's TimeZone) when no run_date is given, as in an analyst's plain `dbt build`.
    Nothing delivered for a night can lie beyond that night. -#}
{% test not_after_run_date(model, column_name) %}

{%- set run_date = run_var('run_date') %}
{%- if run_date and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', run_date | string) %}
    {{ exceptions.raise_compiler_error("run_date must be YYYY-MM-DD, got " ~ run_date) }}
{%- endif %}
{%- set last_day = "date '" ~ run_date ~ "'" if run_date else "current_date" %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} >= {{ last_day }} + interval 1 day

{% endtest %}
