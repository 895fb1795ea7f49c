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


def test_the_stage_of_every_call_still_running_is_shown():
    from pipeline.progress import stage

    out = io.StringIO()
    with ProgressDisplay(out, live=False) as display:
        stage("q/call-1", "transcribing")
        stage("q/call-2", "downloading")
        stage("q/call-2", "transcribing")
        stage("q/call-3", "analysing")
        assert display.running == {"q/call-1": "transcribing", "q/call-2": "transcribing", "q/call-3": "analysing"}
        report(1, 3, "q/call-1", "done", 60.0)
        stage("q/call-2", "redacting audio")
    first = out.getvalue().splitlines()[0]
    assert first.startswith("[1/3] q/call-1 done")
    assert first.endswith("running: q/call-2 transcribing, q/call-3 analysing"), first
    assert display.running == {"q/call-2": "redacting audio", "q/call-3": "analysing"}


def test_live_display_shows_running_stages():
    from pipeline.progress import stage

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    with ProgressDisplay(out) as display:
        report(1, 3, "c1", "done", 60.0)
        stage("c2", "transcribing")
        stage("c3", "analysing")
        assert display._bar.tasks[0].description.endswith("running: c2 transcribing, c3 analysing")
        report(2, 3, "c2", "done", 60.0)
        assert display._bar.tasks[0].description.endswith("running: c3 analysing")
        report(3, 3, "c3", "done", 60.0)
    assert "3/3" in out.getvalue()


def test_a_processed_call_reports_its_stages_in_order(tmp_path):
    """The real per-call stage function announces each stage it enters, with the call id only."""
    import logging

    from infra.storage import LocalFolderSource
    from infra.store import ResultsStore
    from pipeline.process import discover, process_recording
    from pipeline.progress import PROGRESS_LOGGER

    from .fakes import FakeTranscriber, write_tone_wav

    (tmp_path / "src" / "recordings").mkdir(parents=True)
    write_tone_wav(tmp_path / "src" / "recordings" / "good.wav", 4.0)
    src = LocalFolderSource(tmp_path / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    events: list[tuple[str, str]] = []

    class Capture(logging.Handler):
        def emit(self, record):
            if (e := getattr(record, "stage_event", None)) is not None:
                events.append((e["call"], e["stage"]))

    logger = logging.getLogger(PROGRESS_LOGGER)
    handler = Capture()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        (ref,) = discover(src, store)
        assert process_recording(ref, src, store, FakeTranscriber()).status == "done"
    finally:
        logger.removeHandler(handler)
    assert events[:3] == [("good", "downloading"), ("good", "transcribing"), ("good", "analysing")], events
