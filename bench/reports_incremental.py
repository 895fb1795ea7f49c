"""Report build time for 10 new calls on top of N stored calls (generated rows), incremental builds.

    python bench/reports_incremental.py [--stored 100,2000] [--new 10]

Four realistic calls (the reports test fixture: real scoring and compliance on hand-built en/zh calls) are
cloned into N stored calls (DB rows, stored scorecards and alerts, redacted transcripts in a local folder
source); a full build is made once, then 10 new calls are added and the build is timed: only the new calls
are read and rendered, the aggregate pages (index, alert queue, coaching, dashboard, exports) are rebuilt
from the DB and the report cache.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def clone_calls(store, src, templates: list[str], n: int, start: int) -> None:
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
        store.save_scorecard(new_id, form_id=body["form_id"], form_version=body["form_version"], total=body["total"],
                             auto_failed=body["auto_failed"], body=json.dumps(body, ensure_ascii=False))
        store.replace_alerts(new_id, [dict(a, call_id=new_id) for a in alerts.get(t, ())])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", default="100,2000")
    ap.add_argument("--new", type=int, default=10)
    a = ap.parse_args()
    from reports.build import build_reports
    from tests.unit.test_reports_fixture import CALLS, build

    for n in map(int, a.stored.split(",")):
        with tempfile.TemporaryDirectory(prefix="callqa-bench-reports-") as tmp:
            root = Path(tmp)
            store, src = build(root)
            clone_calls(store, src, list(CALLS), n - len(CALLS), 0)
            t = time.perf_counter()
            build_reports(store, src, root / "out")
            full = time.perf_counter() - t
            clone_calls(store, src, list(CALLS), a.new, n)
            t = time.perf_counter()
            index = build_reports(store, src, root / "out")
            inc = time.perf_counter() - t
            t = time.perf_counter()
            build_reports(store, src, root / "out")
            none = time.perf_counter() - t
            print(f"{n} stored calls: full build {full:.2f} s; +{a.new} new calls: {inc:.2f} s "
                  f"({index.calls} calls in the reports); nothing new: {none:.2f} s")


if __name__ == "__main__":
    main()
