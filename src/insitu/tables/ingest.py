"""Register a private table: check a CSV or Parquet file against its card and store Parquet.

A plain CSV (no quotes, see :mod:`insitu.tables.plaincsv`) is streamed
through Arrow's reader, checked batch by batch and written by Arrow
(:mod:`insitu.tables.arrowcsv`). Any other file, and any file the fast path
refuses, is read by DuckDB with the card's column types, converted and
checked against the card in one streaming pass that writes the Parquet
file (bounded memory: DuckDB spills past its ``memory_limit``). Either way
the file is written next to ``dest`` under a temporary name and only then
renamed to ``dest``, after the privacy-unit bound is checked on it. Rows
that break the card are never dropped or changed: the whole ingest fails
with :class:`insitu.errors.CardViolation` saying how many rows, which rows
and why; those details come from a diagnostic DuckDB read made only then.
"""

# SQL is built from card names and values only through duck.ident/literal/number.
# ruff: noqa: S608

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np

from insitu.errors import CardViolation, InternalError, InvalidInput
from insitu.tables.arrowcsv import write_plain_csv
from insitu.tables.card import Card, Column, ColumnType
from insitu.tables.checks import DUCK_TYPES, Plan, enum_type, find_violations, plan_unit_bound
from insitu.tables.duck import DEFAULT_MEMORY_LIMIT, connect, literal
from insitu.tables.progress import Progress, ProgressFn
from insitu.tables.report import IngestReport, Kind, Problem, ViolationReport
from insitu.tables.sniff import detect_format, read_csv_layout
from insitu.tables.units import integer_unit_bound

if TYPE_CHECKING:
    import duckdb

#: Parquet key-value metadata key holding the card's JSON.
CARD_METADATA_KEY = "insitu.card"
_MALFORMED_SHOWN = 10


def ingest(
    source: Path,
    card: Card,
    dest: Path,
    *,
    progress: ProgressFn | None = None,
    max_violations_reported: int = 20,
    show_values: bool = True,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    threads: int | None = None,
) -> IngestReport:
    """Check ``source`` against ``card`` and write it as Parquet at ``dest``.

    Parameters
    ----------
    source:
        A CSV file (UTF-8, header line, delimiter ``,`` ``;`` TAB or ``|``,
        double quotes, empty field = NULL) or a Parquet file; told apart by
        content.
    card:
        The dataset's card. The file must have exactly its columns (any order).
    dest:
        Where the Parquet file goes. It holds exactly the card's columns, in
        the card's order, with the card's types (BIGINT, DOUBLE, VARCHAR,
        BOOLEAN, DATE) and the card's JSON in the key-value metadata. It is
        written to a temporary file and renamed, so ``dest`` is either the
        complete new table or untouched.
    progress:
        Called from a side thread with a percentage (0–100), monotone, ending
        at 100 on success.
    max_violations_reported:
        How many offending cells the report lists (counts always cover all rows).
    show_values:
        Whether the report holds the offending raw values. They are private:
        the node MUST show them only to the dataset's owner.
    memory_limit, threads:
        DuckDB's limits for this ingest.

    Returns
    -------
    IngestReport
        Rows, bytes and SHA-256 of the Parquet file, and the time taken.

    Raises
    ------
    CardViolation
        Rows or columns break the card; ``details`` is
        :meth:`ViolationReport.to_details`.
    InvalidInput
        The file is not readable as CSV or Parquet (empty, binary, ragged
        rows, bad quoting, not UTF-8, no data rows); the message names the
        lines.
    """
    if not isinstance(card, Card):
        raise TypeError("card must be an insitu.tables.card.Card")
    if isinstance(max_violations_reported, bool) or not isinstance(max_violations_reported, int):
        raise TypeError("max_violations_reported must be an int")
    if max_violations_reported < 1:
        raise InvalidInput("max_violations_reported must be at least 1")
    started = time.perf_counter()
    source, dest = Path(source), Path(dest)
    if not dest.parent.is_dir():
        raise InvalidInput(f"destination folder {dest.parent} does not exist")
    fmt = detect_format(source)
    tag = os.urandom(6).hex()
    tmp = dest.parent / f".{dest.name}.{tag}.part"
    spill = dest.parent / f".{dest.name}.{tag}.spill"
    steps = Progress(progress)
    db = functools.partial(
        connect, memory_limit=memory_limit, threads=threads, temp_directory=spill
    )
    try:
        job = _Job(db, source, card, tmp, max_violations_reported, show_values, steps)
        try:
            rows = job.csv(threads) if fmt == "csv" else job.parquet()
        finally:
            job.close()
        digest, size = _sha256(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(spill, ignore_errors=True)
    steps.report(100)
    return IngestReport(
        path=str(dest),
        rows=rows,
        bytes=size,
        sha256=digest,
        seconds=time.perf_counter() - started,
        source_format=fmt,
        columns=card.column_names,
    )


class _Job:
    """One ingest's steps over one DuckDB connection, made when a step first needs it.

    Fast path: one streaming pass reads the source, converts and checks every
    cell (a broken rule stops it) and writes the Parquet file, by Arrow for a
    plain CSV and by DuckDB otherwise; a second pass over the new file's
    privacy-unit column checks ``max_rows``. Only when the fast path fails
    does a diagnosis re-read the source to count and locate every broken rule.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        source: Path,
        card: Card,
        tmp: Path,
        limit: int,
        show_values: bool,
        steps: Progress,
    ) -> None:
        self._connect, self.source, self.card, self.tmp = connect, source, card, tmp
        self.limit, self.show_values, self.steps = limit, show_values, steps

    @functools.cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The connection (the Arrow CSV path, when it succeeds, never makes one)."""
        return self._connect()

    def close(self) -> None:
        if "con" in self.__dict__:
            self.con.close()

    # -- CSV -------------------------------------------------------------
    def csv(self, threads: int | None = None, *, arrow: bool = True) -> int:
        layout = read_csv_layout(self.source)
        self._check_names(layout.names)
        if arrow:
            written = write_plain_csv(
                self.source,
                self.card,
                self.tmp,
                names=layout.names,
                delimiter=layout.delimiter,
                metadata={CARD_METADATA_KEY: self.card.to_json()},
                threads=threads,
                report=lambda done: self.steps.report(90 * done),
            )
            if written is not None:
                self._check_units(written.rows, written.unit_ids)
                return written.rows
            self.tmp.unlink(missing_ok=True)
        import duckdb

        read_types = {c.name: _csv_read_type(c) for c in self.card.columns}
        read_types = {n: read_types[n] for n in layout.names}
        plan = Plan.build(self.card, self._read_csv(layout.delimiter, read_types), read_types)
        try:
            return self._write(plan)
        except duckdb.Error as exc:
            _resource_limit(exc)
            text_types = dict.fromkeys(layout.names, "VARCHAR")
            text = Plan.build(self.card, self._read_csv(layout.delimiter, text_types), text_types)
            self._diagnose_csv(layout.delimiter, layout.names, text, exc)

    def _read_csv(self, delimiter: str, types: dict[str, str], extra: str = "") -> str:
        columns = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items()) + "}"
        return (
            f"read_csv({literal(self.source)}, header = true, auto_detect = false, "
            f"delim = {literal(delimiter)}, quote = '\"', escape = '\"', nullstr = '', "
            f"allow_quoted_nulls = true, strict_mode = true, columns = {columns}{extra})"
        )

    def _diagnose_csv(
        self, delimiter: str, names: list[str], text: Plan, first_error: duckdb.Error
    ) -> NoReturn:
        """Explain why reading the CSV failed: malformed lines, or cells that break the card."""
        import duckdb

        lenient = self._read_csv(
            delimiter,
            dict.fromkeys(names, "VARCHAR"),
            f", store_rejects = true, ignore_errors = true, rejects_limit = {_MALFORMED_SHOWN}",
        )
        try:
            self.con.execute(f"SELECT count(*) FROM {lenient}").fetchall()
            rejects = self.con.execute(
                "SELECT line, error_type, error_message FROM reject_errors ORDER BY line"
            ).fetchall()
        except duckdb.Error as exc:
            raise InvalidInput(
                f"{self.source.name} is not readable CSV: {_first_line(exc)}"
            ) from None
        if rejects:
            lines: list[dict[str, object]] = []
            for line, kind, msg in rejects:
                if not lines or lines[-1]["line"] != int(line):
                    lines.append({"line": int(line), "problem": str(kind).lower(), "message": msg})
            shown = "; ".join(f"line {p['line']}: {p['message']}" for p in lines[:5])
            raise InvalidInput(
                f"{self.source.name} is malformed CSV ({shown})", details={"lines": lines}
            )
        self._diagnose(text, "row_number() OVER ()")
        raise InvalidInput(f"{self.source.name} is not readable CSV: {_first_line(first_error)}")

    # -- Parquet ---------------------------------------------------------
    def parquet(self) -> int:
        import duckdb

        src = f"read_parquet({literal(self.source)})"
        try:
            schema = self.con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
        except duckdb.Error as exc:
            raise InvalidInput(
                f"{self.source.name} is not a readable Parquet file: {_first_line(exc)}"
            ) from None
        types = {str(row[0]): str(row[1]) for row in schema}
        self._check_names(list(types))
        try:
            return self._write(Plan.build(self.card, src, types))
        except duckdb.Error as exc:
            _resource_limit(exc)
            numbered = f"read_parquet({literal(self.source)}, file_row_number = true)"
            self._diagnose(Plan.build(self.card, numbered, types), "file_row_number + 1")
            raise InvalidInput(
                f"{self.source.name} is not a readable Parquet file: {_first_line(exc)}"
            ) from None

    # -- shared ----------------------------------------------------------
    def _write(self, plan: Plan) -> int:
        """Convert, check and write in one pass; then check the privacy-unit bound."""
        meta = literal(self.card.to_json())
        with self.steps.during(self.con, 0, 90):
            done = self.con.execute(
                f"COPY ({plan.strict_select()}) TO {literal(self.tmp)} (FORMAT parquet, "
                f"COMPRESSION zstd, KV_METADATA {{{literal(CARD_METADATA_KEY)}: {meta}}})"
            ).fetchall()
        rows = int(done[0][0]) if done else 0
        if rows == 0:
            raise InvalidInput(f"{self.source.name} has a header but no data rows")
        self._check_units(rows)
        return rows

    def _check_units(self, rows: int, ids: np.ndarray | None = None) -> None:
        """Check the privacy-unit bound on the written file, or on its integer unit ``ids``."""
        if ids is not None:
            unit = integer_unit_bound(self.card, ids, self.limit, self.show_values)
        else:
            stored = Plan.build(
                self.card,
                f"read_parquet({literal(self.tmp)})",
                {c.name: DUCK_TYPES[c.type] for c in self.card.columns},
            )
            with self.steps.during(self.con, 90, 99):
                unit = plan_unit_bound(
                    self.con, stored, rows=rows, limit=self.limit, show_values=self.show_values
                )
        if unit is not None:
            report = ViolationReport(self.card.name, rows, 0, [unit[0]], unit[1])
            raise CardViolation(report.message(), details=report.to_details())

    def _check_names(self, names: list[str]) -> None:
        declared = self.card.column_names
        problems = [
            Problem(n, Kind.MISSING_COLUMN, "is declared in the card but missing from the file", 1)
            for n in declared
            if n not in names
        ] + [
            Problem(n, Kind.UNKNOWN_COLUMN, "is in the file but not declared in the card", 1)
            for n in names
            if n not in declared
        ]
        if problems:
            report = ViolationReport(self.card.name, 0, 0, problems)
            raise CardViolation(report.message(), details=report.to_details())

    def _diagnose(self, plan: Plan, row_expr: str) -> None:
        """Raise :class:`CardViolation` with every broken rule, if any."""
        report = find_violations(
            self.con, plan, row_expr=row_expr, limit=self.limit, show_values=self.show_values
        )
        if not report.ok:
            raise CardViolation(report.message(), details=report.to_details())


def _csv_read_type(col: Column) -> str:
    """How DuckDB's CSV reader reads a card column on the fast path.

    Integers and dates are read as text and checked by pattern, because the
    reader's own conversion is lenient: it rounds ``3.5`` to 4 and drops the
    time of ``2020-01-01 12:00``. Categories are read as an ENUM of the
    declared values, so an undeclared value stops the read.
    """
    if col.type in (ColumnType.INTEGER, ColumnType.DATE):
        return "VARCHAR"
    return enum_type(col) or DUCK_TYPES[col.type]


def _resource_limit(exc: duckdb.Error) -> None:
    """Running out of memory is the node's problem, not the file's: say so, don't diagnose."""
    import duckdb

    if isinstance(exc, duckdb.OutOfMemoryException):
        raise InternalError(f"ingest ran out of resources: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
