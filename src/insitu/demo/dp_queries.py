"""Demo chapter (scenario 4): a remote analysis service answering with differential privacy."""

from __future__ import annotations

import pandas as pd

import insitu
from insitu.demo.cluster import DemoNode
from insitu.demo.story import chapter, says, sees
from insitu.errors import InsituError

SQL = "SELECT region, COUNT(*) AS people, AVG(income) AS mean_income FROM persons GROUP BY region"


def with_intervals(table: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """One readable column per output: ``value [low, high]``."""
    view = table.drop(columns=[c for c in table.columns if any(c.startswith(o) for o in outputs)])
    for o in outputs:
        view[o] = [
            f"{v:,.0f} [{lo:,.0f}, {hi:,.0f}]"
            for v, lo, hi in zip(table[o], table[f"{o}_ci_low"], table[f"{o}_ci_high"], strict=True)
        ]
    return view


def run(office: DemoNode) -> None:
    chapter(
        "Remote analysis with differential privacy",
        "Every released number is noisy, carries its error, and is charged to a budget.",
    )
    owner = insitu.connect(office.url, token=office.owner_token)
    owner.budgets.set("persons", rho=1.0)
    owner.budgets.set("persons", rho=0.5, analyst="ana")
    owner.policies.add("small-dp-queries", {"kinds": ["dp_query"], "max_rho": 0.25})
    says(
        office.name,
        "owner caps persons at ρ=1.0 (ana: ρ=0.5) and auto-approves DP queries up to ρ=0.25",
        role="owner",
    )
    ana_token = owner.members.issue_token("ana").token
    ana = insitu.connect(office.url, token=ana_token)
    persons = ana.dataset("persons")
    estimate = persons.estimate(SQL, rho=0.2)
    says(
        "ana",
        f"dry run: costs ρ={estimate['cost']['rho']} (ε={estimate['cost']['epsilon']:.2f} "
        f"at δ={estimate['cost']['delta']:.0e}); nothing spent",
        role="analyst",
    )
    table = persons.query(SQL, rho=0.2, presentation={"digits": 0})
    sees(
        "ana",
        with_intervals(table, ["people", "mean_income"]),
        title="the DP release: each value with its 95% confidence interval (noise sd in the table)",
    )
    budget = ana.budgets.get("persons")
    says(
        "ana",
        f"her budget: spent ρ={budget['spent_rho']:.3f}, left ρ={budget['remaining_rho']:.3f}",
        role="analyst",
    )
    try:
        persons.query("SELECT person_id, income FROM persons", rho=0.1)
    except InsituError as exc:
        says(
            "ana", f"asks for raw rows → refused: [red]{exc.code}[/] {exc.message}", role="analyst"
        )
    try:
        persons.query(SQL, rho=0.4, timeout=2)
    except InsituError as exc:
        says("ana", f"a bigger query waits for the owner: {exc.message}", role="analyst")
    ledger = owner.ledger("persons")
    sees(
        "owner",
        ledger.to_frame()[["analyst", "request_id", "rho", "epsilon", "pure"]],
        role="owner",
        title="the budget ledger",
    )
