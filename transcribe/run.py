"""Backend-independent transcription of a whole recording: language choice, chunking, offsets, scripts, and
dropping what the model made up (`transcribe.hallucination`).

Language: unless the call's metadata (or the options) force one, it is detected on speech, not on the first
30 s of whatever the channel holds: up to `detect_windows` VAD-speech windows of each channel (both parties of
a stereo call), their probability distributions averaged weighted by seconds of speech, then restricted to the
allowed languages. A quiet channel thus has little say, and both channel transcripts of a call get the same
language. Backends without VAD (`SpeechDetector`) fall back to the first `detect_seconds` of each channel.
"""
from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from infra.audio import SAMPLE_RATE, AudioSource, DecodedAudio, iter_chunks, probe
from core.models import Segment, Transcript
from transcribe.base import ChunkBatcher, SpeechDetector, TranscribeOptions, Transcriber, pick_language
from transcribe.hallucination import clean_channel

Progress = Callable[[float, float], None]  # (seconds done, total seconds)
WINDOW_SECONDS = 30.0  # Whisper's input length


@dataclass(frozen=True)
class LanguageGuess:
    language: str
    probability: float  # among the allowed languages; 1.0 when forced
    windows: int = 0  # audio windows the probabilities came from (0 = forced)
    speech_seconds: float = 0.0  # speech in those windows
    # channel -> VAD speech spans of its first chunk, as detection found them: transcription reuses them
    first_spans: Mapping[int | None, tuple] = field(default_factory=dict, compare=False, repr=False)


def speech_windows(audio: np.ndarray, spans: Sequence[tuple[float, float]],
                   window_seconds: float = WINDOW_SECONDS) -> list[tuple[np.ndarray, float]]:
    """(samples, seconds of speech) per window: the spans' audio back to back, cut every `window_seconds`."""
    limit = max(1, int(window_seconds * SAMPLE_RATE))
    windows: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    filled = 0
    for start, end in spans:
        a, b = max(0, int(start * SAMPLE_RATE)), min(len(audio), int(end * SAMPLE_RATE))
        while a < b:
            take = min(b - a, limit - filled)
            parts.append(audio[a:a + take])
            filled, a = filled + take, a + take
            if filled == limit:
                windows.append(np.concatenate(parts))
                parts, filled = [], 0
    if parts:
        windows.append(np.concatenate(parts))
    return [(w, len(w) / SAMPLE_RATE) for w in windows]


def spread(items: Sequence, n: int) -> list:
    """Up to `n` of `items`, evenly spread from the first to the last."""
    if n <= 0 or not items:
        return []
    if len(items) <= n:
        return list(items)
    if n == 1:
        return [items[0]]
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


def combine_probabilities(weighted: Iterable[tuple[Mapping[str, float], float]]) -> dict[str, float]:
    """Mean of language distributions weighted by seconds of speech (all of every distribution is kept, so
    noise that spreads its mass over nn/cy/th weighs little against speech that is clearly one language)."""
    total, out = 0.0, {}
    for probs, weight in weighted:
        if weight <= 0:
            continue
        total += weight
        for lang, p in probs.items():
            out[lang] = out.get(lang, 0.0) + weight * p
    return {lang: p / total for lang, p in out.items()} if total > 0 else {}


def detect_language(transcriber: Transcriber, samples: Mapping[int | None, tuple[np.ndarray, list | None]],
                    options: TranscribeOptions) -> LanguageGuess:
    """Language of a call from the start (`samples`: channel -> (audio, speech spans or None = backend
    has no VAD)) of each channel. Windows are taken a round at a time (the first of every channel, then the
    second, ...); once the allowed language the rounds so far point to reaches `options.detect_confident`,
    the rest are not decoded: on a clear call one window per channel decides (each costs a model pass)."""
    per_channel: list[list[tuple[np.ndarray, float]]] = []
    for audio, spans in samples.values():
        if spans is None:
            sample = audio[: int(options.detect_seconds * SAMPLE_RATE)]
            per_channel.append([(sample, len(sample) / SAMPLE_RATE)] if len(sample) else [])
        else:
            per_channel.append(spread(speech_windows(audio, spans), options.detect_windows))
    weighted: list[tuple[dict[str, float], float]] = []
    left = sum(len(w) for w in per_channel)
    side_by_side_ok = getattr(transcriber, "parallel", 1) > 1  # the model runs that many passes at once
    for round_ in itertools.zip_longest(*per_channel):
        taken = [w for w in round_ if w is not None]
        windows = [w for w, _ in taken]
        probs = (side_by_side(transcriber.language_probabilities, windows) if side_by_side_ok
                 else [transcriber.language_probabilities(w) for w in windows])
        weighted.extend(zip(probs, (seconds for _, seconds in taken)))
        left -= len(taken)
        if left and options.detect_confident is not None and sum(s for _, s in weighted) > 0:
            _, p = pick_language(combine_probabilities(weighted), options.detectable(), options.registry())
            if p >= options.detect_confident:
                break
    if not weighted:  # no speech on any channel (its words are dropped anyway): the first seconds, as before
        sample = next((a for a, _ in samples.values() if len(a)), np.zeros(0, np.float32))
        sample = sample[: int(options.detect_seconds * SAMPLE_RATE)]
        if not len(sample):
            return LanguageGuess("unknown", 0.0)
        lang, p = pick_language(transcriber.language_probabilities(sample), options.detectable(), options.registry())
        return LanguageGuess(lang, p, 1, 0.0)
    lang, p = pick_language(combine_probabilities(weighted), options.detectable(), options.registry())
    return LanguageGuess(lang, p, len(weighted), round(sum(s for _, s in weighted), 3))


def choose_language(transcriber: Transcriber, audio: np.ndarray, options: TranscribeOptions,
                    forced: str | None = None) -> tuple[str, float]:
    """Language of one piece of audio (speech windows of it when the backend has VAD); `forced` wins."""
    forced = forced or options.language
    if forced:
        return forced, 1.0
    spans = transcriber.speech_spans(audio) if isinstance(transcriber, SpeechDetector) else None
    guess = detect_language(transcriber, {None: (audio, spans)}, options)
    return guess.language, guess.probability


def _shift(seg: Segment, offset: float, conv: Callable[[str], str]) -> Segment:
    words = tuple(replace(w, text=conv(w.text), start=round(w.start + offset, 3), end=round(w.end + offset, 3))
                  for w in seg.words)
    return replace(seg, text=conv(seg.text), start=round(seg.start + offset, 3),
                   end=round(seg.end + offset, 3), words=words)


def _party_channels(path: AudioSource, channel: int | None) -> tuple[int, ...]:
    """Channels to detect the language on besides `channel`: the other one of a stereo recording."""
    if channel is None:
        return ()
    if isinstance(path, DecodedAudio):  # decoded once already: it knows its channels, no probe
        count = path.channels
    else:
        streams = [s for s in probe(path).get("streams", []) if s.get("codec_type") == "audio"]
        count = int(streams[0].get("channels") or 1) if streams else 1
    return (1 - channel,) if count == 2 and channel in (0, 1) else ()


def side_by_side(fn: Callable, items: Sequence) -> list:
    """`fn` of each item, in threads of their own when there are several: Silero VAD runs on one thread
    (faster-whisper's session), and so does each CTranslate2 worker of a batched model on a CPU, so the two
    channels of a call take the time of one on a multi-core CPU."""
    if len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(len(items), thread_name_prefix="callqa-side") as pool:
        return list(pool.map(fn, items))


def _first_chunk(path: AudioSource, options: TranscribeOptions, channel: int | None) -> np.ndarray:
    chunks = iter_chunks(path, options.chunk_seconds, channel=channel)
    try:
        first = next(chunks, None)
    finally:
        chunks.close()
    return first[1] if first is not None else np.zeros(0, np.float32)


# The last few detections, so the other channel of a call (transcribed next, often told no language when the
# first channel had no words) gets the same answer without decoding and detecting again.
_DETECTED: OrderedDict[tuple, LanguageGuess] = OrderedDict()
_DETECTED_LOCK = threading.Lock()


def _cache_key(transcriber: Transcriber, path: AudioSource, options: TranscribeOptions, channels: set) -> tuple:
    path = path.source if isinstance(path, DecodedAudio) else Path(path)  # the recording either way
    st = path.stat()
    return (id(transcriber), transcriber.backend, transcriber.model_name, str(path.resolve()),
            st.st_mtime_ns, st.st_size, tuple(sorted(channels, key=lambda c: -1 if c is None else c)),
            options.detectable(), options.detect_windows, options.detect_confident, options.detect_seconds,
            options.chunk_seconds)


def _remember(key: tuple, guess: LanguageGuess, size: int = 16) -> None:
    with _DETECTED_LOCK:
        _DETECTED[key] = guess
        while len(_DETECTED) > size:
            _DETECTED.popitem(last=False)


def detect_recording_language(transcriber: Transcriber, path: AudioSource, options: TranscribeOptions, *,
                              channel: int | None = None, detect_channels: Sequence[int] | None = None,
                              language: str | None = None,
                              known: Mapping[int | None, tuple[np.ndarray, list | None]] | None = None
                              ) -> LanguageGuess:
    """The language of a recording (or of `channel` and `detect_channels`, default: the other channel of a
    stereo recording) on speech windows of each; `language` (from call metadata) or options.language win.
    `known`: channel -> (first chunk, its speech spans) already at hand. Remembered per recording and channel
    set, so each party of a call gets the same answer once."""
    forced = language or options.language
    if forced:
        return LanguageGuess(forced, 1.0)
    vad = transcriber if isinstance(transcriber, SpeechDetector) else None
    others = _party_channels(path, channel) if detect_channels is None else detect_channels
    key = _cache_key(transcriber, path, options, {channel, *others})
    if (guess := _DETECTED.get(key)) is None:
        samples: dict[int | None, tuple[np.ndarray, list | None]] = dict(known or {})

        def first_speech(ch: int | None) -> tuple[np.ndarray, list | None]:
            audio = _first_chunk(path, options, ch)
            return audio, vad.speech_spans(audio) if vad is not None and len(audio) else None

        missing = [ch for ch in (channel, *others) if ch not in samples]
        samples.update(zip(missing, side_by_side(first_speech, missing)))
        guess = replace(detect_language(transcriber, samples, options),
                        first_spans={ch: tuple(spans) for ch, (_, spans) in samples.items() if spans is not None})
        _remember(key, guess)
    return guess


def transcribe_recording(transcriber: Transcriber, path: AudioSource, call_id: str, *, duration: float,
                         options: TranscribeOptions = TranscribeOptions(), language: str | None = None,
                         channel: int | None = None, speaker: str | None = None,
                         progress: Progress | None = None,
                         detect_channels: Sequence[int] | None = None,
                         guess: LanguageGuess | None = None) -> Transcript:
    """Transcribe `path` (or one `channel` of it) chunk by chunk: a `DecodedAudio` (the call decoded once,
    read from its files) or a recording's path (decoded here). `guess` (from `detect_recording_language`,
    shared by the channels of a call) or `language` (from call metadata) overrides detection; otherwise the
    language is detected on `channel` and `detect_channels` (see `detect_recording_language`).

    Then `transcribe.hallucination.clean_channel` drops prompt echoes and repeated-phrase loops, and every
    word when the channel has no real speech; its W005/W006/W007 warnings land in `Transcript.warnings`."""
    vad = transcriber if isinstance(transcriber, SpeechDetector) else None
    chunks = iter_chunks(path, options.chunk_seconds, channel=channel)
    first = next(chunks, None)
    first_spans = None
    if vad is not None and first is not None:
        known_spans = guess.first_spans.get(channel) if guess is not None else None
        first_spans = list(known_spans) if known_spans is not None else vad.speech_spans(first[1])
    if guess is None:
        guess = detect_recording_language(transcriber, path, options, channel=channel,
                                          detect_channels=detect_channels, language=language,
                                          known={channel: (first[1], first_spans)} if first is not None else None)
    streams = [itertools.chain([first] if first is not None else [], chunks)]
    return _transcribe(transcriber, streams, [(channel, speaker, first_spans)], call_id, duration, options, guess,
                       progress)[0]


def batches_across_pieces(transcriber: Transcriber) -> bool:
    """Whether `transcribe_channels` decodes the channels' chunks in shared batches with this backend."""
    return isinstance(transcriber, ChunkBatcher) and transcriber.batch_size > 1


def transcribe_channels(transcriber: Transcriber, path: AudioSource, call_id: str,
                        parties: Sequence[tuple[int, str | None]], *, duration: float, guess: LanguageGuess,
                        options: TranscribeOptions = TranscribeOptions(),
                        progress: Progress | None = None) -> list[Transcript]:
    """Several channels of one recording (`parties`: (channel, speaker)) in the language `guess`, chunk by
    chunk in step, each chunk of all of them decoded together by a backend that batches across pieces
    (`ChunkBatcher`; one after another otherwise). One transcript per party, as `transcribe_recording`
    would make each."""
    streams = [iter_chunks(path, options.chunk_seconds, channel=ch) for ch, _ in parties]
    return _transcribe(transcriber, streams, [(ch, speaker, guess.first_spans.get(ch)) for ch, speaker in parties],
                       call_id, duration, options, guess, progress)


def _transcribe(transcriber: Transcriber, streams: list[Iterable[tuple[float, np.ndarray]]],
                parties: list[tuple[int | None, str | None, Sequence | None]], call_id: str, duration: float,
                options: TranscribeOptions, guess: LanguageGuess, progress: Progress | None) -> list[Transcript]:
    vad = transcriber if isinstance(transcriber, SpeechDetector) else None
    lang = guess.language
    languages = options.registry()
    profile = languages.get(lang)
    script = languages.script(lang, options.chinese_script)  # zh: the configured script; others: none
    prompt = profile.asr.prompt if profile else None
    model_lang = profile.asr_codes[0] if profile else lang
    convert = languages.converter(lang, script) if script else (lambda t: t)
    together = len(parties) > 1 and batches_across_pieces(transcriber)

    segments: list[list[Segment]] = [[] for _ in parties]
    speech = [0.0 for _ in parties]
    for i, pieces in enumerate(itertools.zip_longest(*streams)):
        present = [(k, p) for k, p in enumerate(pieces) if p is not None]
        if vad is not None:
            unknown = [(k, audio) for k, (_, audio) in present if not (i == 0 and parties[k][2] is not None)]
            found = dict(zip((k for k, _ in unknown), side_by_side(vad.speech_spans, [a for _, a in unknown])))
            for k, _ in present:
                spans = found[k] if k in found else parties[k][2]
                speech[k] += sum(end - start for start, end in spans or ())
        if together:
            decoded = transcriber.transcribe_chunks([audio for _, (_, audio) in present], model_lang,
                                                    beam_size=options.beam_size, initial_prompt=prompt)
        else:
            decoded = [transcriber.transcribe_chunk(audio, model_lang, beam_size=options.beam_size,
                                                    initial_prompt=prompt) for _, (_, audio) in present]
        for (k, (offset, audio)), found in zip(present, decoded):
            channel, speaker, _ = parties[k]
            for seg in found:
                seg = _shift(seg, offset, convert)
                if speaker or channel is not None:
                    seg = replace(seg, speaker=speaker, channel=channel,
                                  words=tuple(replace(w, speaker=speaker) for w in seg.words))
                segments[k].append(seg)
        if progress and present:
            offset, audio = present[0][1]
            progress(min(duration, offset + len(audio) / SAMPLE_RATE), duration)
    out = []
    for k, (channel, _speaker, _) in enumerate(parties):
        cleaned = clean_channel(segments[k], prompt=prompt,
                                speech_seconds=round(speech[k], 3) if vad is not None else None,
                                channel=channel, options=options.hallucination)
        out.append(Transcript(call_id=call_id, language=lang, language_probability=round(guess.probability, 4),
                              duration=round(duration, 3), segments=cleaned.segments,
                              backend=transcriber.backend, model=transcriber.model_name, script=script,
                              warnings=cleaned.warnings))
    return out
