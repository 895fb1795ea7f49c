"""The signed-in user's own settings: the time zone they read times in (calls without a sidecar offset, the
audit log, histories). Page `/me`, API `PUT /api/me/time-zone`."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from web.auth import Viewer, api_writer, check_csrf, page_viewer, permissions

router = APIRouter()
COMMON_ZONES = ("UTC", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Shanghai", "Asia/Taipei",
                "Asia/Hong_Kong", "Asia/Singapore")


class TimeZone(BaseModel):
    time_zone: str | None = Field(None, description="IANA name, e.g. Asia/Shanghai; null or UTC for UTC")


def _set(request: Request, viewer: Viewer, zone: str | None) -> None:
    zone = (zone or "").strip()
    try:
        request.app.state.ws.accounts.set_time_zone(viewer.user, None if zone in ("", "UTC") else zone)
    except ValueError as e:
        raise HTTPException(422, str(e)) from None
    request.app.state.ws.accounts.audit(viewer.user, "settings", ip=viewer.ip, time_zone=zone or "UTC")


@router.get("/me", include_in_schema=False)
def settings_page(request: Request, viewer: Viewer = Depends(page_viewer)):
    return request.app.state.templates.TemplateResponse(
        request, "settings.html", {"viewer": viewer, "perms": permissions(viewer), "zones": COMMON_ZONES})


@router.post("/me", include_in_schema=False)
def save_settings(request: Request, time_zone: str = Form(""), csrf_token: str = Form(""),
                  viewer: Viewer = Depends(page_viewer)):
    check_csrf(viewer, csrf_token)
    _set(request, viewer, time_zone)
    return RedirectResponse("/me", status_code=303)


@router.put("/api/me/time-zone", status_code=204, tags=["workspace"])
def set_time_zone(body: TimeZone, request: Request, viewer: Viewer = Depends(api_writer)):
    """Set the time zone the signed-in user reads times in."""
    _set(request, viewer, body.time_zone)
