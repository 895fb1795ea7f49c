"""Where the transcription of a stereo call goes, batched (issue 16): VAD, language detection, each channel,
and both channels at once.

    python bench/stereo_asr_breakdown.py [--minutes 10]

One synthesised two-speaker English call (stereo, 8 kHz), decoded once as the pipeline does; the packaged
base model, int8, `asr_batch_size` 8. Prints seconds for: Silero VAD on the agent channel; the call's
language detection (speech windows of both channels); each channel through `transcribe_recording` one after
the other; faster-whisper's BatchedInferencePipeline alone on the agent channel's samples; and both channels
in two threads at `asr_parallel` 1 and 2 (CTranslate2 workers).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(name: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{name}: {time.perf_counter() - t0:.2f} s", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    from pipeline.config import offline_defaults

    offline_defaults()
    from faster_whisper import BatchedInferencePipeline

    from demo.synth import synthesise_long_call
    from infra.audio import inspect_recording, load_audio
    from transcribe.base import TranscribeOptions
    from transcribe.registry import build_transcriber
    from transcribe.run import detect_recording_language, transcribe_recording

    with tempfile.TemporaryDirectory(prefix="bench-stereo-") as tmp:
        tmp = Path(tmp)
        stereo = synthesise_long_call(tmp / "s.wav", args.minutes, "en", stereo=True).audio_path
        info = inspect_recording(stereo, pcm_dir=tmp / "pcm", mixdown=False)
        decoded, options = info.decoded, TranscribeOptions()
        agent = np.ascontiguousarray(load_audio(stereo, channel=0))
        for parallel in (1, 2):
            model = build_transcriber("faster-whisper", "base", None, batch_size=8, parallel=parallel)
            transcribe_recording(model, decoded, "warm", duration=20.0, channel=0, language="en")
            if parallel == 1:
                _timed("VAD, agent channel", lambda: model.speech_spans(agent))
                guess = _timed("language detection", lambda: detect_recording_language(model, decoded, options,
                                                                                       channel=0))
                for ch in (0, 1):
                    _timed(f"channel {ch}, batched", lambda: transcribe_recording(
                        model, decoded, "c", duration=info.duration, channel=ch, guess=guess))
                bare = BatchedInferencePipeline(model=model.model)
                _timed("bare BatchedInferencePipeline, agent channel", lambda: list(bare.transcribe(
                    agent, language="en", beam_size=5, word_timestamps=True, vad_filter=True, batch_size=8)[0]))
            guess = detect_recording_language(model, decoded, options, channel=0)

            def both():
                threads = [threading.Thread(target=transcribe_recording, args=(model, decoded, "c"),
                                            kwargs=dict(duration=info.duration, channel=ch, guess=guess))
                           for ch in (0, 1)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            _timed(f"both channels in two threads, asr_parallel {parallel}", both)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
