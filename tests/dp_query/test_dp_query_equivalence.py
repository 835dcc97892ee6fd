"""Random queries written in SQL and with the builder compile to the same plan."""

from __future__ import annotations

from collections.abc import Callable

from dpq_fixtures import CARD
from hypothesis import given, settings
from hypothesis import strategies as st

from insitu.computations.dp_query import Query, any_of, col, compile_sql, not_
from insitu.computations.dp_query.plan import Predicate

Step = Callable[[Query], Query]

AGGREGATES: list[tuple[str, Step]] = [
    ("COUNT(*)", lambda q: q.count()),
    ("COUNT(income)", lambda q: q.count("income")),
    ("SUM(age)", lambda q: q.sum("age")),
    ("SUM(income)", lambda q: q.sum("income")),
    ("AVG(income)", lambda q: q.mean("income")),
    ("VAR_POP(age)", lambda q: q.variance("age")),
    ("STDDEV(income)", lambda q: q.stddev("income")),
    ("MEDIAN(age)", lambda q: q.median("age")),
    ("QUANTILE(income, 0.9)", lambda q: q.quantile("income", 0.9)),
    ("PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY age)", lambda q: q.quantile("age", 0.25)),
]
CONDITIONS: list[tuple[str, Predicate]] = [
    ("age >= 18", col("age").ge(18)),
    ("age < 65.5", col("age").lt(65.5)),
    ("region IN ('north', 'east')", col("region").isin(["north", "east"])),
    ("region NOT IN ('south')", col("region").notin(["south"])),
    ("sex = 'f'", col("sex").eq("f")),
    ("employed = TRUE", col("employed").eq(True)),
    ("income IS NOT NULL", col("income").not_null()),
    ("income BETWEEN 10 AND 500", col("income").between(10, 500)),
    ("(sex = 'm' OR age > 40)", any_of(col("sex").eq("m"), col("age").gt(40))),
    ("NOT (region = 'north')", not_(col("region").eq("north"))),
]
KEYS = ["region", "sex", "employed", "city"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(AGGREGATES))), min_size=1, max_size=4, unique=True),
    st.lists(st.sampled_from(KEYS), max_size=2, unique=True),
    st.lists(st.sampled_from(range(len(CONDITIONS))), max_size=3, unique=True),
)
def test_sql_and_builder_agree(aggs: list[int], keys: list[str], conds: list[int]) -> None:
    select = ", ".join([*keys, *(AGGREGATES[i][0] for i in aggs)])
    sql = f"SELECT {select} FROM persons"
    if conds:
        sql += " WHERE " + " AND ".join(CONDITIONS[i][0] for i in conds)
    if keys:
        sql += " GROUP BY " + ", ".join(keys)
    query = Query(CARD).group_by(*keys)
    for i in aggs:
        query = AGGREGATES[i][1](query)
    for i in conds:
        query = query.where(CONDITIONS[i][1])
    from_sql, from_builder = compile_sql(sql, CARD), query.plan()
    assert from_sql == from_builder
    assert from_sql.hash == from_builder.hash
    assert from_sql.partition_selection == ("city" in keys)
