"""Silero VAD as faster-whisper ships it, its model run once per piece of audio: the speech probabilities are
computed once (`SpeechMemo`) and spans are cut from them with any options, the tight cuts of the no-speech
check and the language windows as well as the looser ones batched decoding packs into windows.

`speech_timestamps` is faster-whisper 1.2's `get_speech_timestamps` after its model call (MIT licence,
adapted from silero-vad), so each cut equals what that function returns (tests/integration/test_vad.py).
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

WINDOW = 512  # samples per Silero step at 16 kHz


def speech_probabilities(audio: np.ndarray) -> np.ndarray:
    """Silero's speech probability per WINDOW samples of 16 kHz mono float32 `audio`."""
    from faster_whisper.vad import get_vad_model

    audio = np.ascontiguousarray(audio, dtype=np.float32)
    return get_vad_model()(np.pad(audio, (0, WINDOW - audio.shape[0] % WINDOW)))


def speech_timestamps(probs: np.ndarray, n_samples: int, options, sampling_rate: int = 16000) -> list[dict]:
    """{"start", "end"} in samples of each stretch of speech, from `speech_probabilities` of `n_samples` of
    audio with faster_whisper.vad.VadOptions `options`."""
    threshold, neg_threshold = options.threshold, options.neg_threshold
    speech_pad_samples = sampling_rate * options.speech_pad_ms / 1000
    min_speech_samples = sampling_rate * options.min_speech_duration_ms / 1000
    max_speech_samples = sampling_rate * options.max_speech_duration_s - WINDOW - 2 * speech_pad_samples
    min_silence_samples = sampling_rate * options.min_silence_duration_ms / 1000
    min_silence_samples_at_max_speech = sampling_rate * 98 / 1000
    if neg_threshold is None:
        neg_threshold = max(threshold - 0.15, 0.01)

    triggered, speeches, current = False, [], {}
    temp_end = prev_end = next_start = 0
    for i, prob in enumerate(probs):
        at = WINDOW * i
        if prob >= threshold and temp_end:
            temp_end = 0
            if next_start < prev_end:
                next_start = at
        if prob >= threshold and not triggered:
            triggered = True
            current["start"] = at
            continue
        if triggered and at - current["start"] > max_speech_samples:
            if prev_end:
                current["end"] = prev_end
                speeches.append(current)
                current = {}
                if next_start < prev_end:  # silence reached before, and still no speech
                    triggered = False
                else:
                    current["start"] = next_start
                prev_end = next_start = temp_end = 0
            else:
                current["end"] = at
                speeches.append(current)
                current = {}
                prev_end = next_start = temp_end = 0
                triggered = False
                continue
        if prob < neg_threshold and triggered:
            if not temp_end:
                temp_end = at
            if at - temp_end > min_silence_samples_at_max_speech:
                prev_end = temp_end
            if at - temp_end < min_silence_samples:
                continue
            current["end"] = temp_end
            if current["end"] - current["start"] > min_speech_samples:
                speeches.append(current)
            current = {}
            prev_end = next_start = temp_end = 0
            triggered = False
            continue
    if current and n_samples - current["start"] > min_speech_samples:
        current["end"] = n_samples
        speeches.append(current)

    for i, speech in enumerate(speeches):
        if i == 0:
            speech["start"] = int(max(0, speech["start"] - speech_pad_samples))
        if i != len(speeches) - 1:
            silence = speeches[i + 1]["start"] - speech["end"]
            if silence < 2 * speech_pad_samples:
                speech["end"] += int(silence // 2)
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - silence // 2))
            else:
                speech["end"] = int(min(n_samples, speech["end"] + speech_pad_samples))
                speeches[i + 1]["start"] = int(max(0, speeches[i + 1]["start"] - speech_pad_samples))
        else:
            speech["end"] = int(min(n_samples, speech["end"] + speech_pad_samples))
    return speeches


def quietest(probs: np.ndarray, lo: int, hi: int) -> int:
    """The sample in [lo, hi] at the middle of the Silero step least likely to be speech (`probs` from
    `speech_probabilities`): where a stretch of speech is best cut, between words rather than inside one."""
    first, last = lo // WINDOW, max(lo // WINDOW + 1, min(len(probs), hi // WINDOW + 1))
    step = first + int(np.argmin(probs[first:last])) if first < len(probs) else first
    return min(hi, max(lo, step * WINDOW + WINDOW // 2))


class SpeechMemo:
    """The speech probabilities of the last `size` pieces of audio, by content: a piece whose speech is cut
    twice (the no-speech check, then the batched windows), even when read twice, runs the model once."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.runs = 0  # model runs (for tests and benchmarks)

    def timestamps(self, audio: np.ndarray, options) -> list[dict]:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        return speech_timestamps(self.probabilities(audio), len(audio), options)

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        key = (len(audio), hashlib.blake2b(memoryview(audio).cast("B"), digest_size=16).digest())
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        probs = speech_probabilities(audio)
        with self._lock:
            self.runs += 1
            self._items[key] = probs
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return probs
