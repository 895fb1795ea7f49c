"""Accuracy of the real pipeline on a manifest dataset (bench/MANIFEST.md): every metric that has labels.

Calls go through the production stages: `process_recording` on a local folder source (decode, faster-whisper,
stereo split or pyannote diarization for mono, roles, redacted audio), then the compliance stage
(`check_stored_call`: redacted transcript + alerts of the shipped policy), the scorecard (`score_call` with
the item's form and the e5 similarity model) and the sentiment summary. Text items skip the audio stages.

    python bench/accuracy.py DATASET_DIR [--json FILE]
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.manifest import CallItem, TextItem, load_manifest  # noqa: E402
from bench.metrics import (PRF, RedactionCount, SpanScore, agreement_by_key, alert_prf, macro_f1,  # noqa: E402
                           normalise_for_wer, only_digits, redaction_recall, span_prf)

DER_COLLAR = 0.25  # seconds, forgiven around each reference boundary (NIST convention); overlap is scored
PII_MIN_SCORE = 0.5
SOP_VALUE = {"pass": "yes", "fail": "no", "na": "na"}


@dataclass
class Models:
    """Loaded on first use, so a text-only dataset never loads Whisper or pyannote."""
    _cache: dict = field(default_factory=dict)

    def get(self, name: str):
        if name not in self._cache:
            if name == "transcriber":
                from transcribe.registry import build_transcriber
                self._cache[name] = build_transcriber("faster-whisper", "base", "cpu")
            elif name == "diarizer":
                from transcribe.diarize import PyannoteDiarizer
                self._cache[name] = PyannoteDiarizer(device="cpu")
            elif name == "similarity":
                from scoring.similarity import E5SimilarityModel
                self._cache[name] = E5SimilarityModel()
            elif name == "sentiment":
                from scoring.sentiment import LexiconSentiment
                self._cache[name] = LexiconSentiment()
            elif name == "policy":
                from compliance.alerts import default_policy_path, load_policy
                self._cache[name] = load_policy(default_policy_path())
            else:
                raise KeyError(name)
        return self._cache[name]


def find_form(form_id: str, dataset: Path):
    from scoring.forms import load_form, shipped_forms_dir

    for folder in (dataset / "forms", shipped_forms_dir()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else ():
            if path.stem == form_id:
                return load_form(path)
    raise FileNotFoundError(f"form {form_id!r} is neither in {dataset / 'forms'} nor among the shipped forms")


def text_transcript(item: TextItem):
    """A text item as a Transcript: one segment per turn (3 s each, 0.5 s apart) or one for `text`."""
    from core.models import Segment, Transcript

    turns = item.turns or ()
    lines = [(t.role or t.speaker, t.text) for t in turns] or [(None, item.text)]
    segs = tuple(Segment(3.5 * k, 3.5 * k + 3.0, text, speaker=role, role=role) for k, (role, text) in enumerate(lines))
    return Transcript(call_id=item.id, language=item.language, language_probability=1.0, duration=3.5 * len(segs),
                      segments=segs, backend="text", model="none")


def gold_spans(item) -> list[tuple[str, int, int]]:
    text, out = item.reference_text(), []
    for s in item.pii or ():
        if s.start is not None:
            out.append((s.entity, s.start, s.end))
        else:
            i = text.find(s.text)
            out.append((s.entity, i, i + len(s.text)))
    return out


def pii_values(item, language: str) -> list[str]:
    """Gold PII as comparable values: the digits when the span is a number (spoken digits normalised),
    else its lowercased text."""
    from compliance.pii import normalise_spoken_digits

    text, out = item.reference_text(), []
    for ent, s, e in gold_spans(item):
        digits = only_digits(normalise_spoken_digits(text[s:e], language)[0])
        out.append(digits if len(digits) >= 4 else text[s:e].lower())
    return out


def _digits_text(text: str, language: str) -> str:
    from compliance.pii import normalise_spoken_digits

    return normalise_spoken_digits(text, language)[0]


def wer_texts(item: CallItem, transcript) -> tuple[list[str], list[str]]:
    """Normalised (references, hypotheses): one pair per channel when every turn names its channel (order
    across channels does not matter then), else one pair for the whole call; none without a reference."""
    norm = lambda t: normalise_for_wer(t, item.language)  # noqa: E731
    sep = "" if item.language == "zh" else " "
    if item.turns and all(t.channel is not None for t in item.turns):
        chans = sorted({t.channel for t in item.turns})
        return ([norm(sep.join(t.text for t in item.turns if t.channel == c)) for c in chans],
                [norm(sep.join(s.text for s in transcript.segments if s.channel == c)) for c in chans])
    ref = item.reference_text()
    return ([norm(ref)], [norm(transcript.text)]) if ref is not None else ([], [])


def der_components(item: CallItem, dataset: Path, transcript):
    """(reference, hypothesis, uem) pyannote objects, or None when the item has no speaker reference."""
    from pyannote.core import Annotation, Segment, Timeline

    from core.metrics import merge_intervals, speech_units

    ref = Annotation(uri=item.id)
    by_role = False
    if item.rttm:
        from pyannote.database.util import load_rttm

        ref = next(iter(load_rttm(dataset / item.rttm).values()))
    elif item.turns and all(t.start is not None for t in item.turns):
        by_role = all(t.role for t in item.turns)
        for t in item.turns:
            ref[Segment(t.start, t.end)] = t.role if by_role else (t.speaker or "?")
    else:
        return None
    uem = None
    if item.uem:
        from pyannote.database.util import load_uem

        uem = next(iter(load_uem(dataset / item.uem).values()))
    else:
        uem = Timeline([Segment(0.0, transcript.duration)])
    units: dict[str, list] = {}
    for seg in transcript.segments:
        for w, iv in speech_units(seg):
            label = ((w.role if w else None) or seg.role) if by_role else ((w.speaker if w else None) or seg.speaker)
            units.setdefault(label or "unknown", []).append(iv)
    hyp = Annotation(uri=ref.uri)
    for label, ivs in units.items():
        for k, (s, e) in enumerate(merge_intervals(ivs, join_gap=0.5)):
            hyp[Segment(s, e), f"{label}-{k}"] = label
    return ref, hyp, uem


def run_call(item: CallItem, dataset: Path, models: Models, work: Path) -> dict:
    """The pipeline on one call; returns the raw outputs the metrics need."""
    from compliance.redact import find_pii
    from infra.audio import inspect_recording
    from pipeline.compliance_stage import check_stored_call, redacted_audio_key, redacted_transcript_key
    from pipeline.conversation import transcribe_conversation
    from core.metrics import conversation_metrics
    from core.models import Transcript
    from pipeline.process import load_stored_call, process_recording, transcript_key
    from infra.storage import LocalFolderSource
    from infra.store import ResultsStore

    root = work / item.id
    rec = root / "recordings"
    rec.mkdir(parents=True)
    audio = rec / f"call{Path(item.audio).suffix}"
    shutil.copyfile(dataset / item.audio, audio)
    side = {"language": item.language, "direction": item.direction or "inbound"}
    if item.agent_channel is not None:
        side["attributes"] = {"agent_channel": item.agent_channel}
    (rec / "call.json").write_text(json.dumps(side))
    info = inspect_recording(audio)
    if item.channels is not None and info.channels != item.channels:
        raise ValueError(f"{item.id}: manifest says {item.channels} channel(s), {item.audio} has {info.channels}")
    src, store = LocalFolderSource(root, "recordings/"), ResultsStore(f"sqlite:///{root}/r.db")
    (ref,) = src.list_recordings()
    diarizer = models.get("diarizer") if info.channels == 1 else None
    t0 = time.perf_counter()
    outcome = process_recording(ref, src, store, models.get("transcriber"), diarizer=diarizer, redact_audio=True)
    wall = time.perf_counter() - t0
    if outcome.status != "done":
        raise RuntimeError(f"{item.id}: pipeline outcome {outcome.status} {outcome.code} {outcome.message}")
    transcript = Transcript.from_json(src.read(transcript_key(ref.call_id)).decode())
    alerts = check_stored_call(ref.call_id, src, store, models.get("policy"), sentiment=models.get("sentiment"))
    redacted = Transcript.from_json(src.read(redacted_transcript_key(ref.call_id)).decode())
    out = {"transcript": transcript, "redacted": redacted, "alerts": alerts, "wall": wall,
           "duration": info.duration, "pii_spans_found": len(find_pii(transcript))}
    if item.pii:  # re-transcribe the redacted recording: is the spoken PII gone from the audio?
        red_audio = root / "redacted.wav"
        red_audio.write_bytes(src.read(redacted_audio_key(ref.call_id)))
        call, _ = load_stored_call(ref.call_id, src, store)
        out["redacted_audio_text"] = transcribe_conversation(
            models.get("transcriber"), red_audio, call, inspect_recording(red_audio), diarizer=None).text
    out["kpis"] = conversation_metrics(transcript)
    return out


def evaluate(dataset: Path, *, log=print) -> dict:
    """Run every item of `dataset` and compute every labelled metric; returns a JSON-able dict."""
    import jiwer
    from pyannote.metrics.diarization import DiarizationErrorRate

    from compliance.pii import analyze
    from scoring.scorecard import score_call
    from scoring.sentiment import LABELS, sentiment_summary

    dataset = Path(dataset)
    items = load_manifest(dataset)
    models = Models()
    pii_map = json.loads((dataset / "pii_map.json").read_text()) if (dataset / "pii_map.json").is_file() else {}
    wer_pairs: dict[str, tuple[list, list]] = {}
    der = DiarizationErrorRate(collar=DER_COLLAR, skip_overlap=False)
    der_rows, sop_pairs, sent = [], [], {}
    spans: dict[str, SpanScore] = {}
    red_text, red_audio = RedactionCount(0, 0, 0), RedactionCount(0, 0, 0)
    alert_exp, alert_pred, per_call, audio_s, wall_s = [], [], [], 0.0, 0.0
    with tempfile.TemporaryDirectory(prefix="callqa-acc-") as tmp:
        for n, item in enumerate(items, 1):
            row = {"id": item.id, "kind": item.kind, "language": item.language}
            if isinstance(item, CallItem):
                r = run_call(item, dataset, models, Path(tmp))
                transcript = r["transcript"]
                audio_s, wall_s = audio_s + r["duration"], wall_s + r["wall"]
                row.update(audio_s=round(r["duration"], 1), wall_s=round(r["wall"], 1))
                refs, hyps = wer_texts(item, transcript)
                if refs:
                    pairs = wer_pairs.setdefault(item.language, ([], []))
                    pairs[0].extend(refs)
                    pairs[1].extend(hyps)
                    row["wer" if item.language == "en" else "cer"] = round(jiwer.wer(refs, hyps), 4)
                comps = der_components(item, dataset, transcript)
                if comps is not None:
                    d = der(*comps[:2], uem=comps[2], detailed=True)
                    der_rows.append({"id": item.id, "der": round(d["diarization error rate"], 4)})
                    row["der"] = round(d["diarization error rate"], 4)
                if item.alerts is not None:
                    alert_exp.append(item.alerts)
                    alert_pred.append([(a["rule_id"], a["category"]) for a in r["alerts"]])
                    row["alerts"] = sorted(a["rule_id"] for a in r["alerts"])
                if item.pii is not None:
                    values = pii_values(item, item.language)
                    orig = _digits_text(transcript.text, item.language)
                    rt = redaction_recall(values, orig, _digits_text(r["redacted"].text, item.language))
                    ra = redaction_recall(values, orig, _digits_text(r["redacted_audio_text"], item.language)) \
                        if values else RedactionCount(0, 0, 0)
                    red_text, red_audio = red_text + rt, red_audio + ra
                    row["redaction"] = {"gold": rt.gold, "heard": rt.heard, "masked_text": rt.masked,
                                        "masked_audio": ra.masked}
                summary = sentiment_summary(transcript, models.get("sentiment"))
                kpis = r["kpis"]
            else:
                from core.metrics import conversation_metrics

                transcript = text_transcript(item)
                summary, kpis = None, conversation_metrics(transcript)
            if item.pii is not None:  # recognizers on the reference text
                pred = [(pii_map.get(f.entity, f.entity), f.start, f.end) for f in analyze(item.reference_text(), item.language)
                        if f.score >= PII_MIN_SCORE]
                for ent, sc in span_prf(gold_spans(item), pred).items():
                    spans[ent] = spans[ent] + sc if ent in spans else sc
            if item.sop:
                card = score_call(find_form(item.form, dataset), transcript, kpis, similarity=models.get("similarity"))
                got = {a.question_id: SOP_VALUE[a.answer] for a in card.answers}
                for qid, gold in item.sop.items():
                    if qid not in got:
                        raise ValueError(f"{item.id}: form {item.form!r} has no question {qid!r} (has {sorted(got)})")
                    sop_pairs.append((qid, gold, got[qid]))  # per question id, pooled across forms
                row["sop"] = {q: got[q] for q in item.sop}
            if item.sentiment:
                if summary is not None:
                    pred_label = summary.final_customer.label if summary.final_customer else "none"
                else:
                    pred_label = models.get("sentiment").score([item.reference_text()], item.language)[0].label
                sent.setdefault(item.language, ([], []))
                sent[item.language][0].append(item.sentiment)
                sent[item.language][1].append(pred_label)
            for t in (item.turns or ()) if isinstance(item, TextItem) else ():
                if t.sentiment:  # per-turn labels of text items
                    sent.setdefault(item.language, ([], []))
                    sent[item.language][0].append(t.sentiment)
                    sent[item.language][1].append(models.get("sentiment").score([t.text], item.language)[0].label)
            per_call.append(row)
            if isinstance(item, CallItem) or n % 100 == 0 or n == len(items):
                log(f"  [{n}/{len(items)}] {item.id}: " + json.dumps({k: v for k, v in row.items()
                                                                     if k not in ("id", "kind")}, ensure_ascii=False))
    res: dict = {"dataset": str(dataset), "items": len(items), "per_item": per_call}
    if audio_s:
        res["pipeline_audio_s"], res["pipeline_wall_s"] = round(audio_s, 1), round(wall_s, 1)
    for lang, (refs, hyps) in wer_pairs.items():
        res["wer" if lang == "en" else "cer"] = {"n": len(refs), "corpus": round(jiwer.wer(refs, hyps), 4)}
    if der_rows:
        total = abs(der)
        d = der.report(display=False)
        res["der"] = {"n": len(der_rows), "collar": DER_COLLAR, "overall": round(total, 4),
                      "missed": round(float(d[("missed detection", "%")].iloc[-1]) / 100, 4),
                      "false_alarm": round(float(d[("false alarm", "%")].iloc[-1]) / 100, 4),
                      "confusion": round(float(d[("confusion", "%")].iloc[-1]) / 100, 4)}
    if sop_pairs:
        res["sop"] = agreement_by_key(sop_pairs)
    if sent:
        res["sentiment"] = {}
        for lang, (g, p) in sent.items():
            f1, per = macro_f1(g, p, tuple(c for c in LABELS if c in g))  # classes the gold labels use
            res["sentiment"][lang] = {"n": len(g), "macro_f1": round(f1, 4), "accuracy": round(
                sum(a == b for a, b in zip(g, p)) / len(g), 4), "f1": {k: round(v, 4) for k, v in per.items()}}
    if spans:
        res["pii_spans"] = {ent: sc.to_dict() for ent, sc in spans.items()}
    if red_text.gold:
        res["redaction"] = {"gold": red_text.gold, "heard": red_text.heard,
                            "transcript_recall": red_text.recall, "audio_recall": red_audio.recall,
                            "audio_heard": red_audio.heard, "audio_masked": red_audio.masked}
    if alert_exp:
        prf = alert_prf(alert_exp, alert_pred)
        res["alerts"] = {"n_calls": len(alert_exp), "per_label": {k: v.to_dict() for k, v in prf.items()},
                         "micro": sum(prf.values(), start=PRF(0, 0, 0)).to_dict()}
    return res


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from pipeline.config import offline_defaults

    offline_defaults()
    res = evaluate(args.dataset)
    text = json.dumps(res, ensure_ascii=False, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
