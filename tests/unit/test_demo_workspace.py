"""The demo's workspace step on the workspace test data: demo users of every role (the agent user gets the
agent id with the most calls), idempotent on a re-run, and the real server signs the compliance officer in
and lists calls."""
from __future__ import annotations

from demo.workspace import DEMO_PASSWORD, DEMO_USERS, add_demo_users, serve
from infra.accounts import AccountStore

from .test_web_fixture import fresh_copy


def test_demo_users_and_served_workspace(tmp_path_factory, capsys):
    store, src, _ = fresh_copy(tmp_path_factory)
    users = add_demo_users(store)
    assert {name for name, _, _ in users} == set(DEMO_USERS)
    assert ("agent", "agent", "a-1001") in users, "a-1001 has the most calls in the test data"
    assert add_demo_users(store) == users, "a re-run keeps the users"
    accounts = AccountStore(store.engine)
    assert accounts.authenticate("default", "lead", DEMO_PASSWORD).role == "qa_lead"
    assert serve(store, src, keep_open=False, port=0) is True
    out = capsys.readouterr().out
    assert "workspace at http://127.0.0.1:" in out and "4 calls listed" in out
