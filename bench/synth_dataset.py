"""Synthesised labelled calls (espeak-ng, demo.synth) written as a manifest dataset, every label known by
construction: reference turns (text, role, exact start/end, so DER needs no RTTM), expected alerts of the
shipped policy, PII values read out, expected answers of the shipped inbound forms, the customer's final
sentiment. Also the unlabelled length-controlled calls the throughput runner uses.

Labels are written by hand per script below (not derived by running our own rules on the script), so
rule mistakes show up as errors. PII labels cover the customer's data (numbers, date of birth, the
customer's name); the agent introducing themselves ("my name is Sarah") is not labelled, so a PERSON
finding there counts as a false positive. Alerts are complete over the shipped policy: a rule not listed must not
fire. `repeated_contact` needs call history and never fires here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from bench.manifest import write_manifest

A, C = "agent", "customer"
DISCLOSE = "This call may be recorded for quality purposes. "


@dataclass(frozen=True)
class LabelledScript:
    language: str
    turns: tuple[tuple[str, str], ...]
    alerts: tuple[str, ...]
    sop: dict[str, str] | None = None  # question id of the inbound form -> yes/no/na
    sentiment: str | None = None  # the customer's final sentiment
    pii: tuple[tuple[str, str], ...] = ()  # (entity, text as it occurs in the script)
    stereo: bool = True


def _sample(name: str) -> tuple[tuple[str, str], ...]:
    from demo.synth import SAMPLE_SCRIPTS

    return tuple((t.role, t.text) for t in SAMPLE_SCRIPTS[name].turns)


def scripts() -> dict[str, LabelledScript]:
    return {
        "en_good": LabelledScript("en", (
            (A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
            (C, "Hello. I was charged twice and I am not happy about it."),
            (A, "I am sorry to hear that. Before we look at it, could you confirm your date of birth?"),
            (C, "Yes, it is the third of March, nineteen eighty five."),
            (A, "Thank you. I can see your last payment on your account, and I will refund the extra charge."),
            (C, "Great, thanks."),
            (A, "Is there anything else I can help you with today? Thank you for calling, goodbye.")),
            alerts=("missing_recording_disclosure",),
            sop={"greeting": "yes", "verification": "yes", "empathy": "yes", "hold_etiquette": "na"},
            sentiment="positive", pii=(("DATE_OF_BIRTH", "third of March, nineteen eighty five"),)),
        "en_no_verification": LabelledScript("en", (
            (A, "Thank you for calling Northwind. " + DISCLOSE + "My name is Sarah. How can I help you?"),
            (C, "Hello, I would like to know how much I owe."),
            (A, "Sure. Your account balance is ninety dollars, and your last payment was in May."),
            (C, "Okay, thank you. Goodbye.")),
            alerts=("pii_before_verification",),
            sop={"greeting": "yes", "verification": "no", "empathy": "na", "hold_etiquette": "na"},
            sentiment="positive"),
        "en_risky": LabelledScript("en", (
            (A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
            (C, "This is the third time I call. If you do not fix it today, I will go to the press, "
                "and my lawyer will sue you."),
            (A, "I understand. Let me get my supervisor.")),
            alerts=("missing_recording_disclosure", "media_threat", "legal_threat"),
            sop={"greeting": "yes", "hold_etiquette": "na"}, sentiment="negative"),
        "en_clean": LabelledScript("en", (
            (A, "Thank you for calling Northwind. " + DISCLOSE + "My name is Sarah. How can I help you?"),
            (C, "Hello, I would like to change my delivery address please."),
            (A, "Of course, that is done now. Have a nice day.")),
            alerts=(), sop={"greeting": "yes", "empathy": "na", "hold_etiquette": "na"}, sentiment="neutral"),
        "en_card_read_out": LabelledScript("en", (
            (A, "Thank you for calling Northwind. " + DISCLOSE + "My name is Sarah. How can I help you?"),
            (C, "Hi, I want to check which card you have on file for me."),
            # digits espeak-ng and whisper base agree on (no repeats, no 5/7/9/0): the check is the pipeline,
            # not the synthetic voice
            (A, "Let me read it back. Your card number is: Four one two one. Six four one six. One two eight six. "
                "One six four eight."),
            (C, "Thanks. Please also check my phone number."),
            (A, "I have your phone number as two one two, three four six, eight one two three. Have a nice day.")),
            alerts=("pii_read_out",), sentiment="positive",
            pii=(("CARD_NUMBER", "Four one two one. Six four one six. One two eight six. One six four eight"),
                 ("PHONE_NUMBER", "two one two, three four six, eight one two three"))),
        "en_billing_refund_mono": LabelledScript(
            "en", _sample("en_billing_refund"), alerts=("missing_recording_disclosure",),
            sop={"greeting": "yes", "hold_etiquette": "yes"}, sentiment="positive",
            pii=(("PERSON", "Michael Johnson"), ("DATE_OF_BIRTH", "third of March, nineteen eighty five")),
            stereo=False),
        "zh_billing_refund": LabelledScript(
            "zh", _sample("zh_billing_refund"), alerts=("missing_recording_disclosure",), sentiment="positive",
            pii=(("PHONE_NUMBER", "一三八，一二三四，五六七八"),)),
        "zh_risky": LabelledScript("zh", (
            (A, "您好，我是客服小王，请问有什么可以帮您？"),
            (C, "你们再不处理，我就找律师起诉你们，还要发到网上曝光。")),
            alerts=("missing_recording_disclosure", "legal_threat", "media_threat"), sentiment="negative"),
        "zh_password_reset_mono": LabelledScript(
            "zh", _sample("zh_password_reset"), alerts=("missing_recording_disclosure",), sentiment="positive",
            stereo=False),
    }


QUICK = ("en_card_read_out", "en_risky")


def build_accuracy_set(out_dir: Path, names: tuple[str, ...] | None = None, *, stereo: bool | None = None,
                       sample_rate: int = 8000) -> Path:
    """Synthesise the labelled scripts into `out_dir` (WAVs + manifest.jsonl); returns the folder. `stereo`
    forces every call to stereo (True) or mono (False) instead of each script's own layout."""
    from demo.synth import ScriptedTurn, synthesise_call

    out_dir = Path(out_dir)
    table = scripts()
    unknown = sorted(set(names or ()) - set(table))
    if unknown:
        raise ValueError(f"unknown synthesised scripts {unknown}; known: {sorted(table)}")
    items = []
    for name in names or tuple(table):
        s = table[name]
        if stereo is not None:
            s = replace(s, stereo=stereo)
        call = synthesise_call([ScriptedTurn(r, t) for r, t in s.turns], s.language, out_dir / f"{name}.wav",
                               stereo=s.stereo, sample_rate=sample_rate)
        turns = [{"role": t.role, "speaker": t.role, "start": round(t.start, 3), "end": round(t.end, 3),
                  "text": t.text} | ({"channel": 0 if t.role == A else 1} if s.stereo else {}) for t in call.turns]
        item = {"id": name, "kind": "call", "audio": f"{name}.wav", "language": s.language,
                "channels": 2 if s.stereo else 1, "direction": "inbound", "turns": turns,
                "alerts": list(s.alerts), "pii": [{"entity": e, "text": x} for e, x in s.pii]}
        if s.stereo:
            item["agent_channel"] = 0
        if s.sop:
            item["form"], item["sop"] = f"inbound_service_{s.language}", dict(s.sop)
        if s.sentiment:
            item["sentiment"] = s.sentiment
        items.append(item)
    write_manifest(out_dir, items)
    return out_dir


def build_length_calls(out_dir: Path, minutes: list[float], *, stereo: bool, prefix: str = "call") -> list[Path]:
    """Unlabelled English calls of exactly the given lengths (cycling the sample scripts); one WAV each."""
    from demo.synth import synthesise_long_call

    paths = []
    for k, m in enumerate(minutes):
        path = Path(out_dir) / f"{prefix}{k:03d}_{m:g}min.wav"
        synthesise_long_call(path, m, "en", stereo=stereo)
        paths.append(path)
    return paths
