"""Compliance stage (Prefect-free): personal data found and redacted, policies and reputation risks turned
into alerts. Redacted copies go under `redacted/`; the unredacted transcript and recording stay where they
were. Alert evidence is stored and emitted with its quotes redacted: reviewers see what was said about,
not the personal data itself."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from compliance.pii import analyze
from compliance.redact import REDACT_MIN_SCORE, audio_intervals, find_pii, placeholder, redact_audio, redact_transcript
from pipeline.metrics import conversation_metrics
from pipeline.models import Transcript
from pipeline.process import load_stored_call
from pipeline.storage import RecordingSource
from pipeline.store import ResultsStore

log = logging.getLogger("callqa")
AlertSink = Callable[[str, dict], None]  # (call id, alert dict with redacted evidence)


def redacted_transcript_key(call_id: str) -> str:
    return f"redacted/transcripts/{call_id}.json"


def redacted_audio_key(call_id: str) -> str:
    return f"redacted/audio/{call_id}.wav"


def redact_text(text: str, language: str, speaker_role: str | None = None) -> str:
    """`text` with every finding that the redacted transcript would also mask replaced by its placeholder
    (an agent's quote is read as the agent's: a long number it reads out is masked)."""
    found = [f for f in analyze(text, language, speaker_role=speaker_role) if f.score >= REDACT_MIN_SCORE]
    for f in sorted(found, key=lambda f: f.start, reverse=True):
        text = text[: f.start] + placeholder(f) + text[f.end:]
    return text


def write_redacted_audio(source: RecordingSource, transcript: Transcript, local_recording: Path,
                         workdir: Path) -> int:
    """Redacted copy of the recording (PII spans replaced by a tone, duration kept). Returns span count."""
    spans = find_pii(transcript)
    out = workdir / "redacted.wav"
    redact_audio(local_recording, out, audio_intervals(spans), mode="tone")
    source.write(redacted_audio_key(transcript.call_id), out.read_bytes(), "audio/wav")
    return len(spans)


def contact_history(call, store: ResultsStore, policy) -> list[tuple]:
    """Record this call as a contact of its customer (for the policy's cross-call checks) and return the
    customer's other recorded calls. Calls checked before an earlier call of the same customer was ingested
    see it on the next re-check (`callqa rescore`)."""
    from compliance.alerts import contact_keys

    history: list[tuple] = []
    if call.started_at is None:
        return history
    for customer_key, topic_key in contact_keys(policy):
        customer = call.attributes.get(customer_key)
        if customer is None:
            continue
        topic = call.attributes.get(topic_key)
        store.record_contact(call.id, str(customer), None if topic is None else str(topic), call.started_at)
        history += store.contact_history(str(customer), exclude_call=call.id)
    return history


def check_stored_call(call_id: str, source: RecordingSource, store: ResultsStore, policy, *,
                      sentiment=None, sink: AlertSink | None = None) -> list[dict] | None:
    """Redacted transcript + alerts for a processed call; None when it has no stored transcript."""
    from compliance.alerts import evaluate_policy
    from scoring.sentiment import LexiconSentiment, sentiment_summary

    stored = load_stored_call(call_id, source, store)
    if stored is None:
        return None
    call, transcript = stored
    spans = find_pii(transcript)
    source.write(redacted_transcript_key(call_id), redact_transcript(transcript, spans).to_json().encode("utf-8"))
    summary = sentiment_summary(transcript, sentiment or LexiconSentiment())
    alerts = evaluate_policy(policy, transcript, conversation_metrics(transcript), sentiment=summary, call=call,
                             history=contact_history(call, store, policy))
    lang = transcript.language if transcript.language in ("en", "zh") else "en"
    safe = []
    for alert in alerts:
        d = alert.to_dict()
        d["evidence"] = [{**e, "quote": redact_text(e.get("quote") or "", lang, e.get("role"))}
                         for e in d.get("evidence", [])]
        safe.append(d)
    store.replace_alerts(call_id, safe)
    for d in safe:
        log.warning("call %s alert %s (%s, %s)", call_id, d["rule_id"], d["category"], d["severity"])
        if sink is not None:
            sink(call_id, d)
    return safe
