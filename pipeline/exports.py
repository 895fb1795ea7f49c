"""Speaker-labelled exports of a transcript: RTTM (diarization), WebVTT and SRT (captions).

Captions name speakers by role ("Agent", "Customer"; a second agent on a transfer is "Agent 2") and
fall back to the speaker id ("S0") when the role is unknown. Text is written as is (UTF-8), so Chinese
stays readable.
"""
from __future__ import annotations

import re
from bisect import bisect_right

from core.metrics import Interval, merge_intervals, speaker_of, speech_units
from core.models import Segment, Transcript


def format_timestamp(seconds: float, decimal: str = ".") -> str:
    """HH:MM:SS.mmm (decimal ".", WebVTT) or HH:MM:SS,mmm (decimal ",", SRT); hours may exceed 99."""
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{decimal}{ms:03d}"


def speaker_labels(transcript: Transcript) -> dict[str, str]:
    """Display label per speaker id: its role, numbered when several speakers share it, else the id."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for info in transcript.speakers:
        if info.role == "unknown":
            labels[info.speaker] = info.speaker
            continue
        seen[info.role] = seen.get(info.role, 0) + 1
        n = seen[info.role]
        labels[info.speaker] = info.role.title() + (f" {n}" if n > 1 else "")
    for seg in transcript.segments:
        if seg.speaker and seg.speaker not in labels:
            labels[seg.speaker] = seg.role.title() if seg.role and seg.role != "unknown" else seg.speaker
    return labels


def _runs(transcript: Transcript) -> list[tuple[str, float, float]]:
    """(speaker, start, end) per contiguous run: a speaker's speech is joined across a pause unless
    another speaker talks in that pause."""
    by_speaker: dict[str, list[Interval]] = {}
    for seg in transcript.segments:
        for w, iv in speech_units(seg):
            by_speaker.setdefault(speaker_of(w, seg) or "unknown", []).append(iv)
    merged = {spk: merge_intervals(ivs) for spk, ivs in by_speaker.items()}
    runs = []
    for spk, ivs in merged.items():
        others = merge_intervals(iv for o, oivs in merged.items() if o != spk for iv in oivs)
        other_ends = [e for _, e in others]
        cur_s, cur_e = ivs[0]
        for s, e in ivs[1:]:
            i = bisect_right(other_ends, cur_e)  # first other interval still going after cur_e
            if i < len(others) and others[i][0] < s:
                runs.append((spk, cur_s, cur_e))
                cur_s = s
            cur_e = e
        runs.append((spk, cur_s, cur_e))
    return sorted((r for r in runs if r[2] > r[1]), key=lambda r: (r[1], r[2], r[0]))


def to_rttm(transcript: Transcript) -> str:
    """NIST RTTM: one SPEAKER line per contiguous speaker run (times from word timestamps)."""
    def field(x: str) -> str:  # RTTM fields are whitespace-separated
        return re.sub(r"\s+", "_", x.strip()) or "unknown"

    return "".join(f"SPEAKER {field(transcript.call_id)} 1 {s:.3f} {e - s:.3f} <NA> <NA> {field(spk)} <NA> <NA>\n"
                   for spk, s, e in _runs(transcript))


def _cues(transcript: Transcript) -> list[tuple[Segment, str | None, str]]:
    labels = speaker_labels(transcript)
    return [(seg, labels.get(seg.speaker) if seg.speaker else None, " ".join(seg.text.split()))
            for seg in transcript.segments if seg.text.strip()]


def _end(seg: Segment) -> float:
    return max(seg.end, seg.start + 0.001)  # a cue must end after it starts


def to_webvtt(transcript: Transcript) -> str:
    out = ["WEBVTT\n"]
    for i, (seg, label, text) in enumerate(_cues(transcript), 1):
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        voice = "<v " + re.sub(r"[<>&\s]+", " ", label).strip() + ">" if label else ""
        out.append(f"{i}\n{format_timestamp(seg.start)} --> {format_timestamp(_end(seg))}\n{voice}{text}\n")
    return "\n".join(out)


def to_srt(transcript: Transcript) -> str:
    out = []
    for i, (seg, label, text) in enumerate(_cues(transcript), 1):
        prefix = f"[{label}] " if label else ""
        out.append(f"{i}\n{format_timestamp(seg.start, ',')} --> {format_timestamp(_end(seg), ',')}\n"
                   f"{prefix}{text}\n")
    return "\n".join(out)
