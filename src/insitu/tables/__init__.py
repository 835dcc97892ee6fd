"""Datasets: cards, ingestion and checking, mocks, and reading registered tables.

- :mod:`insitu.tables.card` — the public card (schema, domains, privacy unit).
- :mod:`insitu.tables.ingest` — ``ingest(source, card, dest)``: check a CSV/Parquet file
  against its card and store it as Parquet.
- :mod:`insitu.tables.draft` — ``draft_card(source, name)``: a card proposal to review.
- :mod:`insitu.tables.mock` — ``make_mock(card)``: synthetic rows from the card alone.
- :mod:`insitu.tables.read` — ``read_table``, ``table_schema``, ``table_card``.
"""
