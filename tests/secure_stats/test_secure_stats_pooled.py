"""Secure statistics over CPS microdata split across holders equal the pooled computation."""

import numpy as np
import pytest
import statsmodels.api as sm
from secure_stats_cps import pooled, spec, split
from statsmodels.stats.weightstats import DescrStatsW

from insitu.computations.secure_stats import (
    Count,
    CrossTable,
    Histogram,
    Logistic,
    Mean,
    Ols,
    Quantiles,
    Sum,
    Variance,
    simulate,
)


@pytest.fixture(scope="module")
def run():
    stats = [
        Count(),
        Count(name="weighted_count", weight="weight"),
        Sum(column="wage"),
        Mean(column="wage"),
        Variance(column="wage"),
        Mean(name="wmean", column="wage", weight="weight"),
        Variance(name="wvar", column="wage", weight="weight", ddof=0),
        Histogram(column="region"),
        Histogram(name="edu", column="education"),
        Histogram(name="wage_bins", column="wage", bins=40),
        CrossTable(rows="ethnicity", cols="region"),
        Quantiles(column="wage", probs=[0.1, 0.5, 0.9], bins=4000),
        Ols(y="log_wage", x=["education", "experience", "ethnicity", "smsa"]),
        Logistic(y="high", x=["education", "experience", "ethnicity"]),
    ]
    return simulate(spec(stats, frac_bits=24), split(3))


def test_counts_histograms_and_crosstabs_are_exact(run) -> None:
    d, v = pooled(), run.values
    assert v["count"] == len(d)
    assert v["histogram_region"] == d["region"].value_counts().to_dict()
    assert v["edu"] == {str(k): int((d["education"] == k).sum()) for k in range(19)}
    edges = np.linspace(50, 20000, 41)
    expected = np.histogram(d["wage"], bins=edges)[0]
    assert list(v["wage_bins"].values()) == expected.tolist()
    xt = v["crosstab_ethnicity"]
    for (eth, reg), n in d.groupby(["ethnicity", "region"]).size().items():
        assert xt[eth][reg] == n


def test_moments_within_fixed_point_error(run) -> None:
    d, v = pooled(), run.values
    bound = run.receipt.precision["moments:wage:None"]["max_sum_error"]
    assert 0 < bound < 1e-4
    assert abs(v["sum_wage"] - d["wage"].sum()) <= bound + 1e-9 * d["wage"].sum()
    assert abs(v["mean_wage"] - d["wage"].mean()) <= (bound + 1e-6) / len(d) * 10
    assert v["variance_wage"] == pytest.approx(d["wage"].var(ddof=1), rel=1e-9)


def test_weighted_statistics_match_statsmodels(run) -> None:
    d, v = pooled(), run.values
    ds = DescrStatsW(d["wage"], weights=d["weight"], ddof=0)
    assert v["weighted_count"] == pytest.approx(d["weight"].sum(), rel=1e-10)
    assert v["wmean"] == pytest.approx(ds.mean, rel=1e-10)
    assert v["wvar"] == pytest.approx(ds.var, rel=1e-8)


def test_quantiles_within_one_bin(run) -> None:
    d, v = pooled(), run.values
    width = (20000 - 50) / 4000
    for p in (0.1, 0.5, 0.9):
        assert abs(v["quantiles_wage"][f"{p:g}"] - d["wage"].quantile(p)) <= width


def _design(d):
    x = d[["education", "experience"]].astype(float).copy()
    x.insert(0, "const", 1.0)
    x["ethnicity[afam]"] = (d["ethnicity"] == "afam").astype(float)
    return x


def test_ols_equals_statsmodels(run) -> None:
    d = pooled()
    x = _design(d)
    x["smsa[yes]"] = (d["smsa"] == "yes").astype(float)
    fit = sm.OLS(d["log_wage"], x).fit()
    ours = run.values["ols_log_wage"]
    assert list(ours.coef) == list(x.columns)
    for name in x.columns:
        assert ours.coef[name] == pytest.approx(fit.params[name], rel=1e-8, abs=1e-10)
        assert ours.se[name] == pytest.approx(fit.bse[name], rel=1e-6)
    assert ours.r2 == pytest.approx(fit.rsquared, rel=1e-8)
    assert ours.n == len(d)


def test_logistic_equals_statsmodels(run) -> None:
    d = pooled()
    x = _design(d)
    fit = sm.Logit(d["high"], x).fit(disp=0)
    ours = run.values["logistic_high"]
    for name in x.columns:
        assert ours.coef[name] == pytest.approx(fit.params[name], rel=1e-6)
        assert ours.se[name] == pytest.approx(fit.bse[name], rel=1e-4)
    assert run.receipt.rounds == 8


def test_receipt_lists_contributors_and_kinds(run) -> None:
    r = run.receipt
    assert sorted(r.contributors) == ["holder0", "holder1", "holder2"]
    assert "ols" in r.contributors["holder0"] and "histogram" in r.contributors["holder0"]
    assert r.left_out == [] and r.rho is None and r.role == "result"


def test_two_computing_parties_and_five_holders() -> None:
    d = pooled()
    res = simulate(spec([Mean(column="log_wage"), Count()], holders=5, computing=2), split(5))
    assert res.values["count"] == len(d)
    assert res.values["mean_log_wage"] == pytest.approx(d["log_wage"].mean(), rel=1e-12)
