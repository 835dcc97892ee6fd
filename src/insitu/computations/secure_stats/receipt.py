"""What a secure-statistics job hands back to each party: values and a receipt."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from insitu.errors import ProtocolAbort


@dataclass(frozen=True)
class Receipt:
    """The record of one job as one party saw it.

    Attributes
    ----------
    job_id, spec_hash:
        Which job, and the SHA-256 of its canonical spec.
    party, role:
        Who holds this receipt, and as what (``input``, ``computing``, ``result``).
    contributors:
        Each input party whose data is in the result, with the kinds of
        statistic it contributed sufficient statistics to.
    left_out:
        Input parties that declined, failed or timed out before sharing.
    rounds:
        Aggregation rounds run (more than one only for logistic regression).
    rho:
        ρ-zCDP (nats) to charge to every contributing input dataset; ``None``
        when the result is exact (no DP noise), which owners must approve as such.
    precision:
        Per block of sums: fractional bits, worst-case rounding error of each
        aggregated sum, and (with DP) the standard deviation of its noise.
    """

    job_id: str
    spec_hash: str
    party: str
    role: str
    contributors: dict[str, list[str]]
    left_out: list[str]
    rounds: int
    rho: float | None
    precision: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, *, party: str, role: str) -> Receipt:
        """Rebuild a receipt sent by the result party, relabelled for ``party``."""
        try:
            return cls(
                job_id=str(data["job_id"]),
                spec_hash=str(data["spec_hash"]),
                party=party,
                role=role,
                contributors={str(k): [str(s) for s in v] for k, v in data["contributors"].items()},
                left_out=[str(p) for p in data["left_out"]],
                rounds=int(data["rounds"]),
                rho=None if data["rho"] is None else float(data["rho"]),
                precision={
                    str(k): {str(a): float(b) for a, b in v.items()}
                    for k, v in data["precision"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProtocolAbort("malformed receipt from the result party") from None


@dataclass(frozen=True)
class SecureStatsResult:
    """A party's outcome: the receipt, and the statistics for the result party only."""

    receipt: Receipt
    values: dict[str, Any] | None = None


__all__ = ["Receipt", "SecureStatsResult"]
