"""The transformers sentiment backend loads a user's local model directory. No sentiment model ships on
PyPI, so the test builds a tiny random BERT classifier + tokenizer, saves it, and loads it for real."""
from __future__ import annotations

import pytest

from scoring.sentiment import LABELS, TransformersSentiment

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast

    torch.manual_seed(0)
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "good", "bad", "service", "退款"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]")
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=32, num_labels=3,
                     id2label={0: "NEGATIVE", 1: "NEUTRAL", 2: "POSITIVE"},
                     label2id={"NEGATIVE": 0, "NEUTRAL": 1, "POSITIVE": 2})
    out = tmp_path_factory.mktemp("tiny-sentiment")
    BertForSequenceClassification(cfg).save_pretrained(out)
    fast.save_pretrained(out)
    return out


def test_local_model_directory_scores_texts(tiny_model_dir):
    model = TransformersSentiment(tiny_model_dir)
    scores = model.score(["good service", "bad service", "退款"], "en")
    assert len(scores) == 3
    assert all(s.label in LABELS and -1.0 <= s.score <= 1.0 for s in scores)


def test_hub_ids_are_refused_with_a_clear_error():
    with pytest.raises(FileNotFoundError, match="local directory"):
        TransformersSentiment("some-org/some-sentiment-model")
