"""Times as people read them. The database holds naive UTC; a call's own clock is the UTC offset its sidecar
gave (`calls.utc_offset_min`), a user's the IANA zone in their account (`users.time_zone`, default UTC)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

FORMAT = "%Y-%m-%d %H:%M"


def offset_label(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    h, m = divmod(abs(minutes), 60)
    return f"UTC{sign}{h:02d}:{m:02d}"


def in_user_zone(utc: datetime | None, zone: str | None) -> str:
    """`utc` (naive UTC) in the user's zone, with the zone's name: '2026-11-27 09:30 Asia/Shanghai'."""
    if utc is None:
        return ""
    if not zone:
        return f"{utc.strftime(FORMAT)} UTC"
    local = utc.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return f"{local.strftime(FORMAT)} {zone}"


def in_call_zone(utc: datetime | None, offset_min: int | None, user_zone: str | None = None) -> str:
    """`utc` on the call's own clock when its sidecar gave an offset ('2026-11-27 09:30 UTC+08:00'), else in
    the user's zone."""
    if utc is None:
        return ""
    if offset_min is None:
        return in_user_zone(utc, user_zone)
    return f"{(utc + timedelta(minutes=offset_min)).strftime(FORMAT)} {offset_label(offset_min)}"
