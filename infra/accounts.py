"""Users of the reviewers' workspace, their sessions, failed sign-ins and the append-only audit log, in the
results database beside the calls (same SQLAlchemy `Base`, created on first use, additive).

Every row carries a tenant (the client company whose calls it concerns; `DEFAULT_TENANT` until there are
several) and every query here is scoped by one. Passwords are argon2id hashes (argon2-cffi); a user signed in
through an identity provider later (OIDC) gets `auth_provider`/`external_subject` and no password hash.
The audit log has no update or delete here, and the database refuses both (and TRUNCATE on PostgreSQL) with
triggers: SQLite's `RAISE(ABORT)`, PostgreSQL's plpgsql function raising `restrict_violation` (SQLSTATE 23001).
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (Boolean, DateTime, Integer, String, Text, UniqueConstraint, delete, func, inspect, select,
                        text, update)
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.store import DEFAULT_TENANT, SCHEMA_LOCK, Base, _now

ROLES = ("qa_reviewer", "qa_lead", "compliance_officer", "coach", "agent", "admin")  # qa_lead: a reviewer who also
# sets sampling rules, runs calibration sessions and settles disputes
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))  # verified against for unknown users: same timing


class UserRow(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant", "username"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), default=DEFAULT_TENANT, index=True)
    username: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    agent_id: Mapped[str | None] = mapped_column(String(128))  # role agent: the calls' `agent` field that is theirs
    password_hash: Mapped[str | None] = mapped_column(Text)  # None: signs in through an identity provider
    auth_provider: Mapped[str] = mapped_column(String(32), default="local")
    external_subject: Mapped[str | None] = mapped_column(String(256))  # OIDC `sub`, later
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    time_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name; None: UTC


class SessionRow(Base):
    """A signed-in browser: the cookie holds the (signed) id; signing out deletes the row."""
    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class LoginFailureRow(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    username: Mapped[str] = mapped_column(String(128), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)


class AuditRow(Base):
    """Who did what, when, to which call or alert. Append-only."""
    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
    username: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64), index=True)
    call_id: Mapped[str | None] = mapped_column(String(512), index=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON: reason, from/to status, comment


_TABLES = [UserRow.__table__, SessionRow.__table__, LoginFailureRow.__table__, AuditRow.__table__]
_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
]
# PostgreSQL: one function, a row trigger (UPDATE, DELETE) and a statement trigger (TRUNCATE), made idempotently
# (CREATE OR REPLACE; the triggers only when missing) under the schema's advisory lock (see `_create_pg_schema`).
_PG_APPEND_ONLY = [
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'restrict_violation'; END $$",
    "DO $$ BEGIN "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_no_update_delete' "
    "AND tgrelid = 'audit_log'::regclass) THEN "
    "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only(); END IF; "
    "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_no_truncate' "
    "AND tgrelid = 'audit_log'::regclass) THEN "
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only(); END IF; END $$",
]


@dataclass(frozen=True)
class User:
    id: int
    tenant: str
    username: str
    role: str
    agent_id: str | None
    display_name: str | None
    time_zone: str | None = None  # IANA name the user reads times in (None: UTC)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # naive UTC
    username: str
    role: str
    action: str
    call_id: str | None
    alert_id: int | None
    ip: str | None
    detail: dict


def _user(r: UserRow) -> User:
    return User(r.id, r.tenant, r.username, r.role, r.agent_id, r.display_name, r.time_zone)


def check_time_zone(name: str | None) -> str | None:
    """An IANA time zone name (e.g. Asia/Shanghai), or None for UTC; ValueError names a valid example."""
    if not name:
        return None
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/London or Asia/Shanghai") \
            from None
    return name


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _create_pg_schema(engine) -> None:
    """Tables, the added column and the append-only triggers in one transaction under the advisory lock
    infra.store takes for its schema: several workspaces or workers starting at once on a fresh database would
    otherwise race on CREATE TABLE / CREATE TRIGGER."""
    with engine.begin() as c:
        c.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")  # released at commit
        Base.metadata.create_all(c, tables=_TABLES)
        c.exec_driver_sql("ALTER TABLE users ADD COLUMN IF NOT EXISTS time_zone VARCHAR(64)")
        for stmt in _PG_APPEND_ONLY:
            c.exec_driver_sql(stmt)


class AccountStore:
    """Users, sessions, sign-in failures and the audit log on the results database's engine."""

    def __init__(self, engine):
        self.engine = engine
        if engine.dialect.name == "postgresql":
            _create_pg_schema(engine)
            return
        Base.metadata.create_all(engine, tables=_TABLES)
        if "time_zone" not in {c["name"] for c in inspect(engine).get_columns("users")}:
            with engine.begin() as c:
                c.execute(text("ALTER TABLE users ADD COLUMN time_zone VARCHAR(64)"))
        if engine.dialect.name == "sqlite":
            with engine.begin() as c:
                for stmt in _SQLITE_APPEND_ONLY:
                    c.execute(text(stmt))

    # users
    def add_user(self, username: str, role: str, password: str | None, *, tenant: str = DEFAULT_TENANT,
                 agent_id: str | None = None, display_name: str | None = None, time_zone: str | None = None) -> User:
        time_zone = check_time_zone(time_zone)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if role == "agent" and not agent_id:
            raise ValueError("a user with role agent needs --agent-id (the `agent` field of their calls)")
        if password is not None and len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with Session(self.engine) as s:
            if s.scalar(select(UserRow).where(UserRow.tenant == tenant, UserRow.username == username)):
                raise ValueError(f"user {username!r} exists already in tenant {tenant!r}")
            row = UserRow(tenant=tenant, username=username, role=role, agent_id=agent_id, display_name=display_name,
                          time_zone=time_zone,
                          password_hash=hash_password(password) if password is not None else None)
            s.add(row)
            s.commit()
            return _user(row)

    def set_password(self, username: str, password: str, *, tenant: str = DEFAULT_TENANT) -> None:
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with Session(self.engine) as s:
            res = s.execute(update(UserRow).where(UserRow.tenant == tenant, UserRow.username == username)
                            .values(password_hash=hash_password(password)))
            s.commit()
            if res.rowcount != 1:
                raise ValueError(f"no user {username!r} in tenant {tenant!r}")

    def set_time_zone(self, user: User, time_zone: str | None) -> None:
        time_zone = check_time_zone(time_zone)
        with Session(self.engine) as s:
            s.execute(update(UserRow).where(UserRow.tenant == user.tenant, UserRow.id == user.id)
                      .values(time_zone=time_zone))
            s.commit()

    def users(self, tenant: str = DEFAULT_TENANT) -> list[User]:
        with Session(self.engine) as s:
            q = select(UserRow).where(UserRow.tenant == tenant).order_by(UserRow.username)
            return [_user(r) for r in s.scalars(q)]

    def user(self, tenant: str, user_id: int) -> User | None:
        with Session(self.engine) as s:
            r = s.scalar(select(UserRow).where(UserRow.tenant == tenant, UserRow.id == user_id, UserRow.active))
            return _user(r) if r else None

    def authenticate(self, tenant: str, username: str, password: str) -> User | None:
        """The user when the password verifies (argon2), else None; an unknown user costs the same time."""
        with Session(self.engine) as s:
            r = s.scalar(select(UserRow).where(UserRow.tenant == tenant, UserRow.username == username,
                                               UserRow.active))
            stored = r.password_hash if r is not None and r.password_hash else None
            try:
                _hasher.verify(stored or _DUMMY_HASH, password)
            except (VerificationError, InvalidHashError):
                return None
            if stored is None:
                return None
            if _hasher.check_needs_rehash(stored):
                r.password_hash = hash_password(password)
                s.commit()
            return _user(r)

    # sign-in failures (rate limit per user and address)
    def recent_failures(self, tenant: str, username: str, ip: str, window: timedelta) -> int:
        with Session(self.engine) as s:
            return s.scalar(select(func.count()).select_from(LoginFailureRow).where(
                LoginFailureRow.tenant == tenant, LoginFailureRow.username == username, LoginFailureRow.ip == ip,
                LoginFailureRow.at >= _now() - window)) or 0

    def record_failure(self, tenant: str, username: str, ip: str) -> None:
        with Session(self.engine) as s:
            s.add(LoginFailureRow(tenant=tenant, username=username[:128], ip=ip))
            s.commit()

    def clear_failures(self, tenant: str, username: str, ip: str) -> None:
        with Session(self.engine) as s:
            s.execute(delete(LoginFailureRow).where(LoginFailureRow.tenant == tenant,
                                                    LoginFailureRow.username == username, LoginFailureRow.ip == ip))
            s.commit()

    # sessions
    def new_session(self, user: User, lifetime: timedelta) -> tuple[str, str]:
        """(session id, CSRF token) of a new session of `user`."""
        sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with Session(self.engine) as s:
            s.execute(delete(SessionRow).where(SessionRow.expires_at < _now()))
            s.add(SessionRow(id=sid, tenant=user.tenant, user_id=user.id, csrf=csrf, expires_at=_now() + lifetime))
            s.commit()
        return sid, csrf

    def session(self, sid: str) -> tuple[User, str] | None:
        """(user, CSRF token) of a live session; None when unknown, expired, or its user is gone."""
        with Session(self.engine) as s:
            row = s.get(SessionRow, sid)
            if row is None or row.expires_at < _now():
                return None
        user = self.user(row.tenant, row.user_id)
        return (user, row.csrf) if user else None

    def end_session(self, sid: str) -> None:
        with Session(self.engine) as s:
            s.execute(delete(SessionRow).where(SessionRow.id == sid))
            s.commit()

    # audit log
    def audit(self, user: User, action: str, *, call_id: str | None = None, alert_id: int | None = None,
              ip: str | None = None, **detail) -> None:
        with Session(self.engine) as s:
            s.add(AuditRow(tenant=user.tenant, username=user.username, role=user.role, action=action,
                           call_id=call_id, alert_id=alert_id, ip=ip, detail=json.dumps(detail, ensure_ascii=False)))
            s.commit()

    def audit_log(self, tenant: str, *, action: str | None = None, call_id: str | None = None,
                  alert_id: int | None = None, limit: int = 500) -> list[AuditEntry]:
        with Session(self.engine) as s:
            q = select(AuditRow).where(AuditRow.tenant == tenant).order_by(AuditRow.id.desc()).limit(limit)
            if action:
                q = q.where(AuditRow.action == action)
            if call_id:
                q = q.where(AuditRow.call_id == call_id)
            if alert_id is not None:
                q = q.where(AuditRow.alert_id == alert_id)
            return [AuditEntry(r.id, r.at, r.username, r.role, r.action, r.call_id, r.alert_id, r.ip,
                               json.loads(r.detail or "{}")) for r in s.scalars(q)]
