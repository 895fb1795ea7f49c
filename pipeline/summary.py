"""The one-line-per-call batch summary the CLI and the demo print (call ids, codes and times only)."""
from __future__ import annotations


def print_summary(summary) -> None:
    """`summary`: a flows.BatchSummary (outcomes, count(status))."""
    for o in summary.outcomes:
        extra = f"{o.code} {o.message}" if o.code else (o.transcript_key or "")
        print(f"  {o.status:11} {o.call_id:38} {o.audio_seconds:7.1f}s  {extra}")
    print(f"done {summary.count('done')}, quarantined {summary.count('quarantined')}, "
          f"failed {summary.count('failed')}, skipped {summary.count('skipped')}")
