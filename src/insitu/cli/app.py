"""What every command shares: error handling, output (rich or ``--json``), connection options."""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from insitu.client import NodeClient
from insitu.errors import InsituError, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])

out = Console()
err = Console(stderr=True)


def fail(code: str, message: str, *, exit_code: int = 1) -> typer.Exit:
    """Print one red line ``error[code]: message``; return the ``Exit`` to raise."""
    line = Text.assemble(("error", "bold red"), (f"[{code}] ", "red"), message)
    err.print(line, highlight=False, soft_wrap=True)
    return typer.Exit(exit_code)


def guarded(fn: F) -> F:
    """Turn insitu errors (and timeouts) into one clean red line and a non-zero exit."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InsituError as exc:
            raise fail(exc.code, exc.message) from None
        except TimeoutError as exc:
            raise fail("timeout", str(exc)) from None

    return run  # type: ignore[return-value]


class App(typer.Typer):
    """A Typer app whose commands print insitu errors as one line instead of a traceback.

    Local variables are never shown in tracebacks: they may hold tokens.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("no_args_is_help", True)
        kwargs.setdefault("pretty_exceptions_show_locals", False)
        kwargs.setdefault("add_completion", False)
        super().__init__(**kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        register = super().command(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(guarded(fn))
            return fn

        return decorator


# -- output -----------------------------------------------------------------------------
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of tables.")
]


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout, never wrapped or coloured."""
    typer.echo(json.dumps(value, indent=2, default=str, sort_keys=False))


def _is_frame(value: Any) -> bool:
    """Whether ``value`` is a DataFrame, without importing pandas when nothing did yet."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.DataFrame)


def to_jsonable(value: Any) -> Any:
    """Plain JSON for records, listings and DataFrames."""
    if _is_frame(value):
        return json.loads(value.to_json(orient="records", date_format="iso"))
    if hasattr(value, "to_dict") and not isinstance(value, dict):
        return to_jsonable(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def rows_table(rows: Iterable[Mapping[str, Any]], *, title: str | None = None) -> Table:
    """A rich table with one column per key of the first row."""
    items = list(rows)
    table = Table(title=title, show_lines=False)
    columns = list(items[0]) if items else ["(none)"]
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in items:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def show_rows(rows: list[dict[str, Any]], *, as_json: bool, title: str) -> None:
    """Print rows as JSON or as a table."""
    if as_json:
        emit_json(rows)
    else:
        out.print(rows_table(rows, title=title))


def show_done(message: str, data: dict[str, Any], *, as_json: bool) -> None:
    """Confirm an action: ``data`` as JSON, or ``message`` as one line."""
    if as_json:
        emit_json(data)
    else:
        out.print(message, highlight=False)


def fields_table(fields: Mapping[str, Any], *, title: str | None = None) -> Table:
    """A two-column rich table: field, value."""
    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in fields.items():
        table.add_row(key, _cell(value))
    return table


def frame_table(frame: pd.DataFrame, *, max_rows: int = 40, title: str | None = None) -> Table:
    """The first ``max_rows`` rows of a DataFrame as a rich table."""
    shown = frame.head(max_rows)
    caption = f"{len(shown)} of {len(frame)} rows" if len(frame) > max_rows else None
    table = Table(title=title, caption=caption)
    for col in shown.columns:
        table.add_column(str(col), overflow="fold")
    for row in shown.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def show_value(value: Any, *, as_json: bool, title: str | None = None) -> None:
    """Show a decoded result: a DataFrame as a table, anything else as JSON."""
    if as_json:
        emit_json(to_jsonable(value))
    elif _is_frame(value):
        out.print(frame_table(value, title=title))
    elif isinstance(value, bytes):
        out.print(f"{len(value)} bytes of binary output; use --out FILE to save them")
    else:
        out.print_json(json.dumps(value, default=str))


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Save a DataFrame as ``.csv`` or ``.parquet`` (by suffix)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        raise typer.BadParameter(f"{path}: use a .csv or .parquet file name")


# -- connection options -----------------------------------------------------------------
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", envvar="INSITU_URL", help="Node URL.", show_default=False),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="INSITU_TOKEN",
        help="Bearer token (better: $INSITU_TOKEN).",
        show_default=False,
        show_envvar=True,
    ),
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca-bundle",
        envvar="INSITU_CA_BUNDLE",
        help="CA bundle for the node's TLS.",
        show_default=False,
    ),
]


def remote(url: str | None, token: str | None, ca_bundle: Path | None) -> NodeClient:
    """A client connection from the common options (the token is never printed)."""
    from insitu.client import connect

    if not url:
        raise InvalidInput("no node URL: pass --url or set $INSITU_URL")
    if not token:
        raise InvalidInput("no token: set $INSITU_TOKEN (or pass --token)")
    return connect(url, token=token, verify=ca_bundle if ca_bundle is not None else True)


_CONNECTION = (
    ("url", UrlOpt),
    ("token", TokenOpt),
    ("ca_bundle", CaOpt),
)


def remote_command(app: typer.Typer, name: str) -> Callable[[F], F]:
    """Register ``fn(node, ..., as_json)`` as a command with the connection and ``--json`` options.

    The command connects with ``--url``/``--token``/``--ca-bundle`` (or
    ``$INSITU_URL``/``$INSITU_TOKEN``/``$INSITU_CA_BUNDLE``), passes the open
    :class:`~insitu.client.NodeClient` as the first argument and closes it
    afterwards.
    """

    def decorator(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        own = [p for p in sig.parameters.values() if p.name not in ("node", "as_json")]
        kw = inspect.Parameter.KEYWORD_ONLY
        added = [inspect.Parameter(n, kw, annotation=a, default=None) for n, a in _CONNECTION]
        added.append(inspect.Parameter("as_json", kw, annotation=JsonOpt, default=False))
        params = [p.replace(kind=kw) for p in own] + added

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            conn = [kwargs.pop(n) for n, _ in _CONNECTION]
            with remote(*conn) as node:
                return fn(node, **kwargs)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # type: ignore[attr-defined]
        app.command(name)(command)
        return fn

    return decorator
