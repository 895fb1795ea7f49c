"""Charts as inline SVG (matplotlib, Agg). Text is drawn as paths, so pages need no font to show the charts;
matplotlib's per-glyph fallback from DejaVu Sans to WenQuanYi Micro Hei covers Chinese agent and queue
names. A glyph neither font has raises ReportError instead of drawing an empty box.

Inside `reuse(stored)` the aggregate charts (histogram, bars, agent vs team, trend) are looked up by a digest of
their inputs and of the report code first: a build draws only the charts whose data changed."""
from __future__ import annotations

import contextvars
import functools
import hashlib
import io
import warnings
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator, Sequence

from reports.cache import _templates_digest
from reports.model import ReportError

CJK_FONT = "WenQuanYi Micro Hei"
FONT_FAMILY = ["DejaVu Sans", CJK_FONT]
ROLE_COLOURS = {"agent": "#1f6fb2", "customer": "#d9822b", "unknown": "#888888"}
AGENT, TEAM = "#1f6fb2", "#9aa5b1"


_REUSE: contextvars.ContextVar[tuple[dict[str, str], dict[str, str], dict[str, str]] | None] = \
    contextvars.ContextVar("callqa_report_charts", default=None)


@contextmanager
def reuse(stored: dict[str, str]) -> Iterator[dict[str, str]]:
    """Aggregate charts drawn inside are taken from `stored` (digest -> SVG) when their inputs match; yields
    the aggregate charts used by the build (digest -> SVG, drawn or reused): what to store for the next one.
    A call's sentiment chart is drawn once per distinct input within the build and not stored (one per
    call: the call's page is kept instead)."""
    used: dict[str, str] = {}
    token = _REUSE.set((stored, used, {}))
    try:
        yield used
    finally:
        _REUSE.reset(token)


def _reusable(*, persist: bool = True):
    def wrap(fn):
        @functools.wraps(fn)
        def chart(*args, **kwargs):
            state = _REUSE.get()
            if state is None:
                return fn(*args, **kwargs)
            stored, used, memo = state
            key = hashlib.sha256(repr((fn.__name__, args, sorted(kwargs.items()), _templates_digest()))
                                 .encode("utf-8")).hexdigest()
            if not persist:
                if key not in memo:
                    memo[key] = fn(*args, **kwargs)
                return memo[key]
            svg = used.get(key) or stored.get(key)
            if svg is None:
                svg = fn(*args, **kwargs)
            used[key] = svg
            return svg
        return chart
    return wrap


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # at call time: importing reports must not change the caller's backend
    from matplotlib import font_manager
    import matplotlib.pyplot as plt

    names = {f.name for f in font_manager.fontManager.ttflist}
    if CJK_FONT not in names:
        # matplotlib's font cache predates the font's installation: add the system file explicitly.
        for path in font_manager.findSystemFonts():
            if "wqy-microhei" in path.lower():
                font_manager.fontManager.addfont(path)
        if CJK_FONT not in {f.name for f in font_manager.fontManager.ttflist}:
            raise ReportError(f"font {CJK_FONT!r} not found: install fonts-wqy-microhei (Chinese labels in charts)")
    return plt


def _integer_ticks():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _svg(draw) -> str:
    plt = _pyplot()
    rc = {"font.family": FONT_FAMILY, "svg.fonttype": "path", "font.size": 10, "axes.spines.top": False,
          "axes.spines.right": False, "svg.hashsalt": "callqa"}  # fixed ids: same data, same file
    with plt.rc_context(rc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig, ax = plt.subplots(figsize=(7.5, 3.2), dpi=100)
        try:
            draw(ax)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    if missing:
        raise ReportError(f"chart text has glyphs no configured font can draw: {missing[0]}")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined into HTML


@_reusable(persist=False)
def sentiment_chart(points: Sequence[tuple[float, str, float]], duration: float | None) -> str:
    """(start seconds, role, score -1..1) per utterance, one line per role."""
    def draw(ax):
        for role in ("agent", "customer", "unknown"):
            xs = [p[0] for p in points if p[1] == role]
            ys = [p[2] for p in points if p[1] == role]
            if xs:
                ax.plot(xs, ys, marker="o", color=ROLE_COLOURS[role], label=role)
        ax.axhline(0, color="#cccccc", linewidth=0.8)
        ax.set_ylim(-1.05, 1.05)
        if duration:
            ax.set_xlim(0, duration)
        ax.set_xlabel("seconds from call start")
        ax.set_ylabel("sentiment")
        ax.set_title("Sentiment over time")
        if points:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        else:
            ax.text(0.5, 0.5, "no scored utterances", ha="center", transform=ax.transAxes)
    return _svg(draw)


@_reusable()
def histogram(values: Sequence[float], title: str) -> str:
    def draw(ax):
        ax.hist(list(values), bins=[i * 10 for i in range(11)], color=AGENT, edgecolor="white")
        ax.set_xlim(0, 100)
        ax.set_xlabel("total score")
        ax.set_ylabel("calls")
        ax.yaxis.set_major_locator(_integer_ticks())
        ax.set_title(title)
    return _svg(draw)


@_reusable()
def bars(labels: Sequence[str], values: Sequence[float], title: str, *, ylabel: str,
         percent: bool = False) -> str:
    def draw(ax):
        xs = range(len(labels))
        ax.bar(xs, values, color=AGENT)
        ax.set_xticks(list(xs), list(labels), rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if percent:
            ax.set_ylim(0, 110)
            ax.set_yticks([0, 25, 50, 75, 100])
        else:
            ax.yaxis.set_major_locator(_integer_ticks())
            ax.set_ylim(0, max(values, default=0) * 1.15 + 0.5)
        for x, v in zip(xs, values):
            ax.annotate(f"{v:.0f}{'%' if percent else ''}", (x, v), ha="center", va="bottom", fontsize=8)
        if not labels:
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
    return _svg(draw)


@_reusable()
def agent_vs_team(labels: Sequence[str], agent: Sequence[float | None], team: Sequence[float | None],
                  title: str) -> str:
    """Grouped bars, pass rate % per question; a missing value (nothing applicable) draws no bar."""
    def draw(ax):
        xs = list(range(len(labels)))
        w = 0.38
        ax.bar([x - w / 2 for x in xs], [v or 0 for v in agent], w, color=AGENT, label="agent")
        ax.bar([x + w / 2 for x in xs], [v or 0 for v in team], w, color=TEAM, label="team")
        ax.set_xticks(xs, list(labels), rotation=30, ha="right")
        ax.set_ylim(0, 105)
        ax.set_ylabel("pass rate %")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _svg(draw)


@_reusable()
def trend(dates: Sequence, scores: Sequence[float], team_mean: float | None, title: str) -> str:
    def draw(ax):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        ax.plot(list(dates), list(scores), marker="o", color=AGENT, label="call score")
        if team_mean is not None:
            ax.axhline(team_mean, color=TEAM, linestyle="--", label=f"team mean {team_mean:.0f}")
        if dates and min(dates) == max(dates):  # one call: a day either side, not matplotlib's years
            ax.set_xlim(min(dates) - timedelta(days=1), max(dates) + timedelta(days=1))
        locator = AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        ax.set_ylim(-2, 102)
        ax.set_ylabel("total score")
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _svg(draw)
