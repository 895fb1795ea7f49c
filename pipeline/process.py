"""Prefect-free stage functions: discover new recordings, process one call end to end.

`process_recording` never raises for a bad recording or sidecar: it quarantines it (DB row +
`quarantine/<id>.json`) and returns the outcome, so a batch goes on. Everything else (storage down, model
or config problems, bugs) is recorded as failed and re-raised: the orchestrator retries transient errors,
and the next run picks the call up again.

A transcript or chat log in place of a recording (`RecordingRef.is_text`) takes the same path with
`transcribe.imported` instead of decoding, transcription and diarization: same claim and lease, same
analysis through the redaction boundary (CallAnalyser.run), same writes, minus the redacted audio (there is
none). A malformed file is quarantined (E108) like corrupt audio.
"""
from __future__ import annotations

import errno
import json
import logging
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from infra.audio import AudioLimits, inspect_recording
from pipeline.conversation import ConversationOptions, Diarizer, transcribe_conversation
from core.errors import (BadAudioError, CallQAError, DiskFullError, MetadataError, RecordingTooLargeError, UnexpectedError,
                         UnsafeKeyError)
from pipeline.exports import to_rttm, to_srt, to_webvtt
from pipeline.metadata import CallMetadata, build_call, parse_sidecar
from core.metrics import conversation_metrics
from core.keys import ORPHAN_SIDECARS_KEY, metrics_key, quarantine_key, scorecard_key, sidecar_key, transcript_key  # noqa: F401
from pipeline.analysis import CallAnalyser
from pipeline import progress
from pipeline.lease import TEMP_PREFIX, Heartbeat, sweep_temporary
from core.models import Call, Transcript
from infra.storage import RecordingRef, RecordingSource, recording_version
from infra.store import ResultsStore
from transcribe.base import TranscribeOptions, Transcriber

if TYPE_CHECKING:
    from scoring.review import Reviewer

log = logging.getLogger("callqa")  # logs carry call ids and error codes only, never call content
Status = Literal["done", "skipped", "quarantined", "failed"]


@dataclass(frozen=True)
class Outcome:
    call_id: str
    status: Status
    code: str | None = None
    message: str | None = None
    audio_seconds: float = 0.0
    wall_seconds: float = 0.0
    language: str | None = None
    transcript_key: str | None = None


def discover(source: RecordingSource, store: ResultsStore, *, workdir: Path | None = None) -> list[RecordingRef]:
    """Recordings not yet done at their current etag (new, changed, failed transiently, or held by a worker
    whose lease lapsed); temporary folders of stopped workers are swept first."""
    sweep_temporary(store.lease.total_seconds(), workdir)
    listing = source.inventory()
    refs = [r for r in listing.recordings if store.needs_processing(r.call_id, r.etag)]
    try:
        record_orphan_sidecars(source, listing.orphan_sidecars)
    except CallQAError as e:  # a trace, not a reason to stop the batch
        log.warning("orphan sidecars not recorded: %s", e.code)
    return refs


def record_orphan_sidecars(source: RecordingSource, orphans: list[str]) -> None:
    """Sidecars with no recording of the same name leave a trace: their keys in `ORPHAN_SIDECARS_KEY` (in the
    store, beside the files themselves; logs get the count only, file names may carry personal data). The
    record is rewritten only when the set changes, and emptied once every sidecar has its recording."""
    raw = source.read(ORPHAN_SIDECARS_KEY)
    before = json.loads(raw).get("sidecars", []) if raw else []
    if orphans != before:
        body = {"sidecars": orphans, "count": len(orphans), "seen_at": datetime.now(timezone.utc).isoformat(),
                "why": "a metadata sidecar <stem>.json with no recording, transcript or chat log <stem>.<ext>"}
        source.write(ORPHAN_SIDECARS_KEY, json.dumps(body, ensure_ascii=False, indent=1).encode())
    if orphans:
        log.warning("%d metadata sidecar(s) have no recording; listed in %s", len(orphans), ORPHAN_SIDECARS_KEY)


def _metadata(source: RecordingSource, ref: RecordingRef) -> CallMetadata | None:
    if not ref.sidecar_key:
        return None
    raw = source.read(ref.sidecar_key)
    return parse_sidecar(raw) if raw is not None else None


def _quarantine(source: RecordingSource, store: ResultsStore, ref: RecordingRef, err: CallQAError,
                started: float, duration: float | None = None) -> Outcome:
    record = {"call_id": ref.call_id, "object_key": ref.key, "etag": ref.etag, "code": err.code,
              "reason": err.message, "quarantined_at": datetime.now(timezone.utc).isoformat()}
    store.mark_failed(ref.call_id, ref.etag, code=err.code, message=err.message, quarantined=True,
                      duration=duration)
    try:
        source.write(quarantine_key(ref.call_id), json.dumps(record, ensure_ascii=False, indent=1).encode())
    except CallQAError:
        log.warning("call %s: quarantine record not written to storage (kept in the DB)", ref.call_id)
    log.warning("call %s quarantined: %s", ref.call_id, err)
    return Outcome(ref.call_id, "quarantined", err.code, err.message, wall_seconds=time.monotonic() - started)


def process_recording(ref: RecordingRef, source: RecordingSource, store: ResultsStore,
                      transcriber: Transcriber | None, *, options: TranscribeOptions = TranscribeOptions(),
                      limits: AudioLimits = AudioLimits(),
                      conversation: ConversationOptions = ConversationOptions(),
                      diarizer: Diarizer | None = None, redact_audio: bool = True,
                      workdir: Path | None = None, analyser: "CallAnalyser | None" = None,
                      transcription_slot: "Callable[[], AbstractContextManager] | None" = None) -> Outcome:
    """Transcribe one recording (or import a transcript or chat log: `transcriber` may then be None) and,
    with `analyser`, analyse it right away in process (scorecard, alerts, redacted transcript and audio
    through the redaction boundary); the call is `done` only then. `transcription_slot()` is held around
    speech recognition and diarization only (flows.py: a Prefect global concurrency slot of a GPU)."""
    started = time.monotonic()
    try:
        meta = _metadata(source, ref) if not ref.unsafe else None
        meta_error = None
    except MetadataError as e:
        meta, meta_error = None, e
    call = build_call(ref, meta)
    before = store.get(call.id)  # the previous version, if any: its transcript may still serve
    if not store.claim(call):
        return Outcome(call.id, "skipped", wall_seconds=time.monotonic() - started)
    if meta_error is not None:
        return _quarantine(source, store, ref, meta_error, started)
    if ref.unsafe:  # the id is opaque: the key itself may name a customer and would escape its prefix
        return _quarantine(source, store, ref, UnsafeKeyError(
            "the object key has '..' segments, a leading '/', a backslash or control characters; rename it"),
            started)
    duration: float | None = None
    # a transcript input is cheaply imported again (its own roles kept); a recording's stored transcript serves
    if analyser is not None and not ref.is_text and \
            (kept := _reusable_transcript(before, ref, call, source)) is not None:
        return _reanalyse_for_metadata(call, kept, source, store, analyser, started)
    # stages this version of the call completed before a crash: a stored transcript is not transcribed again
    done_stages = store.stages(call.id, ref.etag)
    stored = _stored_transcript(source, call.id) if "transcribed" in done_stages and not ref.is_text else None
    try:
        with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=workdir) as tmp, \
                Heartbeat(store, call.id, Path(tmp)):
            local = None  # the recording decoded once (infra.audio.DecodedAudio)
            if ref.is_text:
                progress.stage(call.id, "importing")
                transcript = _import_text(ref, call, source, Path(tmp), options)
                audio_seconds = 0.0
            else:
                if stored is None or (redact_audio and "redacted" not in done_stages):
                    progress.stage(call.id, "downloading")
                    # one ffmpeg pass: the level check, the decoded length and the PCM that transcription,
                    # diarization and the redacted audio read (files in this temporary folder)
                    info = inspect_recording(source.download(ref, Path(tmp)), limits, pcm_dir=Path(tmp) / "pcm",
                                             mixdown=not conversation.split_stereo)
                    local, duration = info.decoded, info.duration
                if stored is None:
                    audio_seconds = duration
                    progress.stage(call.id, "transcribing")
                    with (transcription_slot or nullcontext)():
                        transcript = transcribe_conversation(transcriber, local, call, info, options=options,
                                                             conversation=conversation, diarizer=diarizer)
                    transcript = replace(transcript, warnings=transcript.warnings + info.warnings)
                else:
                    transcript, audio_seconds = stored, 0.0
                    log.info("call %s resumed after its stored transcription", call.id)
            key = transcript_key(call.id)
            if stored is None:
                _write_transcript(source, transcript)
                store.mark_stage(call.id, "transcribed", ref.etag, _transcription_version(ref, transcript))
            progress.stage(call.id, "analysing")
            intervals = _store_results(call, transcript, source, analyser)
            if analyser is not None:
                store.mark_stage(call.id, "analysed", ref.etag, analyser_version(analyser))
            if redact_audio and local is not None:  # needs the recording, so done while it is here
                from pipeline.compliance_stage import write_redacted_audio

                progress.stage(call.id, "redacting audio")
                write_redacted_audio(source, transcript, local, Path(tmp), intervals)
                store.mark_stage(call.id, "redacted", ref.etag, REDACTION_VERSION)
        store.mark_done(call.id, transcript_key=key, language=transcript.language,
                        duration=duration if duration is not None else transcript.duration,
                        warnings=transcript.warnings)
    except (BadAudioError, MetadataError) as e:
        # the input itself (bad audio, a malformed transcript), or a sidecar that contradicts the transcript
        # it describes: quarantined until its object changes
        return _quarantine(source, store, ref, e, started, duration)
    except CallQAError as e:  # storage, models, config: not the call's fault, so retried on the next run
        store.mark_failed(call.id, ref.etag, code=e.code, message=e.message, quarantined=False)
        log.error("call %s failed (will retry): %s", call.id, e)
        raise
    except OSError as e:
        if e.errno != errno.ENOSPC:
            return _unexpected(store, call, ref, e)
        err = DiskFullError("no space left on the worker's disk while processing the call; free space and run "
                            "again (the call is retried)")
        store.mark_failed(call.id, ref.etag, code=err.code, message=err.message, quarantined=False)
        log.error("call %s failed: %s", call.id, err)
        raise err from None
    except Exception as e:
        return _unexpected(store, call, ref, e)
    log.info("call %s done: %.1f s %s, language %s", call.id, transcript.duration,
             ref.kind if ref.is_text else "audio", transcript.language)
    return Outcome(call.id, "done", audio_seconds=audio_seconds, wall_seconds=time.monotonic() - started,
                   language=transcript.language, transcript_key=key)


def _unexpected(store, call: Call, ref: RecordingRef, e: Exception):
    """Unexpected: recorded without the exception text (it may quote content), kept retryable; re-raised."""
    store.mark_failed(call.id, ref.etag, code=UnexpectedError.code, message=f"unexpected {type(e).__name__}",
                      quarantined=False)
    log.error("call %s failed unexpectedly: %s (will retry)", call.id, type(e).__name__)
    raise e


def _import_text(ref: RecordingRef, call: Call, source: RecordingSource, tmp: Path,
                 options: TranscribeOptions) -> Transcript:
    """A transcript or chat log in place of a recording, parsed strictly (E108) into a role-labelled
    transcript (transcribe.imported): no decoding, transcription or diarization."""
    from transcribe.imported import MAX_BYTES, import_transcript

    if ref.size > MAX_BYTES:  # before the download; the parser checks the bytes it got too
        raise RecordingTooLargeError(f"{ref.key}: {ref.size / 1024**2:.0f} MiB, over the "
                                     f"{MAX_BYTES // 1024**2} MiB a transcript or chat log may have; split it")
    data = source.download(ref, tmp).read_bytes()
    return import_transcript(data, ref.key, call, chinese_script=options.chinese_script, language=options.language)


REDACTION_VERSION = "tone/1"  # how personal-data spans are covered in the redacted audio


def analyser_version(analyser: "CallAnalyser") -> str:
    """What the analysis stage ran with: the policy's id and version (forms are versioned per scorecard)."""
    policy = getattr(analyser, "policy", None)
    return f"policy {policy.id}@{policy.version}" if policy is not None else "no policy"


def _transcription_version(ref: RecordingRef, transcript: Transcript) -> str:
    return f"import/{ref.kind}" if ref.is_text else f"{transcript.backend}/{transcript.model}"


def _stored_transcript(source: RecordingSource, call_id: str) -> Transcript | None:
    raw = source.read(transcript_key(call_id))
    return Transcript.from_json(raw.decode("utf-8")) if raw is not None else None


def _store_results(call: Call, transcript: Transcript, source: RecordingSource,
                   analyser: "CallAnalyser | None") -> list[tuple[float, float]] | None:
    """With `analyser`, the call's analysis through the redaction boundary (CallAnalyser.run), then its
    metrics; returns the audio intervals to cover (None: no analysis, the redacted-audio writer finds them)."""
    if analyser is None:
        source.write(metrics_key(call.id), conversation_metrics(transcript).to_json().encode("utf-8"))
        return None
    persisted = analyser.run(call, transcript)
    source.write(metrics_key(call.id), persisted.metrics.to_json().encode("utf-8"))
    return list(persisted.audio_intervals)


def _reusable_transcript(before, ref: RecordingRef, call: Call, source: RecordingSource) -> Transcript | None:
    """Only the sidecar changed since the call was done (same recording etag, same or no forced language):
    its stored transcript serves, with roles labelled again from the new metadata."""
    if before is None or before.state != "done" or before.etag == ref.etag:
        return None
    if recording_version(before.etag) != recording_version(ref.etag):
        return None
    raw = source.read(transcript_key(call.id))
    if raw is None:
        return None
    transcript = Transcript.from_json(raw.decode("utf-8"))
    if call.language and call.language != transcript.language:
        return None  # the sidecar now names another language: transcribe again
    from transcribe.roles import label_roles

    return label_roles(transcript, call)


def _reanalyse_for_metadata(call: Call, transcript: Transcript, source: RecordingSource, store: ResultsStore,
                            analyser: "CallAnalyser", started: float) -> Outcome:
    try:
        _store_results(call, transcript, source, analyser)
        _write_transcript(source, transcript)  # roles relabelled from the new metadata
        # the recording did not change: its transcription and redacted audio stand for the new version
        for stage, version in store.stages(call.id).items():
            if stage != "analysed":
                store.mark_stage(call.id, stage, call.etag, version[0])
        store.mark_stage(call.id, "analysed", call.etag, analyser_version(analyser))
        store.mark_done(call.id, transcript_key=transcript_key(call.id), language=transcript.language,
                        duration=transcript.duration, warnings=transcript.warnings)
    except CallQAError as e:
        store.mark_failed(call.id, call.etag, code=e.code, message=e.message, quarantined=False)
        raise
    log.info("call %s: metadata changed, analysed again without transcribing", call.id)
    return Outcome(call.id, "done", audio_seconds=0.0, wall_seconds=time.monotonic() - started,
                   language=transcript.language, transcript_key=transcript_key(call.id))


def load_stored_call(call_id: str, source: RecordingSource, store: ResultsStore) -> tuple[Call, Transcript] | None:
    """A processed call's metadata and stored transcript, for the stages that run after transcription."""
    record = store.get(call_id)
    raw = source.read(transcript_key(call_id)) if record and record.state == "done" else None
    if raw is None:
        return None
    meta = _metadata(source, RecordingRef(record.object_key, record.etag, 0, call_id,
                                          sidecar_key(record.object_key)))
    return build_call(RecordingRef(record.object_key, record.etag, 0, call_id), meta), \
        Transcript.from_json(raw.decode("utf-8"))


def score_stored_call(call_id: str, source: RecordingSource, store: ResultsStore, reviewer: "Reviewer") -> bool:
    """Score a call's stored transcript against its form (no download, no transcription), through the
    redaction boundary. False when there is no stored transcript or no form for the call."""
    return reanalyse_stored_call(call_id, source, store, CallAnalyser(store, source, reviewer=reviewer)) is True


def reanalyse_stored_call(call_id: str, source: RecordingSource, store: ResultsStore,
                          analyser: "CallAnalyser") -> bool | None:
    """The call's analysis again from its stored transcript (after a form or policy changed): None when
    there is no stored transcript, else whether it got a scorecard."""
    stored = load_stored_call(call_id, source, store)
    if stored is None:
        return None
    return analyser.run(*stored).scorecard is not None


def _write_transcript(source: RecordingSource, transcript: Transcript) -> None:
    """The transcript and its exports (RTTM, captions); the transcript JSON last: the `transcribed` stage."""
    call_id = transcript.call_id
    stem = transcript_key(call_id)[: -len(".json")]
    source.write(f"{stem}.rttm", to_rttm(transcript).encode("utf-8"), "text/plain")
    source.write(f"{stem}.vtt", to_webvtt(transcript).encode("utf-8"), "text/vtt")
    source.write(f"{stem}.srt", to_srt(transcript).encode("utf-8"), "application/x-subrip")
    source.write(transcript_key(call_id), transcript.to_json().encode("utf-8"))
