"""Who spoke when, without models: merge per-channel transcripts of a stereo call, or give each word of
a mono transcript the speaker of the diarization turn it falls in. Overlapped speech is kept and its
time ranges listed in `Transcript.overlaps`."""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import replace
from typing import Sequence

from core.metrics import Interval, overlap_intervals, speaker_of, speech_units
from core.models import Segment, Transcript, Turn, Word

# Chinese characters and CJK/full-width punctuation: no space is written next to them.
_NO_SPACE = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")


def _space_between(prev: str, nxt: str) -> bool:
    if _NO_SPACE.match(prev[-1]) or _NO_SPACE.match(nxt[0]):
        return False
    return nxt[0].isalnum() or nxt[0] in "\"'(["  # no space before "," "?" "." etc.


def join_words(texts: Sequence[str]) -> str:
    """Join word tokens: spaces between Latin words, none next to Chinese characters or before punctuation."""
    out = ""
    for t in (t.strip() for t in texts):
        if t:
            out += (" " if out and _space_between(out, t) else "") + t
    return out


def _overlaps(transcript_segments: Sequence[Segment]) -> tuple[Interval, ...]:
    by_speaker: dict[str, list[Interval]] = {}
    for seg in transcript_segments:
        for w, iv in speech_units(seg):
            if spk := speaker_of(w, seg):
                by_speaker.setdefault(spk, []).append(iv)
    return tuple((round(s, 3), round(e, 3)) for s, e in overlap_intervals(by_speaker.values()))


PAUSE_SPLIT_SECONDS = 1.5


def split_at_pauses(seg: Segment, max_gap: float = PAUSE_SPLIT_SECONDS) -> list[Segment]:
    """`seg` cut wherever its words pause longer than `max_gap`. On one party's channel whisper can return
    one segment spanning the other party's turns; merged by start time, its text would come before replies
    it actually follows."""
    words = list(seg.words)
    cuts = [i for i in range(1, len(words)) if words[i].start - words[i - 1].end > max_gap]
    if not cuts:
        return [seg]
    bounds = [0, *cuts, len(words)]
    return [replace(seg, words=tuple(words[a:b]), start=words[a].start, end=words[b - 1].end,
                    text=join_words([w.text for w in words[a:b]]))
            for a, b in zip(bounds, bounds[1:])]


def merge_channel_transcripts(per_channel: Sequence[Transcript], call_id: str, *,
                              speakers: Sequence[str] | None = None) -> Transcript:
    """One transcript from the transcripts of each channel (index = channel), segments cut at long pauses
    (`split_at_pauses`) and ordered by time.

    Each channel's speaker is `speakers[i]` if given, else the speaker its segments already carry
    (transcribe_recording(speaker=...)), else "S<i>"; every word is stamped with it.
    """
    if not per_channel:
        raise ValueError("merge_channel_transcripts needs at least one channel transcript")
    if speakers is not None and (len(speakers) != len(per_channel) or len(set(speakers)) != len(speakers)):
        raise ValueError(f"speakers must name each of the {len(per_channel)} channels once, got {list(speakers)}")
    segments: list[Segment] = []
    for ch, t in enumerate(per_channel):
        for seg in (piece for s in t.segments for piece in split_at_pauses(s)):
            spk = speakers[ch] if speakers is not None else (seg.speaker or f"S{ch}")
            segments.append(replace(seg, speaker=spk, channel=ch if seg.channel is None else seg.channel,
                                    words=tuple(replace(w, speaker=spk) for w in seg.words)))
    segments.sort(key=lambda s: (s.start, s.end, s.channel))

    # Channels may detect different languages (a silent channel often gets a random one): trust the
    # channel with the most words, and say so.
    main = per_channel[max(range(len(per_channel)), key=lambda i: (len(per_channel[i].words), -i))]
    warnings = list(dict.fromkeys(w for t in per_channel for w in t.warnings))
    spoken = {t.language for t in per_channel if t.segments}
    if len(spoken) > 1:
        warnings.append(f"channels detected different languages {sorted(spoken)}; using {main.language!r}")
    engines = {(t.backend, t.model) for t in per_channel}
    if len(engines) > 1:
        warnings.append(f"channels transcribed by different engines {sorted(engines)}")
    return Transcript(call_id=call_id, language=main.language, language_probability=main.language_probability,
                      duration=max(t.duration for t in per_channel), segments=tuple(segments),
                      backend=main.backend, model=main.model, script=main.script,
                      warnings=tuple(warnings), overlaps=_overlaps(segments))


class _TurnIndex:
    """Finds, for a time span, the turn overlapping it most (else the nearest one)."""

    def __init__(self, turns: Sequence[Turn]):
        self.turns = sorted(turns, key=lambda t: (t.start, t.end, t.speaker))
        self.starts = [t.start for t in self.turns]
        self.longest = max(t.end - t.start for t in self.turns)
        self.latest_end: list[int] = []  # index of the latest-ending turn among turns[:i + 1]
        for i, t in enumerate(self.turns):
            prev = self.latest_end[-1] if i else 0
            self.latest_end.append(i if t.end > self.turns[prev].end else prev)

    def pick(self, start: float, end: float) -> Turn:
        lo = bisect_left(self.starts, start - self.longest)
        hi = bisect_left(self.starts, end)  # turns starting before `end`
        best, best_ov = None, 0.0
        for t in self.turns[lo:hi]:
            ov = min(end, t.end) - max(start, t.start)
            if ov > best_ov:
                best, best_ov = t, ov
        if best is not None:
            return best
        # No overlap (a gap, or a zero-length word): nearest turn; a turn containing the point wins.
        candidates = []
        if hi:
            candidates.append(self.turns[self.latest_end[hi - 1]])
        if hi < len(self.turns):
            candidates.append(self.turns[hi])
        return min(candidates, key=lambda t: (max(t.start - end, start - t.end, 0.0), t.start))


def _split(seg: Segment, words: list[Word]) -> list[Segment]:
    """`seg` cut at every change of speaker among its (already stamped) words."""
    groups: list[list[Word]] = []
    for w in words:
        if groups and groups[-1][-1].speaker == w.speaker:
            groups[-1].append(w)
        else:
            groups.append([w])
    out = []
    for k, g in enumerate(groups):
        roles = {w.role for w in g}
        piece = replace(seg, words=tuple(g), speaker=g[0].speaker,
                        role=roles.pop() if len(roles) == 1 else None,
                        start=min(seg.start, g[0].start) if k == 0 else g[0].start,
                        end=max(seg.end, g[-1].end) if k == len(groups) - 1 else g[-1].end)
        if len(groups) > 1:
            piece = replace(piece, text=join_words([w.text for w in g]))
        out.append(piece)
    return out


def assign_words_to_speakers(transcript: Transcript, turns: Sequence[Turn]) -> Transcript:
    """Give each word the speaker (and role, if the turn has one) of the diarization turn it overlaps
    most (the nearest turn when it overlaps none), split segments at speaker changes, and list the
    times where turns of different speakers overlap in `overlaps`. No word is dropped; previous
    speaker roles are cleared (run label_roles again)."""
    if not turns:
        if transcript.words:
            raise ValueError(f"call {transcript.call_id}: no diarization turns for "
                             f"{len(transcript.words)} words; cannot assign speakers")
        return replace(transcript, overlaps=(), speakers=())
    index = _TurnIndex(turns)
    segments: list[Segment] = []
    for seg in transcript.segments:
        if not seg.words:
            t = index.pick(seg.start, seg.end)
            segments.append(replace(seg, speaker=t.speaker, role=t.role))
            continue
        words = []
        for w in seg.words:
            t = index.pick(w.start, w.end)
            words.append(replace(w, speaker=t.speaker, role=t.role))
        segments.extend(_split(seg, words))
    by_speaker: dict[str, list[Interval]] = {}
    for t in turns:
        by_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    overlaps = tuple((round(s, 3), round(e, 3)) for s, e in overlap_intervals(by_speaker.values()))
    return replace(transcript, segments=tuple(segments), overlaps=overlaps, speakers=())
