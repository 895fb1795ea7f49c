"""Agent or customer: which transcript speaker plays which role, decided by simple ordered rules.

`label_roles` tries each rule in turn (the list is replaceable) and the first that gives an answer
wins: the telephony metadata's agent channel, then (when a channel's text was dropped) what the remaining
speakers say, then who opens with agent phrases, then who speaks first. On a transfer (more than two
speakers) an extra speaker who uses agent phrases is an agent too.

Agent phrases are strong ("how can I help", "thank you for calling", "请问有什么可以帮您": customers rarely say
them) or weak ("my name is", "您好": customers say them too, typically in reply: "Hi, my name is Bob, I'm
calling about my bill", "您好，我想问一下我的账单"). A strong phrase decides wherever it falls in the opening;
a weak one counts only for whoever spoke first, and what both parties say over the call (`content_scores`)
breaks a tie between a weak greeting and who spoke first (see `GreetingRule`). A strong phrase inside a
customer phrase ("I'm calling about your letter": "calling about your" inside "i'm calling about") is
only a weak one.

A channel whose text `transcribe.hallucination` dropped (W005: no real speech, loops, prompt echoes) has
no speaker here, so "who speaks first" or "who greets first" would compare the other party with nobody;
`ContentRule` decides the remaining speakers from their own words instead, and `FirstSpeakerRule` abstains.
Each SpeakerInfo's `rule` names the rule that decided it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Protocol, Sequence

from core.chinese import CJK, to_script
from core.metrics import speaker_of, speech_units
from core.languages import LanguageRegistry, languages_or_default
from core.models import Call, Role, SpeakerInfo, Transcript
from transcribe.hallucination import dropped_channels

# The phrases that mark agents and customers are language data: every language profile's `phrases`
# (agent_strong, agent_weak, agent_content, customer, customer_frames; core/languages/*.yaml), matched in
# any call whatever its language. Customer frames are words around a strong agent phrase that make it the
# customer's ("who did you say you're calling from?"): the phrase inside counts as weak (`find_phrases`),
# the words around it for neither side. Chinese ones are compared in Simplified.
_CHANNEL_NAMES = {"0": 0, "1": 1, "left": 0, "right": 1, "l": 0, "r": 1}


class RoleRule(Protocol):
    name: str

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        """Roles for the transcript's speakers, or None when this rule cannot tell."""


def first_starts(transcript: Transcript) -> dict[str, float]:
    """The start of each speaker's first speech."""
    first: dict[str, float] = {}
    for seg in transcript.segments:
        for w, (start, _) in speech_units(seg):
            spk = speaker_of(w, seg)
            if spk is not None and start < first.get(spk, float("inf")):
                first[spk] = start
    return first


def _first_turn_end(transcript: Transcript, speaker: str) -> float:
    """The end of `speaker`'s speech in the segment where it first speaks."""
    best: tuple[float, float] | None = None  # (start, end)
    for seg in transcript.segments:
        mine = [iv for w, iv in speech_units(seg) if speaker_of(w, seg) == speaker]
        if mine and (best is None or mine[0][0] < best[0]):
            best = (min(a for a, _ in mine), max(b for _, b in mine))
    return best[1] if best else float("-inf")


def speaker_order(transcript: Transcript) -> list[str]:
    """Speakers by the start of their first speech."""
    first = first_starts(transcript)
    return sorted(first, key=lambda s: (first[s], s))


def speaker_channels(transcript: Transcript) -> dict[str, int]:
    out: dict[str, int] = {}
    for seg in transcript.segments:
        if seg.channel is not None:
            for w, _ in speech_units(seg):
                if (spk := speaker_of(w, seg)) is not None:
                    out.setdefault(spk, seg.channel)
    return out


def _utterances(transcript: Transcript) -> list[tuple[float, str, str]]:
    """(start, speaker, text) per segment that has a speaker, in time order."""
    out = []
    for seg in transcript.segments:
        units = list(speech_units(seg))
        spk = speaker_of(units[0][0], seg) if units else seg.speaker
        if spk is not None and units:
            out.append((units[0][1][0], spk, seg.text))
    return sorted(out, key=lambda u: u[0])


def _simplified(text: str) -> str:
    return to_script(text, "zh-Hans") if CJK.search(text) else text


@lru_cache(maxsize=4096)
def _phrase_needle(phrase: str) -> tuple[bool, tuple[str, ...]]:
    """(Chinese?, tokens) of a phrase, in Simplified script."""
    tokens = tuple(re.findall(r"\w+", _simplified(phrase).lower()))
    return bool(CJK.search(phrase)), tokens


def _occurrences(tokens: list[str], at: dict[str, list[int]], compact: str, phrase: str) -> list[tuple[str, int, int]]:
    """Where `phrase` occurs, as `core.metrics.match_phrase` finds it: a Latin phrase as a run of whole
    tokens ("w", first token, end; `at`: where each token is), a Chinese one anywhere in the text without
    spaces and punctuation ("c", first character, end)."""
    chinese, pt = _phrase_needle(phrase)
    if not pt:
        return []
    if chinese:
        needle = "".join(pt)
        out: list[tuple[str, int, int]] = []
        i = compact.find(needle)
        while i >= 0:
            out.append(("c", i, i + len(needle)))
            i = compact.find(needle, i + 1)
        return out
    n = len(pt)
    return [("w", i, i + n) for i in at.get(pt[0], ()) if tuple(tokens[i:i + n]) == pt]


def _overlap(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


@dataclass(frozen=True)
class Phrases:
    """The distinct phrases found in one text. `framed`: strong agent phrases found only inside a customer
    phrase ("i'm calling about" around "calling about your") or a customer frame ("you're calling
    from"), which count as weak; the customer phrases around them are not counted either (an outbound
    agent says "I'm calling about your account" too)."""
    strong: frozenset[str]
    framed: frozenset[str]
    weak: frozenset[str]
    agent: frozenset[str]
    customer: frozenset[str]


def find_phrases(text: str, strong: Sequence[str] | None = None, weak: Sequence[str] | None = None, *,
                 languages: LanguageRegistry | None = None) -> Phrases:
    """Agent (strong, weak, other) and customer phrases in `text`, compared in Simplified script. The
    phrases are the language profiles' (`languages`, default: `core.languages.default_languages()`);
    `strong` and `weak` replace the profiles' agent_strong and agent_weak."""
    langs = languages_or_default(languages)
    strong = langs.phrases("agent_strong") if strong is None else strong
    weak = langs.phrases("agent_weak") if weak is None else weak
    tokens = re.findall(r"\w+", _simplified(text).lower())
    compact = "".join(tokens)
    at: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens):
        at.setdefault(tok, []).append(i)

    def occ(phrases: Sequence[str]) -> dict[str, list[tuple[str, int, int]]]:
        found: dict[str, list[tuple[str, int, int]]] = {}
        needles: set[tuple[bool, tuple[str, ...]]] = set()  # a phrase listed in both scripts is one phrase
        for p in phrases:
            if _phrase_needle(p) not in needles and (o := _occurrences(tokens, at, compact, p)):
                needles.add(_phrase_needle(p))
                found[p] = o
        return found

    strong_at, customer_at = occ(strong), occ(langs.phrases("customer"))
    customer_spans = [o for os in (*customer_at.values(), *occ(langs.phrases("customer_frames")).values()) for o in os]
    strong_spans = [o for os in strong_at.values() for o in os]
    framed = {p for p, os in strong_at.items() if all(any(_overlap(o, c) for c in customer_spans) for o in os)}
    cancelled = {p for p, os in customer_at.items() if all(any(_overlap(o, s) for s in strong_spans) for o in os)}
    return Phrases(frozenset(set(strong_at) - framed), frozenset(framed), frozenset(occ(weak)),
                   frozenset(occ(langs.phrases("agent_content"))), frozenset(set(customer_at) - cancelled))


def _says_agent_phrase(utterances: list[tuple[float, str, str]], speaker: str, window: float) -> bool:
    """Whether `speaker` uses an agent phrase within `window` seconds of starting to speak."""
    mine = [(t, text) for t, spk, text in utterances if spk == speaker]
    return bool(mine) and any(t < mine[0][0] + window and
                              ((ph := find_phrases(text)).strong or ph.framed or ph.weak) for t, text in mine)


def complete_roles(transcript: Transcript, agent: str, confidence: float, rule: str,
                   window: float = 30.0) -> tuple[SpeakerInfo, ...]:
    """`agent` is the agent; the first other speaker is the customer; any further speaker (a transfer)
    is an agent if it opens with agent phrases, else unknown."""
    order = speaker_order(transcript)
    utterances = _utterances(transcript)
    infos, customer_found = [], False
    for spk in order:
        if spk == agent:
            infos.append(SpeakerInfo(spk, "agent", confidence, rule))
        elif not customer_found:
            customer_found = True
            infos.append(SpeakerInfo(spk, "customer", confidence, rule))
        elif _says_agent_phrase(utterances, spk, window):
            infos.append(SpeakerInfo(spk, "agent", 0.8, "agent-phrase"))
        else:
            infos.append(SpeakerInfo(spk, "unknown", 0.0, rule))
    return tuple(infos)


def _channel(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"call attribute agent_channel must be a channel number, 'left' or 'right', not {value!r}")
    if isinstance(value, int) and value >= 0:
        return value  # recordings with more than two channels name any of them (pipeline.conversation)
    key = str(value).strip().lower()
    if key not in _CHANNEL_NAMES:
        raise ValueError(f"call attribute agent_channel must be a channel number, 'left' or 'right', not {value!r}")
    return _CHANNEL_NAMES[key]


@dataclass(frozen=True)
class ChannelMetadataRule:
    """Telephony metadata says which channel the agent is on: `call.attributes["agent_channel"]`."""
    name: str = "channel-metadata"
    attribute: str = "agent_channel"

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        attrs = getattr(call, "attributes", None) or {}
        if self.attribute not in attrs:
            return None
        agent_channel = _channel(attrs[self.attribute])
        channels = speaker_channels(transcript)
        if not channels:
            return None  # a mono transcript: the channel says nothing about its speakers
        # a channel whose text was dropped is still a channel of the call (the agent's, often)
        if agent_channel not in (known := sorted(set(channels.values()) | dropped_channels(transcript.warnings))):
            raise ValueError(f"call attribute agent_channel must be {', '.join(map(str, known))}, 'left' or "
                             f"'right', not {attrs[self.attribute]!r}")
        infos = []
        for spk in speaker_order(transcript):
            ch = channels.get(spk)
            role: Role = "unknown" if ch is None else "agent" if ch == agent_channel else "customer"
            infos.append(SpeakerInfo(spk, role, 0.0 if ch is None else 1.0, self.name, ch))
        return tuple(infos)


def content_scores(text: str, weak: bool = True) -> tuple[int, int, bool]:
    """(agent score, customer score, has a strong agent phrase) of everything one speaker said: distinct
    phrases found, a strong agent phrase counting twice; weak agent phrases count once unless `weak` is
    false; a strong phrase inside a customer phrase ("I'm calling about your ...") counts for neither side."""
    ph = find_phrases(text)
    agent = 2 * len(ph.strong) + (len(ph.weak) if weak else 0) + len(ph.agent)
    return agent, len(ph.customer), bool(ph.strong)


@dataclass(frozen=True)
class ContentRule:
    """Only when a channel's text was dropped (W005, `transcribe.hallucination`): each remaining speaker is
    an agent or a customer by what they say over the whole call (agent phrases such as "how can I help",
    "please hold", "请稍等" against customer phrases such as "I want to", "my bill", "我想"); unknown when
    that is a tie. The other party said nothing usable, so comparing who spoke or greeted first means nothing."""
    name: str = "content"
    confidence: float = 0.7
    strong_confidence: float = 0.8

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        if not dropped_channels(transcript.warnings):
            return None
        order = speaker_order(transcript)
        if not order:
            return None
        texts: dict[str, list[str]] = {}
        for _, spk, text in _utterances(transcript):
            texts.setdefault(spk, []).append(text)
        infos = []
        for spk in order:
            agent, customer, strong = content_scores(" ".join(texts.get(spk, ())))
            if agent > customer:
                infos.append(SpeakerInfo(spk, "agent", self.strong_confidence if strong else self.confidence,
                                         self.name))
            elif customer > agent:
                infos.append(SpeakerInfo(spk, "customer", self.confidence, self.name))
            else:
                infos.append(SpeakerInfo(spk, "unknown", 0.0, self.name))
        return tuple(infos)


@dataclass(frozen=True)
class GreetingRule:
    """Agent phrases in the opening (`window_seconds` from the first speech) name the agent.

    1. The first speaker of a strong phrase ("how can I help", "thank you for calling", "请问有什么可以帮您")
       anywhere in the window: 0.9.
    2. Else a weak phrase ("my name is", "您好", or a strong phrase inside a customer phrase: "I'm calling
       about your letter") counts only when its speaker spoke first, or started within
       `first_speaker_seconds` of the first speech while the first speaker was still speaking: 0.8.
       Said in reply it is what customers say ("Order number." / "Er, hi, my name is Sam, ..."; 喂？/
       您好，我想问一下我的账单), so it does not outrank who spoke first: the rule cannot tell (None, and
       the next rule, who speaks first, decides) unless step 3 says otherwise.
    3. What both say over the whole call (`content_scores`, leaving out the weak phrases themselves) can
       overturn the choice of step 2 (the weak greeter who opened, or the first speaker when the greeter
       only replied) for the other party (the first other speaker, or the replying greeter): 0.7 when the
       one chosen talks like a customer (customer phrases outnumber agent phrases) and the other like an
       agent. An outbound call the customer answers ("Hello?" / "Hi, my name is Ann from the bank, I need
       to confirm your address" / "I want to ... my card"), or a customer who speaks first because the
       agent's opening was lost ("Hi, my name is Bob, I'm calling about my bill" / "Let me check your
       account")."""
    name: str = "greeting"
    window_seconds: float = 30.0
    strong: tuple[str, ...] | None = None  # None: the language profiles' agent_strong phrases
    weak: tuple[str, ...] | None = None  # None: the language profiles' agent_weak phrases
    strong_confidence: float = 0.9
    weak_confidence: float = 0.8
    content_confidence: float = 0.7
    first_speaker_seconds: float = 1.0

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        utterances = _utterances(transcript)
        if not utterances:
            return None
        until = utterances[0][0] + self.window_seconds
        found = [(spk, find_phrases(text, self.strong, self.weak))
                 for start, spk, text in utterances if start < until]
        for spk, ph in found:
            if ph.strong:
                return complete_roles(transcript, spk, self.strong_confidence, self.name, self.window_seconds)
        greeters = list(dict.fromkeys(spk for spk, ph in found if ph.weak or ph.framed))  # in time order
        if not greeters:
            return None
        starts = first_starts(transcript)
        order = sorted(starts, key=lambda s: (starts[s], s))
        # who spoke first, or started within a second of it while the first was still speaking (not in reply)
        first_end = min(_first_turn_end(transcript, order[0]), starts[order[0]] + self.first_speaker_seconds)
        opener = next((g for g in greeters if g == order[0] or starts.get(g, float("inf")) < first_end), None)
        # the weak greeter who opened the call, against the first other speaker; or the first speaker,
        # against a greeter who only spoke in reply
        if opener is not None:
            chosen, other = opener, next((s for s in order if s != opener), None)
        else:
            chosen, other = order[0], greeters[0]
        if other is not None and self._talks_like(utterances, chosen) == "customer" and \
                self._talks_like(utterances, other) == "agent":
            return complete_roles(transcript, other, self.content_confidence, self.name, self.window_seconds)
        if opener is None:
            return None
        return complete_roles(transcript, opener, self.weak_confidence, self.name, self.window_seconds)

    @staticmethod
    def _talks_like(utterances: list[tuple[float, str, str]], speaker: str) -> Role:
        """What a speaker's words over the whole call sound like, weak agent phrases left out."""
        said = " ".join(text for _, spk, text in utterances if spk == speaker)
        agent, customer, _ = content_scores(said, weak=False)
        return "agent" if agent > customer else "customer" if customer > agent else "unknown"


@dataclass(frozen=True)
class FirstSpeakerRule:
    """Whoever speaks first is the agent (agents answer inbound calls and open outbound ones)."""
    name: str = "first-speaker"
    confidence: float = 0.6

    def assign(self, transcript: Transcript, call: Call | None) -> tuple[SpeakerInfo, ...] | None:
        if dropped_channels(transcript.warnings):
            return None  # the other party's channel was dropped: being first says nothing
        order = speaker_order(transcript)
        return complete_roles(transcript, order[0], self.confidence, self.name) if order else None


DEFAULT_RULES: tuple[RoleRule, ...] = (ChannelMetadataRule(), ContentRule(), GreetingRule(), FirstSpeakerRule())


def label_roles(transcript: Transcript, call: Call | None = None,
                rules: Sequence[RoleRule] = DEFAULT_RULES) -> Transcript:
    """Stamp roles on `speakers`, segments and words using the first rule that decides.

    Speakers no rule labels are "unknown" (confidence 0); a transcript without speakers is returned
    with `speakers=()`.
    """
    order = speaker_order(transcript)
    infos: tuple[SpeakerInfo, ...] = ()
    for rule in rules:
        if (result := rule.assign(transcript, call)) is not None:
            infos = result
            break
    by_speaker = {i.speaker: i for i in infos}
    if stray := sorted(set(by_speaker) - set(order)):
        raise ValueError(f"role rule {rule.name!r} labelled speakers {stray} not in the transcript {order}")
    channels = speaker_channels(transcript)
    speakers = []
    for spk in order:
        info = by_speaker.get(spk) or SpeakerInfo(spk, "unknown", 0.0, "none")
        speakers.append(info if info.channel is not None else replace(info, channel=channels.get(spk)))
    roles = {s.speaker: s.role for s in speakers}
    segments = []
    for seg in transcript.segments:
        words = tuple(replace(w, role=roles.get(speaker_of(w, seg) or "")) for w in seg.words)
        word_roles = {w.role for w in words}
        role = roles.get(seg.speaker) if seg.speaker else word_roles.pop() if len(word_roles) == 1 else None
        segments.append(replace(seg, words=words, role=role))
    return replace(transcript, segments=tuple(segments), speakers=tuple(speakers))
