"""How often one call is decoded and searched for personal data, and the time per stage.

    python bench/passes.py [--json out.json]

Synthesises one stereo and one mono English call (a card number read out, a name, a date of birth), runs
each through the pipeline as a batch does (transcription, scorecard, compliance alerts, redacted transcript
and audio, then the reports), and counts:
  decodes      ffmpeg processes started (level check, one per channel, diarization input, redacted audio)
  probes       ffprobe processes started
  pii_passes   calls of compliance.pii.analyze (one per speaker turn per pass over a transcript, plus one
               per evidence quote redacted again)
  find_pii     whole-transcript detection passes
It runs against whichever code tree it sits in: on this tree the call is analysed once (pipeline/analysis.py);
copied into an older checkout (before the per-call analysis) it runs that tree's separate stages
(process_recording, score_stored_call, check_stored_call) the way its batch flow did, so before/after
figures come from one script.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CARD = "Four one two one. Six four one six. One two eight six. One six four eight."
TURNS = [("agent", "Thank you for calling Northwind. This call may be recorded. My name is Sarah. How can I help?"),
         ("customer", "Hi, this is Michael Johnson. I was born on the third of March, nineteen eighty five."),
         ("agent", "Thank you. Could I have the card number please?"),
         ("customer", f"Yes, it is {CARD}"),
         ("agent", f"Thank you. Your card number is {CARD} I have refunded the charge."),
         ("customer", "Great, thanks. Goodbye.")]


class Counters:
    def __init__(self):
        self.n = {"decodes": 0, "probes": 0, "pii_passes": 0, "find_pii": 0}

    def install(self):
        counters = self.n
        real_popen_init, real_run = subprocess.Popen.__init__, subprocess.run

        def count(args):
            prog = Path(str(args[0] if isinstance(args, (list, tuple)) else args).split()[0]).name
            if prog == "ffmpeg":
                counters["decodes"] += 1
            elif prog == "ffprobe":
                counters["probes"] += 1

        def popen_init(self, args, *a, **kw):
            count(args)
            return real_popen_init(self, args, *a, **kw)

        subprocess.Popen.__init__ = popen_init  # subprocess.run goes through Popen too
        import compliance.pii as pii
        import compliance.redact as redact

        real_analyze, real_find = pii.analyze, redact.find_pii

        def analyze(*a, **kw):
            counters["pii_passes"] += 1
            return real_analyze(*a, **kw)

        def find_pii(*a, **kw):
            counters["find_pii"] += 1
            return real_find(*a, **kw)

        for mod in list(sys.modules.values()):
            for name, fn, wrapper in (("analyze", real_analyze, analyze), ("find_pii", real_find, find_pii)):
                if getattr(mod, name, None) is fn:
                    setattr(mod, name, wrapper)
        return real_run

    def snapshot(self) -> dict:
        return dict(self.n)


def _imports():
    try:  # this tree: core/infra/demo and the per-call analysis
        from demo.synth import ScriptedTurn, synthesise_call
        from infra.storage import LocalFolderSource
        from infra.store import ResultsStore
        from pipeline.analysis import CallAnalyser
        return ScriptedTurn, synthesise_call, LocalFolderSource, ResultsStore, CallAnalyser
    except ImportError:  # an older tree: everything under pipeline/
        from pipeline.storage import LocalFolderSource
        from pipeline.store import ResultsStore
        from pipeline.synth import ScriptedTurn, synthesise_call
        return ScriptedTurn, synthesise_call, LocalFolderSource, ResultsStore, None


def run(layout: str, work: Path, counters: Counters) -> dict:
    ScriptedTurn, synthesise_call, LocalFolderSource, ResultsStore, CallAnalyser = _imports()
    from compliance.alerts import default_policy_path, load_policy
    from pipeline.process import process_recording
    from reports.build import build_reports
    from scoring.review import Reviewer
    from scoring.similarity import E5SimilarityModel
    from transcribe.registry import build_transcriber

    src_dir = work / layout
    synthesise_call([ScriptedTurn(r, t) for r, t in TURNS], "en", src_dir / f"{layout}.wav", stereo=layout == "stereo",
                    sample_rate=16000)
    (src_dir / f"{layout}.json").write_text(json.dumps({"language": "en", "queue": "billing", "agent": "a-1"}))
    src, store = LocalFolderSource(src_dir, ""), ResultsStore(f"sqlite:///{work}/{layout}.db")
    transcriber = build_transcriber("faster-whisper", "base", "cpu")
    reviewer, policy = Reviewer(similarity=E5SimilarityModel()), load_policy(default_policy_path())
    diarizer = None
    if layout == "mono":
        from transcribe.diarize import PyannoteDiarizer

        diarizer = PyannoteDiarizer(None, "cpu")
    [ref] = src.list_recordings()
    stages: dict[str, float] = {}
    before = counters.snapshot()
    t = time.perf_counter()
    if CallAnalyser is not None:
        analyser = CallAnalyser(store, src, reviewer=reviewer, policy=policy)
        process_recording(ref, src, store, transcriber, diarizer=diarizer, analyser=analyser)
        stages["transcribe+analyse"] = time.perf_counter() - t
    else:
        from pipeline.compliance_stage import check_stored_call
        from pipeline.process import score_stored_call

        process_recording(ref, src, store, transcriber, diarizer=diarizer)
        stages["transcribe"] = time.perf_counter() - t
        t = time.perf_counter()
        score_stored_call(ref.call_id, src, store, reviewer)
        stages["score"] = time.perf_counter() - t
        t = time.perf_counter()
        check_stored_call(ref.call_id, src, store, policy)
        stages["compliance"] = time.perf_counter() - t
    t = time.perf_counter()
    build_reports(store, src, work / f"reports-{layout}")
    stages["reports"] = time.perf_counter() - t
    after = counters.snapshot()
    return {"counts": {k: after[k] - before[k] for k in after}, "seconds": {k: round(v, 2) for k, v in stages.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    try:
        from pipeline.config import offline_defaults
    except ImportError:
        from pipeline.cli import offline_defaults
    offline_defaults()
    counters = Counters()
    _imports()
    import pipeline.process  # noqa: F401  (load the modules whose names are counted)
    import reports.build  # noqa: F401
    try:
        import pipeline.compliance_stage  # noqa: F401
    except ImportError:
        pass
    counters.install()
    out = {}
    with tempfile.TemporaryDirectory(prefix="callqa-passes-") as tmp:
        for layout in ("stereo", "mono"):
            out[layout] = run(layout, Path(tmp), counters)
            print(f"{layout}: {out[layout]}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
