"""Batched vs sequential transcription (faster-whisper): throughput and accuracy.

    python bench/batched_asr.py [--minutes 5] [--batch-sizes 1 4 8] [--beam-sizes 5]

Throughput: one synthesised English call of `--minutes` (mono, 8 kHz) transcribed by `transcribe_recording`
with the packaged base model (int8, CPU unless CUDA is there) at each batch size (1 = today's sequential
path); audio seconds per wall second, model load excluded. Accuracy: every synthesised sample call (en + zh,
stereo, each channel; at batch sizes > 1 both channels decoded in shared batches, `transcribe_channels`, as
the pipeline does) at each batch size against its scripted text (WER for English, CER for Mandarin, jiwer),
and the word-level difference between each batched transcript and the sequential one. `--beam-sizes`: each
batch size at each beam size (`beam_size` in the settings; 1 = greedy decoding).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--beam-sizes", type=int, nargs="+", default=[5])
    args = ap.parse_args()
    import jiwer

    from bench.transcription import _norm
    from demo.synth import synthesise_long_call, write_sample_calls
    from infra.audio import inspect_recording
    from transcribe.base import TranscribeOptions
    from transcribe.registry import build_transcriber
    from transcribe.run import LanguageGuess, transcribe_channels, transcribe_recording

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        long_call = synthesise_long_call(tmp / "long.wav", args.minutes, "en")
        long_info = inspect_recording(long_call.audio_path)
        samples = [c for c in write_sample_calls(tmp / "samples") if c.channels == 2]
        infos = {c.call_id: inspect_recording(c.audio_path) for c in samples}
        texts: dict[tuple[int, int], dict[tuple, str]] = {}
        runs = [(bs, beam) for bs in args.batch_sizes for beam in args.beam_sizes]
        for bs, beam in runs:
            options = TranscribeOptions(beam_size=beam)
            t0 = time.perf_counter()
            model = build_transcriber("faster-whisper", "base", None, batch_size=bs)
            load = time.perf_counter() - t0
            t0 = time.perf_counter()
            transcribe_recording(model, long_call.audio_path, "long", duration=long_info.duration, options=options)
            wall = time.perf_counter() - t0
            refs, hyps = {"en": [], "zh": []}, {"en": [], "zh": []}
            texts[bs, beam] = {}
            for c in samples:
                duration = infos[c.call_id].duration
                if bs > 1:  # the pipeline's stereo path: both channels in shared batches
                    pair = transcribe_channels(model, c.audio_path, c.call_id, [(0, "S0"), (1, "S1")],
                                               duration=duration, guess=LanguageGuess(c.language, 1.0),
                                               options=options)
                for ch, role in ((0, "agent"), (1, "customer")):
                    t = pair[ch] if bs > 1 else transcribe_recording(
                        model, c.audio_path, c.call_id, duration=duration, channel=ch, language=c.language,
                        options=options)
                    ref = " ".join(turn.text for turn in c.turns if turn.role == role)
                    refs[c.language].append(_norm(ref, c.language))
                    hyps[c.language].append(_norm(t.text, c.language))
                    texts[bs, beam][(c.call_id, ch)] = _norm(t.text, c.language)
            row = {"batch_size": bs, "beam_size": beam, "load_s": round(load, 1),
                   "audio_s": round(long_info.duration, 1), "wall_s": round(wall, 1),
                   "audio_s_per_s": round(long_info.duration / wall, 2),
                   "wer_en": round(jiwer.wer(refs["en"], hyps["en"]), 3),
                   "cer_zh": round(jiwer.wer(refs["zh"], hyps["zh"]), 3)}
            if (bs, beam) != runs[0]:
                base = texts[runs[0]]
                keys = sorted(base)
                row["diff_vs_first"] = round(jiwer.wer([base[k] or "-" for k in keys],
                                                       [texts[bs, beam][k] or "-" for k in keys]), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    first = f"{runs[0][0]}/{runs[0][1]}"
    print(f"\n{'batch':>5} {'beam':>4} {'audio s/s':>9} {'wall s':>7} {'WER en':>7} {'CER zh':>7} {'diff vs ' + first:>12}")
    for r in rows:
        print(f"{r['batch_size']:>5} {r['beam_size']:>4} {r['audio_s_per_s']:>9} {r['wall_s']:>7} {r['wer_en']:>7} "
              f"{r['cer_zh']:>7} {r.get('diff_vs_first', '-'):>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
