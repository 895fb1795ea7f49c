"""How often one call is decoded and searched for personal data, and the time per stage.

    python bench/passes.py [--json out.json] [--layouts stereo mono stereo-mp3 stereo-ogg]

Synthesises one stereo and one mono English call (a card number read out, a name, a date of birth), runs
each through the pipeline as a batch does (transcription, scorecard, compliance alerts, redacted transcript
and audio, then the reports), and counts:
  decodes      ffmpeg processes started (before the decode-once change: level check, one per channel,
               diarization input, redacted audio; after: the one pass of the level check)
  probes       ffprobe processes started
  ffmpeg_cpu_s CPU seconds (user + system) of those ffmpeg/ffprobe processes
  pii_passes   calls of compliance.pii.analyze (one per speaker turn per pass over a transcript, plus one
               per evidence quote redacted again)
  find_pii     whole-transcript detection passes

`stereo-mp3` / `stereo-ogg`: the stereo call converted (before counting) to 44.1 kHz MP3 / 48 kHz Ogg Vorbis,
where decoding costs something. Stages: `inspect` (probe and level-check pass, which now also writes the PCM),
`transcribe+analyse` (the rest of process_recording: transcription, diarization, analysis, redacted audio),
`reports`.

    python bench/passes.py --decode-minutes 30

decodes only, no models: a stereo 8 kHz recording of that length (speech-like noise bursts, made by ffmpeg),
as WAV, MP3 and Ogg, read the way the stages of one call read it: each consumer decoding the path itself
(the level check, each channel for transcription, the redacted audio: how the pipeline did it before) and
decoded once by the level-check pass into PCM that the same consumers then read (infra.audio.DecodedAudio).
Wall seconds and ffmpeg CPU seconds of each (this mode needs this tree's infra.audio).

The call mode runs against whichever code tree it sits in: on this tree the call is analysed once (pipeline/analysis.py);
copied into an older checkout (before the per-call analysis) it runs that tree's separate stages
(process_recording, score_stored_call, check_stored_call) the way its batch flow did, so before/after
figures come from one script.
"""
from __future__ import annotations

import argparse
import json
import resource
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
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # every child here is ffmpeg/ffprobe, all waited for
        return {**self.n, "ffmpeg_cpu_s": kids.ru_utime + kids.ru_stime}


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
    stereo, fmt = layout.startswith("stereo"), layout.partition("-")[2]
    wav = synthesise_call([ScriptedTurn(r, t) for r, t in TURNS], "en",
                          (work / "wav" if fmt else src_dir) / f"{layout}.wav", stereo=stereo,
                          sample_rate=16000).audio_path
    if fmt:  # a compressed recording, as call recorders often store them
        src_dir.mkdir(parents=True, exist_ok=True)
        codec = {"mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-ar", "44100"],
                 "ogg": ["-c:a", "libvorbis", "-q:a", "3", "-ar", "48000"]}[fmt]
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), *codec,
                        str(src_dir / f"{layout}.{fmt}")], check=True)
    (src_dir / f"{layout}.json").write_text(json.dumps({"language": "en", "queue": "billing", "agent": "a-1"}))
    src, store = LocalFolderSource(src_dir, ""), ResultsStore(f"sqlite:///{work}/{layout}.db")
    transcriber = build_transcriber("faster-whisper", "base", "cpu")
    reviewer, policy = Reviewer(similarity=E5SimilarityModel()), load_policy(default_policy_path())
    diarizer = None
    if not stereo:
        from transcribe.diarize import PyannoteDiarizer

        diarizer = PyannoteDiarizer(None, "cpu")
    [ref] = src.list_recordings()
    stages: dict[str, float] = {}
    import pipeline.process as process

    real_inspect, inspecting = process.inspect_recording, [0.0]

    def timed_inspect(*a, **kw):
        t0 = time.perf_counter()
        try:
            return real_inspect(*a, **kw)
        finally:
            inspecting[0] += time.perf_counter() - t0

    process.inspect_recording = timed_inspect
    before = counters.snapshot()
    t = time.perf_counter()
    if CallAnalyser is not None:
        analyser = CallAnalyser(store, src, reviewer=reviewer, policy=policy)
        process_recording(ref, src, store, transcriber, diarizer=diarizer, analyser=analyser)
        stages["inspect"] = inspecting[0]
        stages["transcribe+analyse"] = time.perf_counter() - t - inspecting[0]
    else:
        from pipeline.compliance_stage import check_stored_call
        from pipeline.process import score_stored_call

        process_recording(ref, src, store, transcriber, diarizer=diarizer)
        stages["inspect"] = inspecting[0]
        stages["transcribe"] = time.perf_counter() - t - inspecting[0]
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
    process.inspect_recording = real_inspect
    counts = {k: after[k] - before[k] for k in after}
    counts["ffmpeg_cpu_s"] = round(counts["ffmpeg_cpu_s"], 3)
    return {"counts": counts, "seconds": {k: round(v, 2) for k, v in stages.items()}}


def decode_only(minutes: float, work: Path) -> dict:
    """Per-consumer decodes (before) against one decode into PCM (after), on a long recording per format."""
    from compliance.redact import redact_audio
    from infra.audio import inspect_recording, iter_chunks

    seconds = minutes * 60
    wav = work / "long.wav"
    # two parties taking turns: noise bursts of 3 s on one channel, then the other, 1 s gaps
    burst = "if(lt(mod(t,8),3),1,0)"
    other = "if(between(mod(t,8),4,7),1,0)"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"anoisesrc=d={seconds}:r=8000:a=0.2:c=pink", "-filter_complex",
                    f"[0]asplit[a][b];[a]volume='{burst}':eval=frame[l];[b]volume='{other}':eval=frame[r];"
                    "[l][r]join=inputs=2:channel_layout=stereo", "-c:a", "pcm_s16le", str(wav)], check=True)
    files = {"wav": wav}
    for fmt, codec in (("mp3", ["-c:a", "libmp3lame", "-b:a", "32k"]), ("ogg", ["-c:a", "libvorbis", "-q:a", "2"])):
        files[fmt] = work / f"long.{fmt}"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav), *codec, str(files[fmt])],
                       check=True)
    spans = [(float(t), t + 2.0) for t in range(10, int(seconds), 120)]  # a finding every 2 minutes
    out = {}

    def measure(fn) -> dict:
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        fn()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {"wall_s": round(time.perf_counter() - t, 2),
                "ffmpeg_cpu_s": round(after.ru_utime + after.ru_stime - kids.ru_utime - kids.ru_stime, 2)}

    for fmt, path in files.items():
        def before(path=path, fmt=fmt):
            inspect_recording(path)
            for ch in (0, 1):
                for _ in iter_chunks(path, 300.0, channel=ch):
                    pass
            redact_audio(path, work / f"red-{fmt}-before.wav", spans)

        def after(path=path, fmt=fmt):
            with tempfile.TemporaryDirectory(dir=work) as tmp:
                decoded = inspect_recording(path, pcm_dir=Path(tmp)).decoded
                for ch in (0, 1):
                    for _ in iter_chunks(decoded, 300.0, channel=ch):
                        pass
                redact_audio(decoded, work / f"red-{fmt}-after.wav", spans)

        out[fmt] = {"before": measure(before), "after": measure(after)}
        same = (work / f"red-{fmt}-before.wav").read_bytes() == (work / f"red-{fmt}-after.wav").read_bytes()
        out[fmt]["redacted_audio_identical"] = same
        print(f"{fmt} {minutes:g} min stereo: {out[fmt]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--layouts", nargs="+", default=["stereo", "mono"],
                    choices=["stereo", "mono", "stereo-mp3", "stereo-ogg"])
    ap.add_argument("--decode-minutes", type=float, help="decodes only (no models), on a recording this long")
    a = ap.parse_args()
    try:
        from pipeline.config import offline_defaults
    except ImportError:
        from pipeline.cli import offline_defaults
    offline_defaults()
    if a.decode_minutes:
        with tempfile.TemporaryDirectory(prefix="callqa-decodes-") as tmp:
            out = decode_only(a.decode_minutes, Path(tmp))
        if a.json:
            a.json.write_text(json.dumps(out, indent=1))
        return
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
        for layout in a.layouts:
            out[layout] = run(layout, Path(tmp), counters)
            print(f"{layout}: {out[layout]}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
