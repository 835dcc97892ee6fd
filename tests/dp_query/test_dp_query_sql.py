"""The SQL subset and the builder compile to the same plan; everything else is refused."""

from __future__ import annotations

import pytest
from dpq_fixtures import CARD

from insitu.computations.dp_query import Query, col, compile_sql
from insitu.computations.dp_query.plan import AggKind
from insitu.errors import QueryError


def test_sql_and_builder_give_the_same_plan() -> None:
    sql = compile_sql(
        "SELECT region, sex, COUNT(*), SUM(income), AVG(income), VAR_POP(age), STDDEV(age), "
        "MEDIAN(income), QUANTILE(age, 0.9) FROM persons "
        "WHERE age >= 18 AND region IN ('north', 'south') AND employed = TRUE "
        "GROUP BY region, sex",
        CARD,
    )
    built = (
        Query(CARD)
        .group_by("region", "sex")
        .count()
        .sum("income")
        .mean("income")
        .variance("age")
        .stddev("age")
        .median("income")
        .quantile("age", 0.9)
        .where(col("age").ge(18))
        .where(col("region").isin(["north", "south"]))
        .where(col("employed").eq(True))
        .plan()
    )
    assert sql == built
    assert sql.hash == built.hash
    assert sql.columns[:3] == ("region", "sex", "count")


def test_aliases_and_quantile_forms() -> None:
    plan = compile_sql(
        "SELECT COUNT(*) AS n, PERCENTILE_CONT(0.25) WITHIN GROUP (ORDER BY age) AS p25, "
        "APPROX_QUANTILE(age, 0.75) FROM persons",
        CARD,
    )
    kinds = [(a.kind, a.alias, a.quantile) for a in plan.aggregates]
    assert kinds[0] == (AggKind.COUNT, "n", None)
    assert kinds[1] == (AggKind.QUANTILE, "p25", 0.25)
    assert kinds[2][2] == 0.75


def test_between_and_flipped_comparisons() -> None:
    a = compile_sql("SELECT COUNT(*) FROM persons WHERE age BETWEEN 18 AND 65", CARD)
    b = compile_sql("SELECT COUNT(*) FROM persons WHERE 18 <= age AND age <= 65", CARD)
    assert a == b


def test_string_group_key_needs_partition_selection() -> None:
    plan = compile_sql("SELECT city, COUNT(*) FROM persons GROUP BY city", CARD)
    assert plan.partition_selection


REFUSED = [
    ("SELECT age FROM persons", "raw column 'age'"),
    ("SELECT * FROM persons", "SELECT \\*"),
    ("SELECT person_id, COUNT(*) FROM persons GROUP BY person_id", "privacy unit"),
    ("SELECT COUNT(*) FROM persons WHERE person_id = 'p1'", "privacy unit"),
    ("SELECT COUNT(*) FROM persons WHERE city = 'oslo'", "city"),
    ("SELECT COUNT(*) FROM persons WHERE score > 3", "score.*no declared bounds"),
    ("SELECT COUNT(*) FROM persons WHERE born > '2000-01-01'", "born"),
    ("SELECT age, COUNT(*) FROM persons GROUP BY age", "GROUP BY age"),
    ("SELECT MIN(income) FROM persons", "MIN"),
    ("SELECT MAX(age) FROM persons", "MAX"),
    ("SELECT SUM(score) FROM persons", "score.*bounds"),
    ("SELECT SUM(region) FROM persons", "region.*not numeric"),
    ("SELECT SUM(nope) FROM persons", "unknown column 'nope'"),
    ("SELECT COUNT(*) FROM persons p JOIN persons q ON p.person_id = q.person_id", "JOIN"),
    ("SELECT COUNT(*) FROM (SELECT * FROM persons)", "subqueries"),
    ("SELECT COUNT(*) FROM persons WHERE age IN (SELECT age FROM persons)", "subquer"),
    ("SELECT COUNT(*) FROM persons LIMIT 1", "LIMIT"),
    ("SELECT COUNT(*) FROM persons ORDER BY 1", "ORDER BY"),
    ("SELECT region, COUNT(*) FROM persons GROUP BY region HAVING COUNT(*) > 1", "HAVING"),
    ("SELECT COUNT(DISTINCT person_id) FROM persons", "DISTINCT"),
    ("SELECT DISTINCT region FROM persons", "DISTINCT"),
    ("WITH t AS (SELECT * FROM persons) SELECT COUNT(*) FROM t", "WITH"),
    ("SELECT COUNT(*) FROM persons UNION SELECT COUNT(*) FROM persons", "SELECT"),
    ("SELECT COUNT(*) OVER () FROM persons", "window"),
    ("SELECT SUM(age) + 1 FROM persons", "only aggregates"),
    ("SELECT SUM(age * 2) FROM persons", "plain column"),
    ("SELECT COUNT(*) FROM other", "unknown dataset"),
    ("SELECT COUNT(*) FROM persons WHERE region = 'atlantis'", "not a declared category"),
    ("SELECT COUNT(*) FROM persons WHERE age > income", "literal"),
    ("SELECT upper(region) FROM persons", "UPPER"),
    ("DELETE FROM persons", "only SELECT"),
    ("SELECT COUNT(*) FROM persons; SELECT 1", "one SQL statement"),
    ("SELEC COUNT(*) FROM persons", "cannot parse|only SELECT"),
    ("SELECT QUANTILE(age, 1.5) FROM persons", "quantile"),
    ("SELECT HISTOGRAM(age, 0) FROM persons", "bins"),
    ("SELECT HISTOGRAM(age, 5), COUNT(*) FROM persons", "HISTOGRAM must be the only"),
    ("SELECT COUNT(*), COUNT(*) FROM persons", "not unique"),
    ("SELECT region FROM persons GROUP BY region", "at least one aggregate"),
    ("SELECT COUNT(*) FROM persons GROUP BY ROLLUP (region)", "ROLLUP|plain column"),
]


@pytest.mark.parametrize(("sql", "message"), REFUSED, ids=[r[0][:50] for r in REFUSED])
def test_refused(sql: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        compile_sql(sql, CARD)


def test_builder_refuses_the_same_things() -> None:
    with pytest.raises(QueryError, match="GROUP BY age"):
        Query(CARD).group_by("age").count().plan()
    with pytest.raises(QueryError, match="city"):
        Query(CARD).count().where(col("city").eq("oslo")).plan()
    with pytest.raises(QueryError, match="bounds"):
        Query(CARD).sum("score").plan()


def test_type_errors() -> None:
    with pytest.raises(TypeError):
        compile_sql(b"SELECT COUNT(*) FROM persons", CARD)  # type: ignore[arg-type]


def test_plan_json_round_trip_revalidates() -> None:
    from insitu.computations.dp_query import plan_from_json

    plan = compile_sql(
        "SELECT region, COUNT(*), MEDIAN(income) FROM persons "
        "WHERE NOT (age < 18 OR employed = FALSE) AND sex IN ('f') GROUP BY region",
        CARD,
    )
    assert plan_from_json(plan.to_json(), CARD) == plan
    forged = plan.to_json() | {"group_by": ["person_id"]}
    with pytest.raises(QueryError, match="privacy unit"):
        plan_from_json(forged, CARD)
    bad_where = plan.to_json() | {"where": {"cmp": ["city", "=", "oslo"]}}
    with pytest.raises(QueryError, match="city"):
        plan_from_json(bad_where, CARD)
    with pytest.raises(QueryError, match="malformed"):
        plan_from_json(plan.to_json() | {"where": {"exec": "x"}}, CARD)
    with pytest.raises(QueryError, match="version"):
        plan_from_json(plan.to_json() | {"version": 99}, CARD)
