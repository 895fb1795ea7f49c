"""The benchmark manifest format (bench/manifest.py): valid items load, malformed ones fail with the file,
line and field named."""
from __future__ import annotations

import json
import re

import pytest

from bench.manifest import CallItem, ManifestError, TextItem, load_manifest, write_manifest


def _write(folder, *lines):
    (folder / "manifest.jsonl").write_text("".join(
        (ln if isinstance(ln, str) else json.dumps(ln, ensure_ascii=False)) + "\n" for ln in lines), encoding="utf-8")
    return folder


def test_call_and_text_items_load_with_their_labels(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "a.rttm").write_text("SPEAKER a 1 0.0 1.0 <NA> <NA> S1 <NA> <NA>\n")
    _write(tmp_path,
           {"id": "a", "audio": "a.wav", "language": "en", "channels": 2, "agent_channel": 1,
            "turns": [{"role": "agent", "start": 0.5, "end": 2.0, "text": "Hello, my card is 4111"}],
            "rttm": "a.rttm", "alerts": ["pii_read_out", "reputation"],
            "pii": [{"entity": "CARD_NUMBER", "text": "4111"}], "form": "inbound_service_en",
            "sop": {"greeting": "yes", "empathy": "na"}, "sentiment": "neutral"},
           "",
           {"kind": "text", "id": "t1", "language": "zh", "text": "我的电话是13812345678",
            "pii": [{"entity": "PHONE_NUMBER", "start": 5, "end": 16}], "sentiment": "neutral"})
    call, text = load_manifest(tmp_path)
    assert isinstance(call, CallItem) and isinstance(text, TextItem)
    assert call.alerts == ("pii_read_out", "reputation") and call.sop["empathy"] == "na"
    assert call.reference_text() == "Hello, my card is 4111"
    assert text.reference_text()[5:16] == "13812345678"


@pytest.mark.parametrize("bad, message", [
    ({"id": "a", "audio": "a.wav", "language": "fr"}, r"manifest.jsonl:2: language: Input should be 'en' or 'zh'"),
    ({"id": "a", "audio": "a.wav", "language": "en", "speakers": 2}, r":2: speakers: Extra inputs are not permitted"),
    ({"id": "a", "audio": "a.wav", "language": "en", "sop": {"greeting": "yes"}}, r":2: .*need the `form` id"),
    ({"id": "a", "audio": "a.wav", "language": "en", "sop": {"greeting": "pass"}, "form": "f"},
     r":2: sop.greeting: Input should be 'yes', 'no' or 'na'"),
    ({"id": "a", "audio": "missing.wav", "language": "en"}, r":2: audio file 'missing.wav' not found"),
    ({"id": "a", "audio": "a.wav", "language": "en", "pii": [{"entity": "CARD_NUMBER", "text": "4111"}]},
     r":2: .*give `transcript` or `turns`"),
    ({"id": "a", "audio": "a.wav", "language": "en", "transcript": "call me", "pii": [{"entity": "X", "text": "4111"}]},
     r":2: pii\[0\] text '4111' does not occur"),
    ({"id": "a", "audio": "a.wav", "language": "en", "transcript": "abc", "pii": [{"entity": "X", "start": 1, "end": 9}]},
     r":2: pii\[0\] end 9 is past the reference text \(3 chars\)"),
    ({"id": "a", "audio": "a.wav", "language": "en", "turns": [{"text": "x", "start": 2.0, "end": 1.0}]},
     r":2: turns.0: .*end \(1.0\) must be after start \(2.0\)"),
    ({"kind": "text", "id": "t", "language": "en"}, r":2: .*exactly one of `text` or `turns`"),
    ({"id": "a", "audio": "a.wav", "language": "en", "turns": [{"text": "x", "channel": 0}, {"text": "y"}]},
     r":2: .*`channel` on every turn or on none"),
    ({"id": "dup", "audio": "a.wav", "language": "en"}, r":2: id 'dup' already used on line 1"),
    ('{"id": "a", ', r":2: not valid JSON"),
])
def test_errors_name_file_line_and_field(tmp_path, bad, message):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    _write(tmp_path, {"id": "dup", "audio": "a.wav", "language": "en"}, bad)
    with pytest.raises(ManifestError, match=message) as e:
        load_manifest(tmp_path)
    assert str(tmp_path / "manifest.jsonl") in str(e.value)


def test_missing_and_empty_manifests_are_errors(tmp_path):
    with pytest.raises(ManifestError, match="no manifest.jsonl"):
        load_manifest(tmp_path)
    _write(tmp_path, "")
    with pytest.raises(ManifestError, match=re.escape("no items")):
        load_manifest(tmp_path)


def test_write_manifest_validates_before_writing(tmp_path):
    with pytest.raises(ManifestError, match=r"item 1 \('x'\) is invalid"):
        write_manifest(tmp_path, [{"id": "x", "kind": "text", "language": "en", "text": "hi", "alerts": []}])
    assert not (tmp_path / "manifest.jsonl").exists()
    write_manifest(tmp_path, [{"id": "x", "kind": "text", "language": "en", "text": "hi", "sentiment": "positive"}])
    assert load_manifest(tmp_path)[0].sentiment == "positive"
