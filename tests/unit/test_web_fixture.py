"""Shared data for the workspace tests (no tests here): a real SQLite results DB and a local-folder object store
holding calls analysed by the real pipeline stage (`pipeline.analysis.CallAnalyser`: scoring with the shipped
forms, the default compliance policy, PII redaction) from hand-built transcripts, each with a recording
(a synthetic tone, WAV) redacted by the real `write_redacted_audio`. Only the sentence-similarity model is
stubbed. One call is moved to a second tenant; users of every role are added."""
from __future__ import annotations

import json
import wave
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy as np

from compliance.alerts import default_policy_path, load_policy
from core.keys import transcript_key
from core.models import Call, Segment, SpeakerInfo, Transcript, Word
from infra.accounts import AccountStore
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser
from pipeline.compliance_stage import write_redacted_audio
from scoring.review import Reviewer

PASSWORD = "correct horse battery"
PHONE = "415 555 0134"
XSS = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"
A, C = "agent", "customer"
GOOD, AUTOFAIL, OTHER, ZH, ACME = "2026/11/20/good", "2026/11/22/autofail", "2026/11/25/other", "2026/11/24/zh", \
    "2026/11/26/acme"

CALLS = {
    GOOD: dict(agent="a-1001", queue="billing", started=datetime(2026, 11, 20, 9, 0), language="en", turns=[
        (A, "Thank you for calling Northwind, this call may be recorded. My name is Sarah. How can I help you today?"),
        (C, "I was charged twice for my broadband bill and I am not happy."),
        (A, "I am so sorry to hear that, I understand how frustrating that is."),
        (A, "I have refunded the second charge, so to recap, the duplicate payment is refunded today."),
        (C, "Great, thank you so much, that is very helpful."),
        (A, "Is there anything else I can help you with? Thank you for calling, have a great day."),
    ]),
    AUTOFAIL: dict(agent="a-1001", queue="billing", started=datetime(2026, 11, 22, 14, 30), language="en", turns=[
        (A, "Hello, Northwind."),
        (C, f"Hi, I'm still waiting for an answer about my bill. Call me back on {PHONE} today or I will go to the "
            "press about this."),
        (A, "That's not my problem, figure it out yourself."),
        (C, "This is awful, I am very upset and disappointed."),
    ]),
    OTHER: dict(agent="a-2002", queue="sales", started=datetime(2026, 11, 25, 11, 0), language="en", turns=[
        (A, "Thank you for calling Northwind, this call may be recorded. My name is Tom. How can I help?"),
        (C, f"I want to change my delivery address please {XSS}"),
        (A, "Of course, that is done now. Have a nice day."),
    ]),
    ZH: dict(agent="王芳", queue="账单查询", started=datetime(2026, 11, 24, 10, 0), language="zh", turns=[
        (A, "您好，我是客服小王，请问有什么可以帮您？"),
        (C, "你们再不处理，我就找律师起诉你们。"),
        (A, "非常抱歉给您带来不便，我马上为您处理。"),
        (C, "好的，谢谢，太好了。"),
    ]),
    ACME: dict(agent="a-1001", queue="billing", started=datetime(2026, 11, 26, 8, 0), language="en", turns=[
        (A, "Hello, Acme support, this call may be recorded."),
        (C, "My parcel never arrived and I will go to the press about this."),
    ]),
}
# role -> (user name, agent id); "acme.admin" is an admin of the other tenant
USERS = {"qa": ("qa_reviewer", None), "qa2": ("qa_reviewer", None), "qalead": ("qa_lead", None), "comp": ("compliance_officer", None), "coach": ("coach", None),
         "agent1": ("agent", "a-1001"), "agent2": ("agent", "a-2002"), "admin": ("admin", None)}


class StubSimilarity:
    def encode(self, texts):
        return np.ones((len(texts), 4)) / 2.0


def _transcript(call_id: str, spec: dict) -> Transcript:
    segs, t = [], 0.5
    zh = spec["language"] == "zh"
    for role, text in spec["turns"]:
        speaker = "S0" if role == A else "S1"
        tokens = list(text) if zh else text.split()
        step = 0.2 if zh else 0.3
        words = tuple(Word(w, t + step * i, t + step * i + step * 0.8, 0.9, speaker, role)
                      for i, w in enumerate(tokens))
        segs.append(Segment(t, words[-1].end, text, words, speaker=speaker, role=role))
        t = words[-1].end + 1.0
    return Transcript(call_id, spec["language"], 1.0, t, tuple(segs), "fake", "fake",
                      script="zh-Hans" if zh else None,
                      speakers=(SpeakerInfo("S0", "agent", 0.9, "greeting", 0),
                                SpeakerInfo("S1", "customer", 0.9, "greeting", 1)))


def _recording(path: Path, seconds: float, rate: int = 8000) -> None:
    """A stereo 8 kHz telephone-like recording: a tone per channel (what the test player plays)."""
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.stack([np.sin(2 * np.pi * 330 * t), np.sin(2 * np.pi * 440 * t)], axis=1) * 0.3 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def build(root: Path, db_url: str | None = None) -> tuple[ResultsStore, LocalFolderSource]:
    """Results DB (`root/r.db`, or `db_url`) and object store `root/src` with the calls above, analysed and
    redacted."""
    src = LocalFolderSource(root / "src", "")
    store = ResultsStore(db_url or f"sqlite:///{root}/r.db")
    analyser = CallAnalyser(store, src, reviewer=Reviewer(similarity=StubSimilarity()),
                            policy=load_policy(default_policy_path()))
    work = root / "work"
    work.mkdir(parents=True, exist_ok=True)
    for call_id, spec in CALLS.items():
        meta = {"agent": spec["agent"], "queue": spec["queue"], "direction": "inbound",
                "started_at": spec["started"].isoformat(), "language": spec["language"]}
        src.write(f"recordings/{call_id}.json", json.dumps(meta, ensure_ascii=False).encode())
        call = Call(call_id, f"recordings/{call_id}.wav", "e1", agent=spec["agent"], queue=spec["queue"],
                    direction="inbound", started_at=spec["started"], language=spec["language"])
        assert store.claim(call)
        transcript = _transcript(call_id, spec)
        src.write(transcript_key(call_id), transcript.to_json().encode())
        store.mark_done(call_id, transcript_key=transcript_key(call_id), language=spec["language"],
                        duration=transcript.duration)
        persisted = analyser.run(call, transcript)
        recording = work / f"{call_id.replace('/', '_')}.wav"
        _recording(recording, transcript.duration)
        src.write(call.object_key, recording.read_bytes())  # the original, for the unredacted player
        write_redacted_audio(src, transcript, recording, work, list(persisted.audio_intervals))
    with store.engine.begin() as c:  # the pipeline has no tenant input yet: move one call by hand
        from sqlalchemy import text

        c.execute(text("UPDATE calls SET tenant = 'acme' WHERE id = :i"), {"i": ACME})
    accounts = AccountStore(store.engine)
    for name, (role, agent_id) in USERS.items():
        accounts.add_user(name, role, PASSWORD, agent_id=agent_id)
    accounts.add_user("acme.admin", "admin", PASSWORD, tenant="acme")
    accounts.add_user("comp", "compliance_officer", PASSWORD, tenant="acme")  # same name, other tenant
    return store, src


_PRISTINE: dict[str, Path] = {}


def fresh_copy(tmp_path_factory) -> tuple[ResultsStore, LocalFolderSource, Path]:
    """A private copy of the built data (built once per test process; analysis takes a while)."""
    import shutil

    if "root" not in _PRISTINE:
        root = tmp_path_factory.mktemp("web-pristine")
        build(root)
        _PRISTINE["root"] = root
    dest = tmp_path_factory.mktemp("web")
    for db in _PRISTINE["root"].glob("r.db*"):  # WAL mode: the -wal file holds recent writes
        shutil.copy2(db, dest / db.name)
    shutil.copytree(_PRISTINE["root"] / "src", dest / "src")
    return ResultsStore(f"sqlite:///{dest}/r.db"), LocalFolderSource(dest / "src", ""), dest


def client(store, source, *, base_url: str = "http://127.0.0.1", **app_options):
    """A TestClient on a new app over `store`/`source` (its own cookie jar). On a loopback address by default,
    as `callqa serve` and the demo: over plain HTTP elsewhere the cookies are Secure and the client would not
    send them back (test_web_auth tests that)."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    return TestClient(create_app(store, source, secret_key="test-secret", **app_options), base_url=base_url)


def login_token(c) -> str:
    import re

    html = c.get("/login").text
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(c, username: str, password: str = PASSWORD, tenant: str = "default"):
    return c.post("/login", data={"username": username, "password": password, "csrf_token": login_token(c),
                                  "tenant": tenant, "next": "/calls"}, follow_redirects=False)


def as_user(data, username: str, tenant: str = "default"):
    """A TestClient on `data` (from fresh_copy) signed in as `username`."""
    c = client(*data[:2])
    r = sign_in(c, username, tenant=tenant)
    assert r.status_code == 303, r.text[-500:]
    return c


def csrf_of(c) -> str:
    return c.get("/api/me").json()["csrf_token"]


def browser_sign_in(browser, base: str, user: str, *, then: str = "/calls", errors: list | None = None,
                    dialogs_are_errors: bool = False):
    """(page, errors): `user` signed in through the form in a browser context of its own (its own cookies),
    landing on `then`; console errors and page errors (and dialogs, when `dialogs_are_errors`) are collected
    in `errors`, each tagged with the user."""
    from urllib.parse import quote

    errors = [] if errors is None else errors
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("console", lambda m: errors.append(f"{user}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{user}: {e}"))
    if dialogs_are_errors:
        page.on("dialog", lambda d: (errors.append(f"{user}: dialog: {d.message}"), d.dismiss()))
    page.goto(f"{base}/login?next={quote(then)}")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#signin")
    page.wait_for_url(f"{base}{then}")
    return page, errors


@contextmanager
def serving(app, host: str = "127.0.0.1"):
    """The base URL of `app` served by the real server (uvicorn, in a thread) on a free port of `host`, until the
    block ends."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the workspace server did not start"
        time.sleep(0.05)
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium():
    """Debian's chromium driven by Playwright (never a downloaded browser): missing chromium is a failure, not a
    skip. Autoplay allowed (the player is started by the tests' clicks)."""
    import os
    import shutil

    import pytest

    if shutil.which("chromium") is None and not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (apt-get install chromium): the browser test cannot run")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        try:
            yield b
        finally:
            b.close()


def on_object_store(s3_server, root: Path):
    """The data folder of `fresh_copy` (`root`) uploaded to the real S3 server, each kind of material in a bucket
    of its own (recordings, redacted results, unredacted transcripts), then deleted locally, so every byte the
    workspace serves comes from the object store: (S3Source, minio client, {material: bucket})."""
    import io
    import shutil
    import uuid

    from core.keys import material_of
    from infra.storage import S3Area, S3Source
    from tests.integration.s3util import s3_client

    tag = uuid.uuid4().hex[:8]
    buckets = {"raw": f"calls-{tag}", "redacted": f"redacted-{tag}", "unredacted": f"unredacted-{tag}"}
    mc = s3_client(s3_server)
    for bucket in buckets.values():
        mc.make_bucket(bucket)
    files = [f for f in sorted((root / "src").rglob("*")) if f.is_file()]
    for f in files:
        key = f.relative_to(root / "src").as_posix()
        data = f.read_bytes()
        mc.put_object(buckets[material_of(key)], key, io.BytesIO(data), len(data))
    assert len(files) > 10 and any(material_of(f.relative_to(root / "src").as_posix()) == "redacted" for f in files)
    shutil.rmtree(root / "src")
    source = S3Source.connect(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, buckets["raw"],
                              areas={k: S3Area(b) for k, b in buckets.items() if k != "raw"})
    return source, mc, buckets

