"""The workspace's audit log is append-only on a real PostgreSQL server too: the triggers made with the schema
(infra.accounts, under the schema's advisory lock) refuse UPDATE, DELETE and TRUNCATE of `audit_log`, while
INSERT (what `AccountStore.audit` does) works; making the schema again (a second workspace starting, several
at once) neither fails nor doubles the triggers."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from infra.accounts import AccountStore
from infra.store import ResultsStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def accounts(postgres_url):
    store = ResultsStore(postgres_url)
    yield AccountStore(store.engine)
    store.engine.dispose()


def _refused(engine, sql: str) -> str:
    with pytest.raises(DBAPIError) as caught:
        with engine.begin() as c:
            c.execute(sa.text(sql))
    return str(caught.value.orig)


def test_update_delete_and_truncate_of_the_audit_log_fail(accounts):
    engine = accounts.engine
    officer = accounts.add_user("officer", "compliance_officer", "correct horse battery")
    accounts.audit(officer, "unredacted_view", call_id="2026/11/22/autofail", ip="10.0.0.7", reason="case CX-311")
    with engine.begin() as c:  # a plain INSERT works: the log is appended to
        c.execute(sa.text("INSERT INTO audit_log (tenant, at, username, role, action, detail) "
                          "VALUES ('default', now(), 'admin', 'admin', 'login', '{}')"))
    before = [(e.username, e.action, e.call_id, e.detail) for e in accounts.audit_log("default")]
    assert before == [("admin", "login", None, {}),
                      ("officer", "unredacted_view", "2026/11/22/autofail", {"reason": "case CX-311"})]

    assert "append-only" in _refused(engine, "UPDATE audit_log SET detail = '{}' WHERE action = 'unredacted_view'")
    assert "append-only" in _refused(engine, "UPDATE audit_log SET username = 'someone'")
    assert "append-only" in _refused(engine, "DELETE FROM audit_log WHERE action = 'unredacted_view'")
    assert "append-only" in _refused(engine, "DELETE FROM audit_log")
    assert "append-only" in _refused(engine, "TRUNCATE audit_log")
    after = [(e.username, e.action, e.call_id, e.detail) for e in accounts.audit_log("default")]
    assert after == before, "nothing changed"
    with engine.connect() as c:
        state = c.execute(sa.text("SELECT count(*) FROM audit_log")).scalar()
    assert state == 2
    # the other tables stay writable
    accounts.set_password("officer", "another good password")
    assert accounts.authenticate("default", "officer", "another good password") is not None


def test_schema_made_again_and_concurrently_keeps_one_trigger_each(accounts, postgres_url):
    engines = [sa.create_engine(postgres_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(4) as pool:  # four workspaces starting at once on the same database
            list(pool.map(AccountStore, engines))
        with engines[0].connect() as c:
            triggers = c.execute(sa.text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal "
                "ORDER BY tgname")).scalars().all()
        assert triggers == ["audit_log_no_truncate", "audit_log_no_update_delete"]
        assert "append-only" in _refused(engines[0], "DELETE FROM audit_log")
        officer = accounts.add_user("second", "compliance_officer", "correct horse battery")
        AccountStore(engines[1]).audit(officer, "login", ip="10.0.0.8")
        assert accounts.audit_log("default", action="login")[0].username == "second"
    finally:
        for e in engines:
            e.dispose()
