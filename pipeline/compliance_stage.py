"""Compliance stage on a stored call (Prefect-free): the call's analysis (pipeline.analysis) with its policy,
through the redaction boundary: redacted transcript and alerts under `redacted/` and in the DB. The
unredacted transcript and recording stay where they were. Also the redacted copy of the recording."""
from __future__ import annotations

from pathlib import Path

from compliance.redact import audio_intervals, find_pii, redact_audio, redact_text  # noqa: F401  (re-exported)
from pipeline.analysis import (  # noqa: F401  (re-exported)
    AlertSink,
    CallAnalyser,
    contact_history,
    redacted_audio_key,
    redacted_transcript_key,
)
from core.models import Transcript
from pipeline.process import load_stored_call
from infra.audio import AudioSource  # noqa: F401  (annotation)
from infra.storage import RecordingSource
from infra.store import ResultsStore


def write_redacted_audio(source: RecordingSource, transcript: Transcript, recording: AudioSource,
                         workdir: Path, intervals: list[tuple[float, float]] | None = None) -> int:
    """Redacted copy of the recording (personal-data spans replaced by a tone, duration kept). `recording`:
    the call decoded once (`infra.audio.DecodedAudio`, read from its PCM file) or a recording's path.
    `intervals` from the call's analysis; found here only when not given. Returns the number of intervals."""
    if intervals is None:
        intervals = audio_intervals(find_pii(transcript))
    out = workdir / "redacted.wav"
    redact_audio(recording, out, list(intervals), mode="tone")
    source.write(redacted_audio_key(transcript.call_id), out.read_bytes(), "audio/wav")
    return len(intervals)


def check_stored_call(call_id: str, source: RecordingSource, store: ResultsStore, policy, *,
                      sentiment=None, sink: AlertSink | None = None) -> list[dict] | None:
    """Redacted transcript + alerts for a processed call; None when it has no stored transcript."""
    stored = load_stored_call(call_id, source, store)
    if stored is None:
        return None
    analyser = CallAnalyser(store, source, policy=policy, sentiment_model=sentiment, sink=sink)
    return list(analyser.run(*stored).alerts)
