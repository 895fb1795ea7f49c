"""Coaching for pages and API alike (web/coaching.py translates): per-agent picks and assignments for coaches
(and admins), an agent's own assignments and their acknowledgement. Every read is scoped by the viewer's tenant;
an agent sees and acknowledges only assignments of their own agent id (403 otherwise). Assigning and
acknowledging are audited with ids only (never the note or the comment)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from fastapi import HTTPException

from infra.coaching import AgentPicks, Assignment, agent_picks
from infra.search import get_call
from web.auth import COACHING, Viewer, require

MAX_NOTE = 2000


def today() -> date:
    return datetime.now(timezone.utc).date()


def _text(value: str | None, what: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_NOTE:
        raise HTTPException(422, f"the {what} has at most {MAX_NOTE} characters")
    return value


def due_date(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            raise HTTPException(422, "the due date is YYYY-MM-DD") from None
    if day < today():
        raise HTTPException(422, "the due date is in the past")
    return day


def picks(ws, viewer: Viewer, agent: str | None = None) -> list[AgentPicks]:
    require(viewer, COACHING)
    return agent_picks(ws.engine, viewer.user.tenant, agent=agent or None)


def assign(ws, viewer: Viewer, call_id: str, note: str | None, due: str | date | None) -> Assignment:
    """Assign the call to its agent with a note and a due date."""
    require(viewer, COACHING)
    call = get_call(ws.engine, viewer.user.tenant, (call_id or "").strip())
    if call is None:
        raise HTTPException(404, "no such call")
    if not call.agent:
        raise HTTPException(422, "this call has no agent to assign it to")
    made = ws.coaching.assign(viewer.user.tenant, call.id, call.agent, viewer.user.username, _text(note, "note"),
                            due_date(due))
    ws.accounts.audit(viewer.user, "coaching_assign", call_id=call.id, ip=viewer.ip, assignment=made.id)
    return made


def assignments(ws, viewer: Viewer, agent: str | None = None) -> list[Assignment]:
    require(viewer, COACHING)
    return ws.coaching.list(viewer.user.tenant, agent=agent or None)


def mine(ws, viewer: Viewer) -> list[Assignment]:
    _agent_only(viewer)
    return ws.coaching.list(viewer.user.tenant, agent=viewer.user.agent_id)


def get(ws, viewer: Viewer, assignment_id: int) -> Assignment:
    """One assignment: coaches and admins see any of the tenant's; an agent only their own (403)."""
    found = ws.coaching.get(viewer.user.tenant, assignment_id)
    if viewer.user.role == "agent":
        if found is None:
            raise HTTPException(404, "no such coaching assignment")
        if found.agent != viewer.user.agent_id:
            raise HTTPException(403, "agents see their own coaching assignments only")
        return found
    require(viewer, COACHING)
    if found is None:
        raise HTTPException(404, "no such coaching assignment")
    return found


def acknowledge(ws, viewer: Viewer, assignment_id: int, comment: str | None) -> Assignment:
    """The agent confirms they listened to the call and read the note (once)."""
    _agent_only(viewer)
    found = get(ws, viewer, assignment_id)
    if found.acknowledged_at is not None:
        raise HTTPException(409, "this coaching assignment is acknowledged already")
    if not ws.coaching.acknowledge(viewer.user.tenant, assignment_id, _text(comment, "comment") or None):
        raise HTTPException(409, "this coaching assignment is acknowledged already")
    ws.accounts.audit(viewer.user, "coaching_ack", call_id=found.call_id, ip=viewer.ip, assignment=assignment_id)
    return ws.coaching.get(viewer.user.tenant, assignment_id)


def _agent_only(viewer: Viewer) -> None:
    if viewer.user.role != "agent" or not viewer.user.agent_id:
        raise HTTPException(403, "only agents have coaching assignments of their own")
