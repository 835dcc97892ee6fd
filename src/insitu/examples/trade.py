"""Exports recorded by country A and imports recorded by country B (reference scenario 2).

Each office records the trade of enterprises with a VAT-style id. For the
enterprises in both files, B's recorded import value differs from A's export
value by the usual asymmetries (CIF/FOB margin, timing, misclassification),
which is what the statistics offices want to measure with an
intersection-sum without exchanging enterprise records.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from insitu.examples.files import ExampleSet, finish, pick, prepare, seed_of, write_table
from insitu.examples.names import PRODUCTS
from insitu.examples.register import distinct_ids
from insitu.tables.card import Card
from insitu.tables.variates import Variates

VALUE_MAX = 50_000_000.0


def trade_card(name: str, flow: str, country: str) -> Card:
    """Card of one office's trade file; the privacy unit is the enterprise."""
    return Card.from_mapping(
        {
            "name": name,
            "description": f"Annual {flow} per enterprise, recorded by {country} (synthetic).",
            "privacy_unit": {"column": "enterprise_id", "max_rows": 1},
            "columns": [
                {
                    "name": "enterprise_id",
                    "type": "string",
                    "description": "VAT number of the exporter",
                },
                {"name": "product", "type": "category", "categories": list(PRODUCTS)},
                {"name": "value_eur", "type": "float", "lower": 0, "upper": VALUE_MAX},
            ],
        }
    )


def _values(n: int, v: Variates) -> np.ndarray:
    """Heavy-tailed enterprise trade values: most small, a few large."""
    x = 250_000.0 * np.exp(1.6 * v.normal(n))
    return np.clip(np.round(x, 2), 1_000.0, VALUE_MAX)


def trade_records(
    directory: str | Path,
    *,
    exporters: int = 5_000,
    importers: int = 4_000,
    shared: int = 2_500,
    seed: bytes | str = b"insitu-example-trade",
) -> ExampleSet:
    """Write ``exports_a.csv`` and ``imports_b.csv``; ``shared`` enterprises appear in both.

    ``truth`` holds the number of shared enterprises and, over those, the sum
    of A's export values and of B's import values (the asymmetry an
    intersection-sum measures).
    """
    if not 0 <= shared <= min(exporters, importers):
        raise ValueError("shared must be between 0 and the smaller file size")
    out = prepare(directory)
    v = Variates.seeded(seed_of(seed), "trade")
    total = exporters + importers - shared
    numbers = distinct_ids(total, 100_000_000, 900_000_000, v)
    ids = np.asarray([f"NL{n}B01" for n in numbers], dtype=object)
    product = pick(list(PRODUCTS), list(PRODUCTS.values()), total, v)
    exports = _values(total, v)
    # B records the shared flows with a CIF/FOB margin and noise; a few are misclassified.
    ratio = np.exp(0.04 + 0.15 * v.normal(total))
    imports = np.clip(np.round(exports * ratio, 2), 0.0, VALUE_MAX)
    b_product = product.copy()
    swap = v.bernoulli(0.05, total)
    b_product[swap] = pick(list(PRODUCTS), None, int(swap.sum()), v)
    a_rows = np.r_[np.arange(shared), np.arange(shared, exporters)]
    b_rows = np.r_[np.arange(shared), np.arange(exporters, total)]
    b_own = np.arange(shared, len(b_rows))
    b_values = imports[b_rows]
    b_values[b_own] = _values(len(b_own), v)
    a = pd.DataFrame(
        {"enterprise_id": ids[a_rows], "product": product[a_rows], "value_eur": exports[a_rows]}
    )
    b = pd.DataFrame(
        {"enterprise_id": ids[b_rows], "product": b_product[b_rows], "value_eur": b_values}
    )
    a = a.iloc[v.permutation(len(a))].reset_index(drop=True)
    b = b.iloc[v.permutation(len(b))].reset_index(drop=True)
    tables = [
        write_table(a, trade_card("exports_a", "exports", "A"), out),
        write_table(b, trade_card("imports_b", "imports", "B"), out),
    ]
    truth = {
        "exporters": exporters,
        "importers": importers,
        "shared": shared,
        "exports_sum_shared": round(float(exports[:shared].sum()), 2),
        "imports_sum_shared": round(float(imports[:shared].sum()), 2),
    }
    return finish(out, tables, truth)
