"""Machine description and markdown tables for bench/run.py results (ready to paste into BENCHMARKS.md)."""
from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from importlib import metadata


def machine_info() -> dict:
    import psutil

    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        gpu = "unknown (torch missing)"
    versions = {}
    for pkg in ("torch", "ctranslate2", "faster-whisper", "pyannote.audio", "prefect", "jiwer", "pyannote.metrics"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "gpu": gpu, "python": platform.python_version(), "os": platform.platform(),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()], "versions": versions,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _f(v, nd: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.{nd}f}"
    return str(v)


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
        ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]


def header_md(info: dict, command: str) -> list[str]:
    v = info["versions"]
    return [f"Date: {info['date']}. Command: `{command}`",
            f"Machine: {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM, GPU: {info['gpu']}; "
            f"load average at start {info['load_avg_at_start']}. Python {info['python']}, torch {v['torch']}, "
            f"CTranslate2 {v['ctranslate2']}, faster-whisper {v['faster-whisper']} (base, int8, CPU), "
            f"pyannote.audio {v['pyannote.audio']}, Prefect {v['prefect']}.", ""]


def throughput_md(rows: list[dict]) -> list[str]:
    out = ["### Throughput per stage", ""]
    out += _table(["stage", "calls", "audio s", "concurrency", "wall s", "audio s / wall s", "load s",
                   "peak PSS MB (process tree)", "peak RSS MB (worker)"],
                  [[r["stage"], r["calls"], r["audio_s"], r["concurrency"], r["wall_s"], r["audio_s_per_s"],
                    r["load_s"], r["peak_tree_mb"], r["peak_self_mb"]] for r in rows])
    return out + [""]


def scaling_md(rows: list[dict], title: str) -> list[str]:
    out = [f"### {title}", ""]
    out += _table(["calls", "audio min", "concurrency", "wall s", "audio s / wall s", "peak PSS MB (process tree)",
                   "peak RSS MB (worker)"],
                  [[r["calls"], round(r["audio_s"] / 60, 2), r["concurrency"], r["wall_s"], r["audio_s_per_s"],
                    r["peak_tree_mb"], r["peak_self_mb"]] for r in rows])
    return out + [""]


def accuracy_md(name: str, res: dict) -> list[str]:
    rows = []
    if "wer" in res:
        rows.append(["WER (en, corpus; n = reference texts, one per channel where turns name it)",
                     res["wer"]["corpus"], res["wer"]["n"]])
    if "cer" in res:
        rows.append(["CER (zh, corpus; n as for WER)", res["cer"]["corpus"], res["cer"]["n"]])
    if "der" in res:
        d = res["der"]
        rows.append([f"DER (collar {d['collar']} s; miss / FA / confusion {d['missed']:.3f} / "
                     f"{d['false_alarm']:.3f} / {d['confusion']:.3f})", d["overall"], d["n"]])
    if "sop" in res:
        o = res["sop"]["overall"]
        rows.append([f"SOP agreement: accuracy / Cohen's kappa", f"{o['accuracy']:.3f} / {o['kappa']:.3f}", o["n"]])
    for lang, s in res.get("sentiment", {}).items():
        rows.append([f"sentiment macro-F1 ({lang})", s["macro_f1"], s["n"]])
    if "pii_spans" in res:
        sp = res["pii_spans"].values()
        pm, pt = sum(v["pred_matched"] for v in sp), sum(v["predicted"] for v in sp)
        gf, gt = sum(v["gold_found"] for v in sp), sum(v["gold"] for v in sp)
        rows.append(["PII spans micro P / R (all gold types, reference text)",
                     f"{_f(pm / pt if pt else None)} / {_f(gf / gt if gt else None)}", gt])
    if "redaction" in res:
        r = res["redaction"]
        rows.append([f"redaction recall, transcript (gold PII heard by ASR: {r['heard']} of {r['gold']})",
                     r["transcript_recall"], r["heard"]])
        rows.append(["redaction recall, audio (re-transcribed)", r["audio_recall"], r["audio_heard"]])
    if "alerts" in res:
        m = res["alerts"]["micro"]
        rows.append(["risk alerts micro P / R", f"{_f(m['precision'])} / {_f(m['recall'])}",
                     res["alerts"]["n_calls"]])
    out = [f"### Accuracy: {name} ({res['items']} items)", ""] + _table(["metric", "value", "n"], rows) + [""]
    if "pii_spans" in res:
        out += ["PII spans (overlap matching, recognizers on the reference text):", ""]
        out += _table(["entity", "gold", "predicted", "P", "R", "F1"],
                      [[e, s["gold"], s["predicted"], s["precision"], s["recall"], s["f1"]]
                       for e, s in res["pii_spans"].items()]) + [""]
    if "alerts" in res:
        out += ["Risk alerts per rule / category:", ""]
        out += _table(["label", "TP", "FP", "FN", "P", "R"],
                      [[k, v["tp"], v["fp"], v["fn"], v["precision"], v["recall"]]
                       for k, v in res["alerts"]["per_label"].items()]) + [""]
    if "sop" in res and len(res["sop"]) > 2:
        out += ["SOP agreement per question:", ""]
        out += _table(["question", "n", "accuracy", "kappa"],
                      [[k, v["n"], v["accuracy"], v["kappa"]] for k, v in res["sop"].items() if k != "overall"]) + [""]
    return out


def render(results: dict) -> list[str]:
    """The whole markdown report of a bench/run.py results dict."""
    md = header_md(results["machine"], results["command"])
    th = results.get("throughput")
    if th:
        md += throughput_md(th["stages"])
        if th["scale"]:
            md += scaling_md(th["scale"], f"Cost with the number of 1-minute calls ({th['layout']}, whole pipeline)")
        if th["length"]:
            md += scaling_md(th["length"], f"Cost with call length (one {th['layout']} call, whole pipeline)")
    for name, res in results.get("accuracy", {}).items():
        md += accuracy_md(name, res)
    md.append(f"Total wall time: {results['total_wall_s']:.0f} s"
              + (f" (estimate was {results['estimate_s']:.0f} s)." if "estimate_s" in results else "."))
    return md


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python bench/report.py RESULTS_JSON   (re-renders the markdown of a bench/run.py run)")
    print("\n".join(render(json.loads(open(sys.argv[1], encoding="utf-8").read()))))
