"""Live progress of a batch or a re-scoring run: the flows log one `callqa.progress` record per finished call
(counts, seconds of audio, the call id and its status: no content), and the per-call stage function one
record each time a call enters a stage (downloading, transcribing, analysing, redacting audio); the
`ProgressDisplay`, attached by the command line, shows the calls done, the audio hours, the ETA and the stage
of every call still running, as a live bar on a terminal (rich) or as one plain line per call otherwise."""
from __future__ import annotations

import logging
import sys
import time

PROGRESS_LOGGER = "callqa.progress"


def report(done: int, total: int, call_id: str, status: str, audio_seconds: float = 0.0, stage: str = "") -> None:
    logging.getLogger(PROGRESS_LOGGER).info(
        "%d/%d %s %s", done, total, call_id, status,
        extra={"progress": {"done": done, "total": total, "call": call_id, "status": status,
                            "audio_seconds": audio_seconds, "stage": stage}})


def stage(call_id: str, name: str) -> None:
    """Call `call_id` enters stage `name` (shown beside the calls still running)."""
    logging.getLogger(PROGRESS_LOGGER).info("%s %s", call_id, name, extra={"stage_event": {"call": call_id,
                                                                                          "stage": name}})


def _eta(elapsed: float, done: int, total: int) -> str:
    if done == 0 or done >= total:
        return "-"
    left = elapsed / done * (total - done)
    return f"{int(left // 60)}m{int(left % 60):02d}s"


class ProgressDisplay(logging.Handler):
    """Renders progress records: calls done/total, hours of audio, ETA, the last call and its stage."""

    def __init__(self, stream=None, *, live: bool | None = None):
        super().__init__(logging.INFO)
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.started = time.monotonic()
        self.audio = 0.0
        self.running: dict[str, str] = {}  # call id -> the stage it is in, for calls not finished yet
        self._bar = self._task = None
        self._last: dict | None = None

    def running_text(self, limit: int = 3) -> str:
        """The stage of each call still running, e.g. "running: a/1.wav transcribing, b/2.wav analysing"."""
        if not self.running:
            return ""
        shown = [f"{c[-30:]} {s}" for c, s in list(self.running.items())[:limit]]
        more = f" (+{len(self.running) - limit} more)" if len(self.running) > limit else ""
        return "running: " + ", ".join(shown) + more

    def line(self, p: dict) -> str:
        elapsed = time.monotonic() - self.started
        running = self.running_text()
        return (f"[{p['done']}/{p['total']}] {p['call']} {p['status']}{' (' + p['stage'] + ')' if p['stage'] else ''}"
                f" | audio {self.audio / 3600:.2f} h | ETA {_eta(elapsed, p['done'], p['total'])}"
                + (f" | {running}" if running else ""))

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "stage_event", None)
        if event is not None:
            self.running[event["call"]] = event["stage"]
            if self.live and self._bar is not None and self._last is not None:
                self._refresh(self._last)
            return
        p = getattr(record, "progress", None)
        if p is None:
            return
        self.running.pop(p["call"], None)
        self.audio += p["audio_seconds"]
        if not self.live:
            print(self.line(p), file=self.stream, flush=True)
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn  # Prefect brings rich

        if self._bar is None:
            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.completed}/{task.total}"), TimeRemainingColumn(),
                                 transient=False, console=Console(file=self.stream))
            self._bar.start()
            self._task = self._bar.add_task("calls", total=p["total"])
        self._last = p
        self._refresh(p)
        if p["done"] >= p["total"]:
            self._bar.stop()
            self._bar = None

    def _refresh(self, p: dict) -> None:
        running = self.running_text(2)
        self._bar.update(self._task, completed=p["done"], total=p["total"],
                         description=f"{p['call'][:40]} {p['status']} | audio {self.audio / 3600:.2f} h"
                                     + (f" | {running}" if running else ""))

    def __enter__(self) -> "ProgressDisplay":
        logger = logging.getLogger(PROGRESS_LOGGER)
        logger.addHandler(self)
        logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger(PROGRESS_LOGGER).removeHandler(self)
        if self._bar is not None:
            self._bar.stop()
