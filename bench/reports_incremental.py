"""Report build time for 10 new calls on top of N stored calls (generated rows), incremental builds.

    python bench/reports_incremental.py [--stored 100,2000] [--new 10] [--repeat 3]

Four realistic calls (the reports test fixture: real scoring and compliance on hand-built en/zh calls) are
cloned into N stored calls over 25 agents (DB rows, stored scorecards and alerts, redacted transcripts in a
local folder source) for each size; a full build is made once, then `--repeat` times 10 new calls are added
and the build is timed. The sizes take turns (round 1 of every size, then round 2, ...), so on a machine
shared with other work each round of every size runs under about the same load; wall-clock and CPU time of
the process are printed (median and each run). Only the new calls are read and rendered; the aggregate pages
(index, alert queue, coaching, dashboard, exports) are joined from the calls' cached parts, and their charts
drawn again only where their data changed. Each new call's sentiment scores are scaled by a factor of its
own (by under 1%), so its sentiment chart is drawn like a real call's; the stored clones share theirs (four
distinct charts, drawn once per build), which makes the full build faster than with real calls.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def clone_calls(store, src, templates: list[str], n: int, start: int, *, distinct: bool = False) -> None:
    """`distinct`: each clone's sentiment scores scaled by a factor of its own (its chart is its own)."""
    from core.keys import redacted_transcript_key
    from core.models import Call

    details = {d.id: d for d in store.call_details()}
    cards = {c.call_id: c for c in store.scorecards()}
    alerts = {}
    for a in store.alert_records():
        alerts.setdefault(a.call_id, []).append(a.body)
    for k in range(start, start + n):
        t = templates[k % len(templates)]
        d, new_id = details[t], f"gen/{k:06d}"
        store.claim(Call(new_id, f"{new_id}.wav", "e1", agent=f"agent-{k % 25}", queue=d.queue, direction=d.direction,
                         started_at=(d.started_at or d.processed_at) + timedelta(minutes=k), language=d.language))
        src.write(redacted_transcript_key(new_id), src.read(redacted_transcript_key(t)))
        store.mark_done(new_id, transcript_key=f"transcripts/{new_id}.json", language=d.language, duration=d.duration)
        body = dict(cards[t].body, call_id=new_id)
        if distinct:
            f = 1 - (k % 997 + 1) * 1e-5
            sent = json.loads(json.dumps(body["sentiment"]))
            for u in sent.get("utterances", ()):
                u["sentiment"]["score"] *= f
            body["sentiment"] = sent
        store.save_scorecard(new_id, form_id=body["form_id"], form_version=body["form_version"], total=body["total"],
                             auto_failed=body["auto_failed"], body=json.dumps(body, ensure_ascii=False))
        store.replace_alerts(new_id, [dict(a, call_id=new_id) for a in alerts.get(t, ())])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", default="100,2000")
    ap.add_argument("--new", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3, help="incremental builds timed per size (10 new calls each)")
    a = ap.parse_args()
    from reports.build import build_reports
    from tests.unit.test_reports_fixture import CALLS, build

    sizes = [int(x) for x in a.stored.split(",")]
    with tempfile.TemporaryDirectory(prefix="callqa-bench-reports-") as tmp:
        runs = {}
        for n in sizes:
            root = Path(tmp) / str(n)
            root.mkdir()
            store, src = build(root)
            clone_calls(store, src, list(CALLS), n - len(CALLS), 0)
            t = time.perf_counter()
            build_reports(store, src, root / "out")
            runs[n] = {"root": root, "store": store, "src": src, "full": time.perf_counter() - t, "wall": [], "cpu": []}
        for r in range(a.repeat):  # the sizes take turns: each round runs under the same load on a shared machine
            for n in sizes:
                run = runs[n]
                clone_calls(run["store"], run["src"], list(CALLS), a.new, n + r * a.new, distinct=True)
                t, c = time.perf_counter(), time.process_time()
                run["index"] = build_reports(run["store"], run["src"], run["root"] / "out")
                run["wall"].append(time.perf_counter() - t)
                run["cpu"].append(time.process_time() - c)
        for n in sizes:
            run = runs[n]
            t = time.perf_counter()
            build_reports(run["store"], run["src"], run["root"] / "out")
            none = time.perf_counter() - t
            wall, cpu = run["wall"], run["cpu"]
            print(f"{n} stored calls: full build {run['full']:.2f} s; +{a.new} new calls: median {statistics.median(wall):.2f} s "
                  f"(min {min(wall):.2f}, max {max(wall):.2f}; {', '.join(f'{x:.2f}' for x in wall)}; "
                  f"{run['index'].calls} calls in the reports at the end); CPU time median {statistics.median(cpu):.2f} s "
                  f"({', '.join(f'{x:.2f}' for x in cpu)}); nothing new: {none:.2f} s", flush=True)


if __name__ == "__main__":
    main()
