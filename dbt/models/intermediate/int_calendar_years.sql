with years as (
    select
        year,
        max(as_of_date) as as_of_date,
        max(data_as_of) as data_as_of
    from {{ ref('int_calendar_months') }}
    group by year
),

bounds as (
    select
        year,
        {{ year_start('year') }} as year_start,
        cast({{ dbt.dateadd('day', -1, dbt.dateadd('year', 1, year_start('year'))) }} as date) as year_end,
        as_of_date
    from years
)

select
    year,
    year_start,
    year_end,
    as_of_date,
    as_of_date >= year_end as is_complete,
    cast(floor((extract(month from as_of_date) - 1) / 3) + 1 as {{ dbt.type_int() }}) as quarters_begun,
    cast({{ dbt.datediff('year_start', 'as_of_date', 'day') }} + 1 as {{ dbt.type_int() }}) as days_elapsed,
    cast({{ dbt.datediff('year_start', dbt.dateadd('year', 1, 'year_start'), 'day') }} as {{ dbt.type_int() }}) as days_in_year
from bounds
