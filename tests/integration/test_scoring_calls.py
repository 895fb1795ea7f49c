"""Synthesised calls with a scripted truth, through the real pipeline (espeak-ng speech, Whisper, stereo
split, roles) and the shipped forms with the real e5 similarity model."""
from __future__ import annotations

import pytest

from pipeline.process import process_recording, score_stored_call
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from demo.synth import ScriptedTurn, synthesise_call

pytestmark = pytest.mark.integration

A, C = "agent", "customer"
SCRIPTS = {
    # verification before account details, complaint answered with empathy, polite close: passes
    "good": ("en", [(A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
                    (C, "Hello. I was charged twice and I am not happy about it."),
                    (A, "I am sorry to hear that. Before we look at it, could you confirm your date of birth?"),
                    (C, "Yes, it is the third of March, nineteen eighty five."),
                    (A, "Thank you. I can see your last payment on your account, and I will refund the extra charge."),
                    (C, "Great, thanks."),
                    (A, "Is there anything else I can help you with today? Thank you for calling, goodbye.")]),
    # account details read out with no identity check: the critical verification question fails
    "no_verification": ("en", [(A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
                               (C, "Hello, I would like to know how much I owe."),
                               (A, "Sure. Your account balance is ninety dollars, and your last payment was in May."),
                               (C, "Okay, thank you. Goodbye.")]),
    # a forbidden phrase: auto-fail zeroes the call
    "forbidden": ("en", [(A, "Thank you for calling Northwind, my name is Sarah. How can I help you?"),
                         (C, "My internet has been down for three days and this is ridiculous."),
                         (A, "Well, that's not my problem. You should call the technical team."),
                         (C, "Unbelievable. Goodbye.")]),
    "zh": ("zh", [(A, "您好，我是客服小王，请问有什么可以帮您？"),
                  (C, "我的密码忘了，登录不了。"),
                  (A, "好的，我已经给您的手机发送了验证码，请用验证码重置密码。"),
                  (C, "收到了，谢谢，再见。")]),
}


@pytest.fixture(scope="module")
def scored(tmp_path_factory, ct2_model_dir):
    from scoring.review import Reviewer
    from scoring.similarity import E5SimilarityModel
    from transcribe.faster_backend import FasterWhisperTranscriber

    root = tmp_path_factory.mktemp("scoring")
    for name, (language, turns) in SCRIPTS.items():
        synthesise_call([ScriptedTurn(role, text) for role, text in turns], language,
                        root / "src" / f"{name}.wav", stereo=True)
        (root / "src" / f"{name}.json").write_text(f'{{"direction": "inbound", "language": "{language}"}}')
    src = LocalFolderSource(root / "src", "")
    store = ResultsStore(f"sqlite:///{root}/r.db")
    transcriber = FasterWhisperTranscriber(ct2_model_dir, model_name="base", device="cpu")
    reviewer = Reviewer(similarity=E5SimilarityModel())
    for ref in src.list_recordings():
        assert process_recording(ref, src, store, transcriber).status == "done"
        assert score_stored_call(ref.call_id, src, store, reviewer)
    return {name: store.scorecard(name) for name in SCRIPTS}, store, src, reviewer


def _answers(card):
    return {a["question_id"]: a for a in card["answers"]}


def test_present_greeting_and_verification_are_found_with_evidence(scored):
    card = scored[0]["good"]
    a = _answers(card)
    assert card["form_id"] == "inbound_service_en" and not card["auto_failed"]
    assert a["greeting"]["answer"] == "pass" and a["verification"]["answer"] == "pass"
    ev = a["greeting"]["evidence"][0]
    quote = ev["quote"].lower()
    assert ev["role"] == "agent" and ev["start"] < 20 and ("calling" in quote or "help" in quote), quote
    # the stored scorecard went through the redaction boundary: the agent's name is masked in the quote
    assert "sarah" not in quote, quote
    assert a["empathy"]["answer"] == "pass", "the customer complained and the agent apologised"
    assert card["sentiment"]["utterances"] and card["kpis"]["agent"]["talk_seconds"] > 0


def test_missing_verification_fails_as_critical(scored):
    card = scored[0]["no_verification"]
    assert _answers(card)["verification"]["answer"] == "fail"
    assert any(c.startswith("verification:") for c in card["critical_failures"]) and card["total"] < 100


def test_forbidden_phrase_zeroes_the_call(scored):
    card = scored[0]["forbidden"]
    assert card["auto_failed"] and card["total"] == 0 and card["auto_fail_reasons"]
    assert "not my problem" in _answers(card)["forbidden_phrases"]["evidence"][0]["quote"].lower()


def test_na_redistributes_weight_within_its_section(scored):
    card = scored[0]["no_verification"]  # no complaint: empathy is N/A; no hold: hold etiquette is N/A
    a = _answers(card)
    assert a["empathy"]["answer"] == "na" and a["empathy"]["effective_weight"] == 0
    assert a["dead_air"]["effective_weight"] > a["dead_air"]["weight"]
    assert abs(sum(x["effective_weight"] for x in card["answers"]) - 100) < 0.01


def test_mandarin_call_scored_with_the_chinese_form_and_rescored_without_transcription(scored):
    cards, store, src, reviewer = scored
    card = cards["zh"]
    assert card["form_id"] == "inbound_service_zh" and _answers(card)["greeting"]["answer"] == "pass"
    src.write("recordings-are-not-needed.txt", b"")  # re-scoring reads only the stored transcript
    assert score_stored_call("zh", src, store, reviewer)
    assert store.scorecard("zh")["answers"] == card["answers"]
