"""Pure helpers of the judgement benchmarks (bench/judgement.py, bench/judgement_audio.py): call-id mapping,
synthesis runs, sidecars, and judging stored results with the same tally as text mode. No models."""
from __future__ import annotations

import pytest

from bench.judgement import ALIASES, LabelledCall, batch_of, new_tally, select_calls, summary, tally_call
from bench.judgement_audio import judged_from_stored, label_id, map_call_ids, miss_key, sidecar_for, synth_chunks
from pipeline.metadata import parse_sidecar


def _call(**kw) -> LabelledCall:
    base = dict(id="en_in_01", split="test", language="en", script=None, direction="inbound", queue="billing",
                audio=True, turns=({"role": "agent", "text": "Hello"},), sop={"greeting": "pass", "recap": "fail"},
                risks=frozenset({"media_threat", "pii_read_out"}), sentiment={"start": "neutral", "end": "negative"})
    return LabelledCall(**{**base, **kw})


@pytest.mark.parametrize("call_id, want", [
    ("en_in_01", "en_in_01"),  # a file at the top of the folder
    ("recordings/en_in_01", "en_in_01"),  # below a subfolder of the source
    ("2026/01/zht_out_02", "zht_out_02"),
    ("en_in_01~wav", "en_in_01"),  # two inputs with one stem
    ("a/b/zh_in_03~transcript-json", "zh_in_03"),
])
def test_label_id_undoes_the_pipeline_call_id(call_id, want):
    assert label_id(call_id) == want


def test_map_call_ids_keeps_the_wanted_and_refuses_two_for_one_label():
    assert map_call_ids(["en_in_01", "x/en_out_02", "other"], {"en_in_01", "en_out_02", "zh_in_01"}) == \
        {"en_in_01": "en_in_01", "en_out_02": "x/en_out_02"}
    with pytest.raises(ValueError, match="two stored calls for labelled call en_in_01"):
        map_call_ids(["en_in_01~wav", "en_in_01~flac"], {"en_in_01"})


def test_synth_chunks_break_after_each_pause():
    turns = [("agent", "a", 0.0), ("customer", "b", 45), ("agent", "c", None), ("customer", "d", 0)]
    assert synth_chunks(turns) == [([("agent", "a"), ("customer", "b")], 45.0),
                                   ([("agent", "c"), ("customer", "d")], 0.0)]
    assert synth_chunks([("agent", "a", 0), ("agent", "b", 3)]) == [([("agent", "a"), ("agent", "b")], 3.0)]
    assert synth_chunks([]) == []


def test_sidecar_is_what_the_pipeline_accepts():
    c = _call(language="zh", script="zh-Hant", direction="outbound", queue="sales")
    meta = parse_sidecar(__import__("json").dumps(sidecar_for(c)).encode())
    assert (meta.queue, meta.direction, meta.language, meta.agent) == ("sales", "outbound", "zh", "a1")
    assert sidecar_for(c, detect_language=True)["language"] is None


def test_stored_results_are_judged_like_an_analysis():
    card = {"answers": [
        {"question_id": "greeting", "answer": "pass", "evidence": [{"detail": "greeting: hello", "quote": "Hello"}]},
        {"question_id": "recap", "answer": "pass", "evidence": [{"detail": "recap: so"}, {"detail": "recap: so"},
                                                                  {"detail": ""}]}],
        "sentiment": {"trajectories": [{"role": "agent", "start_mean": 0.9, "end_mean": 0.9},
                                       {"role": "customer", "start_mean": 0.0, "end_mean": -0.9}],
                      # the call's own labels, as scoring.sentiment.SentimentSummary stores them
                      "start_customer": {"label": "neutral", "score": 0.0},
                      "final_customer": {"label": "negative", "score": -0.9}}}
    alias = next(iter(ALIASES))  # an alert id that answers a label of another name
    alerts = [{"rule_id": "legal_threat", "evidence": [{"quote": "my lawyer"}]},
              {"rule_id": alias, "evidence": [{"quote": "[NUMBER]"}]},
              {"rule_id": "legal_threat", "evidence": [{"quote": "second one"}]}]
    j = judged_from_stored(card, alerts)
    assert j.answers["recap"] == ("pass", "recap: so")
    assert j.alerts == {"legal_threat": "my lawyer", ALIASES[alias]: "[NUMBER]"}
    assert j.moods == {"start": "neutral", "end": "negative"}

    t = new_tally()
    tally_call(t, _call(), j)
    s = summary(t)
    assert (s["sop_answers"], s["sop_agreement"]) == (2, 0.5)
    assert (s["risk_tp"], s["risk_fp"], s["risk_fn"]) == (1, 1, 1)  # pii_read_out / legal_threat / media_threat
    assert s["sentiment_accuracy"] == 1.0
    assert "en_in_01 sop recap: got pass, want fail" in {miss_key(m) for m in t.misses}


def test_a_call_without_results_misses_everything():
    j = judged_from_stored(None, [])
    assert j.answers == {} and j.alerts == {} and j.moods == {"start": None, "end": None}
    t = new_tally()
    tally_call(t, _call(), j)
    s = summary(t)
    assert s["sop_agreement"] == 0.0 and s["risk_fn"] == 2 and s["sentiment_accuracy"] == 0.0
    assert "en_in_01 sop greeting: got missing, want pass  []" in t.misses


def test_batches_separate_the_blind_second_round():
    calls = [_call(id=i, split=sp) for i, sp in (("en_in_01", "test"), ("en_dev_01", "dev"), ("en_dev2_01", "dev"),
                                                  ("zht_test2_03", "test"))]
    assert [batch_of(c) for c in calls] == ["old", "old", "new", "new"]
    assert [c.id for c in select_calls(calls, "test", batch="new")] == ["zht_test2_03"]
    assert [c.id for c in select_calls(calls, "dev", batch="old")] == ["en_dev_01"]
    assert len(select_calls(calls, "all")) == 4
