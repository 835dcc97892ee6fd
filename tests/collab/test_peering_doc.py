"""The ``python`` examples in docs/peering.md run as written, in order."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "peering.md"


def test_peering_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}
    try:
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    finally:
        for name in ("a", "b"):
            node = namespace.get(name)
            if node is not None:
                node.close()  # type: ignore[attr-defined]
    assert namespace["report"].ok  # type: ignore[attr-defined]
