"""Progress lines: calls done/total, hours of audio, an ETA, the call and its stage; nothing but ids/codes."""
from __future__ import annotations

import io

from pipeline.progress import ProgressDisplay, report


def test_plain_progress_lines_count_calls_audio_and_eta():
    out = io.StringIO()
    with ProgressDisplay(out, live=False):
        report(1, 3, "2026/11/call-1", "done", 1800.0, "transcribed and analysed")
        report(2, 3, "2026/11/call-2", "quarantined", 0.0, "E104")
        report(3, 3, "2026/11/call-3", "done", 1800.0)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/3] 2026/11/call-1 done (transcribed and analysed) | audio 0.50 h | ETA ")
    assert "ETA -" not in lines[0] and lines[2].endswith("audio 1.00 h | ETA -")
    assert "E104" in lines[1]
    report(1, 1, "after", "done")  # the display is detached after the block
    assert len(out.getvalue().splitlines()) == 3


def test_live_display_renders_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    with ProgressDisplay(out):
        report(1, 2, "c1", "done", 60.0)
        report(2, 2, "c2", "done", 60.0)
    assert ProgressDisplay(out).live and "2/2" in out.getvalue() and "c2 done" in out.getvalue()
