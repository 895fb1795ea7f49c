"""Audio streamed from the object store with HTTP range requests (what a browser's <audio> needs to seek).

Sources with `size` and `read_range` (S3: ranged GETs in the bucket that holds the key's kind of material; a
local folder: a seek) are read in ranges. Anything else falls back to reading the whole object and slicing it.
"""
from __future__ import annotations

import re
from typing import Iterator

from fastapi import HTTPException
from fastapi.responses import StreamingResponse

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def object_size(source, key: str) -> int | None:
    """Size in bytes of `key`, or None when it does not exist."""
    if hasattr(source, "size"):
        try:
            return source.size(key)
        except Exception:  # noqa: BLE001 - unreachable store or refused key: the caller answers 404
            return None
    data = source.read(key)
    return None if data is None else len(data)


def _chunks(source, key: str, start: int, length: int) -> Iterator[bytes]:
    if hasattr(source, "read_range"):
        yield from source.read_range(key, start, length, CHUNK)
        return
    yield (source.read(key) or b"")[start:start + length]


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `bytes=` range, None for no header; 416 when it cannot be served."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise HTTPException(416, "only one bytes=first-last range is supported",
                            headers={"Content-Range": f"bytes */{size}"})
    if m.group(1):
        first = int(m.group(1))
        last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # suffix: the last N bytes
        first, last = max(size - int(m.group(2)), 0), size - 1
    if first > last or first >= size:
        raise HTTPException(416, "range outside the file", headers={"Content-Range": f"bytes */{size}"})
    return first, last


def stream_object(source, key: str, range_header: str | None, media_type: str) -> StreamingResponse:
    size = object_size(source, key)
    if size is None:
        raise HTTPException(404, "no such audio")
    rng = parse_range(range_header, size)
    first, last = rng if rng else (0, size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "Cache-Control": "private, no-store"}
    if rng:
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    return StreamingResponse(_chunks(source, key, first, last - first + 1), status_code=206 if rng else 200,
                             media_type=media_type, headers=headers)
