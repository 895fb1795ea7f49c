"""The scoring stage inside the pipeline: form choice, scorecard + sentiment + KPIs stored, re-scoring
without re-transcription, human overrides kept beside the machine answer."""
import json

import pytest

from core.metrics import conversation_metrics
from core.models import Call, Segment, SpeakerInfo, Transcript, Word
from pipeline.process import process_recording, score_stored_call
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from scoring.review import Reviewer

from .fakes import FakeTranscriber, write_tone_wav


def _seg(start, text, speaker, role):
    words = tuple(Word(w, start + 0.3 * i, start + 0.3 * i + 0.25, 0.9, speaker, role)
                  for i, w in enumerate(text.split()))
    return Segment(start, words[-1].end, text, words, speaker=speaker, role=role)


def _call_transcript():
    segs = (_seg(0.5, "Thank you for calling Northwind, my name is Sarah. How can I help you today?", "S0", "agent"),
            _seg(6.0, "This is terrible, I was charged twice and I am very angry.", "S1", "customer"),
            _seg(11.0, "I'm sorry to hear that. Let me fix it.", "S0", "agent"),
            _seg(15.0, "Great, thank you so much, that is wonderful.", "S1", "customer"))
    return Transcript("c1", "en", 1.0, 20.0, segs, "fake", "fake",
                      speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting", 0),
                                SpeakerInfo("S1", "customer", 0.9, "greeting", 1)))


class _StubSimilarity:
    def encode(self, texts):
        import numpy as np

        return np.ones((len(texts), 4)) / 2.0


def test_reviewer_picks_form_by_direction_and_language_and_scores():
    reviewer = Reviewer(similarity=_StubSimilarity())
    t = _call_transcript()
    inbound = Call("c1", "k", "e", direction="inbound")
    assert reviewer.form_for(inbound, t).id == "inbound_service_en"
    assert reviewer.form_for(Call("c1", "k", "e", direction="outbound"), t).id == "outbound_sales_en"
    review = reviewer.review(inbound, t, conversation_metrics(t))
    assert review.scorecard.answer("greeting").answer == "pass"
    assert review.sentiment.outcome == "improved"
    body = json.loads(review.to_json())
    assert body["form_id"] == "inbound_service_en" and "kpis" in body and "sentiment" in body


def test_unknown_form_in_the_map_fails_loudly():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="not_a_form"):
        Reviewer(form_map={"inbound:en": "not_a_form"})


def test_scorecard_stored_rescored_and_overridden(tmp_path):
    (tmp_path / "src").mkdir()
    write_tone_wav(tmp_path / "src" / "c1.wav", 3.0)
    src = LocalFolderSource(tmp_path / "src", "")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    reviewer = Reviewer(similarity=_StubSimilarity())
    out = process_recording(src.list_recordings()[0], src, store, FakeTranscriber())
    assert out.status == "done" and score_stored_call("c1", src, store, reviewer)
    card = json.loads(src.read("scorecards/c1.json"))
    assert card["form_id"] == "inbound_service_en" and store.scorecard("c1")["total"] == card["total"]
    assert not score_stored_call("missing", src, store, reviewer)
    # A better transcript appears (e.g. after a fix): re-scoring reads it from storage, no transcription.
    src.write("transcripts/c1.json", _call_transcript().to_json().encode())
    assert score_stored_call("c1", src, store, reviewer)
    assert store.scorecard("c1")["answers"][0]["answer"] == "pass"
    store.add_override("c1", "greeting", "fail", reviewer="qa.lead", comment="name was not given")
    assert store.scorecard("c1")["answers"][0]["answer"] == "pass", "machine answer kept"
    assert store.machine_human_agreement() == (1, 0)
    with pytest.raises(ValueError):
        store.add_override("c1", "no_such_question", "pass", reviewer="qa.lead")


def test_chinese_outbound_form_in_traditional_and_simplified():
    reviewer = Reviewer(similarity=_StubSimilarity())
    segs = (Segment(0.5, 3.0, "您好，敝姓陳，這裡是安泰保險客服中心，這次來電是想向您介紹新方案。", speaker="S0", role="agent"),
            Segment(4.0, 6.0, "不需要，不要再打了。", speaker="S1", role="customer"),
            Segment(6.5, 9.0, "好的，我們不會再打擾您，已經把您從名單中刪除。再見。", speaker="S0", role="agent"))
    t = Transcript("z1", "zh", 1.0, 10.0, segs, "fake", "fake")
    card = reviewer.review(Call("z1", "k", "e", direction="outbound"), t, conversation_metrics(t)).scorecard
    assert card.form_id == "outbound_sales_zh"
    assert {q: card.answer(q).answer for q in ("greeting", "disclosure", "opt_out", "forbidden_phrases")} == \
        {"greeting": "pass", "disclosure": "pass", "opt_out": "pass", "forbidden_phrases": "pass"}


def test_cli_forms_check(tmp_path, capsys):
    from pipeline.cli import main
    from scoring.forms import shipped_forms_dir

    assert main(["forms", "check", *map(str, sorted(shipped_forms_dir().glob("*.yaml")))]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text('id: x\nversion: "1"\nlanguages: [en]\ntitle: t\nsections:\n  - id: s\n    title: S\n'
                   '    questions:\n      - id: q\n        text: Q\n        wieght: 100\n'
                   '        rule: {phrases: [hi]}\n')
    assert main(["forms", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:11" in err and "did you mean 'weight'" in err
