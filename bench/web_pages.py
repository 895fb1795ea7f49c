"""Page-load time of the reviewers' workspace at N calls (generated rows).

    python bench/web_pages.py --calls 1000
    python bench/web_pages.py --calls 100000 [--requests 20] [--keep DIR]

N calls are written straight into a fresh SQLite results DB with bulk inserts: call rows (a year of calls, 8
queues, 200 agents, en/zh, 5% in a second tenant), a scorecard per done call with a realistic ~8 KB body (the
shipped forms' questions, evidence quotes, explanations, sentiment, KPIs) and its `scorecard_answers` rows,
alerts (the default policy's rules; older ones mostly handled), a few overrides, and the full-text index rows
`TranscriptIndex.sync` would write (`transcript_fts`, `transcript_index` with the same version strings and
full-text rowids, so the app's start-up sync finds nothing to do); a few calls get a redacted transcript in a
local folder source for the call page. The app is then served by uvicorn on loopback and signed in to with
httpx; every page gets one warm-up request and `--requests` timed ones (median and p95, nearest rank).

Cold loads are timed once each: the app's first start on the generated DB (it builds the dashboard's derived
tables, which the generated rows lack) and the dashboard's first request right after it; then, after the
other pages, the app is started again on the same DB (a restart: derived tables present, every in-process
cache empty) and its first dashboard request timed. `--keep DIR` keeps the generated data (with `info.json`;
the app runs on a copy of it); `--from DIR` measures a copy of such a folder instead of generating
(before/after comparisons on one data set).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 1"
END = datetime(2026, 11, 30)  # the last generated day
QUEUES = ("billing", "sales", "support", "retention", "collections", "onboarding", "账单查询", "技术支持")
ZH_QUEUES = {"账单查询", "技术支持"}
EN_LINES = ("Thank you for calling Northwind, this call may be recorded, my name is [PERSON], how can I help?",
            "I was charged twice for my broadband bill this month and I would like a refund please.",
            "I am sorry to hear that, I understand how frustrating that is, let me check your account.",
            "Can you confirm your date of birth and the postcode on the account please?",
            "Yes it is [DATE_OF_BIRTH] and the postcode is [ADDRESS].", "Thank you, please hold for a moment.",
            "I have refunded the second charge, you will see it on your card in three to five days.",
            "My parcel never arrived and nobody called me back about the delivery.",
            "Is there anything else I can help you with today?", "No that is all, thank you very much.",
            "You can call me back on [PHONE] after six.", "I want to cancel my contract if this is not fixed.")
ZH_LINES = ("您好，我是客服[PERSON]，请问有什么可以帮您？", "我这个月的账单扣了两次费用，请帮我退款。",
            "非常抱歉给您带来不便，我马上为您查询。", "请您提供一下身份证后四位。", "好的，已经为您处理退款。",
            "请问还有其他可以帮您的吗？", "没有了，谢谢，再见。", "你们再不处理，我就投诉到消协。")
RARE = {"en": "Otherwise I am taking this to the ombudsman.", "zh": "不然我就去找监管部门。"}  # in 1 of VARIANTS


CALL = "@@CALL@@"  # the call id in a body variant, replaced per call
VARIANTS = 48  # distinct scorecards / transcripts per form or language


def _forms() -> dict[str, dict]:
    import yaml

    from scoring.forms import shipped_forms_dir

    return {p.stem: yaml.safe_load(p.read_text()) for p in sorted(shipped_forms_dir().glob("*.yaml"))}


def _rules() -> list[dict]:
    import yaml

    from compliance.alerts import default_policy_path

    return [r for r in yaml.safe_load(Path(default_policy_path()).read_text())["rules"]]


def _scorecard(rnd: random.Random, form: dict, lines: tuple[str, ...], duration: float) -> dict:
    """A scorecard body shaped like pipeline.analysis stores it (~8 KB), for call `CALL`."""
    answers, sections, total, auto = [], [], 0.0, []
    for s in form["sections"]:
        weight = sum(q["weight"] for q in s["questions"])
        points = 0.0
        for q in s["questions"]:
            af = bool(q.get("auto_fail"))
            answer = rnd.choices(("pass", "fail", "na"), (0.96, 0.04, 0) if af else (0.78, 0.14, 0.08))[0]
            start = round(rnd.uniform(0, duration - 5), 2)
            evidence = [{"quote": rnd.choice(lines), "speaker": "S0", "role": "agent", "start": start,
                         "end": round(start + rnd.uniform(2, 9), 2), "rule_id": f"{q['id']}.{k}",
                         "detail": f"pattern matched: {rnd.choice(lines)[:24]}"} for k in range(rnd.randint(1, 3))]
            explanation = "" if answer == "pass" else ("Not found: " if answer == "fail" else "Not applicable: ") + \
                " ".join(rnd.choice(lines) for _ in range(rnd.randint(2, 6)))
            gained = q["weight"] if answer == "pass" else 0.0
            points += gained
            answers.append({"question_id": q["id"], "section_id": s["id"], "text": q["text"], "answer": answer,
                            "weight": q["weight"], "effective_weight": q["weight"], "points": gained,
                            "auto_fail": af, "critical": bool(q.get("critical")), "rule_id": q["id"],
                            "rule_version": "1", "evidence": evidence, "explanation": explanation})
            if af and answer == "fail":
                auto.append(f"{q['id']}: {q['text']}")
        total += points
        sections.append({"section_id": s["id"], "title": s["title"], "weight": weight, "effective_weight": weight,
                         "points": points, "score": round(100 * points / weight, 2) if weight else None})
    utterances = [{"segment_index": i, "role": ("agent", "customer")[i % 2], "start": i * 9.5, "end": i * 9.5 + 8,
                   "sentiment": {"label": "neutral", "score": round(rnd.uniform(-1, 1), 4)}} for i in range(16)]
    talk = {role: {"role": role, "talk_seconds": round(duration * share, 2), "talk_ratio": share,
                   "units": int(duration * share * 2.5), "words_per_minute": 150.0 if share else None,
                   "interruptions": rnd.randint(0, 3) if share else 0}
            for role, share in (("agent", 0.5), ("customer", 0.5), ("unknown", 0.0))}
    kpis = {"call_id": CALL, "duration_seconds": duration, "speech_seconds": round(duration * 0.8, 2),
            "rate_unit": "words", **talk, "silence_seconds": 12.5, "longest_silence_seconds": 4.1,
            "dead_air_seconds": 0.0, "silences": [{"start": 30.0, "end": 34.1}], "overtalk_seconds": 1.2,
            "overtalk": [{"start": 50.0, "end": 51.2}], "interruptions": [], "hold_seconds": 0, "holds": [],
            "time_to_first_agent_response": 0.5}
    final = {"label": "neutral", "score": utterances[-1]["sentiment"]["score"]}
    sentiment = {"utterances": utterances, "outcome": rnd.choice(("improved", "stable", "worsened")),
                 "trajectories": [{"role": r, "utterances": 8, "mean": 0.1, "start_mean": 0.0, "end_mean": 0.2}
                                  for r in ("agent", "customer")],
                 "final_customer": final, "model": "lexicon", "start_customer": final}
    return {"call_id": CALL, "form_id": form["id"], "form_version": str(form["version"]),
            "total": 0.0 if auto else round(total, 2), "sections": sections, "answers": answers,
            "auto_failed": bool(auto), "auto_fail_reasons": auto, "critical_failures": [],
            "sentiment": sentiment, "kpis": kpis, "redacted": True}


def _transcript(language: str, lines: tuple[str, ...], rnd: random.Random, rare: bool = False) -> dict:
    segments, t = [], 0.5
    for i in range(rnd.randint(8, 24)):
        text = RARE[language] if rare and i == 3 else rnd.choice(lines)
        segments.append({"start": round(t, 2), "end": round(t + 6, 2), "text": text,
                         "speaker": f"S{i % 2}", "role": ("agent", "customer")[i % 2], "words": []})
        t += 7
    return {"call_id": CALL, "language": language, "duration": round(t, 2), "segments": segments}


def _ts(dt: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite (string comparisons in queries rely on the one format)."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")


COLUMNS = {  # table -> columns given by the generator (the others take their defaults or NULL)
    "calls": ("id", "object_key", "etag", "agent", "queue", "direction", "started_at", "language", "duration",
              "size_bytes", "state", "attempts", "error_code", "error_message", "transcript_key", "warnings",
              "updated_at", "processed_at", "tenant"),
    "scorecards": ("call_id", "form_id", "form_version", "total", "auto_failed", "body", "scored_at"),
    "scorecard_answers": ("call_id", "question_id", "answer"),
    "alerts": ("call_id", "category", "rule_id", "rule_version", "severity", "title", "body", "status",
               "created_at", "updated_at"),
    "overrides": ("call_id", "form_id", "question_id", "human_answer", "reviewer", "comment", "at"),
    "transcript_index": ("call_id", "tenant", "version", "fts_rowid"),
    "transcript_fts": ("rowid", "call_id", "tenant", "body"),
}


def generate(root: Path, n: int, *, seed: int = 15, transcripts: int = 20) -> dict:
    """Results DB `root/r.db` and object store `root/src` with `n` generated calls; returns what the timing
    needs (call ids with a transcript, a busy queue, the last day)."""
    from core.keys import redacted_transcript_key
    from infra.accounts import AccountStore
    from infra.search import TranscriptIndex, _spaced
    from infra.storage import LocalFolderSource
    from infra.store import ResultsStore

    rnd = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    store = ResultsStore(f"sqlite:///{root}/r.db")
    TranscriptIndex(store.engine)
    src = LocalFolderSource(root / "src", "")
    forms, rules = _forms(), _rules()
    lines = {"en": EN_LINES, "zh": ZH_LINES}
    cards = {kind: [] for kind in forms}  # kind -> [(body JSON, total, auto_failed, answers, form id, version)]
    for kind, form in forms.items():
        for _ in range(VARIANTS):
            card = _scorecard(rnd, form, lines[kind[-2:]], round(rnd.uniform(60, 900), 2))
            cards[kind].append((json.dumps(card, ensure_ascii=False), card["total"], card["auto_failed"],
                                [(a["question_id"], a["answer"]) for a in card["answers"]], card["form_id"],
                                card["form_version"]))
    texts = {lang: [(t, _spaced("\n".join(s["text"] for s in t["segments"])))
                    for t in (_transcript(lang, lines[lang], rnd, i == 0) for i in range(VARIANTS))] for lang in lines}
    agents = [f"agent-{i:03d}" for i in range(200)]
    rows: dict[str, list] = {t: [] for t in COLUMNS}
    with_text: list[str] = []
    fts_rowids = iter(range(1, n + 1))  # the full-text rows' rowids, kept in transcript_index as sync does

    def flush(conn, force=False):
        for table, columns in COLUMNS.items():
            if rows[table] and (force or len(rows[table]) >= 5000):
                conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) "
                                     f"VALUES ({', '.join('?' * len(columns))})", rows[table])
                rows[table].clear()

    with store.engine.begin() as conn:
        for k in range(n):
            day = END - timedelta(days=int(365 * k / max(n, 1)))
            started = day.replace(hour=8) + timedelta(seconds=rnd.randint(0, 12 * 3600), microseconds=rnd.randint(1, 999999))
            queue = rnd.choice(QUEUES)
            language = "zh" if queue in ZH_QUEUES else "en"
            direction = "outbound" if queue in ("sales", "retention") and rnd.random() < 0.6 else "inbound"
            call_id = f"{started:%Y/%m/%d}/call-{k:07d}"
            state = rnd.choices(("done", "failed", "quarantined"), (0.97, 0.02, 0.01))[0]
            duration = round(rnd.uniform(60, 900), 2)
            processed = started + timedelta(seconds=duration + rnd.randint(60, 3600))
            tenant = "acme" if rnd.random() < 0.05 else "default"
            done = state == "done"
            rows["calls"].append((call_id, f"recordings/{call_id}.wav", "e1", rnd.choice(agents), queue, direction,
                                  _ts(started), language, duration, int(duration * 32000), state, 1,
                                  None if done else "E101", None if done else "decode failed",
                                  f"transcripts/{call_id}.json" if done else None, "[]", _ts(processed),
                                  _ts(processed) if done else None, tenant))
            if not done:
                flush(conn)
                continue
            kind = ("outbound_sales" if direction == "outbound" else "inbound_service") + f"_{language}"
            body, total, auto_failed, answers, form_id, version = rnd.choice(cards[kind])
            scored = processed - timedelta(seconds=5)
            rows["scorecards"].append((call_id, form_id, version, total, auto_failed, body.replace(CALL, call_id),
                                       _ts(scored)))
            rows["scorecard_answers"] += [(call_id, qid, answer) for qid, answer in answers]
            transcript, spaced = rnd.choice(texts[language])
            fts_rowid = next(fts_rowids)
            rows["transcript_fts"].append((fts_rowid, call_id, tenant, spaced))
            rows["transcript_index"].append((call_id, tenant, f"e1|{processed}|{scored}", fts_rowid))  # as sync does
            if len(with_text) < transcripts and tenant == "default" and k % max(1, n // (transcripts * 2)) == 0:
                src.write(redacted_transcript_key(call_id),
                          json.dumps(dict(transcript, call_id=call_id), ensure_ascii=False).encode())
                with_text.append(call_id)
            for rule in rnd.sample(rules, rnd.choices((0, 1, 2), (0.6, 0.3, 0.1))[0]):
                status = "new" if (END - started).days < 14 and rnd.random() < 0.7 else \
                    rnd.choice(("acknowledged", "resolved", "resolved", "false_positive"))
                alert = {"call_id": call_id, "category": rule["category"], "rule_id": rule["id"],
                         "rule_version": str(rule.get("version", "1")), "severity": rule["severity"],
                         "title": rule["title"], "explanation": rule["title"],
                         "evidence": [{"quote": rnd.choice(lines[language]), "speaker": "S1", "role": "customer",
                                       "start": 3.0, "end": 9.0, "rule_id": rule["id"], "detail": rule["id"]}]}
                rows["alerts"].append((call_id, rule["category"], rule["id"], alert["rule_version"], rule["severity"],
                                       rule["title"], json.dumps(alert, ensure_ascii=False), status, _ts(processed),
                                       _ts(processed)))
            if rnd.random() < 0.02:
                qid, answer = rnd.choice(answers)
                rows["overrides"].append((call_id, form_id, qid, "fail" if answer == "pass" else "pass", "bench-qa",
                                          None, _ts(processed + timedelta(days=1))))
            flush(conn)
        flush(conn, force=True)
    accounts = AccountStore(store.engine)
    for name, role in (("bench-qa", "qa_reviewer"), ("bench-comp", "compliance_officer")):
        accounts.add_user(name, role, PASSWORD)
    store.engine.dispose()
    return {"with_text": with_text, "queue": "billing", "end": END.date()}


class _Server:
    """The app under uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, root: Path):
        import importlib
        import pkgutil

        import uvicorn

        import web

        from infra.storage import LocalFolderSource
        from infra.store import ResultsStore
        from web.app import create_app

        for m in pkgutil.iter_modules(web.__path__):  # imports are not start-up work of a running service
            importlib.import_module(f"web.{m.name}")
        t = time.perf_counter()
        self.app = create_app(ResultsStore(f"sqlite:///{root}/r.db"), LocalFolderSource(root / "src", ""),
                              secret_key="bench-secret")
        self.startup_s = time.perf_counter() - t
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="error",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _client(base: str, username: str):
    import httpx

    c = httpx.Client(base_url=base, timeout=120)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)[1]
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token, "tenant": "default",
                               "next": "/calls"})
    if r.status_code != 303:
        raise RuntimeError(f"sign-in as {username} failed: HTTP {r.status_code}")
    return c


def _time(client, urls: list[str], requests: int) -> tuple[float, float, float]:
    """(median ms, p95 ms, KB of the last response) over `requests` timed GETs after one warm-up."""
    def get(url):
        r = client.get(url)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url.split('?')[0]}: HTTP {r.status_code}")
        return r

    get(urls[0])
    times = []
    for i in range(requests):
        t = time.perf_counter()
        r = get(urls[i % len(urls)])
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, math.ceil(0.95 * len(times)) - 1)], len(r.content) / 1024


def measure(root: Path, info: dict, *, requests: int = 20) -> list[tuple]:
    """(page, what, median ms, p95 ms, KB) per page (p95 and KB None for one-off timings); the app runs on `root`
    for the duration."""
    server = _Server(root)
    try:
        qa, comp = _client(server.base, "bench-qa"), _client(server.base, "bench-comp")
        total = int(re.search(r'id="count">(\d+) call', qa.get("/calls").text)[1])
        late = max(1, (total + 49) // 50 - 1)
        month = (info["end"] - timedelta(days=30)).isoformat()
        cold = _first_dashboard(qa)
        ranges = [f"/dashboard?date_to={(info['end'] - timedelta(days=d)).isoformat()}" for d in range(1, requests + 2)]
        pages = [
            ("call list", "default view (newest first)", qa, ["/calls"]),
            ("call list", "filtered: queue + 30 days + no auto-fail", qa,
             [f"/calls?queue={info['queue']}&date_from={month}&date_to={info['end']}&auto_fail=no"]),
            ("call list", "full-text search, common word ('refund', ~70% of calls)", qa, ["/calls?q=refund"]),
            ("call list", "full-text search, rare word ('ombudsman', ~2% of calls)", qa, ["/calls?q=ombudsman"]),
            ("call list", f"late page ({late})", qa, [f"/calls?page={late}"]),
            ("call list", "sorted by score, ascending", qa, ["/calls?sort=total&order=asc"]),
            ("call page", f"{len(info['with_text'])} calls with transcripts, in turn", qa,
             [f"/calls/{c}" for c in info["with_text"]]),
            ("alert queue", "default view (new)", comp, ["/alerts"]),
            ("dashboard", "default 12 weeks, cached figures", qa, ["/dashboard"]),
            ("dashboard", "a different range each request (figures computed)", qa, ranges),
            ("dashboard", "whole year, one queue, reviewed view", qa,
             [f"/dashboard?date_from={(info['end'] - timedelta(days=364)).isoformat()}&date_to={info['end']}"
              f"&queue={info['queue']}&view=reviewed"]),
        ]
        out = [("app start", "first start on this DB: create_app incl. its full-text index check and building the "
                "dashboard's derived tables", server.startup_s * 1000, None, None),
               ("dashboard", "first request after that start (figures not cached), one request", cold, None, None)]
        for page, what, client, urls in pages:
            out.append((page, what, *_time(client, urls, requests)))
    finally:
        server.stop()
    server = _Server(root)  # a restart: a fresh app on the same DB (derived tables present, caches empty)
    try:
        cold = _first_dashboard(_client(server.base, "bench-qa"))
        return out + [("app start", "restart (derived tables present)", server.startup_s * 1000, None, None),
                      ("dashboard", "first request after the restart (caches empty), one request", cold, None, None)]
    finally:
        server.stop()


def _first_dashboard(client) -> float:
    """ms of one /dashboard request: the first of this app."""
    t = time.perf_counter()
    client.get("/dashboard").raise_for_status()
    return (time.perf_counter() - t) * 1000


def _copy_kept(source: Path, root: Path) -> dict:
    """A copy of a folder kept with --keep (results DB and object store), and its info.json."""
    import shutil

    info = json.loads((source / "info.json").read_text())
    shutil.copytree(source, root)
    return {**info, "end": datetime.fromisoformat(info["end"]).date()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--requests", type=int, default=20, help="timed requests per page (after one warm-up)")
    ap.add_argument("--keep", type=Path, help="generate into this (empty) folder and keep it")
    ap.add_argument("--from", dest="source", type=Path, help="measure a copy of a folder kept with --keep "
                    "(no generation; --calls is read from its info.json)")
    a = ap.parse_args(argv)
    if a.keep is not None and (a.keep / "r.db").exists():
        ap.error(f"{a.keep} already holds a results DB: give an empty folder")
    with tempfile.TemporaryDirectory(prefix="callqa-bench-web-") as tmp:
        root = Path(tmp) / "data"  # what the app runs on (a kept folder stays as generated)
        t = time.perf_counter()
        if a.source is not None:
            info = _copy_kept(a.source, root)
            a.calls = info["calls"]
        else:
            info = generate(a.keep or root, a.calls)
            if a.keep is not None:
                (a.keep / "info.json").write_text(json.dumps({**info, "end": info["end"].isoformat(),
                                                              "calls": a.calls}))
                _copy_kept(a.keep, root)
        gen_s = time.perf_counter() - t
        size = sum(f.stat().st_size for f in root.glob("r.db*")) / 1024 ** 2
        before = os.getloadavg()[0]
        rows = measure(root, info, requests=a.requests)
    load = os.getloadavg()[0]
    print(f"{a.calls:,} calls {'copied' if a.source else 'generated'} in {gen_s:.1f} s (results DB {size:,.0f} MB); "
          f"{a.requests} timed requests per page after one warm-up; load average {before:.1f} at the start of the "
          f"timing, {load:.1f} at the end")
    print()
    print("| page | request | median ms | p95 ms | KB |")
    print("|---|---|---|---|---|")
    for page, what, median, p95, kb in rows:
        print(f"| {page} | {what} | {median:.0f} | {'–' if p95 is None else f'{p95:.0f}'} | "
              f"{'–' if kb is None else f'{kb:.0f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
