"""The recordings in the JSON API: /api/audio/{call_id} (redacted, for everyone who may open the call) and
/api/unredacted-audio/{call_id} (the original, for the compliance officer holding this session's grant from
POST /api/unredacted). The same streams as the player's /audio/ and /unredacted-audio/ (web/pages.py), with
JSON errors instead of the sign-in redirect, documented in the OpenAPI schema with their range behaviour."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response

from web.auth import Viewer, api_viewer
from web.media import stream_object

router = APIRouter(tags=["recordings"])
RANGE_DOC = ("One `bytes=first-last`, `bytes=first-` or `bytes=-suffix` range (what an audio player sends to seek). "
             "Without it the whole recording (200); with it 206 and Content-Range; a range outside the file or "
             "several ranges: 416 with `Content-Range: bytes */size`.")
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_HEADERS = {"Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
            "Content-Length": {"description": "bytes in this response", "schema": {"type": "integer"}}}


def _responses(media: str) -> dict:
    return {
        200: {"description": "the whole recording (no Range header)", "content": {media: _BINARY},
              "headers": _HEADERS},
        206: {"description": "the requested byte range, streamed from the object store", "content": {media: _BINARY},
              "headers": {**_HEADERS, "Content-Range": {"description": "bytes first-last/size",
                                                        "schema": {"type": "string"}}}},
        403: {"description": "not the viewer's call (agents), or no valid grant (unredacted)"},
        404: {"description": "no such call in the viewer's tenant, or no recording stored"},
        416: {"description": "range not satisfiable; Content-Range: bytes */size",
              "headers": {"Content-Range": {"description": "bytes */size", "schema": {"type": "string"}}}},
    }


@router.get("/audio/{call_id:path}", response_class=Response, responses=_responses("audio/wav"))
def redacted_audio(request: Request, call_id: str, range: str | None = Header(None, description=RANGE_DOC),
                   viewer: Viewer = Depends(api_viewer)):
    """The call's redacted recording (WAV; personal data silenced), streamed from the object store."""
    ws = request.app.state.ws
    return stream_object(ws.source, ws.redacted_audio_key(viewer, call_id), range, "audio/wav")


@router.get("/unredacted-audio/{call_id:path}", response_class=Response, responses=_responses("audio/*"))
def unredacted_audio(request: Request, call_id: str,
                     grant: str = Query(..., description="from POST /api/unredacted/{call_id} (audited, with a "
                                        "reason): bound to this session and call, valid 30 minutes"),
                     range: str | None = Header(None, description=RANGE_DOC), viewer: Viewer = Depends(api_viewer)):
    """Compliance officers only: the call's original recording, after an audited reason in this session."""
    ws = request.app.state.ws
    key, media_type = ws.unredacted_recording(viewer, call_id, grant)
    return stream_object(ws.source, key, range, media_type)
