{#-
  Spark (dbt-spark) implementations of what the project needs beyond the cross_db.sql helpers.
  Only spark__ macros live here; DuckDB never renders them.
-#}

{#-
  Seeds on Spark.  dbt-spark 1.11's spark__load_csv_rows binds every value as '<value>' without
  escaping quotes (a title such as "Alzheimer's disease" breaks the INSERT) and turns an empty
  cell into the string 'None'.  This override (the root project wins dispatch for the `dbt`
  namespace) writes the literals itself: NULL for empty cells, backslash-escaped strings
  otherwise (Spark reads '' as two adjacent literals, not as an escaped quote), each cast to the
  column's type as dbt-spark does.
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
        {%- do types.append(column_override.get(col_name, inferred_type)) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    {%- if value is none -%}
                        cast(null as {{ types[loop.index0] }})
                    {%- else -%}
                        cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ types[loop.index0] }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}
