"""Plain client-side records (members, tokens, policies), listings and decoded results."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, is_dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from insitu.errors import InternalError

if TYPE_CHECKING:
    import pandas as pd

# pandas is imported on first use: commands that show no tables start faster.
PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"


T = TypeVar("T")


class Listing(list[T], Generic[T]):
    """A list that also shows itself as a table (``to_frame()``, HTML in Jupyter)."""

    def to_frame(self) -> pd.DataFrame:
        """The items as a pandas DataFrame, one row each."""
        import pandas as pd

        return pd.DataFrame([_row(item) for item in self])

    def _repr_html_(self) -> str:
        if not self:
            return "<em>(none)</em>"
        frame: str = self.to_frame()._repr_html_()  # type: ignore[operator]
        return frame


def _row(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "summary"):
        summary: dict[str, Any] = item.summary()
        return summary
    if hasattr(item, "to_dict"):
        data: dict[str, Any] = item.to_dict()
        return data
    if is_dataclass(item) and not isinstance(item, type):
        return asdict(item)
    return {"value": item}


@dataclass(frozen=True)
class MemberInfo:
    """A member of the node as the owner sees it."""

    name: str
    role: str
    created_at: str | None = None
    disabled: bool = False

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> MemberInfo:
        return cls(
            name=data["name"],
            role=data["role"],
            created_at=data.get("created_at"),
            disabled=bool(data.get("disabled", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TokenInfo:
    """A token's metadata (never the token itself)."""

    id: int
    member: str
    label: str = ""
    created_at: str | None = None
    expires_at: str | None = None
    revoked_at: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> TokenInfo:
        return cls(
            id=int(data["id"]),
            member=data["member"],
            label=data.get("label", ""),
            created_at=data.get("created_at"),
            expires_at=data.get("expires_at"),
            revoked_at=data.get("revoked_at"),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, repr=False)
class IssuedToken:
    """A new bearer token, shown once: hand ``.token`` to ``.member`` and keep no copy.

    ``repr`` hides the token, so it does not end up in notebooks or logs by accident.
    """

    member: MemberInfo
    token: str
    info: TokenInfo

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> IssuedToken:
        return cls(
            MemberInfo.from_wire(data["member"]),
            data["token"],
            TokenInfo.from_wire(data["token_info"]),
        )

    def __repr__(self) -> str:
        expires = self.info.expires_at or "never"
        return (
            f"IssuedToken(member={self.member.name!r}, role={self.member.role!r}, "
            f"token_id={self.info.id}, expires={expires!r}, token=<hidden: read .token>)"
        )

    def __str__(self) -> str:
        return repr(self)


@dataclass(frozen=True)
class PolicyInfo:
    """An owner's auto-approval rule."""

    name: str
    rule: dict[str, Any]
    created_at: str | None = None
    created_by: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> PolicyInfo:
        return cls(data["name"], dict(data["rule"]), data.get("created_at"), data.get("created_by"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def listing(items: Iterable[T]) -> Listing[T]:
    return Listing(items)


def decode_result(data: bytes, media_type: str) -> Any:
    """A result's Python value: Parquet → DataFrame, JSON → dict/list/number, else bytes."""
    kind = media_type.split(";")[0].strip().lower()
    if kind == PARQUET:
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if kind == JSON:
        try:
            return json.loads(data)
        except ValueError:
            raise InternalError("the node sent a JSON result that does not parse") from None
    return data


def html_table(rows: Iterable[tuple[str, Any]], *, title: str = "") -> str:
    """A small two-column HTML table (for ``_repr_html_``)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    head = f"<strong>{html.escape(title)}</strong>" if title else ""
    return f"{head}<table>{body}</table>"
