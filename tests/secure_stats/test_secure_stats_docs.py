"""The examples in docs/secure-stats.md run and their assertions hold."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "secure-stats.md"


def test_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    exec(compile("\n".join(blocks), str(DOC), "exec"), {})
