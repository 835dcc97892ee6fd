"""Executing DP queries: bounds, clamping, declared groups, selection, post-processing, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dpq_fixtures import CARD, frame, write
from scipy import stats

from insitu.computations.dp_query import (
    Presentation,
    compile_sql,
    dry_run,
    execute,
    plan_cost,
    prepare_dataset,
)
from insitu.errors import InvalidInput, QueryError
from insitu.tables.card import Card

EXACT = 1e12  # ρ so large that the noise is (almost surely) zero: checks the arithmetic


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write(tmp_path)


def _reference(*, declared_only: bool = True) -> pd.DataFrame:
    """The bounded, clamped table by hand: p0's 10 identical rows become 2."""
    df = frame()
    df = pd.concat([df[df.person_id != "p0"], df[df.person_id == "p0"].head(2)])
    if declared_only:  # grouping on region drops the undeclared 'west'
        df = df[df.region.isin(["north", "south", "east"])]
    df = df.copy()
    df["age"] = df.age.clip(0, 100)
    df["income"] = df.income.clip(0, 1000)
    return df


def test_contribution_bounds_and_clamping_hold(data: Path) -> None:
    plan = compile_sql(
        "SELECT region, COUNT(*), COUNT(income), SUM(age), SUM(income), AVG(income), "
        "VAR_POP(age) FROM persons GROUP BY region",
        CARD,
    )
    out = execute(plan, data, CARD, rho=EXACT).table.set_index("region")
    ref = _reference().groupby("region")
    assert list(out.index) == ["north", "south", "east"]  # 'west' is not declared
    for region in out.index:
        assert out.loc[region, "count"] == len(ref.get_group(region))
        assert out.loc[region, "count_income"] == ref.get_group(region).income.notna().sum()
        assert out.loc[region, "sum_age"] == ref.get_group(region).age.sum()
        assert out.loc[region, "sum_income"] == pytest.approx(
            ref.get_group(region).income.sum(), abs=0.01
        )
        assert out.loc[region, "mean_income"] == pytest.approx(
            ref.get_group(region).income.mean(), abs=0.01
        )
        assert out.loc[region, "variance_age"] == pytest.approx(
            ref.get_group(region).age.var(ddof=0), rel=1e-6
        )
    assert (
        out.loc["north", "sum_age"]
        <= 100 * 2 + _reference().query("region == 'north' and person_id != 'p0'").age.sum()
    )


def test_quantiles_and_histograms(data: Path) -> None:
    plan = compile_sql("SELECT MEDIAN(age) AS med, QUANTILE(age, 0.9) AS p90 FROM persons", CARD)
    row = execute(plan, data, CARD, rho=EXACT).table.iloc[0]
    ages = _reference(declared_only=False).age
    bin_width = 100 / 64
    assert abs(row.med - ages.median()) <= 2 * bin_width
    assert abs(row.p90 - ages.quantile(0.9)) <= 2 * bin_width
    assert row.med_ci_low <= row.med <= row.med_ci_high
    hist = execute(
        compile_sql("SELECT HISTOGRAM(age, 10) AS h FROM persons", CARD), data, CARD, rho=EXACT
    ).table
    assert len(hist) == 10 and hist.h.sum() == len(ages)
    expected, _ = np.histogram(ages.clip(0, 99.999), bins=10, range=(0, 100))
    assert hist.h.tolist() == expected.tolist()


def test_every_declared_group_is_output(data: Path) -> None:
    plan = compile_sql(
        "SELECT region, employed, COUNT(*) FROM persons WHERE region = 'north' "
        "GROUP BY region, employed",
        CARD,
    )
    out = execute(plan, data, CARD, rho=EXACT).table
    assert len(out) == 6  # 3 regions × 2 booleans, even the empty ones
    assert out[out.region != "north"]["count"].eq(0).all()


def test_string_keys_go_through_partition_selection(data: Path) -> None:
    plan = compile_sql("SELECT city, COUNT(*) FROM persons GROUP BY city", CARD)
    with pytest.raises(QueryError, match="delta"):
        execute(plan, data, CARD, rho=1.0)
    release = execute(plan, data, CARD, rho=EXACT, delta=1e-6)
    assert sorted(release.table.city) == ["lima", "oslo", "rome"]  # the 30 singletons are dropped
    assert release.threshold is not None and release.threshold >= 3
    assert release.cost.selection_delta == 1e-6


def test_margins_add_up_and_suppression(data: Path) -> None:
    plan = compile_sql(
        "SELECT region, sex, COUNT(*), SUM(age) FROM persons GROUP BY region, sex", CARD
    )
    pres = Presentation(margins=True)
    table = execute(plan, data, CARD, rho=0.1, presentation=pres).table
    cells = table[(table.region != "Total") & (table.sex != "Total")]
    assert len(cells) == 6
    by_region = table[(table.sex == "Total") & (table.region != "Total")].set_index("region")
    for region, grp in cells.groupby("region"):
        assert grp["count"].sum() == by_region.loc[region, "count"]
        assert grp["sum_age"].sum() == pytest.approx(by_region.loc[region, "sum_age"])
    total = table[(table.sex == "Total") & (table.region == "Total")].iloc[0]
    assert total["count"] == cells["count"].sum()
    assert (cells["count"] >= 0).all()
    suppressed = execute(
        plan, data, CARD, rho=EXACT, presentation=Presentation(suppress_below=16)
    ).table
    small = suppressed[suppressed.suppressed]
    assert len(small) > 0 and small["count"].isna().all() and small["sum_age"].isna().all()


def test_prepared_dataset_gives_the_same_release(data: Path, tmp_path: Path) -> None:
    prepared = prepare_dataset(data, tmp_path / "prepared.parquet", CARD)
    plan = compile_sql(
        "SELECT region, COUNT(*), SUM(income), AVG(age), STDDEV(income) FROM persons "
        "WHERE employed = TRUE GROUP BY region",
        CARD,
    )
    a = execute(plan, data, CARD, rho=EXACT).table
    b = execute(plan, prepared, CARD, rho=EXACT).table
    pd.testing.assert_frame_equal(a, b)


def _count_errors(data: Path, runs: int, **privacy: float) -> tuple[list[float], object]:
    plan = compile_sql("SELECT region, COUNT(*) FROM persons GROUP BY region", CARD)
    truth = _reference().groupby("region").size()
    errors: list[float] = []
    for _ in range(runs):
        r = execute(plan, data, CARD, presentation=Presentation(nonnegative=False), **privacy)
        errors.extend((r.table.set_index("region")["count"] - truth).tolist())
    return errors, r


def test_released_noise_has_the_declared_scale(data: Path) -> None:
    draws, r = _count_errors(data, 150, rho=0.2)
    sigma = r.shares[0].noise.scale
    assert sigma == pytest.approx(2 / np.sqrt(0.4))  # k = 2, ρ = 0.2
    assert r.table["count_sd"].iloc[0] == pytest.approx(sigma)
    # Kolmogorov–Smirnov against N(0, σ²) on the integer grid (continuity-corrected).
    jitter = np.random.default_rng(0).uniform(-0.5, 0.5, len(draws))
    assert stats.kstest(np.array(draws) + jitter, stats.norm(scale=sigma).cdf).pvalue > 1e-4
    assert np.std(draws) == pytest.approx(sigma, rel=0.15)


def test_released_laplace_noise_has_the_declared_scale(data: Path) -> None:
    draws, r = _count_errors(data, 100, epsilon=1.0)
    spec = r.shares[0].noise
    assert spec.kind.value == "discrete_laplace" and spec.scale == pytest.approx(2.0)  # k / ε
    assert r.table["count_sd"].iloc[0] == pytest.approx(spec.sd)
    assert np.std(draws) == pytest.approx(spec.sd, rel=0.2)
    # The released 95% intervals cover (their exact coverage here is 96.2%; n = 300).
    inside = np.mean(np.abs(draws) <= spec.half_width(0.95))
    assert inside >= 0.91


def test_pure_dp_and_dry_run_agree(data: Path) -> None:
    plan = compile_sql("SELECT region, COUNT(*), SUM(income) FROM persons GROUP BY region", CARD)
    est = dry_run(plan, CARD, epsilon=1.0)
    rel = execute(plan, data, CARD, epsilon=1.0)
    assert rel.cost == est.cost == plan_cost(plan, epsilon=1.0)
    assert rel.cost.pure and rel.cost.epsilon == 1.0
    assert sum(s.epsilon or 0 for s in rel.shares) == pytest.approx(1.0)
    sd = est.table.set_index("output").noise_sd
    assert rel.table["count_sd"].iloc[0] == pytest.approx(sd["count"])
    assert rel.table["sum_income_sd"].iloc[0] == pytest.approx(sd["sum_income"])
    assert rel.metadata()["plan_hash"] == plan.hash


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"epsilon": -1.0}, InvalidInput, "epsilon"),
        ({"rho": 0.0}, InvalidInput, "rho"),
        ({"epsilon": 1.0, "rho": 1.0}, QueryError, "exactly one"),
        ({}, QueryError, "exactly one"),
        ({"rho": 1.0, "delta": 1e-6}, QueryError, "partition selection"),
    ],
)
def test_bad_privacy_parameters(data: Path, kwargs: dict, error: type, match: str) -> None:
    plan = compile_sql("SELECT COUNT(*) FROM persons", CARD)
    with pytest.raises(error, match=match):
        execute(plan, data, CARD, **kwargs)
    with pytest.raises(error, match=match):
        plan_cost(plan, **kwargs)


def test_plan_from_another_card_and_missing_file(data: Path, tmp_path: Path) -> None:
    plan = compile_sql("SELECT SUM(age) FROM persons", CARD)
    wider = Card.from_mapping(
        {
            **CARD.to_dict(),
            "columns": [
                {**c, "upper": 1000} if c["name"] == "age" else c for c in CARD.to_dict()["columns"]
            ],
        }
    )
    with pytest.raises(InvalidInput, match="another version of the card"):
        execute(plan, data, wider, rho=1.0)
    with pytest.raises(InvalidInput, match="does not exist"):
        execute(plan, tmp_path / "nope.parquet", CARD, rho=1.0)


def test_suppression_needs_a_count(data: Path) -> None:
    plan = compile_sql("SELECT SUM(age) FROM persons", CARD)
    with pytest.raises(QueryError, match="COUNT"):
        execute(plan, data, CARD, rho=1.0, presentation=Presentation(suppress_below=5))


def test_pure_dp_partition_selection(data: Path) -> None:
    plan = compile_sql("SELECT city, COUNT(*) FROM persons GROUP BY city", CARD)
    release = execute(plan, data, CARD, epsilon=1e9, delta=1e-6)
    assert sorted(release.table.city) == ["lima", "oslo", "rome"]
    assert release.cost.pure and release.cost.delta == 1e-6


def test_grid_keeps_values_in_integer_range() -> None:
    from insitu.computations.dp_query.measures import grid_for
    from insitu.tables.card import Column

    for lower, upper in [(0, 1), (5, 5), (1e15, 1e15 + 1), (-1e18, 1e18)]:
        g = grid_for(Column(name="x", type="float", lower=lower, upper=upper))
        assert g.lo * g.step <= lower and g.hi * g.step >= upper
        assert max(abs(g.lo), abs(g.hi)) <= 2**40
    assert grid_for(Column(name="x", type="integer", lower=0, upper=99)).step == 1.0


def test_margin_means_pool_the_cells(data: Path) -> None:
    plan = compile_sql("SELECT region, AVG(age), COUNT(*) FROM persons GROUP BY region", CARD)
    pres = Presentation(margins=True, digits=3)
    table = execute(plan, data, CARD, rho=EXACT, presentation=pres).table.set_index("region")
    assert table.loc["Total", "mean_age"] == pytest.approx(_reference().age.mean(), abs=1e-3)
    assert table.loc["Total", "count"] == table.drop("Total")["count"].sum()
    assert table.loc["Total", "count_sd"] == pytest.approx(table.loc["north", "count_sd"] * 3**0.5)


def test_rows_without_a_unit_are_dropped(tmp_path: Path) -> None:
    df = frame()
    df.loc[df.index[1:6], "person_id"] = None  # p1..p5, one row each
    path = tmp_path / "nulls.parquet"
    df.to_parquet(path, index=False)
    plan = compile_sql("SELECT COUNT(*) FROM persons", CARD)
    full = execute(plan, write(tmp_path), CARD, rho=EXACT).table["count"].iloc[0]
    assert execute(plan, path, CARD, rho=EXACT).table["count"].iloc[0] == full - 5


def test_budget_split_follows_weights() -> None:
    plan = compile_sql("SELECT region, COUNT(*), AVG(income) FROM persons GROUP BY region", CARD)
    even = dry_run(plan, CARD, rho=1.0)
    assert [s.measurement.key for s in even.shares] == ["count", "count:income", "csum:income"]
    assert [s.rho for s in even.shares] == pytest.approx([1 / 3] * 3)
    skewed = dry_run(plan, CARD, rho=1.0, weights={"csum:income": 2.0})
    assert [s.rho for s in skewed.shares] == pytest.approx([0.25, 0.25, 0.5])
    assert sum(s.rho or 0 for s in skewed.shares) == pytest.approx(1.0)
    with pytest.raises(QueryError, match="unknown measurements"):
        dry_run(plan, CARD, rho=1.0, weights={"sum:age": 1.0})
