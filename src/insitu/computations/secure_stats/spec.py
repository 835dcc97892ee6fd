"""The public spec of a secure-statistics job: parties, statistics, bounds, DP option."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from insitu.computations.secure_stats.rounds import Roles
from insitu.crypto.hashing import hash_json
from insitu.errors import InvalidInput
from insitu.tables.card import Card

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class Count(BaseModel):
    """Number of rows (or the sum of ``weight``)."""

    model_config = _FROZEN
    kind: Literal["count"] = "count"
    name: str = "count"
    weight: str | None = None


class Sum(BaseModel):
    """Sum of a bounded numeric column, optionally weighted."""

    model_config = _FROZEN
    kind: Literal["sum"] = "sum"
    name: str = ""
    column: str
    weight: str | None = None


class Mean(BaseModel):
    """Mean of a bounded numeric column, optionally weighted."""

    model_config = _FROZEN
    kind: Literal["mean"] = "mean"
    name: str = ""
    column: str
    weight: str | None = None


class Variance(BaseModel):
    """Variance Σw(x−x̄)²/(Σw − ddof); with no weight, w = 1 (frequency weights)."""

    model_config = _FROZEN
    kind: Literal["variance"] = "variance"
    name: str = ""
    column: str
    weight: str | None = None
    ddof: int = Field(default=1, ge=0)


class Histogram(BaseModel):
    """Counts per declared category, or per equal-width bin of a bounded numeric column."""

    model_config = _FROZEN
    kind: Literal["histogram"] = "histogram"
    name: str = ""
    column: str
    bins: int | None = Field(default=None, ge=1, le=1_000_000)
    weight: str | None = None


class CrossTable(BaseModel):
    """Counts per pair of categories of two category (or boolean) columns."""

    model_config = _FROZEN
    kind: Literal["crosstab"] = "crosstab"
    name: str = ""
    rows: str
    cols: str
    weight: str | None = None


class Quantiles(BaseModel):
    """Quantiles read off a fine histogram; error at most one bin width."""

    model_config = _FROZEN
    kind: Literal["quantiles"] = "quantiles"
    name: str = ""
    column: str
    probs: list[float] = Field(min_length=1)
    bins: int = Field(default=1000, ge=2, le=1_000_000)


class Ols(BaseModel):
    """Ordinary least squares of ``y`` on ``x`` (category columns become dummies)."""

    model_config = _FROZEN
    kind: Literal["ols"] = "ols"
    name: str = ""
    y: str
    x: list[str] = Field(min_length=1)
    intercept: bool = True


class Logistic(BaseModel):
    """Logistic regression of a 0/1 ``y`` on ``x`` by ``iterations`` Newton steps."""

    model_config = _FROZEN
    kind: Literal["logistic"] = "logistic"
    name: str = ""
    y: str
    x: list[str] = Field(min_length=1)
    intercept: bool = True
    iterations: int = Field(default=8, ge=1, le=50)


Statistic = Annotated[
    Count | Sum | Mean | Variance | Histogram | CrossTable | Quantiles | Ols | Logistic,
    Field(discriminator="kind"),
]


class DpOption(BaseModel):
    """Distributed discrete Gaussian noise; ``rho`` is the total ρ-zCDP cost per dataset."""

    model_config = _FROZEN
    rho: float = Field(gt=0, le=100)


class SecureStatsSpec(BaseModel):
    """Everything the parties agree on before a job runs; its hash names the job.

    ``card`` is the common public card of all input datasets: its bounds fix the
    fixed-point headroom and the DP sensitivity. ``max_rows`` bounds the total
    number of rows over all inputs (public). ``quorum`` is the fewest inputs that
    must contribute; ``None`` requires all of them.
    """

    model_config = _FROZEN
    job_id: str = Field(min_length=1, max_length=128)
    card: Card
    input_parties: list[str] = Field(min_length=1)
    computing_parties: list[str] = Field(min_length=2, max_length=3)
    result_party: str
    statistics: list[Statistic] = Field(min_length=1)
    max_rows: int = Field(ge=1, le=2**40)
    frac_bits: int = Field(default=24, ge=0, le=40)
    quorum: int | None = Field(default=None, ge=1)
    dp: DpOption | None = None
    timeout: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> SecureStatsSpec:
        roles = [*self.input_parties, *self.computing_parties, self.result_party]
        if len(set(roles)) != len(roles):
            raise ValueError("every party name must be distinct and play one role")
        if self.quorum is not None and self.quorum > len(self.input_parties):
            raise ValueError("quorum exceeds the number of input parties")
        names = [s.name or default_name(s) for s in self.statistics]
        if len(set(names)) != len(names):
            raise ValueError("statistic names must be distinct")
        return self

    @classmethod
    def parse(cls, data: object) -> SecureStatsSpec:
        """Validate a parsed spec, turning validation errors into :class:`InvalidInput`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            raise InvalidInput("invalid secure-stats spec: " + "; ".join(problems)) from None

    @property
    def required(self) -> int:
        """How many inputs must contribute."""
        return self.quorum if self.quorum is not None else len(self.input_parties)

    def digest(self) -> str:
        """Hex SHA-256 of the canonical JSON of the spec."""
        return hash_json(self.model_dump(mode="json"))

    def session(self) -> bytes:
        """16-byte session id binding every protocol message to this spec."""
        return bytes.fromhex(self.digest())[:16]

    def roles(self) -> Roles:
        """The parties and timeout, as the aggregation rounds need them."""
        return Roles(
            job_id=self.job_id,
            session=self.session(),
            input_parties=tuple(self.input_parties),
            computing_parties=tuple(self.computing_parties),
            result_party=self.result_party,
            timeout=self.timeout,
        )

    def names(self) -> list[str]:
        """The output name of each statistic, in order."""
        return [s.name or default_name(s) for s in self.statistics]


def default_name(stat: BaseModel) -> str:
    """``kind_column`` style name of a statistic that has none."""
    kind = str(getattr(stat, "kind", "stat"))
    for attr in ("column", "y", "rows"):
        value = getattr(stat, attr, None)
        if isinstance(value, str):
            return f"{kind}_{value}"
    return kind


__all__ = [
    "Count",
    "CrossTable",
    "DpOption",
    "Histogram",
    "Logistic",
    "Mean",
    "Ols",
    "Quantiles",
    "SecureStatsSpec",
    "Statistic",
    "Sum",
    "Variance",
    "default_name",
]
