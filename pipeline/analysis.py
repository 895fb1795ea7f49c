"""One analysis per call, and the one redaction boundary.

`analyse_call` computes every layer of a call's analysis once, in process, right after transcription (and
on rescore from the stored transcript): conversation metrics, personal-data findings, sentiment, the
scorecard and the compliance alerts, each read by the layers after it (the policy's `pii_read_out` check
reads the findings, the scorecard reads the sentiment summary). Nothing is re-read from storage and no
detection runs twice.

`redaction_boundary` is the only way from an analysis to what may be persisted outside the unredacted
`transcripts/` prefix: the redacted transcript, the scorecard and the alerts with every evidence quote
and detail masked by the call's own findings (`compliance.redact.mask_known`), per-utterance sentiment
without its text, the audio intervals to cover. `CallAnalyser` runs both and writes the result.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

from compliance.redact import (PiiSpan, audio_intervals, find_pii, known_values, mask_known, pii_rules,
                               redact_transcript)
from core.languages import LanguageRegistry, languages_or_default
from core.keys import redacted_audio_key, redacted_transcript_key, scorecard_key  # noqa: F401  (re-exported)
from core.metrics import ConversationMetrics, conversation_metrics
from core.models import Call, Transcript
from infra.storage import RecordingSource
from infra.store import ResultsStore

log = logging.getLogger("callqa")
AlertSink = Callable[[str, dict], None]  # (call id, alert dict with redacted evidence)


@dataclass(frozen=True)
class CallAnalysis:
    """Everything the pipeline concludes about one call; holds unredacted text: never persisted as is."""

    call: Call
    transcript: Transcript
    metrics: ConversationMetrics
    pii: tuple[PiiSpan, ...]
    sentiment: Any  # scoring.sentiment.SentimentSummary
    review: Any  # scoring.review.CallReview | None (no form for the call, or scoring off)
    alerts: tuple[Any, ...]  # compliance.alerts.Alert
    quality_flags: tuple[str, ...]


@dataclass(frozen=True)
class Persistable:
    """What may leave the process for a call: the output of `redaction_boundary`, and nothing else."""

    call_id: str
    redacted_transcript: Transcript
    metrics: ConversationMetrics  # times and counts only, no text
    scorecard: dict | None
    alerts: tuple[dict, ...]
    audio_intervals: tuple[tuple[float, float], ...]  # seconds of the recording to cover with a tone


def analyse_call(call: Call, transcript: Transcript, *, reviewer=None, policy=None, sentiment_model=None,
                 history: Sequence[tuple] = (), languages: LanguageRegistry | None = None) -> CallAnalysis:
    """Each layer computed once, in order; `reviewer` (scoring.review.Reviewer) and `policy` are optional
    (scoring or compliance switched off). The transcript's language profile (`languages`, default: the
    configured ones, core.languages) gives the pace unit and hold phrases of the metrics, the PII rule set
    (none: no personal-data findings) and the sentiment lexicon (none: nothing scored)."""
    from scoring.sentiment import LexiconSentiment, sentiment_summary

    languages = languages_or_default(languages)
    metrics = conversation_metrics(transcript, languages=languages)
    pii = tuple(find_pii(transcript, languages=languages)) if pii_rules(transcript.language, languages) else ()
    model = sentiment_model or (reviewer.sentiment if reviewer is not None else None) or LexiconSentiment()
    sentiment = sentiment_summary(transcript, model, languages=languages)
    review = reviewer.review(call, transcript, metrics, sentiment=sentiment) if reviewer is not None else None
    alerts: tuple = ()
    if policy is not None:
        from compliance.alerts import evaluate_policy

        alerts = tuple(evaluate_policy(policy, transcript, metrics, sentiment=sentiment, call=call, history=history,
                                       pii=pii, similarity=reviewer.similarity if reviewer is not None else None))
    return CallAnalysis(call, transcript, metrics, pii, sentiment, review, alerts, transcript.warnings)


def _mask_evidence(evidence: list[dict], values) -> list[dict]:
    return [{**e, "quote": mask_known(e.get("quote") or "", values), "detail": mask_known(e.get("detail") or "",
                                                                                      values)} for e in evidence]


def redaction_boundary(a: CallAnalysis) -> Persistable:
    """The one function that turns an analysis into what may be stored, logged or shown."""
    values = known_values(a.transcript, a.pii)
    scorecard = None
    if a.review is not None:
        card = a.review.to_dict()
        card["answers"] = [{**ans, "evidence": _mask_evidence(ans["evidence"], values)} for ans in card["answers"]]
        card["auto_fail_reasons"] = [mask_known(r, values) for r in card["auto_fail_reasons"]]
        sentiment = card.get("sentiment") or {}
        sentiment["utterances"] = [{k: v for k, v in u.items() if k != "text"} for u in sentiment.get("utterances", ())]
        card["redacted"] = True  # evidence masked at the boundary: readers need not redact again
        scorecard = card
    alerts = []
    for alert in a.alerts:
        d = alert.to_dict()
        d["evidence"] = _mask_evidence(d["evidence"], values)
        d["explanation"] = mask_known(d["explanation"], values)
        alerts.append(d)
    return Persistable(a.call.id, redact_transcript(a.transcript, list(a.pii)), a.metrics, scorecard,
                       tuple(alerts), tuple(audio_intervals(list(a.pii))))


def persist(p: Persistable, source: RecordingSource, store: ResultsStore, *, sink: AlertSink | None = None) -> None:
    """Write what the boundary let through: redacted transcript, scorecard, alerts."""
    source.write(redacted_transcript_key(p.call_id), p.redacted_transcript.to_json().encode("utf-8"))
    if p.scorecard is not None:
        body = json.dumps(p.scorecard, ensure_ascii=False, indent=1)
        source.write(scorecard_key(p.call_id), body.encode("utf-8"))
        store.save_scorecard(p.call_id, form_id=p.scorecard["form_id"], form_version=p.scorecard["form_version"],
                             total=p.scorecard["total"], auto_failed=p.scorecard["auto_failed"], body=body)
    store.replace_alerts(p.call_id, list(p.alerts))
    for d in p.alerts:
        log.warning("call %s alert %s (%s, %s)", p.call_id, d["rule_id"], d["category"], d["severity"])
        if sink is not None:
            sink(p.call_id, d)


class CallAnalyser:
    """The analysis stage as the pipeline runs it, built once per worker from the configuration."""

    def __init__(self, store: ResultsStore, source: RecordingSource, *, reviewer=None, policy=None,
                 sentiment_model=None, sink: AlertSink | None = None, languages: LanguageRegistry | None = None,
                 tenant_policies: dict | None = None):
        self.store, self.source = store, source
        self.reviewer, self.policy, self.sentiment_model, self.sink = reviewer, policy, sentiment_model, sink
        self.languages = languages  # None: the configured profiles (core.languages.default_languages)
        self.tenant_policies = dict(tenant_policies or {})  # tenant -> its own policy (else `policy`)

    def policy_for(self, call: Call):
        """The call's tenant's own policy when it has one, else the shared one (None: no compliance check)."""
        return self.tenant_policies.get(call.tenant, self.policy)

    def analyse(self, call: Call, transcript: Transcript) -> CallAnalysis:
        policy = self.policy_for(call)
        history = contact_history(call, self.store, policy) if policy is not None else ()
        return analyse_call(call, transcript, reviewer=self.reviewer, policy=policy,
                            sentiment_model=self.sentiment_model, history=history, languages=self.languages)

    def run(self, call: Call, transcript: Transcript) -> Persistable:
        p = redaction_boundary(self.analyse(call, transcript))
        persist(p, self.source, self.store, sink=self.sink)
        return p


def contact_history(call: Call, store: ResultsStore, policy) -> list[tuple]:
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
        scoped = f"{call.tenant}/{customer}"  # stored per tenant: client companies' customers never meet
        topic = call.attributes.get(topic_key)
        store.record_contact(call.id, scoped, None if topic is None else str(topic), call.started_at)
        history += [(str(customer), when, about) for _, when, about in store.contact_history(scoped, exclude_call=call.id)]
    return history
