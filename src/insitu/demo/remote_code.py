"""Demo chapter: the remote code loop — card, mock, submit, review, approve, release, receipt."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import insitu
from insitu.demo.cluster import DemoNode
from insitu.demo.story import chapter, code, says, sees
from insitu.errors import InsituError
from insitu.examples.register import person_register


def income_by_region(persons: pd.DataFrame) -> pd.DataFrame:
    """Mean income and head count by region, suppressing cells under 10 people."""
    table = persons.groupby("region", as_index=False).agg(
        people=("person_id", "count"), mean_income=("income", "mean")
    )
    return table[table["people"] >= 10].round({"mean_income": -2})


def run(office: DemoNode, workdir: Path) -> str:
    """Run the chapter; returns the analyst's token for later chapters."""
    chapter(
        "Remote analysis with custom code",
        "An analyst's function travels to the data; the owner decides.",
    )
    owner = insitu.connect(office.url, token=office.owner_token)
    example = person_register(workdir / "register", rows=20_000)
    table = example.tables[0]
    ds = owner.datasets.add("persons", path=table.csv, card=table.card)
    says(
        office.name,
        f"owner registered dataset [bold]persons[/] ({ds.name}) from {table.csv.name}",
        role="owner",
    )
    analyst_token = owner.members.add("ana", role="analyst").token
    says(office.name, "owner added analyst [bold]ana[/] and handed her a token", role="owner")

    ana = insitu.connect(office.url, token=analyst_token)
    card = ana.dataset("persons").card
    sees(
        "ana", ", ".join(f"{c.name}:{c.type.value}" for c in card.columns), title="the dataset card"
    )
    mock = ana.dataset("persons").mock
    sees("ana", mock.head(5), title="mock rows (made from the card alone)")
    sees("ana", income_by_region(mock), title="her function, tried on the mock")
    try:
        ana.members.add("mallory", role="owner")
    except InsituError as exc:
        says(
            "ana",
            f"tries to add an owner → refused: [red]{exc.code}[/] {exc.message}",
            role="analyst",
        )

    req = ana.submit_code(
        income_by_region, datasets=["persons"], description="Mean income by region"
    )
    says("ana", f"submitted request #{req.id}; status {req.status}", role="analyst")

    pending = owner.requests.pending()
    says(office.name, f"owner sees {len(pending)} pending request(s)", role="owner")
    code("owner", pending[0].source or "")
    preview = pending[0].preview()
    sees("owner", preview, role="owner", title="the function run on the mock")
    pending[0].approve()
    says(
        office.name,
        "owner approved; the node runs it in a sandbox (no network, limits)",
        role="owner",
    )
    req.wait(timeout=120)
    says(
        office.name,
        f"request #{req.id} is {req.refresh().status}: output waits for the owner's check",
        role="node",
    )
    checked = owner.request(req.id).result()
    sees("owner", checked, role="owner", title="output to check before release")
    owner.request(req.id).release()
    result = req.result()
    sees("ana", result, title="the released result")
    receipt = req.receipt
    sees(
        "ana",
        {k: receipt[k] for k in ("request", "approvals", "release", "inputs", "audit_entry")},
        title="the receipt (signed by the node)",
    )
    verdict = owner.audit.verify()
    says(
        office.name,
        f"audit log: {verdict['checked']} entries, intact = {verdict['ok']}",
        role="owner",
    )
    return analyst_token
