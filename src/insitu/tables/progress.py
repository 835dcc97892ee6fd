"""Report the progress of a long DuckDB statement from a side thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported by whoever makes the connection
    import duckdb


ProgressFn = Callable[[int], None]


class Progress:
    """Maps stages of an ingest onto one monotone percentage (0–100) for a callback."""

    def __init__(self, callback: ProgressFn | None) -> None:
        self._callback = callback
        self._last = -1
        self._lock = threading.Lock()

    def report(self, percent: float) -> None:
        """Call the callback with ``percent`` rounded down, if it moved forward."""
        if self._callback is None:
            return
        value = max(0, min(100, int(percent)))
        with self._lock:
            if value <= self._last:
                return
            self._last = value
        self._callback(value)

    @contextmanager
    def during(
        self, con: duckdb.DuckDBPyConnection, start: float, end: float, *, every: float = 0.2
    ) -> Iterator[None]:
        """While the block runs statements on ``con``, report their progress within [start, end]."""
        self.report(start)
        if self._callback is None:
            yield
            return
        con.execute("SET enable_progress_bar = true")
        con.execute("SET enable_progress_bar_print = false")
        stop = threading.Event()

        def poll() -> None:
            while not stop.wait(every):
                done = con.query_progress()
                if done >= 0:
                    self.report(start + (end - start) * min(done, 100.0) / 100.0)

        thread = threading.Thread(target=poll, name="ingest-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        self.report(end)
