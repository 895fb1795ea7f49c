"""The whole per-call pipeline side by side with bare faster-whisper, in one run (issue 16), and the cost of
diarization under contention.

    python bench/pipeline_speed.py [--minutes 10] [--rounds 2] [--layouts stereo mono]
                                   [--variants overlapped sequential batched] [--contention]
                                   [--spinning-openmp] [--json FILE]

One synthesised two-speaker English call of `--minutes` (8 kHz; stereo = one party per channel, mono = the
same call mixed down). Per round, interleaved:
  bare       faster-whisper alone (packaged base, int8, beam 5, word timestamps, VAD) on the mono mixdown;
             with the batched variant also its BatchedInferencePipeline at batch 8 (its own VAD defaults)
  pipeline   `flows.process_call_task` without Prefect around it (`.fn`): decode once, transcription,
             diarization (mono), roles, metrics, transcript + exports stored, scorecard, sentiment, compliance,
             redacted transcript and audio, on a local folder and a SQLite results DB; per variant:
               overlapped  asr_parallel 2 (stereo channels side by side), diarization beside transcription
               sequential  asr_parallel 1, diarization after transcription (the behaviour before)
               batched     as overlapped, with asr_batch_size 8 (faster-whisper's batched pipeline)
Models are loaded and warmed on a short call before any clock starts. Figures: audio seconds per wall second.
OpenMP waits passively (OMP_WAIT_POLICY=PASSIVE, as `callqa` sets it) unless `--spinning-openmp`.

`--contention`: pyannote alone on the mono call, then the same diarization while faster-whisper transcribes
the call in another thread, at torch's default thread count and at 1 thread: how much each slows the other.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = {"overlapped": {"asr_parallel": 2, "concurrent_diarization": True},
            "sequential": {"asr_parallel": 1, "concurrent_diarization": False},
            "batched": {"asr_parallel": 2, "concurrent_diarization": True, "asr_batch_size": 8}}


def _load() -> str:
    return open("/proc/loadavg").read().split()[0]


def _bare_model():
    from faster_whisper import WhisperModel

    from transcribe.weights import resolve_ct2_model

    return WhisperModel(str(resolve_ct2_model("base")), device="cpu", compute_type="int8", local_files_only=True)


def bare(model, mono: Path, duration: float, batch_size: int = 1) -> dict:
    """`batch_size` > 1: faster-whisper's BatchedInferencePipeline with its own defaults (VAD included)."""
    t0 = time.perf_counter()
    if batch_size > 1:
        from faster_whisper import BatchedInferencePipeline

        segments, _ = BatchedInferencePipeline(model=model).transcribe(
            str(mono), beam_size=5, word_timestamps=True, batch_size=batch_size)
    else:
        segments, _ = model.transcribe(str(mono), beam_size=5, word_timestamps=True, vad_filter=True,
                                       condition_on_previous_text=False)
    words = sum(len(s.words or ()) for s in segments)
    wall = time.perf_counter() - t0
    what = "bare faster-whisper (mono mixdown)" + (f", batched {batch_size}" if batch_size > 1 else "")
    return {"what": what, "wall_s": round(wall, 2),
            "audio_s_per_s": round(duration / wall, 2), "words": words, "load": _load()}


def _config(variant: str, root: Path, db: Path):
    from pipeline.config import PipelineConfig

    return PipelineConfig(local_root=root, database_url=f"sqlite:///{db}", reports=False, **VARIANTS[variant])


class _StageClock(logging.Handler):
    """Seconds spent in each stage of the per-call function, from its progress stage records."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.marks: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "stage_event", None)
        if event is not None:
            self.marks.append((event["stage"], time.perf_counter()))

    def seconds(self, end: float) -> dict[str, float]:
        ends = [t for _, t in self.marks[1:]] + [end]
        return {name: round(stop - start, 2) for (name, start), stop in zip(self.marks, ends)}


def pipeline_once(variant: str, audio: Path, work: Path, duration: float, layout: str) -> dict:
    """One call through the per-call task on a fresh folder and DB (models stay loaded in this process)."""
    import flows
    from pipeline.process import discover
    from pipeline.progress import PROGRESS_LOGGER

    root = work / f"{layout}-{variant}-{time.monotonic_ns()}"
    root.mkdir()
    shutil.copyfile(audio, root / "call.wav")
    cfg = _config(variant, root, work / f"{root.name}.db")
    refs = discover(cfg.open_source(), flows._store(cfg))
    clock = _StageClock()
    progress_log = logging.getLogger(PROGRESS_LOGGER)
    progress_log.addHandler(clock)
    progress_log.setLevel(logging.INFO)
    t0 = time.perf_counter()
    try:
        outcome = flows.process_call_task.fn(refs[0], cfg)
    finally:
        progress_log.removeHandler(clock)
    wall = time.perf_counter() - t0
    assert outcome.status == "done", outcome
    t = json.loads((root / "transcripts" / "call.json").read_text())
    words = sum(len(s.get("words", ())) for s in t["segments"])
    shutil.rmtree(root)
    return {"what": f"pipeline {layout} {variant}", "wall_s": round(wall, 2),
            "audio_s_per_s": round(duration / wall, 2), "words": words, "stages_s": clock.seconds(t0 + wall),
            "load": _load()}


def warm(variants, work: Path) -> None:
    """Load every model (ASR per variant, pyannote, E5, policy) on a short call before the clocks start."""
    from demo.synth import synthesise_long_call

    short = synthesise_long_call(work / "warm.wav", 0.3, "en", stereo=False)
    for variant in variants:
        pipeline_once(variant, short.audio_path, work, 18.0, "warm")


def contention(mono: Path, duration: float) -> list[dict]:
    import torch

    from infra.audio import load_audio
    from transcribe.diarize import PyannoteDiarizer

    diarizer = PyannoteDiarizer()
    audio = load_audio(mono)
    diarizer.diarize(audio[: 16000 * 20])  # warm
    model = _bare_model()
    rows = []
    default_threads = torch.get_num_threads()
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        diarizer.diarize(audio)
        alone = time.perf_counter() - t0
        asr: dict = {}

        def transcribe():
            s = time.perf_counter()
            asr["result"] = bare(model, mono, duration)
            asr["wall"] = time.perf_counter() - s

        worker = threading.Thread(target=transcribe)
        t0 = time.perf_counter()
        worker.start()
        diarizer.diarize(audio)
        beside = time.perf_counter() - t0
        worker.join()
        together = time.perf_counter() - t0
        rows.append({"torch_threads": threads, "diarize_alone_s": round(alone, 2),
                     "diarize_beside_asr_s": round(beside, 2), "asr_beside_diarize_s": round(asr["wall"], 2),
                     "both_wall_s": round(together, 2), "load": _load()})
    torch.set_num_threads(default_threads)
    asr_alone = bare(model, mono, duration)
    rows.append({"asr_alone_s": asr_alone["wall_s"], "load": _load()})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--layouts", nargs="+", choices=("stereo", "mono"), default=["stereo", "mono"])
    ap.add_argument("--variants", nargs="+", choices=tuple(VARIANTS), default=list(VARIANTS))
    ap.add_argument("--contention", action="store_true")
    ap.add_argument("--spinning-openmp", action="store_true",
                    help="leave OMP_WAIT_POLICY unset (OpenMP's spinning waits) instead of PASSIVE, as callqa sets it")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    if not args.spinning_openmp:
        from transcribe.threads import passive_openmp_waits

        passive_openmp_waits()  # as `callqa` runs: before any model runtime loads
    out_policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from pipeline.config import offline_defaults

    offline_defaults()  # telemetry off, nothing fetched: before prefect is imported
    from demo.synth import synthesise_long_call
    from infra.audio import inspect_recording

    out: dict = {"minutes": args.minutes, "cpus": os.cpu_count(), "omp_wait_policy": out_policy, "rounds": []}
    print(f"OMP_WAIT_POLICY={out_policy}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        work = Path(tmp)
        stereo = synthesise_long_call(work / "stereo.wav", args.minutes, "en", stereo=True).audio_path
        mono = synthesise_long_call(work / "mono.wav", args.minutes, "en", stereo=False).audio_path
        duration = inspect_recording(stereo).duration
        calls = {"stereo": stereo, "mono": mono}
        if args.contention:
            out["contention"] = contention(mono, duration)
            for row in out["contention"]:
                print(json.dumps(row), flush=True)
        if args.rounds:
            model = _bare_model()
            warm(args.variants, work)
        for r in range(args.rounds):
            rows = [bare(model, mono, duration)]
            print(json.dumps({"round": r, **rows[-1]}), flush=True)
            if "batched" in args.variants:
                rows.append(bare(model, mono, duration, batch_size=8))
                print(json.dumps({"round": r, **rows[-1]}), flush=True)
            for layout in args.layouts:
                for variant in (args.variants if r % 2 == 0 else args.variants[::-1]):
                    rows.append(pipeline_once(variant, calls[layout], work, duration, layout))
                    print(json.dumps({"round": r, **rows[-1]}), flush=True)
            out["rounds"].append(rows)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
