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
from infra import review
from infra.accounts import AccountStore
from infra.calibration import CalibrationStore
from infra.coaching import CoachingStore
from infra.dashboard import Dashboard
from infra.sampling import SamplingStore
from infra.alert_queue import SEVERITIES, list_alerts
from infra.search import (CallFilter, CallPage, TranscriptIndex, call_overrides, call_scorecard, facets, get_call,
                          list_calls)
from infra.store import ALERT_STATUSES, ResultsStore
from web import alert_desk, timeline
from web.auth import (ACT_ON_ALERTS, OVERRIDE, REVIEW_QUEUE, UNREDACTED, VIEW_ALERTS, Sessions, Viewer,
                      check_audio_grant, require)
from web.media import object_size

SYNC_EVERY = 15.0  # seconds between full-text index refreshes on list requests
FACETS_EVERY = 60.0  # seconds the filter menus' values (agents, queues, ...) are reused
MIN_REASON = 10  # characters of a reason to open an unredacted transcript


@dataclass
class Workspace:
    """What the app holds: the results DB, the object store, accounts/sessions, the search index, and the
    stores of the review workflows (their tables are made once, here, not per request)."""
    store: ResultsStore
    source: object  # infra.storage.RecordingSource
    accounts: AccountStore
    sessions: Sessions
    index: TranscriptIndex

    def __post_init__(self):
        self.sampling = SamplingStore(self.engine)
        self.calibration = CalibrationStore(self.engine)
        self.coaching = CoachingStore(self.engine)
        self.dashboard = Dashboard(self.engine)  # derived tables brought up to date here, at start-up
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
        blind = self.calibration.blind_pending(tenant, call_id, viewer.user.username) \
            if viewer.can(REVIEW_QUEUE) else []
        if blind:  # scoring this call blind in a calibration session: no machine answers, no alerts, until then
            card = None
        overrides = call_overrides(self.engine, tenant, call_id) if card else {}
        if card:
            for a in card["answers"]:
                a["override"] = overrides.get(a["question_id"])
            card["auto_fail_evidence"] = [{"question": a["text"], "evidence": a["evidence"]}
                                          for a in card["answers"] if a.get("auto_fail") and a["answer"] == "fail"]
            card.update(review.review_state(self.engine, tenant, call_id, card, overrides))
        alerts = []
        if viewer.can(VIEW_ALERTS) and not blind:
            alerts = list_alerts(self.engine, tenant, statuses=None, call_id=call_id)
        history = alert_desk.call_history(self, viewer, call_id) if not blind else []
        return {"call": row, "segments": segments, "scorecard": card, "alerts": alerts, "blind_sessions": blind,
                "alert_history": history, "alert_assignees": self.alert_assignees(viewer),
                "has_audio": object_size(self.source, redacted_audio_key(call_id)) is not None,
                "has_redacted_transcript": raw is not None,
                "timeline": timeline.build(segments, row.duration, card.get("sentiment") if card else None),
                "kpis": card.get("kpis") if card else None, "sentiment": card.get("sentiment") if card else None}

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
        review.record_review(self.engine, viewer.user.tenant, call_id, viewer.user.username, kind="override")
        machine = next(a["answer"] for a in card["answers"] if a["question_id"] == question_id)
        self.accounts.audit(viewer.user, "override", call_id=call_id, ip=viewer.ip, question_id=question_id,
                            machine=machine, human=answer, comment=comment)

    # alerts (the logic is in web/alert_desk.py)
    def alerts(self, viewer: Viewer, f: alert_desk.AlertFilter = alert_desk.AlertFilter(), *, expand: str = "",
               group: bool = True, limit: int = alert_desk.PAGE_SIZE, offset: int = 0) -> alert_desk.QueueView:
        """One page of the alert queue (compliance officers, admins), filtered; low-severity repeats grouped
        unless not `group`."""
        return alert_desk.queue(self, viewer, f, expand=expand, group=group, limit=limit, offset=offset)

    def set_alert_status(self, viewer: Viewer, alert_id: int, status: str, comment: str | None) -> str:
        """Change an alert's status (audited: who, when, from, to, comment); returns the old status."""
        return alert_desk.set_status(self, viewer, [alert_id], status, comment)[0].before

    def assign_alert(self, viewer: Viewer, alert_id: int, assignee: str | None, comment: str | None):
        """Assign an alert to a compliance officer of the tenant, "me", or nobody (audited); returns the Change."""
        return alert_desk.assign(self, viewer, [alert_id], assignee, comment)[0]

    def bulk_alerts(self, viewer: Viewer, alert_ids: list[int], action: str, assignee: str | None,
                    comment: str | None) -> list:
        """One action on several alerts, all or none, one audit entry each; returns their Changes."""
        return alert_desk.bulk(self, viewer, alert_ids, action, assignee, comment)

    def alert_history(self, viewer: Viewer, alert_id: int) -> list:
        return alert_desk.history(self, viewer, alert_id)

    def alert_assignees(self, viewer: Viewer) -> list[str]:
        """Who the viewer may assign alerts to (empty for those who may not act on alerts)."""
        return alert_desk.officers(self, viewer.user.tenant) if viewer.can(ACT_ON_ALERTS) else []

    # unredacted material
    def unredacted_recording(self, viewer: Viewer, call_id: str, grant: str) -> tuple[str, str]:
        """(object key, media type) of the call's original recording, for a compliance officer holding this
        session's grant for the call (given when the audited reason was accepted)."""
        import mimetypes

        require(viewer, UNREDACTED)
        row = self.call_row(viewer, call_id)
        check_audio_grant(self.sessions, viewer, call_id, grant)
        return row.object_key, mimetypes.guess_type(row.object_key)[0] or "application/octet-stream"

    def unredacted_transcript(self, viewer: Viewer, call_id: str, reason: str) -> list[dict]:
        if not viewer.can(UNREDACTED):
            self.accounts.audit(viewer.user, "unredacted_denied", call_id=call_id, ip=viewer.ip)
            raise HTTPException(403, "only a compliance officer may open unredacted material")
        row = self.call_row(viewer, call_id)
        reason = " ".join((reason or "").split())
        if len(reason) < MIN_REASON:
            raise HTTPException(422, f"give a reason of at least {MIN_REASON} characters")
        self.accounts.audit(viewer.user, "unredacted_view", call_id=call_id, ip=viewer.ip, reason=reason,
                            what="transcript and recording")
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


def _number(value: str | None, name: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError:
        raise HTTPException(422, f"{name} must be a number") from None


def call_filter(q: str | None = None, agent: str | None = None, queue: str | None = None,
                language: str | None = None, direction: str | None = None, date_from: str | None = None,
                date_to: str | None = None, auto_fail: str | None = None, has_alert: str | None = None,
                form: str | None = None, failed_question: str | None = None, score_min: str | None = None,
                score_max: str | None = None, reviewed: str | None = None, alert_category: str | None = None,
                alert_status: str | None = None, alert_severity: str | None = None, answers: str | None = None,
                sort: str = "started", order: str = "desc", page: int = 1, per_page: int = 50) -> CallFilter:
    """The calls list's query parameters (pages and API alike); yes/no for the flags, empty = any. The alert
    filters (category, status, severity) select calls with one alert matching all of those given;
    `failed_question` goes by the reviewed answers (a reviewer's where there is one), or with
    `answers=machine` by the machine's only."""
    if answers not in (None, "", "reviewed", "machine"):
        raise HTTPException(422, "answers must be reviewed or machine")
    if alert_status and alert_status not in ALERT_STATUSES:
        raise HTTPException(422, f"alert_status must be one of {', '.join(ALERT_STATUSES)}")
    if alert_severity and alert_severity not in SEVERITIES:
        raise HTTPException(422, f"alert_severity must be one of {', '.join(SEVERITIES)}")
    return CallFilter(q=(q or "").strip() or None, agent=agent or None, queue=queue or None,
                      language=language or None, direction=direction or None, date_from=_day(date_from),
                      date_to=_day(date_to), auto_fail=_yes_no(auto_fail), has_alert=_yes_no(has_alert),
                      form=form or None, failed_question=failed_question or None,
                      machine_answers=answers == "machine",
                      score_min=_number(score_min, "score_min"), score_max=_number(score_max, "score_max"),
                      reviewed=_yes_no(reviewed), alert_category=alert_category or None,
                      alert_status=alert_status or None, alert_severity=alert_severity or None,
                      sort=sort, descending=order != "asc", page=max(page, 1), per_page=min(max(per_page, 1), 200))
