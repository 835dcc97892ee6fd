"""SQL that checks rows against a card, and converts raw columns to the card's types.

Every rule is a boolean SQL expression over one column; DuckDB counts how
often each rule is broken in one streaming pass, and a second, bounded query
(top-N by row number) fetches the first offending cells. Type conversion
uses ``TRY_CAST`` plus a lossless check, so a bad value becomes a reported
violation instead of a crash, and no value is rounded or changed silently.
"""

# SQL is built from card names and values only through duck.ident/literal/number.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from insitu.tables.card import Card, Column, ColumnType
from insitu.tables.duck import ident, literal, number
from insitu.tables.report import Example, Kind, Problem, ViolationReport
from insitu.tables.units import Found, unit_bound

if TYPE_CHECKING:  # imported by whoever makes the connection
    import duckdb

#: DuckDB type written to Parquet for each card type.
DUCK_TYPES: dict[ColumnType, str] = {
    ColumnType.INTEGER: "BIGINT",
    ColumnType.FLOAT: "DOUBLE",
    ColumnType.CATEGORY: "VARCHAR",
    ColumnType.STRING: "VARCHAR",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.DATE: "DATE",
}

_INTEGER_TEXT = r"'\s*[+-]?[0-9]+(\.0*)?\s*'"
_DATE_TEXT = r"'\s*[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}\s*'"
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
_INT_SOURCES = _INT_TYPES + tuple("U" + t for t in _INT_TYPES)


def _family(src: str) -> str:
    src = src.upper()
    if src in _INT_SOURCES:
        return "int"
    if src in ("FLOAT", "DOUBLE", "REAL") or src.startswith("DECIMAL"):
        return "real"
    if src == "VARCHAR" or src.startswith("ENUM"):
        return "text"
    if src.startswith("TIMESTAMP"):
        return "timestamp"
    return src.lower()


def date_text(raw: str) -> str:
    """SQL that is true when text ``raw`` writes a calendar date ``YYYY-MM-DD``.

    DuckDB's own cast would also take ``2020-01-01 12:00`` (dropping the time)
    and words such as ``epoch`` or ``infinity``; those are wrong types here.
    """
    return f"regexp_full_match({raw}, {_DATE_TEXT})"


def integer_text(raw: str) -> str:
    """SQL that is true when text ``raw`` writes a whole number (``7``, ``-3``, ``+5``, ``3.0``).

    DuckDB's own cast would also take ``3.5`` (rounding it to 4), ``1e2`` and
    ``0x10``; those are wrong types here.
    """
    return f"regexp_full_match({raw}, {_INTEGER_TEXT})"


def typed_expr(col: Column, raw: str, src: str) -> str:
    """SQL turning ``raw`` (of DuckDB type ``src``) into the card type, NULL where it cannot.

    A value that would change in conversion (3.5 into an integer, a timestamp
    with a time of day into a date) gives NULL, so it is reported as a wrong
    type rather than rounded.
    """
    fam = _family(src)
    t = DUCK_TYPES[col.type]
    if src.upper() == t:
        return raw
    if col.type is ColumnType.INTEGER:
        if fam == "int":
            return f"TRY_CAST({raw} AS BIGINT)"
        if fam == "real":
            return f"CASE WHEN {raw} = trunc({raw}) THEN TRY_CAST({raw} AS BIGINT) END"
        if fam == "text":
            return f"CASE WHEN {integer_text(raw)} THEN TRY_CAST({raw} AS BIGINT) END"
    elif col.type is ColumnType.FLOAT:
        if fam in ("int", "real", "text"):
            return f"TRY_CAST({raw} AS DOUBLE)"
    elif col.type in (ColumnType.CATEGORY, ColumnType.STRING):
        if fam in ("text", "int", "real", "boolean", "date"):
            return f"CAST({raw} AS VARCHAR)"
    elif col.type is ColumnType.BOOLEAN:
        if fam in ("boolean", "text"):
            return f"TRY_CAST({raw} AS BOOLEAN)"
    elif col.type is ColumnType.DATE:
        if fam == "date":
            return f"TRY_CAST({raw} AS DATE)"
        if fam == "text":
            return f"CASE WHEN {date_text(raw)} THEN TRY_CAST({raw} AS DATE) END"
        if fam == "timestamp":
            return f"CASE WHEN {raw} = date_trunc('day', {raw}) THEN TRY_CAST({raw} AS DATE) END"
    return f"CAST(NULL AS {t})"


def strict_condition(
    col: Column, raw: str, typed: str, *, same_type: bool = False, enum: bool = False
) -> str | None:
    """One SQL condition, true (never NULL) when any of :func:`column_rules` is broken.

    The same rules, folded into as few operations as possible for the fast
    path, where only whether a rule is broken matters: ``typed IS NULL``
    covers both an empty cell and a failed conversion in a non-nullable
    column, and ``NOT BETWEEN`` also catches NaN and infinities (DuckDB sorts
    NaN above every number).
    """
    parts = []
    if not col.nullable:
        parts.append(f"{typed} IS NULL")
    elif not same_type:
        parts.append(f"({raw} IS NOT NULL AND {typed} IS NULL)")
    lo, hi = col.lower, col.upper
    if col.type.numeric and lo is not None and hi is not None:
        parts.append(f"NOT ({typed} BETWEEN {number(lo)} AND {number(hi)})")
    else:
        if col.type in (ColumnType.FLOAT, ColumnType.DATE):
            parts.append(f"NOT isfinite({typed})")
        if col.type.numeric and lo is not None:
            parts.append(f"{typed} < {number(lo)}")
        if col.type.numeric and hi is not None:
            parts.append(f"{typed} > {number(hi)}")
    if col.type is ColumnType.CATEGORY and col.categories and not enum:
        values = ", ".join(literal(c) for c in col.categories)
        parts.append(f"NOT list_contains([{values}], {typed})")
    return " OR ".join(parts) or None


@dataclass(frozen=True)
class Rule:
    """One card rule as a SQL condition that is true on offending rows."""

    column: str
    kind: Kind
    text: str
    broken: str


def column_rules(
    col: Column, raw: str, typed: str, *, same_type: bool = False, enum: bool = False
) -> list[Rule]:
    """The rules one column's values must keep, over its raw and typed expressions.

    ``same_type`` says the source already has the card's type, so no value
    can fail conversion; ``enum`` says the source is an ENUM of the declared
    categories, so no value can be undeclared.
    """
    rules = []
    if not same_type:
        rules.append(
            Rule(
                col.name,
                Kind.WRONG_TYPE,
                f"is not a valid {col.type.value}",
                f"({raw} IS NOT NULL AND {typed} IS NULL)",
            )
        )
    if not col.nullable:
        rules.append(Rule(col.name, Kind.NULL, "is empty but not nullable", f"({raw} IS NULL)"))
    if col.type is ColumnType.FLOAT:
        rules.append(
            Rule(col.name, Kind.NOT_A_NUMBER, "is NaN or infinite", f"NOT isfinite({typed})")
        )
    if col.type is ColumnType.DATE:
        rules.append(
            Rule(col.name, Kind.WRONG_TYPE, "is not a finite date", f"NOT isfinite({typed})")
        )
    if col.type.numeric and (col.lower is not None or col.upper is not None):
        conds = []
        if col.lower is not None:
            conds.append(f"{typed} < {number(col.lower)}")
        if col.upper is not None:
            conds.append(f"{typed} > {number(col.upper)}")
        nan_guard = f"isfinite({typed}) AND " if col.type is ColumnType.FLOAT else ""
        lo = "-inf" if col.lower is None else number(col.lower)
        hi = "inf" if col.upper is None else number(col.upper)
        rules.append(
            Rule(
                col.name,
                Kind.OUT_OF_BOUNDS,
                f"is outside its bounds [{lo}, {hi}]",
                f"coalesce({nan_guard}({' OR '.join(conds)}), false)",
            )
        )
    if col.type is ColumnType.CATEGORY and col.categories and not enum:
        values = ", ".join(literal(c) for c in col.categories)
        rules.append(
            Rule(
                col.name,
                Kind.NOT_A_CATEGORY,
                "is not one of its declared categories",
                f"coalesce(NOT list_contains([{values}], {typed}), false)",
            )
        )
    return rules


def enum_type(col: Column) -> str | None:
    """The DuckDB ENUM of a category column's declared values (``None`` for other types).

    Reading a CSV category column as this ENUM makes DuckDB refuse any
    undeclared value while parsing, which is cheaper than checking afterwards.
    """
    if col.type is not ColumnType.CATEGORY or not col.categories:
        return None
    return "ENUM(" + ", ".join(literal(c) for c in col.categories) + ")"


@dataclass(frozen=True)
class Plan:
    """A source's card columns, converted, with every rule over them."""

    card: Card
    source: str
    projections: list[str]
    rules: list[Rule]
    strict: list[str]

    @classmethod
    def build(cls, card: Card, source: str, source_types: dict[str, str]) -> Plan:
        """Plan the checks of ``source`` (a SQL FROM item) whose columns have ``source_types``."""
        projections = [ident(c.name) for c in card.columns] + [
            f"{typed_expr(c, ident(c.name), source_types[c.name])} AS {_typed(c.name)}"
            for c in card.columns
        ]
        rules: list[Rule] = []
        strict: list[str] = []
        for c in card.columns:
            how = {
                "same_type": source_types[c.name].upper() == DUCK_TYPES[c.type],
                "enum": source_types[c.name] == enum_type(c),
            }
            rules.extend(column_rules(c, ident(c.name), _typed(c.name), **how))
            condition = strict_condition(c, ident(c.name), _typed(c.name), **how)
            if condition is not None:
                strict.append(condition)
        return cls(card, source, projections, rules, strict)

    @property
    def relation(self) -> str:
        """Raw columns and their converted ``__t_`` twins."""
        return f"SELECT {', '.join(self.projections)} FROM {self.source}"

    @property
    def any_broken(self) -> str:
        return " OR ".join(r.broken for r in self.rules) or "false"

    def strict_select(self) -> str:
        """The converted columns under their card names; the statement fails at a broken rule.

        Used for the fast path: one streaming pass converts and checks. A
        failure says nothing about where; :func:`find_violations` then finds
        every broken rule. (One guarded filter is much cheaper than guarding
        each column's value.)
        """
        columns = ", ".join(f"{_typed(c.name)} AS {ident(c.name)}" for c in self.card.columns)
        broken = " OR ".join(self.strict) or "false"
        guard = f"CASE WHEN {broken} THEN error('card violation') ELSE true END"
        return f"SELECT {columns} FROM ({self.relation}) WHERE {guard}"


def _typed(name: str) -> str:
    return ident("__t_" + name)


def find_violations(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    row_expr: str,
    limit: int,
    show_values: bool,
) -> ViolationReport:
    """Check every row of the plan's source against its card.

    ``row_expr`` numbers rows in file order (1-based). Counts cover all rows;
    at most ``limit`` offending cells are returned as examples.
    """
    card, rules = plan.card, plan.rules
    counts = ["count(*)", f"count_if({plan.any_broken})"] + [f"count_if({r.broken})" for r in rules]
    row = con.execute(f"SELECT {', '.join(counts)} FROM ({plan.relation})").fetchone()
    assert row is not None
    total, bad_rows, *per_rule = (int(v or 0) for v in row)
    problems = [
        Problem(r.column, r.kind, r.text, n) for r, n in zip(rules, per_rule, strict=True) if n
    ]
    examples: list[Example] = []
    if bad_rows:
        flags = ", ".join(r.broken for r in rules)
        values = ", ".join(f"CAST({ident(c.name)} AS VARCHAR)" for c in card.columns)
        rows = con.execute(
            f"SELECT __row, [{flags}], [{values}] FROM "
            f"(SELECT {row_expr} AS __row, {', '.join(plan.projections)} FROM {plan.source})"
            f" WHERE {plan.any_broken} ORDER BY __row LIMIT {int(limit)}"
        ).fetchall()
        index = {c.name: i for i, c in enumerate(card.columns)}
        for number_, broken, vals in rows:
            for rule, hit in zip(rules, broken, strict=True):
                if hit and len(examples) < limit:
                    value = vals[index[rule.column]] if show_values else None
                    examples.append(Example(int(number_), rule.column, rule.kind, value))
    unit = plan_unit_bound(
        con, plan, rows=None, limit=limit - len(examples), show_values=show_values
    )
    if unit is not None:
        problems.append(unit[0])
        examples.extend(unit[1])
    return ViolationReport(card.name, total, bad_rows, problems, examples)


def plan_unit_bound(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    rows: int | None,
    limit: int,
    show_values: bool,
) -> Found | None:
    """The contribution-bound check (:func:`insitu.tables.units.unit_bound`) on a plan."""
    card = plan.card
    if card.privacy_unit is None:
        return None
    col = card.column(card.privacy_unit.column)
    return unit_bound(
        con,
        card,
        relation=plan.relation,
        unit=_typed(col.name),
        integer=col.type is ColumnType.INTEGER,
        rows=rows,
        limit=limit,
        show_values=show_values,
    )
