"""Synthetic two-speaker call-center calls (agent + customer, English and Mandarin) with known turns.

Used by the demo, the tests and the benchmarks. Each turn is spoken by espeak-ng (a different voice,
pitch and speed per role); Mandarin is first converted to numbered pinyin with pypinyin and read by
the `cmn-latn-pinyin` voice (plain `cmn` spells Hanzi out as letters). Turns are placed one after
another with a gap; stereo puts the agent on the left channel (0) and the customer on the right (1),
mono mixes them. Output is 16-bit PCM WAV, 8 kHz (telephone) by default. Each turn's start/end is the
exact first/last non-silent sample of its speech. Nothing runs at import time.
"""
from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

Role = Literal["agent", "customer"]
Language = Literal["en", "zh"]

# (voice, words per minute, pitch 0-99) per role, tuned against faster-whisper base (int8, CPU). English comes
# back almost word for word. espeak's Mandarin is rough: whisper base gets about half the key words exactly
# (more when compared as toneless pinyin, e.g. 客服 -> 克服), and misses 退款 and 账单 (heard as 最关, 场单).
# The male Mandarin variants scored clearly worse, so both roles use female variants with different pitch/speed.
VOICES: dict[str, dict[str, tuple[str, int, int]]] = {
    "en": {"agent": ("en-us+f3", 150, 60), "customer": ("en-gb", 155, 40)},
    "zh": {"agent": ("cmn-latn-pinyin+f4", 150, 60), "customer": ("cmn-latn-pinyin+f3", 160, 35)},
}
_PEAK = 0.7 * 32767  # every turn normalised to the same peak
_EDGE_SECONDS = 0.3  # silence before the first and after the last turn
_ZH_PUNCT = str.maketrans({"，": ",", "、": ",", "；": ";", "：": ",", "。": ".", "？": "?", "！": "!",
                           "…": ",", "“": " ", "”": " ", "（": ",", "）": ","})


@dataclass(frozen=True)
class ScriptedTurn:
    role: Role
    text: str


@dataclass(frozen=True)
class SpokenTurn:
    role: Role
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class SynthCall:
    call_id: str
    language: Language
    turns: tuple[SpokenTurn, ...]
    audio_path: Path
    channels: int
    duration: float


@dataclass(frozen=True)
class SampleScript:
    language: Language
    turns: tuple[ScriptedTurn, ...]
    agent: str
    queue: str
    direction: Literal["inbound", "outbound"]
    started_at: datetime
    metadata_language: Language | None  # what the sidecar forces; None = let the pipeline detect
    stereo: bool  # the layout written when write_sample_calls(stereo_and_mono=False)
    attributes: tuple[tuple[str, str], ...] = ()  # extra sidecar attributes, e.g. (("customer_id", "c-1"),)


def _a(text: str) -> ScriptedTurn:
    return ScriptedTurn("agent", text)


def _c(text: str) -> ScriptedTurn:
    return ScriptedTurn("customer", text)


_EST, _CST = timezone(timedelta(hours=-5)), timezone(timedelta(hours=8))
SAMPLE_SCRIPTS: dict[str, SampleScript] = {
    "en_billing_refund": SampleScript("en", (
        _a("Thank you for calling Northwind Telecom, my name is Sarah. How can I help you today?"),
        _c("Hi Sarah. I have a question about my latest invoice. I think I was charged twice this month."),
        _a("I'm sorry to hear that. Before we look at it, I need to verify your identity. "
           "Could you confirm your full name and date of birth?"),
        _c("Sure. My name is Michael Johnson, and I was born on the third of March, nineteen eighty five."),
        _a("Thank you, Mister Johnson, your identity is verified. I can see the invoice, "
           "and there is a duplicate payment of forty nine dollars."),
        _c("So can I get a refund for the extra charge?"),
        _a("Yes, I can request a refund for you. May I put you on hold for a moment while I process it?"),
        _c("No problem, I can hold."),
        _a("Thank you for holding. The refund has been approved, and it will reach your account "
           "within five business days."),
        _c("Great, thank you so much for your help."),
        _a("You're welcome. Thank you for calling Northwind Telecom, and have a great day. Goodbye."),
    ), "sarah.miller", "billing", "inbound", datetime(2024, 5, 14, 9, 12, 30, tzinfo=_EST), "en", True),
    "en_password_reset": SampleScript("en", (
        _a("Hello, this is David from the help desk, calling about your password reset request."),
        _c("Oh yes, thank you. I am locked out of my account."),
        _a("I have sent a temporary password to your email. Please change it after you log in."),
        _c("Got it, thanks. Goodbye."),
    ), "david.chen", "it-support", "outbound", datetime(2024, 5, 14, 14, 3, 5, tzinfo=_EST), None, False),
    "zh_billing_refund": SampleScript("zh", (
        _a("您好，我是客服小王，请问有什么可以帮您？"),
        _c("你好，我想查一下这个月的话费账单，好像多扣了一笔钱。"),
        _a("好的，为了核实您的身份，请告诉我您的手机号码。"),
        _c("我的手机号码是一三八，一二三四，五六七八。"),
        _a("谢谢，身份已经核实。您的账单里有一笔重复扣费，金额是五十元。"),
        _c("那可以给我退款吗？"),
        _a("可以的，请您稍等，我帮您申请退款。感谢您的耐心等待，退款已经提交，三到五个工作日内到账。"),
        _c("好的，谢谢你，再见。"),
    ), "wang.li", "billing-cn", "inbound", datetime(2024, 5, 15, 10, 20, 0, tzinfo=_CST), "zh", True),
    "zh_password_reset": SampleScript("zh", (
        _a("您好，这里是客服中心，请问有什么可以帮您？"),
        _c("我的密码忘了，登录不了。"),
        _a("好的，我已经给您的手机发送了验证码，请用验证码重置密码。"),
        _c("收到了，谢谢，再见。"),
    ), "zhang.wei", "support-cn", "inbound", datetime(2024, 5, 15, 16, 45, 10, tzinfo=_CST), None, False),
}

# Calls that break rules, for the demo's reports and alert queue: an escalating complaint (threats, a manager
# request, a forbidden phrase that auto-fails the scorecard, a full card number read out, an angry ending).
# The card number is Luhn-valid and made of digits espeak-ng and whisper base agree on.
RISK_SCRIPTS: dict[str, SampleScript] = {
    "en_escalation": SampleScript("en", (
        _a("Thank you for calling Northwind Telecom. This call may be recorded. My name is James. "
           "How can I help you?"),
        _c("This is the third time I am calling about the same refund, and nobody has fixed it."),
        _a("Calm down. Let me look. Your card number is: Four one two one. Six four one six. One two eight six. "
           "One six four eight."),
        _c("I want to speak to a manager. If this is not fixed today, I will go to the press, "
           "and my lawyer will sue you."),
        _a("The refund is still pending. There is nothing more I can do."),
        _c("This is terrible, awful service. I am very angry. Goodbye."),
    ), "james.wu", "billing", "inbound", datetime(2024, 5, 16, 11, 5, 0, tzinfo=_EST), "en", True,
        (("customer_id", "cust-1042"), ("topic", "refund"))),
}


def write_risk_calls(out_dir: Path) -> list[SynthCall]:
    """Every RISK_SCRIPTS call as `<name>_stereo.wav` with its `.json` and `.turns.json` sidecars."""
    calls = []
    for name, script in RISK_SCRIPTS.items():
        call = synthesise_call(script.turns, script.language, Path(out_dir) / f"{name}_stereo.wav", stereo=True)
        write_sidecars(call, script)
        calls.append(call)
    return calls


def to_pinyin(text: str) -> str:
    """Hanzi -> numbered pinyin (tone 5 = neutral) with ASCII punctuation, as cmn-latn-pinyin reads it."""
    from pypinyin import Style, lazy_pinyin  # optional dependency, only needed for Mandarin

    syllables = lazy_pinyin(text.translate(_ZH_PUNCT), style=Style.TONE3, neutral_tone_with_five=True)
    return re.sub(r"\s+([,.?!;])", r"\1", " ".join(s.strip() for s in syllables if s.strip()))


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Band-limited (FFT) resampling; fine for the few seconds of one turn."""
    if sr_in == sr_out or len(x) == 0:
        return x
    n_out = max(1, round(len(x) * sr_out / sr_in))
    spec = np.fft.rfft(x)
    out = np.zeros(n_out // 2 + 1, dtype=complex)
    keep = min(len(out), len(spec))
    out[:keep] = spec[:keep]
    return np.fft.irfft(out, n_out) * (n_out / len(x))


@functools.lru_cache(maxsize=512)
def _render(text: str, voice: str, speed: int, pitch: int, sample_rate: int) -> np.ndarray:
    """One utterance as int16 samples at `sample_rate`, trimmed to speech (cached: reused, read-only)."""
    proc = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout"],
                          input=text.encode(), capture_output=True, check=True)
    raw = proc.stdout
    if raw[:4] != b"RIFF" or (pos := raw.find(b"data", 12)) < 0:
        raise RuntimeError(f"espeak-ng returned no WAV for voice {voice!r}")
    native = int.from_bytes(raw[24:28], "little")
    pcm = np.frombuffer(raw[pos + 8:len(raw) - (len(raw) - pos - 8) % 2], dtype="<i2").astype(np.float64)
    x = _resample(pcm, native, sample_rate)
    loud = np.flatnonzero(np.abs(x) > 0.02 * max(np.abs(x).max(initial=0.0), 1.0))
    if len(loud) == 0:
        raise RuntimeError(f"espeak-ng produced silence for {text!r}")
    x = x[loud[0]:loud[-1] + 1]
    x = np.clip(np.round(x * (_PEAK / np.abs(x).max())), -32768, 32767).astype(np.int16)
    x.flags.writeable = False
    return x


def _render_turns(turns: Sequence[ScriptedTurn], language: Language, sample_rate: int,
                  voices: tuple[str, str] | None) -> list[np.ndarray]:
    """Audio for each turn; each distinct (role, text) is synthesised once, in parallel."""
    if language not in VOICES:
        raise ValueError(f"language must be 'en' or 'zh', not {language!r}")
    roles = VOICES[language]
    keys = []
    for t in turns:
        if t.role not in roles:
            raise ValueError(f"role must be 'agent' or 'customer', not {t.role!r}")
        voice, speed, pitch = roles[t.role]
        if voices is not None:
            voice = voices[0] if t.role == "agent" else voices[1]
        spoken = to_pinyin(t.text) if language == "zh" else t.text
        keys.append((spoken, voice, speed, pitch, sample_rate))
    distinct = list(dict.fromkeys(keys))
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1, len(distinct) or 1)) as pool:
        audio = dict(zip(distinct, pool.map(lambda k: _render(*k), distinct)))
    return [audio[k] for k in keys]


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1 if samples.ndim == 1 else samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(samples.astype("<i2").tobytes())
    os.replace(tmp, path)  # readers never see a half-written file


def _assemble(turns: Sequence[ScriptedTurn], audio: Sequence[np.ndarray], language: Language,
              out_path: Path, stereo: bool, sample_rate: int, gap_seconds: float,
              total_samples: int | None = None) -> SynthCall:
    edge, gap = round(_EDGE_SECONDS * sample_rate), round(gap_seconds * sample_rate)
    starts, pos = [], edge
    for a in audio:
        starts.append(pos)
        pos += len(a) + gap
    needed = (pos - gap if audio else pos) + edge
    n = needed if total_samples is None else total_samples
    if n < needed:
        raise ValueError("turns do not fit in the requested length")
    buf = np.zeros((n, 2) if stereo else n, dtype=np.int16)
    spoken = []
    for turn, a, s in zip(turns, audio, starts):
        if stereo:
            buf[s:s + len(a), 0 if turn.role == "agent" else 1] = a
        else:
            buf[s:s + len(a)] = a  # turns never overlap, so mixing is placement
        spoken.append(SpokenTurn(turn.role, turn.text, s / sample_rate, (s + len(a)) / sample_rate))
    _write_wav(out_path, buf, sample_rate)
    return SynthCall(out_path.stem, language, tuple(spoken), out_path, 2 if stereo else 1, n / sample_rate)


def synthesise_call(turns: Sequence[ScriptedTurn], language: Language, out_path: Path, *, stereo: bool,
                    sample_rate: int = 8000, gap_seconds: float = 0.6,
                    voices: tuple[str, str] | None = None) -> SynthCall:
    """Speak `turns` in order with `gap_seconds` between them; write a WAV to `out_path`.

    `voices` = (agent voice, customer voice) overrides the espeak-ng voices in VOICES.
    """
    if gap_seconds < 0:
        raise ValueError("gap_seconds must be >= 0")
    audio = _render_turns(turns, language, sample_rate, voices)
    return _assemble(turns, audio, language, Path(out_path), stereo, sample_rate, gap_seconds)


def synthesise_long_call(out_path: Path, minutes: float, language: Language, *, stereo: bool = False,
                         sample_rate: int = 8000, gap_seconds: float = 0.6) -> SynthCall:
    """A call of exactly `minutes` long that cycles through this language's sample scripts.

    Each distinct turn is synthesised once and its samples reused, so 30 minutes takes seconds.
    """
    if minutes <= 0:
        raise ValueError("minutes must be > 0")
    cycle = [t for s in SAMPLE_SCRIPTS.values() if s.language == language for t in s.turns]
    if not cycle:
        raise ValueError(f"no sample scripts for language {language!r}")
    cycle_audio = _render_turns(cycle, language, sample_rate, None)
    total = round(minutes * 60 * sample_rate)
    budget = total - 2 * round(_EDGE_SECONDS * sample_rate)
    gap = round(gap_seconds * sample_rate)
    turns, audio, used, i = [], [], 0, 0
    while used + len(cycle_audio[i % len(cycle)]) <= budget:
        turns.append(cycle[i % len(cycle)])
        audio.append(cycle_audio[i % len(cycle)])
        used += len(audio[-1]) + gap
        i += 1
    return _assemble(turns, audio, language, Path(out_path), stereo, sample_rate, gap_seconds, total)


def write_sidecars(call: SynthCall, script: SampleScript) -> tuple[Path, Path]:
    """`<stem>.json` (pipeline metadata) and `<stem>.turns.json` (ground-truth turns) next to the WAV."""
    meta_path = call.audio_path.with_suffix(".json")
    turns_path = call.audio_path.with_suffix(".turns.json")
    meta = {"agent": script.agent, "queue": script.queue, "direction": script.direction,
            "started_at": script.started_at.isoformat(), "language": script.metadata_language}
    if script.attributes:
        meta["attributes"] = dict(script.attributes)
    turns = [{"role": t.role, "text": t.text, "start": round(t.start, 6), "end": round(t.end, 6)}
             for t in call.turns]
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    turns_path.write_text(json.dumps(turns, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return meta_path, turns_path


def read_turns(path: Path) -> tuple[SpokenTurn, ...]:
    """Load a `<stem>.turns.json` written by write_sidecars."""
    return tuple(SpokenTurn(**t) for t in json.loads(Path(path).read_text(encoding="utf-8")))


def write_sample_calls(out_dir: Path, *, stereo_and_mono: bool = True) -> list[SynthCall]:
    """Every SAMPLE_SCRIPTS call as `<name>_stereo.wav` and `<name>_mono.wav` (or only the script's own
    layout when `stereo_and_mono` is False), each with its `.json` and `.turns.json` sidecars."""
    out_dir = Path(out_dir)
    calls = []
    for name, script in SAMPLE_SCRIPTS.items():
        layouts = (True, False) if stereo_and_mono else (script.stereo,)
        for stereo in layouts:
            path = out_dir / f"{name}_{'stereo' if stereo else 'mono'}.wav"
            call = synthesise_call(script.turns, script.language, path, stereo=stereo)
            write_sidecars(call, script)
            calls.append(call)
    return calls
