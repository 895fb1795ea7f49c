"""The demo's workspace: demo users of every role on the demo's results DB, and the web app served on a
loopback port over the demo's object store. The password is the demo's own (printed, documented in the
README) — for a throwaway loopback demo only; real users are added with `callqa users add`."""
from __future__ import annotations

import socket
import threading
import time

DEMO_PASSWORD = "callqa-demo"
# user name -> (role, display name); the agent user gets the agent id of the demo's calls
DEMO_USERS = {"qa": ("qa_reviewer", "Quinn (QA reviewer)"), "lead": ("qa_lead", "Lee (QA lead)"),
              "compliance": ("compliance_officer", "Casey (compliance)"), "coach": ("coach", "Cory (coach)"),
              "agent": ("agent", None), "admin": ("admin", "Ada (admin)")}


def add_demo_users(store) -> list[tuple[str, str, str | None]]:
    """Create the demo users (once; a re-run keeps them); returns (name, role, agent id) of each."""
    from sqlalchemy import func, select

    from infra.accounts import AccountStore
    from infra.store import CallRow

    accounts = AccountStore(store.engine)
    with store.engine.connect() as c:
        agent_id = c.execute(select(CallRow.agent).where(CallRow.agent.is_not(None)).group_by(CallRow.agent)
                             .order_by(func.count().desc(), CallRow.agent).limit(1)).scalar()
    have = {u.username for u in accounts.users()}
    out = []
    for name, (role, display) in DEMO_USERS.items():
        agent = agent_id if role == "agent" else None
        if role == "agent" and agent is None:
            continue
        if name not in have:
            accounts.add_user(name, role, DEMO_PASSWORD, agent_id=agent,
                              display_name=display or f"Agent {agent}")
        out.append((name, role, agent))
    return out


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(store, source, *, keep_open: bool, port: int = 8000) -> bool:
    """Start the workspace, sign in as the demo compliance officer and list the calls (a smoke check on the
    real server); then keep serving until Ctrl-C when `keep_open`. True when the check passed."""
    import httpx
    import uvicorn

    from web.app import create_app

    port = _port(port)
    server = uvicorn.Server(uvicorn.Config(create_app(store, source), host="127.0.0.1", port=port,
                                           access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/"
    ok = False
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            signed_in = http.post("/api/session", json={"username": "compliance", "password": DEMO_PASSWORD})
            calls = http.get("/api/calls").json() if signed_in.status_code == 200 else {}
            ok = calls.get("total", 0) > 0
        print(f"[demo] workspace at {url} — {'serving' if ok else 'FAILED its check'}: "
              f"{calls.get('total', 0)} calls listed for the compliance officer", flush=True)
        if ok and keep_open:
            print("[demo] press Ctrl-C to stop the workspace and the S3 server", flush=True)
            while thread.is_alive():
                time.sleep(0.5)
        elif ok:
            print("[demo] (not a terminal: the workspace stops now; `bash scripts/demo.sh --serve` keeps it open)")
    except KeyboardInterrupt:
        pass
    finally:
        server.should_exit = True
        thread.join(10)
    return ok
