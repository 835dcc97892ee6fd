"""The collaboration spec: what every party approves before a multi-party job runs.

A spec names the computation and its parameters, the parties (name, URL,
public key, roles, datasets used), the privacy cost each input dataset pays,
the result parties and a timeout. Every party approves the *same* spec,
identified by :meth:`CollaborationSpec.spec_hash` (SHA-256 of its canonical
JSON), and records that hash in its audit log.

Privacy units: ``epsilon`` is pure or approximate DP loss in nats with
``delta`` its failure probability; ``rho`` is zero-concentrated DP (zCDP)
loss. A cost states either ``epsilon`` (with optional ``delta``) or ``rho``,
or says ``exact=True``: the output derived from that dataset is released
without DP noise, which its owner must approve knowingly (the flag is shown
on the approval page and recorded in the receipt).
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from insitu.crypto.hashing import canonical_json, sha256_hex
from insitu.crypto.signing import VerifyKey
from insitu.errors import InvalidInput

SPEC_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_COLLAB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _matching(pattern: re.Pattern[str], rule: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"{value!r} is not {rule}")
        return value

    return AfterValidator(check)


SimpleName = Annotated[
    str, _matching(_NAME, "a name of 1-63 letters, digits, '_', '.', '-' (e.g. 'secure_count')")
]
CollabId = Annotated[str, _matching(_COLLAB_ID, "an id of 1-128 letters, digits, '_', '.', '-'")]


class Role(StrEnum):
    """A party's roles (UN terms): holds data, runs the protocol, receives the output."""

    INPUT = "input"
    COMPUTING = "computing"
    RESULT = "result"


class Party(BaseModel):
    """One node taking part in a collaboration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: SimpleName
    url: str
    public_key: str
    roles: frozenset[Role]
    datasets: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
            raise ValueError("url must be http(s)://host[:port][/path] without query")
        return value.rstrip("/")

    @field_validator("public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        VerifyKey.from_text(value)  # raises ValueError with a clear message
        return value

    @model_validator(mode="after")
    def _roles(self) -> Party:
        if not self.roles:
            raise ValueError(f"party {self.name!r} has no role (input, computing or result)")
        if Role.INPUT in self.roles and not self.datasets:
            raise ValueError(f"input party {self.name!r} names no dataset")
        if Role.INPUT not in self.roles and self.datasets:
            raise ValueError(f"party {self.name!r} lists datasets but has no input role")
        if len(set(self.datasets)) != len(self.datasets):
            raise ValueError(f"party {self.name!r} lists a dataset twice")
        return self

    @property
    def verify_key(self) -> VerifyKey:
        """The party's public key as an object."""
        return VerifyKey.from_text(self.public_key)


class PrivacyCost(BaseModel):
    """What one input dataset pays: ``epsilon`` (nats, optional ``delta``), ``rho`` (zCDP) or
    ``exact=True`` (no DP: the owner approves an exact release)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    party: str
    dataset: str
    epsilon: float | None = Field(default=None, ge=0)
    delta: float | None = Field(default=None, ge=0, lt=1)
    rho: float | None = Field(default=None, ge=0)
    exact: bool = False

    @model_validator(mode="after")
    def _one_unit(self) -> PrivacyCost:
        where = f"{self.party}/{self.dataset}"
        given = (self.epsilon is not None) + (self.rho is not None) + self.exact
        if given != 1:
            raise ValueError(
                f"privacy cost of {where} must give exactly one of epsilon, rho or exact=true"
            )
        if self.delta is not None and self.epsilon is None:
            raise ValueError(f"privacy cost of {where}: delta goes with epsilon, not rho")
        for value in (self.epsilon, self.delta, self.rho):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"privacy cost of {where} must be finite")
        return self


class CollaborationSpec(BaseModel):
    """A multi-party job as all parties approve it.

    Build one with :meth:`parse` to get :class:`~insitu.errors.InvalidInput`
    with every problem listed, rather than pydantic's error type.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = SPEC_VERSION
    collab_id: CollabId
    computation: SimpleName
    parameters: dict[str, Any] = Field(default_factory=dict)
    parties: tuple[Party, ...]
    privacy_costs: tuple[PrivacyCost, ...] = ()
    result_parties: tuple[str, ...]
    timeout_seconds: float = Field(gt=0, le=7 * 24 * 3600)

    @field_validator("version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != SPEC_VERSION:
            raise ValueError(f"unsupported spec version {value}; expected {SPEC_VERSION}")
        return value

    @field_validator("parameters")
    @classmethod
    def _json_parameters(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            canonical_json(value)
        except (TypeError, ValueError):
            raise ValueError("parameters must be plain JSON (no NaN, no infinities)") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CollaborationSpec:
        names = [p.name for p in self.parties]
        if len(names) < 2:
            raise ValueError("a collaboration needs at least two parties")
        for label, values in (
            ("party name", names),
            ("url", [p.url for p in self.parties]),
            ("public key", [p.public_key for p in self.parties]),
        ):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"duplicate {label}: {', '.join(dupes)}")
        by_name = {p.name: p for p in self.parties}
        if not self.result_parties:
            raise ValueError("at least one result party is required")
        if len(set(self.result_parties)) != len(self.result_parties):
            raise ValueError("a result party is listed twice")
        for name in self.result_parties:
            if name not in by_name:
                raise ValueError(f"result party {name!r} is not among the parties")
        with_result_role = {p.name for p in self.parties if Role.RESULT in p.roles}
        if with_result_role != set(self.result_parties):
            raise ValueError(
                "result_parties must be exactly the parties with the result role "
                f"(have {sorted(self.result_parties)}, roles say {sorted(with_result_role)})"
            )
        if not any(Role.INPUT in p.roles for p in self.parties):
            raise ValueError("no party has the input role")
        _check_costs(self.privacy_costs, by_name)
        return self

    @classmethod
    def parse(cls, data: Any) -> CollaborationSpec:
        """Validate ``data`` (a mapping); raise :class:`InvalidInput` listing every problem."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [_describe(err) for err in exc.errors()]
            raise InvalidInput(
                "invalid collaboration spec: " + "; ".join(problems), details=problems
            ) from None

    def to_json_value(self) -> dict[str, Any]:
        """The spec as plain JSON data, roles and datasets sorted."""
        value = self.model_dump(mode="json")
        for party in value["parties"]:
            party["roles"] = sorted(party["roles"])
        return value

    def canonical_json(self) -> bytes:
        """Deterministic bytes of the spec: the thing every party signs off."""
        return canonical_json(self.to_json_value())

    def spec_hash(self) -> str:
        """Hex SHA-256 of :meth:`canonical_json`."""
        return sha256_hex(self.canonical_json())

    def party(self, name: str) -> Party:
        """The party called ``name``; :class:`InvalidInput` if there is none."""
        for p in self.parties:
            if p.name == name:
                return p
        raise InvalidInput(f"no party {name!r} in collaboration {self.collab_id!r}")

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parties)

    def party_keys(self) -> dict[str, VerifyKey]:
        """Every party's public key by name (for :class:`~.inbound.PeerInbound`)."""
        return {p.name: p.verify_key for p in self.parties}


def _check_costs(costs: tuple[PrivacyCost, ...], by_name: dict[str, Party]) -> None:
    seen: set[tuple[str, str]] = set()
    for cost in costs:
        where = (cost.party, cost.dataset)
        party = by_name.get(cost.party)
        if party is None or cost.dataset not in party.datasets:
            raise ValueError(
                f"privacy cost names {cost.party}/{cost.dataset}, not an input dataset"
            )
        if where in seen:
            raise ValueError(f"privacy cost for {cost.party}/{cost.dataset} given twice")
        seen.add(where)
    for party in by_name.values():
        for dataset in party.datasets:
            if (party.name, dataset) not in seen:
                raise ValueError(f"input dataset {party.name}/{dataset} has no privacy cost")


def _describe(err: Any) -> str:
    loc = ".".join(str(part) for part in err.get("loc", ()))
    msg = str(err.get("msg", "invalid"))
    msg = msg.removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


__all__ = ["SPEC_VERSION", "CollaborationSpec", "Party", "PrivacyCost", "Role"]
