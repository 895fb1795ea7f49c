"""Event-driven ingestion: S3 bucket notifications start the processing of each new input as it arrives.

`parse_events` reads the notification formats object stores send: the S3 event record list (`{"Records":
[...]}`) that AWS, Ceph RGW (HTTP push endpoint) and MinIO (webhook target) all post, and the AWS SNS envelope
around it (`{"Type": "Notification", "Message": "<the record list as a string>"}`). `Ingestor` debounces
per input stem (a recording, its sidecar and a transcript in its place are one call): an event (re)starts the
stem's timer; when it runs out, the inputs under that stem that need processing (new, changed, or with a new
sidecar) are handed to `process(key)` (the per-call flow) on a bounded pool. So a sidecar uploaded a few
seconds after its recording is applied in the first run, and one arriving later re-analyses the call (its
version covers the sidecar), never re-transcribing it. The periodic batch scan stays the safety net for
events that never arrive. Logs carry counts, never keys (file names may hold personal data).
"""
from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable
from urllib.parse import unquote_plus

from core.errors import CallQAError
from core.keys import RESULT_PREFIXES, input_stem

log = logging.getLogger("callqa.ingest")


@dataclass(frozen=True)
class ObjectEvent:
    bucket: str
    key: str  # as the store names it (percent-decoding is tried against the store: see Ingestor)
    raw_key: str  # as it came in the event
    created: bool  # an object was created (PUT, POST, copy, multipart); False: removed or other


class EventFormatError(ValueError):
    """A body that is no bucket notification we know (answered 400; nothing is processed)."""


def parse_events(body: bytes) -> list[ObjectEvent]:
    """The object events in a notification body (S3 records, optionally inside an SNS envelope); an SNS
    subscription confirmation or a test event gives no events."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EventFormatError("the body is not JSON") from None
    if isinstance(doc, dict) and doc.get("Type") in ("Notification", "SubscriptionConfirmation",
                                                      "UnsubscribeConfirmation"):
        if doc["Type"] != "Notification":
            return []
        try:
            doc = json.loads(doc.get("Message") or "{}")
        except ValueError:
            raise EventFormatError("the SNS message is not JSON") from None
    if not isinstance(doc, dict):
        raise EventFormatError("the body is not a JSON object")
    if doc.get("Event") == "s3:TestEvent" or doc.get("Service") == "Amazon S3" and "Records" not in doc:
        return []
    records = doc.get("Records")
    if not isinstance(records, list):
        raise EventFormatError("no 'Records' list (expected an S3 event notification)")
    events = []
    for r in records:
        try:
            s3 = r["s3"]
            bucket, raw = s3["bucket"]["name"], s3["object"]["key"]
            name = str(r.get("eventName", ""))
        except (KeyError, TypeError):
            raise EventFormatError("a record without s3.bucket.name / s3.object.key") from None
        events.append(ObjectEvent(str(bucket), unquote_plus(str(raw)), str(raw),
                                  "ObjectCreated" in name or name.startswith("s3:ObjectCreated")))
    return events


class Ingestor:
    """Debounced, bounded processing of the inputs named by object events (see the module docstring).
    `process(key)` runs one input (e.g. the per-call Prefect flow); `needs(ref)` says whether its current
    version still needs processing (the results DB)."""

    def __init__(self, source, needs: Callable, process: Callable[[str], object], *, bucket: str | None = None,
                 debounce_seconds: float = 5.0, concurrency: int = 2):
        self.source, self.needs, self.process = source, needs, process
        self.bucket, self.debounce = bucket, debounce_seconds
        self._timers: dict[str, threading.Timer] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="callqa-ingest")
        self._running: set[str] = set()
        self._queued = 0  # stems whose timer ran out, waiting for or inside the pool
        self.started = self.failed = 0

    def accept(self, events: list[ObjectEvent]) -> int:
        """Schedule the stems the events touch; returns how many events were taken (others: another bucket,
        outside the recordings prefix, the pipeline's own results, or not a creation)."""
        taken = 0
        for e in events:
            if not e.created or (self.bucket and e.bucket != self.bucket):
                continue
            key = e.key
            if key.startswith(RESULT_PREFIXES) or not key.startswith(self.source.prefix):
                continue
            taken += 1
            stem = input_stem(key)
            with self._lock:
                if (old := self._timers.pop(stem, None)) is not None:
                    old.cancel()
                timer = threading.Timer(self.debounce, self._due, args=(stem, e.raw_key))
                timer.daemon = True
                self._timers[stem] = timer
                timer.start()
        return taken

    def _due(self, stem: str, raw_key: str) -> None:
        with self._lock:
            self._timers.pop(stem, None)
            self._queued += 1
        self._pool.submit(self._run_stem, stem, raw_key)

    def _run_stem(self, stem: str, raw_key: str) -> None:
        try:
            self._run_stem_inputs(stem, raw_key)
        finally:
            with self._lock:
                self._queued -= 1

    def _run_stem_inputs(self, stem: str, raw_key: str) -> None:
        folder = stem.rsplit("/", 1)[0] + "/" if "/" in stem else self.source.prefix
        try:
            refs = self.source.refs_under(folder)
            if not any(input_stem(r.key) == stem for r in refs) and raw_key != stem:
                # the store may not percent-encode keys in events: try the key exactly as it came
                stem = input_stem(raw_key)
                folder = stem.rsplit("/", 1)[0] + "/" if "/" in stem else self.source.prefix
                refs = self.source.refs_under(folder)
            todo = [r for r in refs if input_stem(r.key) == stem and self.needs(r)]
        except CallQAError as e:
            self.failed += 1
            log.error("an event's inputs could not be listed (%s); the next batch scan picks them up", e.code)
            return
        for ref in todo:
            with self._lock:
                if ref.key in self._running:
                    continue
                self._running.add(ref.key)
            try:
                self.started += 1
                self.process(ref.key)
            except Exception as e:  # noqa: BLE001 - recorded by the flow; the batch scan retries it
                self.failed += 1
                log.error("a call started by an event failed (%s); it is retried by the next run",
                          getattr(e, "code", type(e).__name__))
            finally:
                with self._lock:
                    self._running.discard(ref.key)

    def pending(self) -> int:
        """Stems waiting for their debounce timer, plus inputs being processed."""
        with self._lock:
            return len(self._timers) + self._queued

    def close(self, wait: bool = True) -> None:
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for t in timers:
            t.cancel()
        self._pool.shutdown(wait=wait)


def events_app(ingestor: Ingestor, token: str):
    """The HTTP endpoint object stores push to: `POST /s3-events` with the notification body, authorised by
    `token` as `Authorization: Bearer <token>` (MinIO webhook `auth_token`) or `?token=<token>` in the push
    endpoint URL (Ceph RGW, SNS HTTP subscriptions). 401 without it, 400 for a body that is no notification."""
    import hmac

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    def authorised(request) -> bool:
        given = request.query_params.get("token") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    async def s3_events(request):
        if not authorised(request):
            return JSONResponse({"error": "missing or wrong token"}, status_code=401)
        try:
            events = parse_events(await request.body())
        except EventFormatError as e:
            return JSONResponse({"error": str(e)}, status_code=400)
        return JSONResponse({"events": len(events), "accepted": ingestor.accept(events)})

    async def health(request):
        return JSONResponse({"pending": ingestor.pending(), "started": ingestor.started, "failed": ingestor.failed})

    return Starlette(routes=[Route("/s3-events", s3_events, methods=["POST"]),
                             Route("/health", health, methods=["GET"])])
