"""From the DuckDB aggregates to the released table: true measurements, noise, post-processing.

Pure Python over the few per-group integers DuckDB returned; nothing here
reads data. The noise is OpenDP's (through :func:`insitu.dp.mechanisms.add_noise`);
everything after it is post-processing and costs no privacy.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from insitu.computations.dp_query.derive import Cell, Estimate, derive, histogram
from insitu.computations.dp_query.measures import Grid, MKind, Share, count_for, measurements
from insitu.computations.dp_query.plan import AggKind, Plan
from insitu.dp.mechanisms import add_noise
from insitu.dp.postprocess import margin_sums, suppressed
from insitu.tables.card import Card, ColumnType

Key = tuple[Any, ...]


@dataclass(frozen=True)
class Presentation:
    """Post-processing choices (they cost no privacy).

    nonnegative: negative noisy counts become 0 (before margins, so margins add up).
    digits: round sums, means and the like to this many decimals (None: keep).
    suppress_below: blank every value of a row whose noisy COUNT(*) is below this.
    margins: add rows totalling over each subset of the group keys (labelled ``total_label``).
    level: confidence level of the intervals.
    """

    nonnegative: bool = True
    digits: int | None = None
    suppress_below: float | None = None
    margins: bool = False
    total_label: str = "Total"
    level: float = 0.95


def domain(card: Card, key: str) -> list[Any] | None:
    """Declared values of a group key (booleans: False, True); None for strings."""
    col = card.column(key)
    if col.type is ColumnType.CATEGORY:
        return list(col.categories or [])
    if col.type is ColumnType.BOOLEAN:
        return [False, True]
    return None  # string: partition selection


def true_values(
    plan: Plan, card: Card, rows: list[tuple[Any, ...]], names: list[str], grids: dict[str, Grid]
) -> dict[Key, dict[str, Any]]:
    """Exact measurement values per observed group, from Σy, Σy², counts and bin maps.

    Centred sums are formed here in exact integer arithmetic:
    Σ(2y − lo − hi) = 2Σy − (lo + hi)·n and
    Σ(2y − lo − hi)² = 4Σy² − 4(lo + hi)Σy + (lo + hi)²·n.
    """
    nk = len(plan.group_by)
    out: dict[Key, dict[str, Any]] = {}
    mkeys = [m.key for m in measurements(plan, card)]
    for row in rows:
        raw = dict(zip(names, row[nk:], strict=True))
        vals: dict[str, Any] = {}
        for s in mkeys:
            kind, _, rest = s.partition(":")
            col = rest.split(":")[0]
            n = int(raw.get(f"count:{col}", raw.get("count", 0)) or 0)
            if kind == MKind.COUNT:
                vals[s] = int(raw[s] or 0)
            elif kind == MKind.SUM:
                vals[s] = int(raw[f"sum:{col}"] or 0)
            elif kind == MKind.CSUM:
                g = grids[col]
                vals[s] = 2 * int(raw[f"sum:{col}"] or 0) - (g.lo + g.hi) * n
            elif kind == MKind.CSQ:
                g, m = grids[col], grids[col].lo + grids[col].hi
                sy, sq = int(raw[f"sum:{col}"] or 0), int(raw[f"sq:{col}"] or 0)
                vals[s] = 4 * sq - 4 * m * sy + m * m * n
            else:
                bins = int(rest.split(":")[1])
                hist = raw[s] or {}
                vals[s] = [int(hist.get(b, 0)) for b in range(bins)]
        out[tuple(row[:nk])] = vals
    return out


def universe(plan: Plan, card: Card, observed: Sequence[Key]) -> list[Key]:
    """Groups to release: every declared key combination, or the partition-selection candidates.

    With a string key, the candidates are the observed keys whose declared
    parts hold declared values; selection then keeps those above the threshold.
    """
    domains = [domain(card, k) for k in plan.group_by]
    if all(d is not None for d in domains):
        return [tuple(k) for k in itertools.product(*[d or [] for d in domains])]
    keep = []
    for key in observed:
        if all(v is not None and (d is None or v in d) for v, d in zip(key, domains, strict=True)):
            keep.append(key)
    return sorted(keep, key=lambda k: tuple(str(v) for v in k))


def noisy(
    shares: tuple[Share, ...], keys: list[Key], true: dict[Key, dict[str, Any]]
) -> dict[Key, dict[str, Any]]:
    """Each measurement's vector over ``keys`` plus its OpenDP noise (absent groups count 0)."""
    out: dict[Key, dict[str, Any]] = {k: {} for k in keys}
    for s in shares:
        mk, width = s.measurement.key, s.measurement.width
        flat: list[int] = []
        for k in keys:
            v = true.get(k, {}).get(mk, [0] * width if width > 1 else 0)
            flat.extend(v if isinstance(v, list) else [v])
        noisy = add_noise(flat, s.noise)
        for i, k in enumerate(keys):
            part = noisy[i * width : (i + 1) * width]
            out[k][mk] = part if s.measurement.kind is MKind.HIST else part[0]
    return out


def margins(cells: dict[Key, dict[str, Any]], nkeys: int, label: str) -> list[tuple[Key, Cell]]:
    """Margin rows over every non-empty subset of the group keys, summed from the cells."""
    rows: list[tuple[Key, Cell]] = []
    for r in range(1, nkeys + 1):
        for axes in itertools.combinations(range(nkeys), r):
            summed = margin_sums(cells, axes=axes, label=label)
            rows.extend((k, Cell(v, n)) for k, (v, n) in summed.items())
    return rows


def build_table(
    plan: Plan,
    card: Card,
    rows: list[tuple[Key, Cell]],
    shares: tuple[Share, ...],
    grids: dict[str, Grid],
    pres: Presentation,
) -> pd.DataFrame:
    """The released table: group keys, then value, _sd, _ci_low, _ci_high per aggregate."""
    by_key = {s.measurement.key: s for s in shares}
    counts_of = {a.alias: count_for(card, a.column).key for a in plan.aggregates}
    columns: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        columns.setdefault(name, []).append(value)

    for key, cell in rows:
        agg = plan.aggregates[0]
        if agg.kind is AggKind.HISTOGRAM:
            assert agg.column is not None and agg.bins is not None
            mk = f"hist:{agg.column}:{agg.bins}"
            counts = cell.values[mk]
            assert isinstance(counts, list)
            if pres.nonnegative:
                counts = [max(c, 0) for c in counts]
            g = grids[agg.column]
            width = (g.upper - g.lower) / agg.bins
            for b, est in enumerate(histogram(counts, by_key[mk], cell, level=pres.level)):
                for k, v in zip(plan.group_by, key, strict=True):
                    put(k, v)
                put("bin_lower", g.lower + width * b)
                put("bin_upper", g.lower + width * (b + 1))
                _put_estimate(put, agg.alias, est, True, pres)
            continue
        for k, v in zip(plan.group_by, key, strict=True):
            put(k, v)
        for a in plan.aggregates:
            est = derive(a, cell, by_key, counts_of[a.alias], grids, level=pres.level)
            _put_estimate(put, a.alias, est, a.kind is AggKind.COUNT, pres)
    df = pd.DataFrame(columns)
    if pres.suppress_below is not None and not df.empty:
        alias = next(
            a.alias for a in plan.aggregates if a.kind is AggKind.COUNT and a.column is None
        )
        mask = suppressed(df[alias].tolist(), below=pres.suppress_below)
        value_cols = [c for c in df.columns if c not in plan.group_by]
        df.loc[mask, value_cols] = float("nan")
        df["suppressed"] = mask
    return df


def _put_estimate(
    put: Callable[[str, Any], None], alias: str, est: Estimate, count: bool, pres: Presentation
) -> None:
    value, low, high = est.value, est.low, est.high
    if count and pres.nonnegative:
        value, low = max(value, 0.0), max(low, 0.0)
    if pres.digits is not None and not count:
        value, low, high = (round(v, pres.digits) for v in (value, low, high))
    put(alias, value)
    put(f"{alias}_sd", est.sd)
    put(f"{alias}_ci_low", low)
    put(f"{alias}_ci_high", high)
