"""Register a private table: check a CSV or Parquet file against its card and store Parquet.

The file is read by DuckDB with the card's column types, streamed to a
temporary Parquet file next to ``dest`` (bounded memory: DuckDB spills past
its ``memory_limit``), checked column by column against the card, and only
then renamed to ``dest``. Rows that break the card are never dropped or
changed: the whole ingest fails with :class:`insitu.errors.CardViolation`
saying how many rows, which rows and why.
"""

# SQL is built from card names and values only through duck.ident/literal/number.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import duckdb

from insitu.errors import CardViolation, InvalidInput
from insitu.tables.card import Card, ColumnType
from insitu.tables.checks import DUCK_TYPES, find_violations, typed_expr
from insitu.tables.duck import DEFAULT_MEMORY_LIMIT, connect, ident, literal
from insitu.tables.progress import Progress, ProgressFn
from insitu.tables.report import IngestReport, Kind, Problem, ViolationReport
from insitu.tables.sniff import detect_format, read_csv_layout

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
    try:
        con = connect(memory_limit=memory_limit, threads=threads, temp_directory=spill)
        try:
            job = _Job(con, source, card, tmp, max_violations_reported, show_values, steps)
            rows = job.csv() if fmt == "csv" else job.parquet()
        finally:
            con.close()
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
    """One ingest's steps over one DuckDB connection."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: Path,
        card: Card,
        tmp: Path,
        limit: int,
        show_values: bool,
        steps: Progress,
    ) -> None:
        self.con, self.source, self.card, self.tmp = con, source, card, tmp
        self.limit, self.show_values, self.steps = limit, show_values, steps

    # -- CSV -------------------------------------------------------------
    def csv(self) -> int:
        layout = read_csv_layout(self.source)
        self._check_names(layout.names)
        by_name = {c.name: c for c in self.card.columns}
        # Integers are read as text: DuckDB's CSV reader would round "3.5" to 4.
        read_types = {
            n: "VARCHAR" if by_name[n].type is ColumnType.INTEGER else DUCK_TYPES[by_name[n].type]
            for n in layout.names
        }
        typed = self._read_csv(layout.delimiter, read_types)
        exprs = []
        for c in self.card.columns:
            raw = ident(c.name)
            if c.type is ColumnType.INTEGER:
                conv = typed_expr(c, raw, "VARCHAR")
                exprs.append(
                    f"CASE WHEN {raw} IS NOT NULL AND ({conv}) IS NULL "
                    f"THEN error('wrong type') ELSE {conv} END AS {raw}"
                )
            else:
                exprs.append(raw)
        try:
            with self.steps.during(self.con, 0, 80):
                self._copy(f"SELECT {', '.join(exprs)} FROM {typed}")
        except duckdb.Error as exc:
            text = self._read_csv(layout.delimiter, dict.fromkeys(layout.names, "VARCHAR"))
            self._diagnose_csv(layout.delimiter, layout.names, text, exc)
            raise AssertionError("unreachable") from None
        with self.steps.during(self.con, 80, 99):
            report = self._check(
                f"read_parquet({literal(self.tmp)}, file_row_number = true)",
                {c.name: DUCK_TYPES[c.type] for c in self.card.columns},
                "file_row_number + 1",
            )
        return report.rows_checked

    def _read_csv(self, delimiter: str, types: dict[str, str], extra: str = "") -> str:
        columns = "{" + ", ".join(f"{literal(n)}: {literal(t)}" for n, t in types.items()) + "}"
        return (
            f"read_csv({literal(self.source)}, header = true, auto_detect = false, "
            f"delim = {literal(delimiter)}, quote = '\"', escape = '\"', nullstr = '', "
            f"allow_quoted_nulls = false, strict_mode = true, columns = {columns}{extra})"
        )

    def _diagnose_csv(
        self, delimiter: str, names: list[str], text: str, first_error: duckdb.Error
    ) -> None:
        """Explain why reading the CSV failed: malformed lines, or cells that break the card."""
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
        self._check(text, dict.fromkeys(names, "VARCHAR"), "row_number() OVER ()")
        raise InvalidInput(f"{self.source.name} is not readable CSV: {_first_line(first_error)}")

    # -- Parquet ---------------------------------------------------------
    def parquet(self) -> int:
        src = f"read_parquet({literal(self.source)})"
        try:
            schema = self.con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
        except duckdb.Error as exc:
            raise InvalidInput(
                f"{self.source.name} is not a readable Parquet file: {_first_line(exc)}"
            ) from None
        types = {str(row[0]): str(row[1]) for row in schema}
        self._check_names(list(types))
        with self.steps.during(self.con, 0, 40):
            report = self._check(
                f"read_parquet({literal(self.source)}, file_row_number = true)",
                types,
                "file_row_number + 1",
            )
        exprs = [
            f"{typed_expr(c, ident(c.name), types[c.name])} AS {ident(c.name)}"
            for c in self.card.columns
        ]
        with self.steps.during(self.con, 40, 99):
            self._copy(f"SELECT {', '.join(exprs)} FROM {src}")
        return report.rows_checked

    # -- shared ----------------------------------------------------------
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

    def _check(self, source: str, types: dict[str, str], row_expr: str) -> ViolationReport:
        report = find_violations(
            self.con,
            source,
            card=self.card,
            source_types=types,
            row_expr=row_expr,
            limit=self.limit,
            show_values=self.show_values,
        )
        if not report.ok:
            raise CardViolation(report.message(), details=report.to_details())
        if report.rows_checked == 0:
            raise InvalidInput(f"{self.source.name} has a header but no data rows")
        return report

    def _copy(self, select: str) -> None:
        meta = literal(self.card.to_json())
        self.con.execute(
            f"COPY ({select}) TO {literal(self.tmp)} (FORMAT parquet, COMPRESSION zstd, "
            f"KV_METADATA {{{literal(CARD_METADATA_KEY)}: {meta}}})"
        )


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
