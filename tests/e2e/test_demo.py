"""The README's main command: the multi-node demo runs to completion and exits 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_to_completion() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from insitu.cli.main import app; app()", "demo"],
        capture_output=True,
        text=True,
        timeout=600,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for marker in (
        "Remote analysis with custom code",
        "differential privacy",
        "intact = True",
        "A secure count across three offices",
        "'total': 45000",
        "Population overlap (PSI cardinality with DP)",
        "Trade asymmetry (PSI intersection-sum)",
        "Statistics across many holders",
        "Done",
    ):
        assert marker in out.stdout
