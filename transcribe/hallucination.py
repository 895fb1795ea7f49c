"""Whisper's hallucinations on one channel: what to drop, and the quality flags that say so.

Pure logic over the segments a backend returned for one channel (or a mono recording); `transcribe.run`
calls `clean_channel` once the channel is transcribed. Three kinds are dropped:

* repeated-phrase loops: the same n-gram many times in a row ("I'm a fool, I'm a fool, ...", "哈哈哈哈..."),
  within a segment or over back-to-back segments. A customer saying "no, no, no", "对对对" or an account
  number twice is nowhere near the thresholds: one token needs 7 repeats, two tokens 5, longer phrases 3.5,
  and a run of digits or number words 16.
* prompt echoes: a segment that is (almost) only the decoder's initial prompt or pieces of it ("以下是普通话的
  句子。", "以下是普通話。以下是普通話的句子。"), compared in Simplified script without punctuation; a whole
  prompt inside a longer segment is cut out of it, and once a channel has echoed the prompt, a segment that
  is just a short piece of it ("的句子。", the rest of an echo split over two segments) goes too.
* a channel with no real speech: VAD found less than `min_speech_seconds`, or every segment left is
  low-confidence (average log-probability below whisper's own -1.0), or it echoed the prompt and the model
  rates every other segment as more likely silence than speech (no_speech_prob >= 0.5: scraps decoded
  along with the echoes), or nothing is left at all. All of its segments go, and W005 names the channel
  so that role rules never use it (`dropped_channels`).

Warnings follow the W0xx style of `infra.audio` and never quote call content:
W005 no real speech on a channel, W006 repeated-phrase loops dropped, W007 prompt echoes dropped.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from core.chinese import CJK, to_script
from core.models import Segment, Word

W_NO_SPEECH = "W005"
W_LOOP = "W006"
W_PROMPT_ECHO = "W007"

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+(?:'[^\W_{_HAN}]+)*")
_CJK_DIGITS = set("〇零一二三四五六七八九十百千万萬两兩幺")
_NUMBER_WORDS = {"zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "double", "triple", "hundred", "thousand"}
_W005_CHANNEL = re.compile(rf"^{W_NO_SPEECH} channel (\d+)\b")


@dataclass(frozen=True)
class HallucinationOptions:
    min_speech_seconds: float = 1.0  # less VAD speech than this on a channel: no real speech
    min_avg_logprob: float = -1.0  # a segment below this is low-confidence (whisper's log_prob_threshold)
    single_token_repeats: float = 7.0  # "对" x7, "no" x7
    two_token_repeats: float = 5.0  # "对的" x5
    phrase_repeats: float = 3.5  # three or more tokens: "I'm a fool" x3.5
    number_repeats: float = 16.0  # units made only of digits / number words: read-out numbers repeat
    max_unit_tokens: int = 16  # longest repeated unit looked for
    join_gap_seconds: float = 1.0  # segments this close are one stream for loop detection
    max_loop_seconds_per_token: float = 1.0  # a run over several segments is a loop only if this dense
    min_kept_tokens: int = 2  # what is left of a segment once its loop or echo is cut out must be this long
    drop_segment_share: float = 0.5  # a segment without word timestamps this much loop or echo goes entirely
    echo_min_tokens: int = 4  # a piece of the prompt must be this long to count as an echo of it
    echo_share: float = 0.8  # a segment this much made of prompt pieces is an echo
    echo_rest_min_tokens: int = 2  # in a channel that echoed the prompt, a segment that is only a piece this long
    echo_no_speech_prob: float = 0.5  # a channel that echoed the prompt, and no segment below this: no speech


@dataclass(frozen=True)
class CleanResult:
    segments: tuple[Segment, ...]
    warnings: tuple[str, ...]
    no_speech: bool  # the channel yields no words (W005)
    loops: int  # loop runs found
    loop_tokens: int
    echoes: int  # segments dropped or cut as prompt echoes
    dropped_segments: int  # segments removed entirely, for any reason


# ---- tokens ----

def _fold(text: str) -> str:
    """Lower case, Simplified script: "以下是普通話" and "以下是普通话" compare equal."""
    return to_script(text, "zh-Hans").lower() if CJK.search(text) else text.lower()


def tokens(text: str) -> list[str]:
    """Comparison units: one per Han character, one per Latin word or number; punctuation is not a token."""
    return _TOKEN.findall(_fold(text))


def _is_number(token: str) -> bool:
    return token.isdigit() or token in _NUMBER_WORDS or all(c in _CJK_DIGITS for c in token)


def _needed_repeats(unit: Sequence[str], options: HallucinationOptions) -> float:
    if all(_is_number(t) for t in unit):
        return options.number_repeats
    return {1: options.single_token_repeats, 2: options.two_token_repeats}.get(len(unit), options.phrase_repeats)


# ---- loops ----

@dataclass(frozen=True)
class Loop:
    start: int  # token index of the first token of the run
    end: int  # one past the last
    unit: int  # tokens in the repeated unit

    @property
    def repeats(self) -> float:
        return (self.end - self.start) / self.unit


def find_loops(toks: Sequence[str], options: HallucinationOptions = HallucinationOptions()) -> list[Loop]:
    """Runs where one unit of n tokens repeats back to back at least `_needed_repeats` times (a trailing
    partial unit counts as a fraction). Shorter units are looked for first; a run inside one already found
    is not reported again."""
    covered = [False] * len(toks)
    found: list[Loop] = []
    for n in range(1, min(options.max_unit_tokens, len(toks) // 2) + 1):
        j = n
        while j < len(toks):
            if toks[j] != toks[j - n]:
                j += 1
                continue
            k = j
            while k < len(toks) and toks[k] == toks[k - n]:
                k += 1
            start, end = j - n, k  # toks[start:end] has period n
            unit = toks[start:start + n]
            if len(set(unit)) > 1 or n == 1:  # a unit of one repeated token is the n = 1 case
                if (end - start) / n >= _needed_repeats(unit, options) and \
                        sum(covered[start:end]) < (end - start) / 2:
                    found.append(Loop(start, end, n))
                    covered[start:end] = [True] * (end - start)
            j = k + 1
    return sorted(found, key=lambda lp: lp.start)


# ---- prompt echoes ----

def _prompt_pieces(text_tokens: Sequence[str], prompt_tokens: Sequence[str], min_tokens: int) -> list[bool]:
    """Which of `text_tokens` lie in a run of at least `min_tokens` that also occurs in the prompt."""
    covered = [False] * len(text_tokens)
    prompt = "\x00".join(prompt_tokens)
    i = 0
    while i < len(text_tokens):
        best = 0
        for length in range(min(len(prompt_tokens), len(text_tokens) - i), min_tokens - 1, -1):
            if "\x00".join(text_tokens[i:i + length]) in prompt:
                best = length
                break
        if best:
            covered[i:i + best] = [True] * best
            i += best
        else:
            i += 1
    return covered


def _contains(hay: Sequence[str], needle: Sequence[str]) -> list[bool]:
    """Which of `hay` are inside an occurrence of the whole `needle`."""
    covered = [False] * len(hay)
    n = len(needle)
    for i in range(len(hay) - n + 1):
        if n and list(hay[i:i + n]) == list(needle):
            covered[i:i + n] = [True] * n
    return covered


def is_prompt_echo(text: str, prompt: str | None, options: HallucinationOptions = HallucinationOptions()) -> bool:
    """Whether `text` is (almost) nothing but the prompt or pieces of it, in either Chinese script."""
    if not prompt:
        return False
    toks, ptoks = tokens(text), tokens(prompt)
    if not toks or not ptoks:
        return False
    covered = _prompt_pieces(toks, ptoks, min(options.echo_min_tokens, len(ptoks)))
    return sum(covered) >= options.echo_share * len(toks)


# ---- segments ----

def _word_tokens(seg: Segment) -> list[tuple[int, str]]:
    """(word index, token) over the segment; a segment without words is one pseudo-word (index -1)."""
    if not seg.words:
        return [(-1, t) for t in tokens(seg.text)]
    return [(i, t) for i, w in enumerate(seg.words) for t in tokens(w.text)]


def _join(words: Iterable[Word]) -> str:
    from transcribe.speakers import join_words  # same layer; imported here to keep this module light

    return join_words([w.text for w in words])


def _remove(seg: Segment, flagged: Sequence[bool], unit_words: list[tuple[int, str]],
            options: HallucinationOptions) -> Segment | None:
    """`seg` without its flagged tokens' words; None when less than `min_kept_tokens` remain. A segment
    without words cannot be cut: it goes when `drop_segment_share` of it is flagged, else stays whole."""
    if not any(flagged):
        return seg
    if not seg.words:
        return None if sum(flagged) >= options.drop_segment_share * len(flagged) else seg
    drop: dict[int, list[bool]] = {}
    for (wi, _), f in zip(unit_words, flagged):
        drop.setdefault(wi, []).append(f)
    keep = tuple(w for i, w in enumerate(seg.words) if not (i in drop and sum(drop[i]) * 2 >= len(drop[i])))
    while keep and not tokens(keep[0].text):  # punctuation left at the cut
        keep = keep[1:]
    if sum(len(tokens(w.text)) for w in keep) < options.min_kept_tokens:
        return None
    return replace(seg, words=keep, text=_join(keep), start=keep[0].start, end=keep[-1].end)


def _strip_echoes(segments: Sequence[Segment], prompt: str | None,
                  options: HallucinationOptions) -> tuple[list[Segment], int, int]:
    """(segments, echoes found, segments dropped)."""
    if not prompt or not (ptoks := tokens(prompt)):
        return list(segments), 0, 0
    out, echoes, dropped = [], 0, 0
    for seg in segments:
        units = _word_tokens(seg)
        toks = [t for _, t in units]
        if toks and is_prompt_echo(seg.text, prompt, options):
            echoes, dropped = echoes + 1, dropped + 1
            continue
        flagged = _contains(toks, ptoks)
        if any(flagged):
            echoes += 1
            cut = _remove(seg, flagged, units, options)
            dropped += cut is None
            if cut is not None:
                out.append(cut)
        else:
            out.append(seg)
    if echoes:  # whisper split an echo over segments: the rest of it ("的句子。") is a short piece on its own
        rest = [s for s in out if not _piece_of(tokens(s.text), ptoks, options.echo_rest_min_tokens)]
        echoes, dropped, out = echoes + len(out) - len(rest), dropped + len(out) - len(rest), rest
    return out, echoes, dropped


def _piece_of(toks: Sequence[str], ptoks: Sequence[str], min_tokens: int) -> bool:
    """Whether `toks` is one contiguous piece of the prompt, at least `min_tokens` long."""
    return len(toks) >= min_tokens and any(_contains(ptoks, toks))


def _groups(segments: Sequence[Segment], gap: float) -> list[list[int]]:
    """Indices of back-to-back segments (time order as given), each group one stream of speech."""
    groups: list[list[int]] = []
    for i, seg in enumerate(segments):
        if groups and seg.start - segments[groups[-1][-1]].end <= gap:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _dense(segments: Sequence[Segment], run: Sequence[tuple[int, int, str]], options: HallucinationOptions) -> bool:
    """A run within one segment always counts (whisper stretches a loop's timestamps over the silence it
    fills); over several segments it must be spoken fast, as a decoder loop is, not a phrase said again
    turn after turn ("thank you" ... "thank you"), which spreads over the call."""
    if len({si for si, _, _ in run}) == 1:
        return True

    def span(si: int, wi: int) -> tuple[float, float]:
        seg = segments[si]
        return (seg.words[wi].start, seg.words[wi].end) if wi >= 0 else (seg.start, seg.end)

    start, end = span(*run[0][:2])[0], span(*run[-1][:2])[1]
    return end - start <= options.max_loop_seconds_per_token * len(run)


def _strip_loops(segments: Sequence[Segment],
                 options: HallucinationOptions) -> tuple[list[Segment], int, int, int]:
    """(segments, loops found, tokens in them, segments dropped)."""
    kept: list[Segment | None] = list(segments)
    n_loops = n_tokens = 0
    for group in _groups(segments, options.join_gap_seconds):
        stream: list[tuple[int, int, str]] = []  # (segment index, word index, token)
        for si in group:
            stream.extend((si, wi, t) for wi, t in _word_tokens(segments[si]))
        loops = [lp for lp in find_loops([t for _, _, t in stream], options)
                 if _dense(segments, stream[lp.start:lp.end], options)]
        if not loops:
            continue
        n_loops += len(loops)
        flagged = [False] * len(stream)
        for lp in loops:
            n_tokens += lp.end - lp.start
            flagged[lp.start:lp.end] = [True] * (lp.end - lp.start)
        for si in group:
            mine = [(k, (wi, t)) for k, (s, wi, t) in enumerate(stream) if s == si]
            kept[si] = _remove(segments[si], [flagged[k] for k, _ in mine], [u for _, u in mine], options)
    out = [s for s in kept if s is not None]
    return out, n_loops, n_tokens, len(segments) - len(out)


def low_confidence(seg: Segment, options: HallucinationOptions = HallucinationOptions()) -> bool:
    """Decoded below whisper's own log-probability threshold (segments without scores are trusted)."""
    return seg.avg_logprob is not None and seg.avg_logprob < options.min_avg_logprob


def _where(channel: int | None) -> str:
    return f"channel {channel}" if channel is not None else "recording"


def clean_channel(segments: Sequence[Segment], *, prompt: str | None = None, speech_seconds: float | None = None,
                  channel: int | None = None,
                  options: HallucinationOptions = HallucinationOptions()) -> CleanResult:
    """Drop prompt echoes and repeated-phrase loops from one channel's segments, then all of them if the
    channel has no real speech. `speech_seconds`: what VAD found on the channel (None = not measured)."""
    segs, echoes, dropped_echo = _strip_echoes(segments, prompt, options)
    segs, loops, loop_tokens, dropped_loop = _strip_loops(segs, options)
    where = _where(channel)
    warnings = []
    if loops:
        warnings.append(f"{W_LOOP} {where}: {loops} repeated-phrase loop{'s' * (loops != 1)} dropped "
                        f"({loop_tokens} tokens)")
    if echoes:
        warnings.append(f"{W_PROMPT_ECHO} {where}: {echoes} echo{'es' * (echoes != 1)} of the decoding prompt "
                        f"dropped")
    reason = None
    if speech_seconds is not None and speech_seconds < options.min_speech_seconds:
        reason = f"VAD found {speech_seconds:.1f} s of speech"
    elif not any(tokens(s.text) for s in segs):
        reason = "nothing left to keep" if segments else "no segments"
    elif all(low_confidence(s, options) for s in segs):
        reason = "every segment low-confidence"
    elif echoes and all(s.no_speech_prob is not None and s.no_speech_prob >= options.echo_no_speech_prob
                        for s in segs):
        reason = "prompt echoes, and the rest likely silence"  # scraps decoded along with the echoes
    if reason is not None:
        warnings.append(f"{W_NO_SPEECH} {where}: no real speech ({reason}); "
                        f"{len(segments)} segment{'s' * (len(segments) != 1)} dropped")
        return CleanResult((), tuple(warnings), True, loops, loop_tokens, echoes, len(segments))
    return CleanResult(tuple(segs), tuple(warnings), False, loops, loop_tokens, echoes, dropped_echo + dropped_loop)


def dropped_channels(warnings: Iterable[str]) -> frozenset[int]:
    """Channels whose text `clean_channel` dropped, read back from a transcript's warnings (W005)."""
    return frozenset(int(m.group(1)) for w in warnings if (m := _W005_CHANNEL.match(w)))
