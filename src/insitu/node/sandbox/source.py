"""Check a custom-code request's source: exactly one top-level function, nothing else."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from insitu.errors import InvalidInput

MAX_SOURCE_CHARS = 200_000


@dataclass(frozen=True)
class FunctionInfo:
    """What the owner and the runner need to know about submitted code.

    Attributes
    ----------
    name:
        The function's name.
    parameters:
        Its parameter names, in order; each must be an approved dataset's name.
    docstring:
        Its docstring, if any, shown to the owner next to the source.
    """

    name: str
    parameters: tuple[str, ...]
    docstring: str | None = None


def check_source(source: str) -> FunctionInfo:
    """Parse ``source`` and describe its single top-level function.

    The module may hold exactly one ``def`` (a docstring before it is fine;
    imports belong inside the function). Parameters must be plain named
    parameters: no ``*args``, ``**kwargs`` or defaults, so that every argument
    is a dataset the owner approved by name.

    This is a shape check for reviewers, not a security check: anything the
    function body does is confined at run time by the sandbox.

    Raises
    ------
    TypeError
        ``source`` is not a string.
    InvalidInput
        Syntax error, anything but one function at top level, or a
        parameter list the runner cannot fill.
    """
    if not isinstance(source, str):
        raise TypeError("source must be a string")
    if len(source) > MAX_SOURCE_CHARS:
        raise InvalidInput(f"source is longer than {MAX_SOURCE_CHARS} characters")
    try:
        module = ast.parse(source, filename="<custom code>", mode="exec")
    except SyntaxError as exc:
        where = f" on line {exc.lineno}" if exc.lineno else ""
        raise InvalidInput(f"syntax error{where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. null bytes
        raise InvalidInput(f"source cannot be parsed: {exc}") from None
    body = list(module.body)
    if body and _is_docstring(body[0]) and len(body) > 1:
        body = body[1:]
    functions = [node for node in body if isinstance(node, ast.FunctionDef)]
    others = [node for node in body if not isinstance(node, ast.FunctionDef)]
    if others:
        node = others[0]
        raise InvalidInput(
            f"line {node.lineno}: only one function definition is allowed at top level, "
            f"found {type(node).__name__.lower()} (put imports inside the function)"
        )
    if len(functions) != 1:
        raise InvalidInput(
            f"the source must define exactly one top-level function, found {len(functions)}"
        )
    function = functions[0]
    if function.decorator_list:
        raise InvalidInput("the function must not have decorators")
    args = function.args
    has_defaults = args.defaults or any(d is not None for d in args.kw_defaults)
    if args.vararg or args.kwarg or has_defaults or args.posonlyargs:
        raise InvalidInput(
            "parameters must be plain names (one per dataset): "
            "no *args, **kwargs, defaults or positional-only markers"
        )
    names = tuple(a.arg for a in (*args.args, *args.kwonlyargs))
    return FunctionInfo(name=function.name, parameters=names, docstring=ast.get_docstring(function))


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )
