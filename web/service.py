"""What the pages and the API do, in one place: every read scoped by the viewer's tenant, every check of
role and ownership, every audit entry. Pages (web/pages.py) and the API (web/api.py) only translate.

Only `unredacted_transcript` reads below `transcripts/` (unredacted material), and only for a compliance
officer who gave a reason, after the audit entry is written."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from fastapi import HTTPException

from core.keys import redacted_audio_key, redacted_transcript_key, transcript_key
from infra.accounts import AccountStore
from infra.search import (CallFilter, CallPage, TranscriptIndex, alert_in_tenant, call_overrides, call_scorecard,
                          facets, get_call, list_alerts, list_calls)
from infra.store import ALERT_STATUSES, ResultsStore
from web.auth import ACT_ON_ALERTS, ALERT_QUEUE, OVERRIDE, UNREDACTED, VIEW_ALERTS, Sessions, Viewer, require
from web.media import object_size

SYNC_EVERY = 15.0  # seconds between full-text index refreshes on list requests
FACETS_EVERY = 60.0  # seconds the filter menus' values (agents, queues, ...) are reused
MIN_REASON = 10  # characters of a reason to open an unredacted transcript


@dataclass
class Workspace:
    """What the app holds: the results DB, the object store, accounts/sessions, the search index."""
    store: ResultsStore
    source: object  # infra.storage.RecordingSource
    accounts: AccountStore
    sessions: Sessions
    index: TranscriptIndex

    def __post_init__(self):
        self._synced: dict[str, float] = {}
        self._sync_lock = threading.Lock()
        self._facets: dict[tuple, tuple[float, dict]] = {}

    @property
    def engine(self):
        return self.store.engine

    def sync_index(self, tenant: str, *, force: bool = False) -> None:
        with self._sync_lock:
            if force or time.monotonic() - self._synced.get(tenant, -1e9) > SYNC_EVERY:
                self.index.sync(tenant, self.source)
                self._synced[tenant] = time.monotonic()

    # calls
    def calls(self, viewer: Viewer, f: CallFilter) -> CallPage:
        if f.q:
            self.sync_index(viewer.user.tenant)
        only = viewer.user.agent_id if viewer.user.role == "agent" else None
        try:
            return list_calls(self.engine, viewer.user.tenant, f, only_agent=only)
        except ValueError as e:
            raise HTTPException(400, str(e)) from None

    def facets(self, viewer: Viewer) -> dict:
        """Values for the filter menus (an agent's: from their own calls only), reused for a minute."""
        key = (viewer.user.tenant, viewer.user.agent_id if viewer.user.role == "agent" else None)
        at, values = self._facets.get(key, (-1e9, {}))
        if time.monotonic() - at > FACETS_EVERY:
            values = facets(self.engine, *key)
            self._facets[key] = (time.monotonic(), values)
        return values

    def call_row(self, viewer: Viewer, call_id: str):
        row = get_call(self.engine, viewer.user.tenant, call_id)
        if row is None:
            raise HTTPException(404, "no such call")
        if viewer.user.role == "agent" and row.agent != viewer.user.agent_id:
            raise HTTPException(403, "agents see their own calls only")
        return row

    def call(self, viewer: Viewer, call_id: str) -> dict:
        """Everything the call page shows, redacted: metadata, transcript, scorecard with overrides, alerts."""
        row = self.call_row(viewer, call_id)
        tenant = viewer.user.tenant
        raw = self.source.read(redacted_transcript_key(call_id))
        segments = []
        if raw is not None:
            for i, s in enumerate(json.loads(raw.decode("utf-8")).get("segments", ())):
                segments.append({"index": i, "start": s["start"], "end": s["end"], "role": s.get("role"),
                                 "speaker": s.get("speaker"), "text": s.get("text", "")})
        card = call_scorecard(self.engine, tenant, call_id)
        overrides = call_overrides(self.engine, tenant, call_id) if card else {}
        if card:
            for a in card["answers"]:
                a["override"] = overrides.get(a["question_id"])
            card["auto_fail_evidence"] = [{"question": a["text"], "evidence": a["evidence"]}
                                          for a in card["answers"] if a.get("auto_fail") and a["answer"] == "fail"]
            card["reviewed_by"] = sorted({o["reviewer"] for o in overrides.values()})
        alerts = []
        if viewer.can(VIEW_ALERTS):
            alerts = list_alerts(self.engine, tenant, statuses=None, call_id=call_id)
        history = self.accounts.audit_log(tenant, action="alert_status", call_id=call_id) \
            if viewer.can(VIEW_ALERTS) else []
        return {"call": row, "segments": segments, "scorecard": card, "alerts": alerts,
                "alert_history": history, "has_audio": object_size(self.source, redacted_audio_key(call_id)) is not None,
                "has_redacted_transcript": raw is not None}

    def redacted_audio_key(self, viewer: Viewer, call_id: str) -> str:
        self.call_row(viewer, call_id)
        return redacted_audio_key(call_id)

    def override(self, viewer: Viewer, call_id: str, question_id: str, answer: str, comment: str | None) -> None:
        require(viewer, OVERRIDE)
        self.call_row(viewer, call_id)
        if answer not in ("pass", "fail", "na"):
            raise HTTPException(422, "answer must be pass, fail or na")
        card = call_scorecard(self.engine, viewer.user.tenant, call_id)
        if card is None or question_id not in {a["question_id"] for a in card["answers"]}:
            raise HTTPException(404, "no such scored question on this call")
        comment = (comment or "").strip() or None
        self.store.add_override(call_id, question_id, answer, reviewer=viewer.user.username, comment=comment)
        machine = next(a["answer"] for a in card["answers"] if a["question_id"] == question_id)
        self.accounts.audit(viewer.user, "override", call_id=call_id, ip=viewer.ip, question_id=question_id,
                            machine=machine, human=answer, comment=comment)

    # alerts
    def alerts(self, viewer: Viewer, *, status: str = "new", category: str | None = None,
               severity: str | None = None):
        require(viewer, ALERT_QUEUE)
        if status != "all" and status not in ALERT_STATUSES:
            raise HTTPException(422, f"status must be all or one of {', '.join(ALERT_STATUSES)}")
        statuses = None if status == "all" else (status,)
        return list_alerts(self.engine, viewer.user.tenant, statuses=statuses, category=category or None,
                           severity=severity or None)

    def set_alert_status(self, viewer: Viewer, alert_id: int, status: str, comment: str | None) -> str:
        """Change an alert's status (audited: who, when, from, to, comment); returns the old status."""
        require(viewer, ACT_ON_ALERTS)
        if status not in ALERT_STATUSES:
            raise HTTPException(422, f"status must be one of {', '.join(ALERT_STATUSES)}")
        alert = alert_in_tenant(self.engine, viewer.user.tenant, alert_id)
        if alert is None:
            raise HTTPException(404, "no such alert")
        self.store.set_alert_status(alert_id, status)
        self.accounts.audit(viewer.user, "alert_status", call_id=alert.call_id, alert_id=alert_id, ip=viewer.ip,
                            **{"from": alert.status, "to": status, "comment": (comment or "").strip() or None})
        return alert.status

    # unredacted material
    def unredacted_transcript(self, viewer: Viewer, call_id: str, reason: str) -> list[dict]:
        if not viewer.can(UNREDACTED):
            self.accounts.audit(viewer.user, "unredacted_denied", call_id=call_id, ip=viewer.ip)
            raise HTTPException(403, "only a compliance officer may open unredacted material")
        row = self.call_row(viewer, call_id)
        reason = " ".join((reason or "").split())
        if len(reason) < MIN_REASON:
            raise HTTPException(422, f"give a reason of at least {MIN_REASON} characters")
        self.accounts.audit(viewer.user, "unredacted_view", call_id=call_id, ip=viewer.ip, reason=reason,
                            what="transcript")
        raw = self.source.read(row.transcript_key or transcript_key(call_id))
        if raw is None:
            raise HTTPException(404, "this call has no stored transcript")
        return [{"start": s["start"], "end": s["end"], "role": s.get("role"), "text": s.get("text", "")}
                for s in json.loads(raw.decode("utf-8")).get("segments", ())]


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get((value or "").strip().lower())


def _day(value: str | None):
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, "dates are YYYY-MM-DD") from None


def call_filter(q: str | None = None, agent: str | None = None, queue: str | None = None,
                language: str | None = None, direction: str | None = None, date_from: str | None = None,
                date_to: str | None = None, auto_fail: str | None = None, has_alert: str | None = None,
                sort: str = "started", order: str = "desc", page: int = 1, per_page: int = 50) -> CallFilter:
    """The calls list's query parameters (pages and API alike); yes/no for the two flags, empty = any."""
    return CallFilter(q=(q or "").strip() or None, agent=agent or None, queue=queue or None,
                      language=language or None, direction=direction or None, date_from=_day(date_from),
                      date_to=_day(date_to), auto_fail=_yes_no(auto_fail), has_alert=_yes_no(has_alert),
                      sort=sort, descending=order != "asc", page=max(page, 1), per_page=min(max(per_page, 1), 200))
