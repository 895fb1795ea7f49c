"""Claims are leases: while a call is processed a heartbeat renews its claim (and touches its temporary
folder), so a worker that is killed loses the call after one lease and the next run picks it up; temporary
folders a killed worker left behind are swept at the start of a run."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from infra.store import ResultsStore

log = logging.getLogger("callqa")
TEMP_PREFIX = "callqa-call-"  # only the per-call folders: never other callqa-* folders (test homes, benches)


class Heartbeat:
    """Context manager: renews `call_id`'s claim every third of the store's lease until the block ends."""

    def __init__(self, store: ResultsStore, call_id: str, workdir: Path | None = None):
        self.store, self.call_id, self.workdir = store, call_id, workdir
        self.interval = max(0.05, store.lease.total_seconds() / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{call_id}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.store.renew(self.call_id)
                if self.workdir is not None and self.workdir.exists():
                    os.utime(self.workdir)
            except Exception as e:  # a missed beat is not fatal: the lease is three beats long
                log.warning("call %s: lease not renewed (%s)", self.call_id, type(e).__name__)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def sweep_temporary(lease_seconds: float, root: Path | None = None) -> int:
    """Remove temporary call folders not touched for a lease (their worker is gone); returns how many."""
    root = Path(root or tempfile.gettempdir())
    cutoff, removed = time.time() - lease_seconds, 0
    for d in root.glob(TEMP_PREFIX + "*"):
        try:
            if d.is_dir() and d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("swept %d temporary folder(s) left by stopped workers", removed)
    return removed
