import pytest

from core.errors import MetadataError
from pipeline.metadata import build_call, parse_sidecar
from infra.storage import RecordingRef


def test_valid_sidecar_builds_call():
    meta = parse_sidecar('{"agent": "a-7", "queue": "billing", "direction": "outbound", '
                         '"started_at": "2026-11-27T09:30:00+08:00", "language": "zh-CN"}'.encode())
    call = build_call(RecordingRef("recordings/x.wav", "e", 9, "x", "recordings/x.json"), meta)
    assert (call.agent, call.direction, call.language, call.started_at.utcoffset().seconds) == \
        ("a-7", "outbound", "zh", 8 * 3600)


@pytest.mark.parametrize("raw, needle", [
    (b'{"agnet": "a-7"}', "agnet"),
    (b'{"direction": "sideways"}', "direction"),
    (b'{"language": "fr"}', "language"),
    (b'{"agent": ', "line"),
    (b'[1, 2]', "JSON object"),
])
def test_bad_sidecar_names_the_problem_and_shows_an_example(raw, needle):
    with pytest.raises(MetadataError) as e:
        parse_sidecar(raw)
    assert e.value.code == "E110" and needle in str(e.value) and '"agent": "a-1042"' in str(e.value)
