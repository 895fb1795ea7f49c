"""Packing speech into Whisper windows (transcribe.faster_backend.pack_speech): pure logic on fake VAD cuts."""
from __future__ import annotations

import numpy as np

from transcribe.faster_backend import pack_speech

RATE = 16000


def _pieces():
    # samples that are their own index, so packed audio shows where it came from
    return [np.arange(80 * RATE, dtype=np.float32), np.arange(20 * RATE, dtype=np.float32) + 1e7]


def _cuts(audio):
    if audio[0] >= 1e7:
        return [{"start": 2 * RATE, "end": 12 * RATE}]
    # 18 s, 18 s and 35 s (longer than a window) of speech
    return [{"start": 0, "end": 18 * RATE}, {"start": 20 * RATE, "end": 38 * RATE},
            {"start": 40 * RATE, "end": 75 * RATE}]


def _check(packed, pieces):
    assert all(0 < b - a <= 30.0 + 1e-9 for a, b in packed.windows)
    for a, b in packed.windows:  # a window never mixes two pieces
        inside = {sp[2] for sp in packed.spans if a <= sp[0] < b}
        assert len(inside) == 1
    # every sample of every cut is packed exactly once, in order, from its own piece
    for piece, audio in enumerate(pieces):
        want = np.concatenate([audio[c["start"]:c["end"]] for c in _cuts(audio)])
        got = np.concatenate([packed.audio[int(round(s * RATE)):int(round(e * RATE))]
                              for s, e, p, _ in packed.spans if p == piece])
        assert np.array_equal(got, want)
    for s, e, piece, origin in packed.spans:  # each span maps back to its place in its piece
        first = packed.audio[int(round(s * RATE))]
        assert first == pieces[piece][int(round(origin * RATE))]


def test_without_a_split_a_stretch_that_does_not_fit_opens_the_next_window():
    pieces = _pieces()
    packed = pack_speech(pieces, _cuts)
    _check(packed, pieces)
    assert [round(b - a, 3) for a, b in packed.windows] == [18.0, 18.0, 30.0, 5.0, 10.0]


def test_a_split_fills_each_window_and_cuts_where_told():
    pieces = _pieces()
    asked = []

    def split(piece, lo, hi):
        asked.append((piece, lo / RATE, hi / RATE))
        return hi - RATE  # "the quietest point": one second before the window would be full

    packed = pack_speech(pieces, _cuts, split=split)
    _check(packed, pieces)
    assert [round(b - a, 3) for a, b in packed.windows] == [29.0, 29.0, 13.0, 10.0]
    assert asked == [(0, 28.0, 32.0), (0, 59.0, 63.0)]  # within the last 4 s before each window is full


def test_nothing_to_pack():
    packed = pack_speech([np.zeros(0, np.float32), np.ones(RATE, np.float32)], lambda a: [])
    assert packed.windows == () and packed.spans == () and len(packed.audio) == 0


def test_quietest_is_the_middle_of_the_least_speechlike_step_in_range():
    from transcribe.vad import WINDOW, quietest

    probs = np.full(100, 0.9, dtype=np.float32)
    probs[40] = 0.05  # a pause between words
    probs[80] = 0.01  # a deeper one, outside the range asked
    assert quietest(probs, 30 * WINDOW, 60 * WINDOW) == 40 * WINDOW + WINDOW // 2
    assert quietest(probs, 30 * WINDOW, 90 * WINDOW) == 80 * WINDOW + WINDOW // 2
    lo, hi = 41 * WINDOW + 100, 41 * WINDOW + 200  # inside one step: stays in [lo, hi]
    assert lo <= quietest(probs, lo, hi) <= hi


def test_a_piece_is_cut_only_when_that_saves_a_window():
    audio = np.arange(40 * RATE, dtype=np.float32)
    cuts = [{"start": 0, "end": 18 * RATE}, {"start": 20 * RATE, "end": 38 * RATE}]
    packed = pack_speech([audio], lambda a: cuts, split=lambda piece, lo, hi: hi)
    assert [round(b - a, 3) for a, b in packed.windows] == [18.0, 18.0]  # cutting would also need two


def test_windows_are_split_into_runs_of_about_equal_seconds_in_order():
    from transcribe.faster_backend import split_windows

    windows = [(0.0, 30.0), (30.0, 60.0), (60.0, 70.0), (70.0, 100.0), (100.0, 112.0)]
    runs = split_windows(windows, 2)
    assert [w for run in runs for w in run] == windows  # nothing lost, nothing reordered
    assert runs == [[(0.0, 30.0), (30.0, 60.0)], [(60.0, 70.0), (70.0, 100.0), (100.0, 112.0)]]
    assert split_windows(windows, 1) == [windows]
    assert split_windows([(0.0, 30.0)], 4) == [[(0.0, 30.0)]]  # never an empty run
    three = split_windows([(i * 30.0, i * 30.0 + 30.0) for i in range(9)], 3)
    assert [len(r) for r in three] == [3, 3, 3]
