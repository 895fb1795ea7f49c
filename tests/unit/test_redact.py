from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import pytest

from compliance.redact import find_pii, redact_audio, redact_transcript
from core.errors import CorruptAudioError
from core.models import Segment, Transcript, Word

CARD_WORDS = "four one one one one one one one one one one one one one one one".split()


def _segment(tokens: list[str], *, start: float, step: float, sep: str, speaker: str = "SPEAKER_01",
             role: str = "customer") -> Segment:
    words = tuple(Word(t, start + i * step, start + (i + 1) * step - 0.02, 0.9, speaker, role)
                  for i, t in enumerate(tokens))
    return Segment(start=start, end=start + len(tokens) * step, text=sep.join(tokens), words=words,
                   speaker=speaker, role=role)


def _transcript(language: str, segments: list[Segment]) -> Transcript:
    return Transcript(call_id="c1", language=language, language_probability=0.99, duration=60.0,
                      segments=tuple(segments), backend="fake", model="fake")


@pytest.fixture
def en() -> Transcript:
    greeting = _segment("hello how can I help".split(), start=0.0, step=0.3, sep=" ", speaker="SPEAKER_00",
                        role="agent")
    card = _segment(["my", "card", "is", *CARD_WORDS, "thanks"], start=5.0, step=0.5, sep=" ")
    return _transcript("en", [greeting, card])


@pytest.fixture
def zh() -> Transcript:
    return _transcript("zh", [_segment(list("我的手机号码是13812345678"), start=2.0, step=0.2, sep="")])


def test_en_spoken_card_spans_all_digit_words(en: Transcript) -> None:
    [span] = find_pii(en)
    assert (span.segment_index, span.entity) == (1, "CARD_NUMBER")
    seg = en.segments[1]
    assert seg.text[span.char_start:span.char_end] == " ".join(CARD_WORDS)
    assert span.start == pytest.approx(seg.words[3].start) == pytest.approx(6.5)
    assert span.end == pytest.approx(seg.words[18].end)
    assert (span.speaker, span.role) == ("SPEAKER_01", "customer")


def test_zh_phone_per_character_words(zh: Transcript) -> None:
    [span] = find_pii(zh)
    assert span.entity == "PHONE_NUMBER"
    assert (span.char_start, span.char_end) == (7, 18)
    assert span.start == pytest.approx(2.0 + 7 * 0.2)
    assert span.end == pytest.approx(2.0 + 18 * 0.2 - 0.02)


def test_min_score_filters(zh: Transcript) -> None:
    assert find_pii(zh, min_score=0.95) == []


def test_unalignable_words_fall_back_to_proportional_timing() -> None:
    text = "我的手机号码是13812345678"
    seg = Segment(start=0.0, end=18.0, text=text, words=(Word("完全不同", 0.0, 18.0, 0.5),))
    [span] = find_pii(_transcript("zh", [seg]))
    assert (span.start, span.end) == pytest.approx((7.0, 18.0))
    red = redact_transcript(_transcript("zh", [seg]), [span])
    assert red.segments[0].words[0].text == "[PHONE]"


def test_redact_transcript_en(en: Transcript) -> None:
    spans = find_pii(en)
    red = redact_transcript(en, spans)
    seg = red.segments[1]
    assert seg.text == "my card is [CARD] thanks"
    assert [w.text for w in seg.words] == ["my", "card", "is", "[CARD]", "thanks"]
    assert (seg.words[3].start, seg.words[3].end) == (en.segments[1].words[3].start, en.segments[1].words[18].end)
    assert red.segments[0] == en.segments[0]
    assert red.warnings == ("redacted 1 spans",)
    assert en.segments[1].text.endswith("thanks") and "[CARD]" not in en.segments[1].text  # original intact


def test_redact_transcript_zh_leaves_no_digits(zh: Transcript) -> None:
    red = redact_transcript(zh, find_pii(zh))
    seg = red.segments[0]
    assert seg.text == "我的手机号码是[PHONE]"
    assert not re.search(r"\d", seg.text + "".join(w.text for w in seg.words))
    assert seg.words[-1].text == "[PHONE]" and len(seg.words) == 8


def test_national_id_placeholder() -> None:
    seg = Segment(start=0.0, end=5.0, text="身份证号11010519491231002X", words=())
    t = _transcript("zh", [seg])
    red = redact_transcript(t, find_pii(t))
    assert red.segments[0].text == "身份证号[CN_ID]"


def test_redact_transcript_rejects_bad_span(en: Transcript) -> None:
    [span] = find_pii(en)
    from dataclasses import replace
    with pytest.raises(ValueError, match="segment_index 7"):
        redact_transcript(en, [replace(span, segment_index=7)])


# --- audio ---------------------------------------------------------------------------------------
RATE = 8000


@pytest.fixture
def tone_wav(tmp_path: Path) -> Path:
    t = np.arange(3 * RATE) / RATE
    left, right = 0.5 * np.sin(2 * np.pi * 300 * t), 0.3 * np.sin(2 * np.pi * 450 * t)
    pcm = (np.stack([left, right], axis=1) * 32767).round().astype("<i2")
    path = tmp_path / "in.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


def _read(path: Path) -> tuple[np.ndarray, int, int]:
    with wave.open(str(path), "rb") as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())
        return data.astype(np.float64) / 32767, w.getframerate(), w.getnchannels()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x ** 2)))


def test_redact_audio_silence(tone_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    redact_audio(tone_wav, out, [(1.0, 1.5)], mode="silence", pad=0.0)
    src, _, _ = _read(tone_wav)
    red, rate, channels = _read(out)
    assert (rate, channels, len(red)) == (RATE, 2, len(src))
    inside = red[int(1.0 * RATE):int(1.5 * RATE)]
    assert _rms(inside) < 1e-4
    for a, b in ((0, int(0.99 * RATE)), (int(1.51 * RATE), len(src))):
        assert np.allclose(red[a:b], src[a:b], atol=2e-4)


def test_redact_audio_tone_with_pad(tone_wav: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.wav"
    redact_audio(tone_wav, out, [(1.0, 1.5)], mode="tone", pad=0.1)
    src, _, _ = _read(tone_wav)
    red, _, _ = _read(out)
    assert len(red) == len(src)
    inside = red[int(0.9 * RATE):int(1.6 * RATE)]
    for ch in range(2):
        spectrum = np.abs(np.fft.rfft(inside[:, ch]))
        freqs = np.fft.rfftfreq(len(inside), 1 / RATE)
        assert freqs[int(np.argmax(spectrum))] == pytest.approx(1000, abs=5)
        assert not np.allclose(inside[:, ch], src[int(0.9 * RATE):int(1.6 * RATE), ch], atol=0.05)
    assert np.allclose(red[:int(0.89 * RATE)], src[:int(0.89 * RATE)], atol=2e-4)
    assert np.allclose(red[int(1.61 * RATE):], src[int(1.61 * RATE):], atol=2e-4)


def test_redact_audio_errors(tmp_path: Path, tone_wav: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF" + b"\0" * 40)
    with pytest.raises(CorruptAudioError):
        redact_audio(bad, tmp_path / "o.wav", [(0.0, 1.0)])
    with pytest.raises(ValueError, match="mode"):
        redact_audio(tone_wav, tmp_path / "o.wav", [], mode="beep")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ends before"):
        redact_audio(tone_wav, tmp_path / "o.wav", [(2.0, 1.0)])


def test_names_addresses_and_accounts_get_typed_placeholders() -> None:
    en_seg = _segment("my name is John Smith and I live at 12 Baker Street".split(), start=0.0, step=0.3, sep=" ")
    zh_seg = _segment(list("我叫张伟，住在北京市朝阳区，账号是6222020200112233"), start=0.0, step=0.2, sep="")
    red_en = redact_transcript(_transcript("en", [en_seg]), find_pii(_transcript("en", [en_seg])))
    assert red_en.segments[0].text == "my name is [PERSON] and I live at [ADDRESS]"
    assert [w.text for w in red_en.segments[0].words][3:] == ["[PERSON]", "and", "I", "live", "at", "[ADDRESS]"]
    red_zh = redact_transcript(_transcript("zh", [zh_seg]), find_pii(_transcript("zh", [zh_seg])))
    assert red_zh.segments[0].text == "我叫[PERSON]，住在[LOCATION]，账号是[ACCOUNT]"


def test_order_number_without_account_word_is_not_redacted() -> None:
    seg = _segment(list("订单编号6222020200112233已发货"), start=0.0, step=0.2, sep="")
    t = _transcript("zh", [seg])
    assert find_pii(t) == []


def test_a_number_split_over_segments_by_one_speaker_is_found_and_masked_in_each():
    from compliance.redact import find_pii, redact_transcript
    from core.models import Segment, Transcript, Word

    def s(start, text, spk):
        words = tuple(Word(w, start + 0.4 * i, start + 0.4 * i + 0.3, 0.9, spk, "agent" if spk == "A" else "customer")
                      for i, w in enumerate(text.split()))
        return Segment(start, words[-1].end, text, words, speaker=spk, role=words[0].role)

    t = Transcript("c", "en", 1.0, 40.0, (
        s(0.0, "Thank you. Your card number is 4121.", "A"), s(3.0, "64161286.", "A"), s(4.0, "1648.", "A"),
        s(9.0, "Yes, 4121 is right.", "C")), "fake", "fake")
    spans = find_pii(t)
    assert sorted((sp.segment_index, sp.entity) for sp in spans) == [(0, "CARD_NUMBER"), (1, "CARD_NUMBER"),
                                                                      (2, "CARD_NUMBER")]
    assert t.segments[0].text[spans[0].char_start:spans[0].char_end] == "4121"
    red = redact_transcript(t, spans)
    assert [seg.text for seg in red.segments[:3]] == ["Thank you. Your card number is [CARD].", "[CARD].", "[CARD]."]
    assert red.segments[3].text == "Yes, 4121 is right.", "the customer's separate turn is another utterance"
