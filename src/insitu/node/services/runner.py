"""Background workers that claim approved requests and run them."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from pathlib import Path

from insitu.node.clock import Clock
from insitu.node.services.requests import Requests
from insitu.node.store.base import Store

log = logging.getLogger("insitu.runner")


class Runner:
    """Polls the store for approved requests; each is claimed atomically by one worker."""

    def __init__(
        self,
        store: Store,
        requests: Requests,
        clock: Clock,
        workdir: Path,
        *,
        workers: int = 2,
        poll_seconds: float = 0.2,
    ) -> None:
        self._store = store
        self._requests = requests
        self._clock = clock
        self._workdir = workdir
        self._workers = workers
        self._poll = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._workdir.mkdir(parents=True, exist_ok=True)
        for ident in self._requests.requeue_interrupted():
            log.warning("request %s was running when the node stopped; running it again", ident)
        for i in range(self._workers):
            t = threading.Thread(target=self._loop, name=f"insitu-runner-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        """Tell idle workers there may be new work."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)

    def run_once(self) -> bool:
        """Claim and run one request; False when there was none."""
        req = self._store.claim_next(at=self._clock())
        if req is None:
            return False
        work = Path(tempfile.mkdtemp(prefix=f"req{req.id}-", dir=self._workdir))
        try:
            self._requests.execute(req, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:
                log.exception("runner error")
            self._wake.wait(self._poll)
            self._wake.clear()
