"""Differentially private aggregate queries over one dataset (SQL subset or Python builder).

>>> plan = compile_sql("SELECT region, COUNT(*), AVG(income) FROM persons GROUP BY region", card)
>>> cost = plan_cost(plan, rho=0.5)                     # spends nothing, reads nothing
>>> estimate = dry_run(plan, card, rho=0.5)            # cost and expected error
>>> release = execute(plan, "persons.parquet", card, rho=0.5)   # release.table, release.cost

See docs/dp-queries.md.
"""

from insitu.computations.dp_query.builder import Query, all_of, any_of, col, not_
from insitu.computations.dp_query.cost import DryRun, dry_run, plan_cost
from insitu.computations.dp_query.lowering import prepare_dataset
from insitu.computations.dp_query.plan import AggKind, Aggregate, Plan
from insitu.computations.dp_query.release import Presentation, Release, execute
from insitu.computations.dp_query.sql import compile_sql
from insitu.computations.dp_query.wire import plan_from_json

__all__ = [
    "AggKind",
    "Aggregate",
    "DryRun",
    "Plan",
    "Presentation",
    "Query",
    "Release",
    "all_of",
    "any_of",
    "col",
    "compile_sql",
    "dry_run",
    "execute",
    "not_",
    "plan_cost",
    "plan_from_json",
    "prepare_dataset",
]
