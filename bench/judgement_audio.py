"""Judgement accuracy on AUDIO (issue 14): the labelled calls marked `audio: true`, spoken, then transcribed and
judged by the real pipeline, next to text mode on the same calls.

    python bench/judgement_audio.py [--split test|dev|all] [--work DIR] [--lang en|zh|zht] [--only PREFIX]
                                    [--show] [--json FILE] [--concurrency N] [--backend B] [--model M]
                                    [--detect-language] [--keep-results] [--reports] [--verbose]
                                    [--asr-batch-size N]

1. Synthesis. Each selected call (bench/judgement/calls/*.yaml with `audio: true`, see
   bench/judgement/FORMAT.md) is spoken by demo/synth.py (`synthesise_call`: espeak-ng, Mandarin through
   pypinyin and the cmn-latn-pinyin voice) to a stereo 8 kHz WAV, agent on the left channel (0), customer on
   the right (1), with the metadata sidecar `<id>.json` that demo/synth.write_sidecars writes (agent, queue,
   direction, started_at, language: the label's language, or null with --detect-language). A turn's
   `pause_after` is that many seconds of extra silence after it, as in text mode. Traditional Chinese text
   is converted to Simplified before it is spoken (the same words, the same speech): pypinyin reads both
   scripts, but reads polyphones right more often from Simplified (銀行 yin2 hang2 not yin2 xing2, 處理
   chu3 li3 not chu4 li3; on the 59 turns of the zh-Hant audio calls: 6 misreadings from Traditional, 1
   from Simplified). WAVs are cached in `<work>/synth/` under a hash of the spoken turns, the voices and
   demo/synth.py, so a re-run only synthesises what changed.
2. The pipeline, as a user runs it: `callqa run --local <work>/run --db sqlite:///<work>/callqa.db
   --config <work>/callqa.yaml` in a child process (batch flow, Prefect ephemeral mode with its home in
   `<work>/prefect`, the shipped forms, policy and models, faster-whisper base by default). The folder holds
   exactly the selected calls' WAVs and sidecars, and it and the results DB start empty unless
   --keep-results (then the pipeline's own idempotence skips calls already done at the same version). The
   settings file only switches the HTML reports off (--reports keeps them); CALLQA_* variables of the
   calling shell are not passed on. The run's output goes to `<work>/callqa-run.log`.
3. Read back: each call's stored scorecard (results DB: answers, evidence, sentiment section) and alerts,
   judged with bench/judgement.py's tally (same aliases, same counting; the customer's start/end mood from
   the stored customer trajectory, the way text mode labels it). The pipeline names a call by its file
   name below the folder (`en_in_01.wav` -> `en_in_01`); `label_id` maps ids back. A call that did not end
   `done` counts with every answer "missing" and every labelled risk missed.
4. Printed: the same table as bench/judgement.py for audio, text vs audio side by side on the same calls
   (overall, per question, per risk, per language), one line per call (state, language, who was taken for
   the agent, WER (en) / CER (zh) of the stored transcript per channel against the turns, answers and risks
   on text and audio) and the wall time of each step. `--show` lists the disagreements found on audio but
   not in text mode and those text mode has but audio does not.

A benchmark, not a test: it takes minutes (Whisper base on CPU), so it is not part of the test suite.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.judgement import (  # noqa: E402
    ALIASES,
    Judged,
    LabelledCall,
    fmt,
    lang_of,
    language_line,
    load_calls,
    new_tally,
    print_summary,
    select_calls,
    summary,
    tally_call,
)

DEFAULT_WORK = Path("/tmp/callqa-judgement-audio")
SAMPLE_RATE = 8000
STARTED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)  # every call; no rule here reads it
AGENT = "a1"  # as text mode's to_call
CACHE_FORMAT = 1  # bump when the way a call is synthesised here changes


# ---- pure helpers (tests/unit/test_judgement_bench.py) ----

def label_id(call_id: str) -> str:
    """The labelled call's id from a pipeline call id. The pipeline names a call by its key below the source
    prefix without the extension (`en_in_01.wav` -> `en_in_01`; `recordings/en_in_01` when the folder has
    a subfolder) and adds `~wav` when two inputs share one stem (`en_in_01~wav`)."""
    return PurePosixPath(call_id).name.split("~", 1)[0]


def map_call_ids(call_ids, wanted) -> dict[str, str]:
    """label id -> pipeline call id, for the stored calls whose label id is in `wanted`. Two stored calls
    for one label (e.g. `x~wav` and `x~flac`) are an error: which one was judged would be a guess."""
    found: dict[str, str] = {}
    for cid in sorted(call_ids):
        lid = label_id(cid)
        if lid not in wanted:
            continue
        if lid in found:
            raise ValueError(f"two stored calls for labelled call {lid}: {found[lid]!r} and {cid!r}")
        found[lid] = cid
    return found


def sidecar_for(c: LabelledCall, *, detect_language: bool = False) -> dict:
    """The metadata sidecar, with the fields demo/synth.write_sidecars writes."""
    return {"agent": AGENT, "queue": c.queue, "direction": c.direction, "started_at": STARTED_AT.isoformat(),
            "language": None if detect_language else c.language}


def spoken_text(text: str, script: str | None) -> str:
    """What is spoken for a turn: Traditional Chinese as Simplified (module docstring: same speech, better
    pinyin), everything else as written."""
    text = str(text).strip()
    if script == "zh-Hant":
        from core.chinese import to_script

        return to_script(text, "zh-Hans")
    return text


def synth_chunks(turns) -> list[tuple[list[tuple[str, str]], float]]:
    """The turns ((role, text) after `spoken_text`, plus `pause_after`) as runs spoken back to back, each
    with the extra silence in seconds after it: a turn with a pause ends its run."""
    chunks: list[tuple[list[tuple[str, str]], float]] = []
    run: list[tuple[str, str]] = []
    for role, text, pause in turns:
        run.append((role, text))
        if pause and float(pause) > 0:
            chunks.append((run, float(pause)))
            run = []
    if run:
        chunks.append((run, 0.0))
    return chunks


def judged_from_stored(card: dict | None, alerts: list[dict]) -> Judged:
    """A Judged from what the pipeline stored: the scorecard body (answers with evidence, `sentiment` with
    per-role trajectories) and the call's alert bodies in the order they were raised."""
    answers = {}
    if card is not None:
        for a in card.get("answers", ()):
            details = (e.get("detail") for e in a.get("evidence", ()) if e.get("detail"))
            answers[a["question_id"]] = (a["answer"], "; ".join(dict.fromkeys(details))[:200])
    raised: dict = {}
    for a in alerts:
        quotes = "; ".join((e.get("quote") or "")[:80] for e in a.get("evidence", ()))[:200]
        raised.setdefault(ALIASES.get(a["rule_id"], a["rule_id"]), quotes)
    sentiment = (card or {}).get("sentiment") or {}
    moods = {"start": (sentiment.get("start_customer") or {}).get("label"),
             "end": (sentiment.get("final_customer") or {}).get("label")}
    return Judged(answers, raised, moods)


def miss_key(miss: str) -> str:
    """A tally miss without its evidence ("en_in_01 sop recap: got pass, want fail"), to compare runs."""
    return miss.split("  [", 1)[0]


# ---- 1. synthesis ----

def _cache_key(c: LabelledCall, turns) -> str:
    from demo import synth

    h = hashlib.sha256()
    h.update(json.dumps({"format": CACHE_FORMAT, "language": c.language, "turns": turns,
                         "voices": synth.VOICES.get(c.language), "rate": SAMPLE_RATE},
                        ensure_ascii=False, sort_keys=True).encode())
    h.update(Path(synth.__file__).read_bytes())
    return h.hexdigest()


def _read_pcm(path: Path):
    import numpy as np

    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, w.getnchannels())


def _write_pcm(path: Path, samples) -> None:
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    os.replace(tmp, path)


def synthesise(c: LabelledCall, folder: Path, *, detect_language: bool = False) -> tuple[Path, bool]:
    """`<folder>/<id>.wav` + `<id>.json` for one call; (wav path, True when it came from the cache)."""
    import numpy as np

    from demo.synth import ScriptedTurn, synthesise_call

    turns = [(t["role"], spoken_text(t["text"], c.script), float(t.get("pause_after") or 0)) for t in c.turns]
    wav, side, keyf = folder / f"{c.id}.wav", folder / f"{c.id}.json", folder / f"{c.id}.key"
    folder.mkdir(parents=True, exist_ok=True)
    meta = json.dumps(sidecar_for(c, detect_language=detect_language), ensure_ascii=False, indent=2) + "\n"
    # rewritten only when it changes (a new sidecar is a new call version for the pipeline), as a new file:
    # never through a hard link into an earlier run folder
    if not side.is_file() or side.read_text(encoding="utf-8") != meta:
        side.unlink(missing_ok=True)
        side.write_text(meta, encoding="utf-8")
    key = _cache_key(c, turns)
    if wav.is_file() and keyf.is_file() and keyf.read_text().strip() == key:
        return wav, True
    keyf.unlink(missing_ok=True)
    chunks = synth_chunks(turns)
    scripted = [[ScriptedTurn(role, text) for role, text in run] for run, _ in chunks]
    if len(chunks) == 1:
        synthesise_call(scripted[0], c.language, wav, stereo=True, sample_rate=SAMPLE_RATE)
    else:  # each run ends and starts with synth's 0.3 s edge: 0.6 s between runs, as between turns, + pause
        parts = []
        with tempfile.TemporaryDirectory(prefix="judgement-synth-") as tmp:
            for i, (run, (_, pause)) in enumerate(zip(scripted, chunks)):
                part = synthesise_call(run, c.language, Path(tmp) / f"{i}.wav", stereo=True,
                                       sample_rate=SAMPLE_RATE)
                parts.append(_read_pcm(part.audio_path))
                if pause > 0:
                    parts.append(np.zeros((round(pause * SAMPLE_RATE), 2), dtype=np.int16))
        _write_pcm(wav, np.concatenate(parts))
    keyf.write_text(key + "\n")
    return wav, False


# ---- 2. the pipeline ----

def _place(src: Path, dest: Path) -> None:
    """A hard link (copy across file systems): same content and mtime, so the same call version."""
    if dest.exists():
        if dest.stat().st_ino == src.stat().st_ino:
            return
        dest.unlink()
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def prepare_run_folder(work: Path, calls: list[LabelledCall], *, keep: bool) -> tuple[Path, str]:
    run_dir, db = work / "run", work / "callqa.db"
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    for c in calls:
        for ext in (".wav", ".json"):
            _place(work / "synth" / f"{c.id}{ext}", run_dir / f"{c.id}{ext}")
    return run_dir, f"sqlite:///{db}"


def run_pipeline(work: Path, run_dir: Path, db_url: str, args) -> int:
    settings = work / "callqa.yaml"
    settings.write_text("# bench/judgement_audio.py: the defaults, without the HTML reports\n"
                        + ("" if args.reports else "reports: false\n")
                        + (f"asr_batch_size: {args.asr_batch_size}\n" if args.asr_batch_size else ""),
                        encoding="utf-8")
    exe = Path(sys.executable).with_name("callqa")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pipeline.cli"]
    cmd += ["run", "--local", str(run_dir), "--db", db_url, "--config", str(settings)]
    for opt in ("concurrency", "backend", "model", "device"):
        if getattr(args, opt) is not None:
            cmd += [f"--{opt}", str(getattr(args, opt))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLQA_")}
    env["PREFECT_HOME"] = str(work / "prefect")
    (work / "prefect").mkdir(parents=True, exist_ok=True)
    log = work / "callqa-run.log"
    print(f"[audio] {' '.join(cmd)}", flush=True)
    print(f"[audio] pipeline output: {log}", flush=True)
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, encoding="utf-8", errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if args.verbose:
                print(f"  | {line}", end="", file=sys.stderr, flush=True)
        rc = proc.wait()
    if rc not in (0, 3):
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
        print("\n".join(["[audio] the pipeline failed (exit code %d); last lines of its output:" % rc] + tail),
              file=sys.stderr)
    return rc


# ---- 3. read back ----

def _wer(c: LabelledCall, transcript: dict | None) -> tuple[float | None, float | None]:
    """(agent channel, customer channel) error rate of the stored transcript against the spoken turns:
    WER for English, CER for Chinese (bench/metrics.normalise_for_wer); None without jiwer or a reference."""
    if transcript is None:
        return None, None
    try:
        import jiwer
    except ImportError:
        return None, None
    from bench.metrics import normalise_for_wer

    sep = "" if c.language == "zh" else " "
    out = []
    for ch, role in ((0, "agent"), (1, "customer")):
        ref = normalise_for_wer(sep.join(str(t["text"]) for t in c.turns if t["role"] == role), c.language)
        hyp = normalise_for_wer(sep.join(s["text"] for s in transcript.get("segments", ())
                                         if s.get("channel") == ch), c.language)
        out.append(jiwer.wer(ref, hyp) if ref.strip() else None)
    return out[0], out[1]


def read_results(db_url: str, run_dir: Path, calls: list[LabelledCall]) -> dict[str, dict]:
    """Per labelled id: the stored call record, its Judged and diagnostics from the stored transcript."""
    from infra.store import ResultsStore

    store = ResultsStore(db_url)
    records = {r.id: r for r in store.calls()}
    ids = map_call_ids(records, {c.id for c in calls})
    cards = {s.call_id: s.body for s in store.scorecards()}
    alerts: dict[str, list[dict]] = defaultdict(list)
    for a in store.alert_records():
        alerts[a.call_id].append(a.body)
    out = {}
    for c in calls:
        cid = ids.get(c.id)
        rec = records.get(cid) if cid else None
        done = rec is not None and rec.state == "done"
        transcript = None
        if done and rec.transcript_key and (run_dir / rec.transcript_key).is_file():
            transcript = json.loads((run_dir / rec.transcript_key).read_text(encoding="utf-8"))
        agent = [s for s in (transcript or {}).get("speakers", ()) if s.get("role") == "agent"]
        out[c.id] = {
            "call_id": cid, "state": rec.state if rec else "absent",
            "error": f"{rec.error_code or ''} {rec.error_message or ''}".strip() if rec else "",
            "language": rec.language if rec else None, "duration": rec.duration if rec else None,
            "warnings": list(rec.warnings) if rec else [],
            "agent_channel": agent[0].get("channel") if len(agent) == 1 else None,
            "agent_rule": agent[0].get("rule") if len(agent) == 1 else None,
            "wer": _wer(c, transcript),
            "judged": judged_from_stored(cards.get(cid), alerts.get(cid, [])) if done else Judged({}, {}, {}),
        }
    return out


# ---- 4. text mode on the same calls, and the tables ----

def judge_text(calls: list[LabelledCall]) -> dict[str, Judged]:
    from bench.judgement import build_analysis_parts, judged_from_analysis, to_call, to_transcript
    from pipeline.analysis import analyse_call

    reviewer, policy = build_analysis_parts()
    return {c.id: judged_from_analysis(analyse_call(to_call(c), to_transcript(c), reviewer=reviewer, policy=policy))
            for c in calls}


def tally_of(calls: list[LabelledCall], judged: dict[str, Judged]):
    t = new_tally()
    for c in calls:
        tally_call(t, c, judged[c.id])
    return t


def _pr(v: dict) -> str:
    return f"P {fmt(v.get('precision'))} R {fmt(v.get('recall'))} ({v.get('tp', 0)}/{v.get('fp', 0)}/{v.get('fn', 0)})"


def _delta(a, b) -> str:
    return "" if a is None or b is None else f"{b - a:+.3f}"


def print_side_by_side(text: dict, audio: dict, title: str) -> None:
    print(f"== {title}")
    print(f"  {'':38} {'text':>14} {'audio':>14} {'change':>8}")
    for name, key in (("SOP agreement", "sop_agreement"), ("risk precision", "risk_precision"),
                      ("risk recall", "risk_recall"), ("customer sentiment start/end", "sentiment_accuracy")):
        print(f"  {name:<38} {fmt(text[key]):>14} {fmt(audio[key]):>14} {_delta(text[key], audio[key]):>8}")
    print(f"  {'risks tp/fp/fn':<38} {'%d/%d/%d' % (text['risk_tp'], text['risk_fp'], text['risk_fn']):>14} "
          f"{'%d/%d/%d' % (audio['risk_tp'], audio['risk_fp'], audio['risk_fn']):>14}")
    for q in sorted(set(text["per_question"]) | set(audio["per_question"])):
        a, b = text["per_question"].get(q, {}), audio["per_question"].get(q, {})
        print(f"  sop  {q:<33} {fmt(a.get('agreement')):>14} {fmt(b.get('agreement')):>14} "
              f"{_delta(a.get('agreement'), b.get('agreement')):>8}  n={b.get('n', a.get('n'))}")
    print(f"  {'risk (tp/fp/fn)':<38} {'text':>30}   {'audio':>30}")
    for r in sorted(set(text["per_risk"]) | set(audio["per_risk"])):
        print(f"  risk {r:<33} {_pr(text['per_risk'].get(r, {})):>30}   {_pr(audio['per_risk'].get(r, {})):>30}")


def _short(x: float | None) -> str:
    return "  - " if x is None else f"{x:.2f}"


def call_line(c: LabelledCall, r: dict, text: Judged) -> str:
    def counts(j: Judged) -> str:
        sop = sum(j.answers.get(q, ("missing",))[0] == want for q, want in c.sop.items())
        raised = set(j.alerts)
        return f"{sop}/{len(c.sop)} {len(raised & c.risks)}/{len(raised - c.risks)}/{len(c.risks - raised)}"

    agent = ("-" if r["agent_channel"] is None else
             f"ch{r['agent_channel']}{'' if r['agent_channel'] == 0 else '(WRONG)'} {r['agent_rule']}")
    moods = lambda j: f"{j.moods.get('start') or '-'}>{j.moods.get('end') or '-'}"  # noqa: E731
    want = f"{c.sentiment.get('start', '-')}>{c.sentiment.get('end', '-')}"
    line = (f"  {c.id:<11} {c.split:<4} {r['state']:<11} {r['language'] or '-':<3} {r['duration'] or 0:5.0f}s "
            f"{agent:<22} {_short(r['wer'][0]):>5} {_short(r['wer'][1]):>5}  {counts(text):>11} "
            f"{counts(r['judged']):>11}  {want:<17} {moods(text):<17} {moods(r['judged']):<17}")
    extra = [w.split(":")[0] for w in r["warnings"]]
    if r["error"]:
        extra.append(r["error"][:60])
    return line + (f" {','.join(extra)}" if extra else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", choices=("dev", "test", "all"), default="test")
    ap.add_argument("--lang", choices=("en", "zh", "zht"), default=None)
    ap.add_argument("--only", default=None, help="call id prefix")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK,
                    help=f"work folder: synthesised calls (cached), the pipeline's folder and DB "
                         f"(default {DEFAULT_WORK})")
    ap.add_argument("--concurrency", type=int, default=None, help="callqa run --concurrency (default: callqa's)")
    ap.add_argument("--backend", choices=("faster-whisper", "openai-whisper"), default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--asr-batch-size", type=int, default=None,
                    help="asr_batch_size in the settings (default: callqa's, sequential decoding)")
    ap.add_argument("--detect-language", action="store_true",
                    help="sidecars without a language: the pipeline detects it (default: the label's)")
    ap.add_argument("--keep-results", action="store_true",
                    help="keep the previous run's folder and DB (calls already done are skipped by the pipeline)")
    ap.add_argument("--reports", action="store_true", help="let the pipeline build its HTML reports too")
    ap.add_argument("--show", action="store_true", help="list the disagreements that differ between text and audio")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--verbose", action="store_true", help="echo the pipeline's output to stderr")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    calls = [c for c in select_calls(load_calls(), args.split, args.lang, args.only) if c.audio]
    if not calls:
        print("no audio calls selected", file=sys.stderr)
        return 1
    work = args.work.resolve()
    cached = sum(synthesise(c, work / "synth", detect_language=args.detect_language)[1] for c in calls)
    t_synth = time.monotonic() - t0
    print(f"[audio] {len(calls)} calls synthesised into {work / 'synth'} ({cached} from the cache, {t_synth:.1f} s)",
          flush=True)

    run_dir, db_url = prepare_run_folder(work, calls, keep=args.keep_results)
    t1 = time.monotonic()
    rc = run_pipeline(work, run_dir, db_url, args)
    t_pipe = time.monotonic() - t1
    if rc not in (0, 3):
        return 2
    results = read_results(db_url, run_dir, calls)
    t2 = time.monotonic()
    text = judge_text(calls)
    t_text = time.monotonic() - t2
    audio = {c.id: results[c.id]["judged"] for c in calls}

    n_by = Counter(lang_of(c) for c in calls)
    subset = ", ".join(f"{lang} {n}" for lang, n in sorted(n_by.items()))
    ta, tt = tally_of(calls, audio), tally_of(calls, text)
    sa, st = summary(ta), summary(tt)
    print()
    print_summary(sa, f"audio, split {args.split}, {len(calls)} calls ({subset})")
    by_lang = {}
    for lang in ("en", "zh", "zht"):
        sub = [c for c in calls if lang_of(c) == lang]
        if sub:
            by_lang[lang] = {"text": summary(tally_of(sub, text)), "audio": summary(tally_of(sub, audio)),
                             "calls": len(sub)}
            print(language_line(lang, by_lang[lang]["audio"], len(sub)))
    print()
    print_side_by_side(st, sa, f"text vs audio, split {args.split}, the same {len(calls)} calls")
    for lang, v in by_lang.items():
        print(language_line(lang, v["text"], v["calls"]).replace(f"[{lang}]", f"[{lang} text] "))
        print(language_line(lang, v["audio"], v["calls"]).replace(f"[{lang}]", f"[{lang} audio]"))
    print()
    print("== per call: state, language, agent = which channel/rule, error rate of the stored transcript "
          "(WER en / CER zh) agent and customer channel, SOP agreed/n and risks tp/fp/fn on text then audio, "
          "customer mood start>end wanted / text / audio")
    print(f"  {'call':<11} {'split':<4} {'state':<11} {'lng':<3} {'dur':>6} {'agent':<22} {'errA':>5} {'errC':>5}  "
          f"{'text':>11} {'audio':>11}  {'mood wanted':<17} {'text':<17} {'audio':<17}")
    for c in calls:
        print(call_line(c, results[c.id], text[c.id]))
    not_done = [f"{c.id} ({results[c.id]['state']})" for c in calls if results[c.id]["state"] != "done"]
    if not_done:
        print(f"  NOT DONE (counted as all answers missing, all risks missed): {', '.join(not_done)}")
    if args.show:
        a_miss = {miss_key(m): m for m in ta.misses}
        t_miss = {miss_key(m): m for m in tt.misses}
        print("\n== wrong on audio only")
        print("\n".join(m for k, m in a_miss.items() if k not in t_miss) or "  (none)")
        print("\n== wrong in text mode only (right on audio)")
        print("\n".join(m for k, m in t_miss.items() if k not in a_miss) or "  (none)")
    total = time.monotonic() - t0
    print(f"\nwall time {total:.0f} s: synthesis {t_synth:.0f} s, pipeline (callqa run, {len(calls)} calls) "
          f"{t_pipe:.0f} s, text mode {t_text:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "split": args.split, "calls": [c.id for c in calls], "audio": sa, "text": st, "by_language": by_lang,
            "per_call": {c.id: {k: v for k, v in results[c.id].items() if k != "judged"} for c in calls},
            "wall_seconds": {"total": total, "synthesis": t_synth, "pipeline": t_pipe, "text": t_text},
            "pipeline_exit_code": rc}, indent=1, ensure_ascii=False, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
