"""Leak canary: calls carrying known personal values (en and zh; digits said as words, Chinese numerals, a
name, an e-mail) through the real batch flow on the real S3 server. Afterwards every database row, every
object outside the unredacted prefixes (recordings/, transcripts/), the local reports, the captured logs and
the Prefect artifacts and alert events are scanned for those values (digits normalised, case folded): none
may appear. The unredacted transcripts must hold them, or the canary would prove nothing.
The run keeps each kind of material in a bucket of its own under S3 credentials of its own (inputs, unredacted
transcripts, redacted results): nothing the pipeline writes may land beside the recordings, and the redacted
bucket is scanned whole."""
from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import sqlalchemy as sa

from compliance.spoken import normalise_spoken_digits
from core.keys import UNREDACTED_PREFIXES
from demo.synth import ScriptedTurn, synthesise_call
from pipeline.config import PipelineConfig, S3AreaSettings, S3Settings

from .s3util import read_object, s3_client

pytestmark = pytest.mark.integration
A, C = "agent", "customer"
CARD_WORDS = "Four one two one. Six four one six. One two eight six. One six four eight."  # Luhn-valid
CALLS = {
    "canary_en": ("en", [
        (A, "Thank you for calling Northwind. This call may be recorded. My name is Sarah. How can I help you?"),
        (C, "Hello, this is Michael Johnson. I want to pay my bill."),
        (A, "Of course. Could I have the card number, please?"),
        (C, f"Yes. {CARD_WORDS}"),
        (A, f"Thank you. Your card number is: {CARD_WORDS}"),
        (C, "And send the receipt to jane dot doe at example dot com, please."),
        (A, "Done. Thank you for calling, goodbye.")]),
    "canary_zh": ("zh", [
        (A, "您好，这里是客服中心，本次通话可能会被录音，请问有什么可以帮您？"),
        (C, "你好，我叫王建国，我的手机号码是一三八，一二三四，五六七八。"),
        (A, "好的，王先生，已经帮您登记了，还有别的问题吗？"),
        (C, "没有了，谢谢。")]),
}
# what must never leave the unredacted prefixes, normalised like the scanned text (see canon)
DIGITS = ("4121641612861648", "13812345678")
WORDS = ("michael johnson", "jane.doe", "jane dot doe", "王建国")


def canon(text: str) -> str:
    """Digits said as words become digits and groups are joined ("four one. two" -> "412"), case folded."""
    for lang in ("en", "zh"):
        text = normalise_spoken_digits(text, lang)[0]
    return re.sub(r"(?<=\d)[\s.,，、\-…]+(?=\d)", "", text).lower()


def leaks(text: str) -> list[str]:
    c = canon(text)
    c += " " + canon(json.loads(json.dumps(text)) if "\\u" not in text else text.encode().decode("unicode_escape",
                                                                                                     "ignore"))
    return [v for v in DIGITS + WORDS if v in c]


def test_no_personal_value_leaves_the_unredacted_prefixes(s3_cluster, s3_server, tmp_path, caplog, monkeypatch):
    import prefect.events

    from flows import batch_flow

    caplog.set_level(logging.DEBUG)
    events: list[dict] = []
    real_emit = prefect.events.emit_event

    def capture(**kwargs):
        events.append(kwargs)
        return real_emit(**kwargs)

    monkeypatch.setattr(prefect.events, "emit_event", capture)

    src = tmp_path / "src"
    for name, (language, turns) in CALLS.items():
        synthesise_call([ScriptedTurn(r, t) for r, t in turns], language, src / f"{name}.wav", stereo=True)
        (src / f"{name}.json").write_text(json.dumps({"language": language, "queue": "billing", "agent": "a-7",
                                                      "attributes": {"agent_channel": 0}}))
    bucket = f"canary-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.make_bucket(bucket)
    for f in sorted(src.iterdir()):
        client.fput_object(bucket, f"recordings/{f.name}", str(f))
    owners, areas = {}, {}
    for kind in ("unredacted", "redacted"):
        owners[kind] = s3_cluster.add_user(f"{bucket}-{kind}")
        s3_client(owners[kind]).make_bucket(f"{bucket}-{kind}")
        areas[kind] = S3AreaSettings(bucket=f"{bucket}-{kind}", access_key=owners[kind].access_key,
                                     secret_key=owners[kind].secret_key)
    reports = tmp_path / "reports"
    cfg = PipelineConfig(s3=S3Settings(endpoint=s3_server.endpoint, access_key=s3_server.access_key,
                                       secret_key=s3_server.secret_key, bucket=bucket, **areas),
                         database_url=f"sqlite:///{tmp_path / 'r.db'}", reports_dir=reports)
    summary = batch_flow(cfg)
    assert summary.count("done") == 2, summary

    # the canary is live: the unredacted transcripts hold the values (the card and the zh name at least)
    from core.models import Transcript

    unredacted_client = s3_client(owners["unredacted"])
    unredacted = " ".join(Transcript.from_json(read_object(unredacted_client, f"{bucket}-unredacted",
                                                           f"transcripts/{n}.json").decode()).text for n in CALLS)
    heard = leaks(unredacted)
    # what the recognizer made of the other values is personal data too, however it was spelled: the name
    # after "this is" / 我叫 and any long digit run join the canary (espeak Mandarin comes out differently on
    # different CPUs, e.g. 我叫王天华 for 王建国)
    global WORDS, DIGITS
    names = re.findall(r"(?:this is|my name is) ([A-Z][a-z]+ [A-Z][a-z]+)|我叫([\u4e00-\u9fff]{2,3})", unredacted)
    WORDS = WORDS + tuple(sorted({(en or zh).lower() for en, zh in names} - {"sarah"}))
    DIGITS = DIGITS + tuple(sorted(set(re.findall(r"\d{7,}", canon(unredacted))) - set(DIGITS)))
    heard = leaks(unredacted)
    assert DIGITS[0] in heard and len(heard) >= 2, ("ASR did not write the canary values", heard, unredacted)

    found: dict[str, list[str]] = {}

    def scan(where: str, text: str) -> None:
        if hit := leaks(text):
            found[where] = hit

    engine = sa.create_engine(cfg.database_url)
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()
            scan(f"db:{table}", "\n".join(" ".join(str(v) for v in row) for row in rows))
    # each bucket holds its own kind of material only
    assert all(o.object_name.startswith("recordings/") for o in client.list_objects(bucket, recursive=True))
    assert {o.object_name.split("/")[0] for o in unredacted_client.list_objects(f"{bucket}-unredacted",
                                                                                 recursive=True)} == {"transcripts"}
    redacted_client = s3_client(owners["redacted"])
    objects = [o.object_name for o in redacted_client.list_objects(f"{bucket}-redacted", recursive=True)]
    assert any(k.startswith("redacted/transcripts/") for k in objects) and any(k.startswith("reports/") for k in objects)
    assert not any(k.startswith(UNREDACTED_PREFIXES) for k in objects)
    for key in objects:
        if key.endswith(".wav"):
            continue
        scan(f"s3:{key}", read_object(redacted_client, f"{bucket}-redacted", key).decode("utf-8", "replace"))
    for path in reports.rglob("*"):
        if path.is_file():
            scan(f"local:{path.relative_to(reports)}", path.read_text(encoding="utf-8", errors="replace"))
    scan("logs", "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records))
    scan("events", json.dumps(events, ensure_ascii=False, default=str))
    assert events, "alert events were emitted (the rule-breaking read-out)"

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as prefect_client:
        artifacts = prefect_client.read_artifacts()
        runs = prefect_client.read_task_runs()
    assert artifacts
    scan("artifacts", json.dumps([a.model_dump(mode="json") for a in artifacts], ensure_ascii=False))
    scan("task runs", json.dumps([t.name for t in runs], ensure_ascii=False))
    assert found == {}, found
