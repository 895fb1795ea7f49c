"""Conversation metrics from a speaker- and role-labelled transcript: pure arithmetic, no models.

Definitions (seconds from call start, rounded to the millisecond):
- speech: the union of word intervals (a segment without word timestamps counts as one interval).
- talk time of a role: the union of that role's speech. Talk ratio: a role's talk time divided by
  agent + customer talk time (None when neither talks; not given for "unknown").
- silence: a gap between the first and the last speech of the call in which nobody speaks for at least
  `dead_air_min_seconds` (ringing/IVR before the first word and silence after the last are not counted).
  `silence_seconds` includes holds; `dead_air_seconds` is silence that is not an announced hold (a long
  silence nobody announced is dead air, however long).
- hold: a silence of at least `hold_min_seconds`; `announced` (with the phrase) when an agent said a hold
  phrase ("please hold", "on hold", "请稍等", "稍候", ...: every language profile's `phrases.hold`,
  core.languages) in speech ending within 30 s before it.
- overtalk: time during which two or more speakers talk at once (per-speaker word intervals, together
  with the diarizer's `Transcript.overlaps`, which keep overlapped speech that ASR gave one speaker).
- interruption of A by B: a run of B (speech joined across pauses < 0.5 s) starts strictly inside a run
  of A, and either both talk together for >= 0.5 s, or A stops within 1 s (after >= 0.2 s of overlap:
  less is turn-taking jitter, below word-timestamp precision) and B talks on after A stopped. It is
  counted once per run of B, for B's role.
- words per minute: a role's spoken units divided by its own talk time in minutes. A token that holds
  Chinese characters counts one unit per character, other tokens count one each; `rate_unit` is the
  language profile's `pace_unit` (Chinese calls: "characters" per minute, others "words").
- time to first agent response: the agent's first word start minus the customer's first word start when
  the customer speaks first, else minus 0 (call start). None when the agent never speaks.
"""
from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Iterator, Literal

from core.models import ROLES, Segment, Transcript, Word
from core.chinese import CJK
from core.languages import LanguageRegistry, languages_or_default

Interval = tuple[float, float]
HOLD_PHRASE_WINDOW_SECONDS = 30.0
RUN_JOIN_SECONDS = 0.5
INTERRUPT_OVERLAP_SECONDS = 0.5
INTERRUPT_YIELD_SECONDS = 1.0
MIN_OVERLAP_SECONDS = 0.2
_EPS = 1e-6


# ---- interval helpers (also used by transcribe.speakers) ----

def merge_intervals(intervals: Iterable[Interval], join_gap: float = 0.0) -> list[Interval]:
    """Sorted union; intervals closer than or exactly `join_gap` apart are joined."""
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s - out[-1][1] <= join_gap + _EPS:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def total(intervals: Iterable[Interval]) -> float:
    return sum((e - s for s, e in intervals), 0.0)


def overlap_intervals(groups: Iterable[Iterable[Interval]]) -> list[Interval]:
    """Where at least two groups are active at once; overlaps inside one group do not count."""
    events: list[tuple[float, int]] = []
    for g in groups:
        events += [ev for s, e in merge_intervals(g) if e > s for ev in ((s, 1), (e, -1))]
    events.sort()  # at equal times ends (-1) come first: touching is not overlapping
    out: list[Interval] = []
    active, since = 0, 0.0
    for t, delta in events:
        if delta == 1 and active + 1 == 2:
            since = t
        elif delta == -1 and active == 2 and t > since:
            out.append((since, t))
        active += delta
    return merge_intervals(out)


def _r(x: float) -> float:
    return round(x, 3)


def _ri(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    return tuple((_r(s), _r(e)) for s, e in intervals)


# ---- reading a transcript ----

def speech_units(seg: Segment) -> Iterator[tuple[Word | None, Interval]]:
    """(word, interval) per word; a segment without word timestamps is one (None, interval)."""
    if seg.words:
        for w in seg.words:
            yield w, (w.start, w.end)
    elif seg.text.strip():
        yield None, (seg.start, seg.end)


def speaker_of(word: Word | None, seg: Segment) -> str | None:
    return (word.speaker if word else None) or seg.speaker


def role_of(word: Word | None, seg: Segment, roles: dict[str, str]) -> str:
    role = (word.role if word else None) or seg.role or roles.get(speaker_of(word, seg) or "", "unknown")
    return role if role in ROLES else "unknown"


def count_units(text: str) -> int:
    """Chinese characters count one each; every other whitespace-separated token with a letter or digit one."""
    rest = CJK.sub(" ", text)
    return len(CJK.findall(text)) + sum(1 for t in rest.split() if any(c.isalnum() for c in t))


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# a run of Han characters, or a run of other word characters: "PO上Dcard" is "po", "上", "dcard", so a
# Latin phrase ("Dcard", "LIHKG") is found on its own word boundaries inside Chinese text as well
_TOKEN = re.compile(rf"[{_HAN}]+|(?:(?![{_HAN}])\w)+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def match_phrase(text: str, phrases: Iterable[str]) -> str | None:
    """The first of `phrases` found in `text`: Latin phrases on word boundaries, case- and
    punctuation-insensitive; Chinese phrases anywhere, ignoring spaces and punctuation."""
    tokens = _tokens(text)
    spaced, compact = f" {' '.join(tokens)} ", "".join(tokens)
    for p in phrases:
        if not (pt := _tokens(p)):
            continue
        if ("".join(pt) in compact) if CJK.search(p) else (f" {' '.join(pt)} " in spaced):
            return p
    return None


# ---- results ----

@dataclass(frozen=True)
class RoleMetrics:
    role: str
    talk_seconds: float
    talk_ratio: float | None  # share of agent + customer talk time
    units: int  # words, or Chinese characters (see module docstring)
    words_per_minute: float | None
    interruptions: int  # made by this role


@dataclass(frozen=True)
class Interruption:
    at: float
    by: str
    by_role: str
    of: str
    of_role: str


@dataclass(frozen=True)
class HoldPeriod:
    start: float
    end: float
    seconds: float
    announced: bool
    phrase: str | None = None


@dataclass(frozen=True)
class ConversationMetrics:
    call_id: str
    duration_seconds: float
    speech_seconds: float
    rate_unit: Literal["words", "characters"]
    agent: RoleMetrics
    customer: RoleMetrics
    unknown: RoleMetrics
    silence_seconds: float
    longest_silence_seconds: float
    dead_air_seconds: float
    silences: tuple[Interval, ...]
    overtalk_seconds: float
    overtalk: tuple[Interval, ...]
    interruptions: tuple[Interruption, ...]
    hold_seconds: float
    holds: tuple[HoldPeriod, ...]
    time_to_first_agent_response: float | None

    def role(self, name: str) -> RoleMetrics:
        if name not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {name!r}")
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


# ---- computation ----

def _interruptions(runs: dict[str, list[Interval]], speaker_role: dict[str, str]) -> list[Interruption]:
    starts = {spk: [s for s, _ in rs] for spk, rs in runs.items()}
    found = []
    for b, b_runs in runs.items():
        for bs, be in b_runs:
            for a, a_runs in runs.items():
                i = bisect_right(starts[a], bs - _EPS) - 1  # a's last run starting strictly before bs
                if a == b or i < 0 or a_runs[i][1] <= bs:
                    continue
                ae = a_runs[i][1]
                talk_over = min(ae, be) - bs >= INTERRUPT_OVERLAP_SECONDS - _EPS
                took_floor = (MIN_OVERLAP_SECONDS - _EPS <= ae - bs <= INTERRUPT_YIELD_SECONDS + _EPS
                              and be > ae)
                if talk_over or took_floor:
                    found.append(Interruption(_r(bs), b, speaker_role.get(b, "unknown"),
                                              a, speaker_role.get(a, "unknown")))
                    break
    return sorted(found, key=lambda x: (x.at, x.by))


def _hold_phrase(transcript: Transcript, roles: dict[str, str], before: float, agent_known: bool,
                 phrases: tuple[str, ...]) -> str | None:
    """A hold phrase in speech (the agent's, when roles are known) ending within the window before `before`."""
    for seg in reversed(transcript.segments):
        units = list(speech_units(seg))
        if not units:
            continue
        end = max(e for _, (_, e) in units)
        if not before - HOLD_PHRASE_WINDOW_SECONDS <= end <= before + _EPS:
            continue
        if agent_known and role_of(units[0][0], seg, roles) != "agent":
            continue
        if phrase := match_phrase(seg.text, phrases):
            return phrase
    return None


def conversation_metrics(transcript: Transcript, *, hold_min_seconds: float = 20.0,
                         dead_air_min_seconds: float = 3.0,
                         languages: LanguageRegistry | None = None) -> ConversationMetrics:
    """Per-call metrics; see the module docstring for each definition. `languages`: the profiles that give
    the hold phrases and the pace unit (default: `core.languages.default_languages()`)."""
    languages = languages_or_default(languages)
    if dead_air_min_seconds <= 0 or hold_min_seconds < dead_air_min_seconds:
        raise ValueError("need 0 < dead_air_min_seconds <= hold_min_seconds, got "
                         f"dead_air_min_seconds={dead_air_min_seconds}, hold_min_seconds={hold_min_seconds}")
    roles = {s.speaker: s.role for s in transcript.speakers}
    by_role: dict[str, list[Interval]] = {r: [] for r in ROLES}
    units = {r: 0 for r in ROLES}
    by_speaker: dict[str, list[Interval]] = {}
    speaker_role: dict[str, str] = dict(roles)
    for seg in transcript.segments:
        for w, iv in speech_units(seg):
            role = role_of(w, seg, roles)
            by_role[role].append(iv)
            units[role] += count_units(w.text if w else seg.text)
            if spk := speaker_of(w, seg):
                by_speaker.setdefault(spk, []).append(iv)
                speaker_role.setdefault(spk, role)

    speech = merge_intervals(iv for ivs in by_role.values() for iv in ivs)
    gaps = [(a[1], b[0]) for a, b in zip(speech, speech[1:])]
    silences = [g for g in gaps if g[1] - g[0] >= dead_air_min_seconds - _EPS]
    agent_known = bool(by_role["agent"])
    hold_phrases = languages.phrases("hold")
    holds = []
    for s, e in silences:
        if e - s >= hold_min_seconds - _EPS:
            phrase = _hold_phrase(transcript, roles, s, agent_known, hold_phrases)
            holds.append(HoldPeriod(_r(s), _r(e), _r(e - s), phrase is not None, phrase))
    overtalk = merge_intervals(overlap_intervals(by_speaker.values()) + list(transcript.overlaps))
    runs = {spk: merge_intervals(ivs, RUN_JOIN_SECONDS) for spk, ivs in by_speaker.items()}
    interruptions = tuple(_interruptions(runs, speaker_role))

    talk = {r: total(merge_intervals(by_role[r])) for r in ROLES}
    conversing = talk["agent"] + talk["customer"]

    def role_metrics(r: str) -> RoleMetrics:
        ratio = round(talk[r] / conversing, 4) if conversing > 0 and r != "unknown" else None
        wpm = round(units[r] / (talk[r] / 60.0), 1) if talk[r] > 0 else None
        return RoleMetrics(r, _r(talk[r]), ratio, units[r], wpm, sum(1 for i in interruptions if i.by_role == r))

    first = {r: min((s for s, _ in by_role[r]), default=None) for r in ("agent", "customer")}
    ttfr = None
    if first["agent"] is not None:
        c = first["customer"]
        ttfr = _r(first["agent"] - (c if c is not None and c < first["agent"] else 0.0))

    hold_total = sum(h.seconds for h in holds)
    silence_total = total(silences)
    return ConversationMetrics(
        call_id=transcript.call_id,
        duration_seconds=_r(max(transcript.duration, speech[-1][1] if speech else 0.0)),
        speech_seconds=_r(total(speech)),
        rate_unit=languages.pace_unit(transcript.language),
        agent=role_metrics("agent"), customer=role_metrics("customer"), unknown=role_metrics("unknown"),
        silence_seconds=_r(silence_total),
        longest_silence_seconds=_r(max((e - s for s, e in silences), default=0.0)),
        dead_air_seconds=_r(silence_total - sum(h.seconds for h in holds if h.announced)),
        silences=_ri(silences),
        overtalk_seconds=_r(total(overtalk)),
        overtalk=_ri(overtalk),
        interruptions=interruptions,
        hold_seconds=_r(hold_total),
        holds=tuple(holds),
        time_to_first_agent_response=ttfr,
    )
