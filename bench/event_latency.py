"""Time from upload to stored alert with event-driven ingestion (`callqa listen`).

    python bench/event_latency.py [--calls 3] [--debounce 2] [--audio]

Starts the embedded Ceph S3 gateway, a bucket whose notifications push to the listen endpoint (uvicorn on
loopback, in this process), uploads one warm-up call (models load on the first call), then `--calls` calls one
after another, each a chat log that raises an alert (or with --audio a synthesised stereo recording saying
the same), and prints per call the seconds from the upload's return to the alert row in the results DB.
"""
from __future__ import annotations

import argparse
import io
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHAT = ("role,text\n"
        "agent,\"Thank you for calling Northwind, this call may be recorded. My name is Sam. How can I help?\"\n"
        "customer,\"I was charged twice. If this isn't fixed today I'm going to the newspapers and posting it "
        "all over Facebook.\"\n"
        "agent,\"I'm sorry about that. I have refunded the second charge. Anything else I can help with?\"\n"
        "customer,No. Bye.\n")


def _audio_call(folder: Path, i: int) -> bytes:
    from demo.synth import ScriptedTurn, synthesise_call

    turns = [ScriptedTurn("agent", "Thank you for calling Northwind, this call may be recorded. How can I help?"),
             ScriptedTurn("customer", "I was charged twice. If this isn't fixed today I'm going to the newspapers "
                                      "and posting it all over Facebook."),
             ScriptedTurn("agent", "I am sorry. I have refunded it. Anything else? Goodbye.")]
    path = folder / f"call{i}.wav"
    synthesise_call(turns, "en", path, stereo=True)
    return path.read_bytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3)
    ap.add_argument("--debounce", type=float, default=2.0)
    ap.add_argument("--audio", action="store_true", help="synthesised stereo recordings instead of chat logs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="callqa-bench-events-"))
    from pipeline.config import offline_defaults

    offline_defaults(work / "prefect")
    import uvicorn
    from minio import Minio

    from demo.s3server import LocalS3Server, create_push_topic, notify_new_objects
    from flows import event_listener
    from infra.store import ResultsStore
    from pipeline.config import PipelineConfig, S3Settings

    server = LocalS3Server()
    ep = server.start(work / "s3")
    try:
        client = Minio(ep.endpoint, ep.access_key, ep.secret_key, secure=False)
        client.make_bucket("calls")
        cfg = PipelineConfig(s3=S3Settings(endpoint=ep.endpoint, access_key=ep.access_key,
                                           secret_key=ep.secret_key, bucket="calls"),
                             database_url=f"sqlite:///{work / 'r.db'}", reports=False)
        ingestor, app = event_listener(cfg, token="bench", debounce_seconds=args.debounce)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        web = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        threading.Thread(target=web.run, daemon=True).start()
        while not web.started:
            time.sleep(0.05)
        notify_new_objects(client, "calls", create_push_topic(ep, "bench", f"http://127.0.0.1:{port}/s3-events?token=bench"))
        store = ResultsStore(cfg.database_url)
        times = []
        for i in range(args.calls + 1):
            data, suffix = (_audio_call(work, i), ".wav") if args.audio else (CHAT.encode(), ".chat.csv")
            call_id = f"c{i}"
            t0 = time.monotonic()
            client.put_object("calls", f"recordings/{call_id}{suffix}", io.BytesIO(data), len(data))
            while not any(a["call_id"] == call_id for a in store.alerts()):
                if time.monotonic() - t0 > 180:
                    raise SystemExit(f"no alert for {call_id} after 180 s (state: "
                                     f"{getattr(store.get(call_id), 'state', None)})")
                time.sleep(0.1)
            took = time.monotonic() - t0
            print(f"{'warm-up ' if i == 0 else ''}call {call_id}: upload -> stored alert {took:.1f} s", flush=True)
            if i:
                times.append(took)
        print(json.dumps({"debounce_s": args.debounce, "input": "audio" if args.audio else "chat",
                          "calls": len(times), "mean_s": round(sum(times) / len(times), 2),
                          "max_s": round(max(times), 2)}))
        ingestor.close()
        web.should_exit = True
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
