"""The call page's timeline: one lane per party (the two channels of a stereo call, or the diarized roles of a
mono one) with each utterance as a bar, and the sentiment of each utterance as a line per party below it.
Geometry only (viewBox units); the template draws it as inline SVG and every bar seeks the player."""
from __future__ import annotations

from dataclasses import dataclass

WIDTH = 1000.0
LANE_H, GAP = 18.0, 6.0
CHART_H = 60.0
LANES = ("agent", "customer")


@dataclass(frozen=True)
class Bar:
    lane: int
    x: float
    width: float
    start: float
    end: float
    role: str


@dataclass(frozen=True)
class SentimentLine:
    role: str
    points: str  # SVG polyline points
    marks: tuple[tuple[float, float, float, str], ...]  # (x, y, start seconds, label)


@dataclass(frozen=True)
class Timeline:
    duration: float
    bars: tuple[Bar, ...]
    lanes: tuple[str, ...]
    sentiment: tuple[SentimentLine, ...]
    lanes_height: float
    height: float
    zero_y: float


def build(segments: list[dict], duration: float | None, sentiment: dict | None) -> Timeline | None:
    """The timeline of a call from its redacted transcript segments (start, end, role) and the scorecard's
    sentiment (`utterances`: start, end, role, sentiment.score in [-1, 1]); None when there is nothing to draw."""
    span = max([duration or 0.0, *(s["end"] for s in segments)] or [0.0])
    if span <= 0 or not segments:
        return None
    lanes = LANES + (("unknown",) if any((s.get("role") or "unknown") not in LANES for s in segments) else ())
    scale = WIDTH / span
    bars = []
    for s in segments:
        role = s.get("role") if s.get("role") in lanes else "unknown"
        lane = lanes.index(role)
        bars.append(Bar(lane, round(s["start"] * scale, 2), round(max((s["end"] - s["start"]) * scale, 1.0), 2),
                        s["start"], s["end"], role))
    lanes_height = len(lanes) * (LANE_H + GAP)
    top = lanes_height + GAP
    lines = []
    utterances = (sentiment or {}).get("utterances") or []
    for role in LANES:
        pts = []
        for u in utterances:
            if u.get("role") != role or "sentiment" not in u:
                continue
            score = max(-1.0, min(1.0, float(u["sentiment"].get("score", 0.0))))
            x = round((u["start"] + u["end"]) / 2 * scale, 2)
            y = round(top + (1 - score) / 2 * CHART_H, 2)
            pts.append((x, y, u["start"], u["sentiment"].get("label", "")))
        if pts:
            lines.append(SentimentLine(role, " ".join(f"{x},{y}" for x, y, _, _ in pts), tuple(pts)))
    return Timeline(span, tuple(bars), lanes, tuple(lines), lanes_height, top + CHART_H + GAP,
                    round(top + CHART_H / 2, 2))
