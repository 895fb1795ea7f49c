"""Issue 14 on real audio and the real Whisper base model: a stereo Mandarin call whose agent channel is
near-silent (pink noise and faint, unintelligible crosstalk) and whose customer channel is speech.

Before the fix the quiet channel came back as the decoding prompt 「你以下是普通話的」「句子。」(with three
times the crosstalk, English "They shall come, ..." and the whole call, customer included, in English), and
the first-speaker rule decided the roles. Now: the quiet channel yields no words, the language is zh, the customer keeps
every word, and the customer is not labelled the agent."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.models import Call
from demo.synth import SAMPLE_SCRIPTS, synthesise_call
from infra.audio import inspect_recording
from pipeline.conversation import transcribe_conversation
from transcribe.base import TranscribeOptions
from transcribe.hallucination import dropped_channels

pytestmark = pytest.mark.integration


def _sox(*args: str) -> None:
    subprocess.run(["sox", "-R", "-D", *args], check=True, capture_output=True)  # -R: repeatable noise


@pytest.fixture(scope="module")
def quiet_agent_call(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("issue14")
    script = SAMPLE_SCRIPTS["zh_billing_refund"]
    synth = synthesise_call(script.turns, "zh", folder / "both.wav", stereo=True)  # agent left, customer right
    customer, crosstalk = folder / "customer.wav", folder / "crosstalk.wav"
    noise, quiet, call = folder / "noise.wav", folder / "quiet.wav", folder / "call.wav"
    _sox(str(synth.audio_path), str(customer), "remix", "2")
    _sox(str(customer), str(crosstalk), "reverse")  # speech-like but no words: a neighbour's call, backwards
    _sox("-n", "-r", "8000", "-b", "16", "-c", "1", str(noise), "synth", f"{synth.duration:.5f}", "pinknoise",
         "vol", "0.01")
    _sox("-m", str(noise), "-v", "0.05", str(crosstalk), str(quiet))  # peaks near -29 dBFS
    _sox("-M", str(quiet), str(customer), str(call))
    return call


def test_quiet_agent_channel_yields_no_words_and_the_customer_keeps_its_words(quiet_agent_call, faster_transcriber):
    info = inspect_recording(quiet_agent_call)
    assert info.channels == 2
    call = Call(id="issue14", object_key="recordings/issue14.wav", etag="e")
    t = transcribe_conversation(faster_transcriber, quiet_agent_call, call, info,
                                options=TranscribeOptions(chinese_script="zh-Hant"))

    assert t.language == "zh" and t.language_probability > 0.6 and t.script == "zh-Hant"
    assert [s for s in t.segments if s.channel == 0] == []  # the quiet channel: no words at all
    assert dropped_channels(t.warnings) == {0}
    assert any(w.startswith("W005 channel 0: no real speech") for w in t.warnings)
    assert not any("以下是" in s.text or "普通話的句子" in s.text for s in t.segments)

    customer = [s for s in t.segments if s.channel == 1]
    text = "".join(s.text for s in customer)
    assert len(customer) >= 3 and sum(len(s.words) for s in customer) >= 20
    assert "我想查一下" in text and "謝謝" in text  # Mandarin, in Traditional script, not English
    assert not any(w.startswith(("W005 channel 1", "W006 channel 1", "W007 channel 1")) for w in t.warnings)

    assert [(s.speaker, s.role, s.rule) for s in t.speakers] == [("S1", "customer", "content")]
