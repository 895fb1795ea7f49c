"""One way to render a page: the template with the viewer and what the viewer may do (`perms`), which the
header's menu and every page's buttons read."""
from __future__ import annotations

from fastapi import Request

from web.auth import Viewer, permissions


def render(request: Request, name: str, viewer: Viewer | None, status_code: int = 200, **context):
    ctx = {"viewer": viewer, "perms": permissions(viewer), **context}
    return request.app.state.templates.TemplateResponse(request, name, ctx, status_code=status_code)
