"""Benchmark metrics (bench/metrics.py) on tiny hand-made examples with hand-computed answers."""
from __future__ import annotations

import math

import pytest

from bench.metrics import (PRF, RedactionCount, agreement_by_key, alert_prf, digit_runs_leaked, kappa, macro_f1,
                           normalise_for_wer, redaction_recall, span_prf)


def test_span_prf_counts_overlaps_per_entity():
    gold = [("PHONE", 0, 10), ("PHONE", 20, 30), ("CARD", 40, 56)]
    pred = [("PHONE", 5, 12), ("PHONE", 8, 9), ("CARD", 0, 4), ("EMAIL", 60, 70)]
    s = span_prf(gold, pred)
    # two predictions on the first phone: both correct, that gold span found once; second phone missed
    assert (s["PHONE"].pred_matched, s["PHONE"].pred_total, s["PHONE"].gold_found, s["PHONE"].gold_total) == (2, 2, 1, 2)
    assert s["PHONE"].precision == 1.0 and s["PHONE"].recall == 0.5 and s["PHONE"].f1 == pytest.approx(2 / 3)
    # a card prediction overlapping only a phone span is wrong (entity must match)
    assert s["CARD"].precision == 0.0 and s["CARD"].recall == 0.0 and s["CARD"].f1 == 0.0
    assert s["EMAIL"].recall is None and s["EMAIL"].precision == 0.0
    total = s["PHONE"] + s["CARD"]
    assert (total.precision, total.recall) == (2 / 3, 1 / 3)


def test_span_touching_is_not_overlap():
    s = span_prf([("X", 0, 5)], [("X", 5, 9)])
    assert s["X"].precision == 0.0 and s["X"].recall == 0.0


def test_kappa_against_hand_computation():
    # 10 items: po = 0.7; rater x yes 5/10, rater y yes 6/10 -> pe = 0.5*0.6 + 0.5*0.4 = 0.5 -> kappa 0.4
    x = ["y"] * 5 + ["n"] * 5
    y = ["y", "y", "y", "y", "n", "y", "y", "n", "n", "n"]
    assert kappa(x, y) == pytest.approx(0.4)
    assert kappa(["a"] * 3, ["a"] * 3) == 1.0
    assert math.isnan(kappa([], []))
    with pytest.raises(ValueError, match="different lengths"):
        kappa([1], [1, 2])


def test_agreement_by_key_reports_each_question_and_overall():
    out = agreement_by_key([("greeting", "yes", "yes"), ("greeting", "no", "yes"), ("empathy", "na", "na")])
    assert out["greeting"] == {"n": 2, "accuracy": 0.5, "kappa": 0.0}
    assert out["empathy"]["accuracy"] == 1.0 and out["overall"]["n"] == 3
    assert out["overall"]["accuracy"] == pytest.approx(0.6667, abs=1e-4)


def test_macro_f1_includes_classes_never_predicted():
    f1, per = macro_f1(["pos", "neg", "neu"], ["pos", "pos", "neu"], ("neg", "neu", "pos"))
    assert per == {"neg": 0.0, "neu": 1.0, "pos": pytest.approx(2 / 3)}
    assert f1 == pytest.approx((0 + 1 + 2 / 3) / 3)


def test_alert_prf_rule_ids_categories_and_false_alarms():
    expected = [("media_threat", "privacy"), (), ("legal_threat",)]
    predicted = [[("media_threat", "reputation"), ("pii_read_out", "privacy"), ("legal_threat", "reputation")],
                 [("media_threat", "reputation")],
                 []]
    p = alert_prf(expected, predicted)
    assert p["media_threat"] == PRF(tp=1, fp=1, fn=0)  # hit on call 1, false alarm on call 2
    assert p["privacy"] == PRF(tp=1, fp=0, fn=0)  # category label satisfied by pii_read_out
    assert "pii_read_out" not in p  # covered by the expected category, so not a false alarm
    assert p["legal_threat"] == PRF(tp=0, fp=1, fn=1)  # unexpected on call 1, missed on call 3
    micro = sum(p.values(), start=PRF(0, 0, 0))
    assert (micro.tp, micro.fp, micro.fn) == (2, 2, 1) and micro.recall == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 expected vs 1 predicted"):
        alert_prf([(), ()], [[]])


def test_redaction_recall_counts_only_what_the_asr_heard():
    gold = ["4111111111111111", "2025550143", "michael johnson"]
    original = "card 4111 1111 1111 1111, phone 202 555 0199, name michael johnson"
    redacted = "card [CARD], phone 202 555 0199, name [PERSON]"
    r = redaction_recall(gold, original, redacted)
    # phone: the ASR got "2025550199": the run 2025/0255/2555/5550 is heard and still there -> a leak
    assert r == RedactionCount(gold=3, heard=3, masked=2) and r.recall == pytest.approx(2 / 3)
    unheard = redaction_recall(["987654321"], "nothing numeric", "nothing numeric")
    assert unheard.heard == 0 and unheard.recall is None


def test_digit_runs_leak_on_any_four_consecutive_gold_digits():
    assert digit_runs_leaked("4111222233334444", "993333")
    assert digit_runs_leaked("4111222233334444", "4111")
    assert not digit_runs_leaked("4111222233334444", "5678")
    assert digit_runs_leaked("12", "x12")  # shorter than the run: the whole value
    with pytest.raises(ValueError):
        digit_runs_leaked("", "123")


def test_normalise_for_wer():
    assert normalise_for_wer("Hello, Sarah! It's 5 o'clock.", "en") == "hello sarah it's 5 o'clock"
    assert normalise_for_wer("您好，退款。OK", "zh") == "您 好 退 款"
    assert normalise_for_wer("Card four one one one, please", "en") == "card 4111 please"
    assert normalise_for_wer("号码是一二三四", "zh") == "号 码 是 1 2 3 4"


def test_stereo_wer_pairs_each_channel_so_crosstalk_order_does_not_count():
    from bench.accuracy import wer_texts
    from bench.manifest import parse_line
    from core.models import Segment, Transcript

    item = parse_line('{"id": "s", "audio": "s.wav", "language": "en", "channels": 2, "turns": ['
                      '{"channel": 0, "text": "Hello there."}, {"channel": 1, "text": "Hi, four one one one."}]}')
    t = Transcript(call_id="s", language="en", language_probability=1.0, duration=3.0, backend="x", model="x",
                   segments=(Segment(0.0, 1.0, "Hi 4111", channel=1), Segment(0.5, 1.5, "hello there", channel=0)))
    assert wer_texts(item, t) == (["hello there", "hi 4111"], ["hello there", "hi 4111"])
    whole = parse_line('{"id": "m", "audio": "m.wav", "language": "en", "transcript": "Hello there"}')
    assert wer_texts(whole, t) == (["hello there"], ["hi 4111 hello there"])
