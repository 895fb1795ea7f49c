import pytest

from core.errors import StorageError
from infra.storage import LocalFolderSource, _pair_recordings, call_id_for


def test_call_id_is_path_below_prefix_without_extension():
    assert call_id_for("recordings/2026/11/c-1.wav", "recordings/") == "2026/11/c-1"
    assert call_id_for("recordings/通话 1.mp3", "recordings/") == "通话 1"


def test_sidecars_pair_with_recordings_and_results_are_ignored():
    entries = [("recordings/a.wav", "e1", 10), ("recordings/a.json", "e2", 1), ("recordings/b.mp3", "e3", 5),
               ("recordings/orphan.json", "e4", 1), ("transcripts/a.json", "e5", 1), ("recordings/", "", 0)]
    refs = _pair_recordings(entries, "recordings/")
    assert [(r.key, r.sidecar_key) for r in refs] == [("recordings/a.wav", "recordings/a.json"),
                                                       ("recordings/b.mp3", None)]


def test_local_folder_source_lists_writes_and_reads(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "c1.wav").write_bytes(b"RIFF")
    (tmp_path / "in" / "c1.json").write_text("{}")
    src = LocalFolderSource(tmp_path, "in/")
    refs = src.list_recordings()
    assert [r.call_id for r in refs] == ["c1"] and refs[0].sidecar_key == "in/c1.json"
    src.write("transcripts/c1.json", b'{"ok": 1}')
    assert src.read("transcripts/c1.json") == b'{"ok": 1}'
    assert src.read("transcripts/missing.json") is None
    assert [r.call_id for r in src.list_recordings()] == ["c1"]  # results are not recordings
    assert src.ref_for("in/c1.wav").etag == refs[0].etag


def test_missing_local_folder_is_a_storage_error(tmp_path):
    with pytest.raises(StorageError, match="E201"):
        LocalFolderSource(tmp_path / "nope").list_recordings()


def test_full_disk_is_a_coded_error_and_leaves_no_partial_file(tmp_path, monkeypatch):
    """ENOSPC while writing a result: E202 (retried), no `.partial` left, the old result untouched. The
    syscall is made to fail here; a real full filesystem is not available to unprivileged test runs."""
    import errno
    import os

    from core.errors import DiskFullError

    src = LocalFolderSource(tmp_path, "in/")
    src.write("scorecards/c1.json", b"old")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(DiskFullError) as err:
        src.write("scorecards/c1.json", b"new")
    assert err.value.code == "E202" and err.value.transient and "scorecards/" in str(err.value)
    assert not list(tmp_path.rglob("*.partial"))
    assert (tmp_path / "scorecards" / "c1.json").read_bytes() == b"old"


def test_opaque_call_ids_keep_file_names_out_of_ids(tmp_path):
    """Sites whose file names carry personal data: every call id is a hash of the key, stable across runs
    and distinct for two recordings with one stem; the default keeps readable ids."""
    from infra.storage import opaque_call_id

    rec = tmp_path / "in"
    rec.mkdir()
    for name in ("john-smith-07700900123.wav", "dup.wav", "dup.flac"):
        (rec / name).write_bytes(b"RIFF")
    (rec / "dup.json").write_text("{}")
    ids = {r.key: r.call_id for r in LocalFolderSource(tmp_path, "in/", opaque_ids=True).list_recordings()}
    assert set(ids) == {"in/john-smith-07700900123.wav", "in/dup.wav", "in/dup.flac"}
    assert all(i.startswith("c-") and len(i) == 22 for i in ids.values()) and len(set(ids.values())) == 3
    assert not any("smith" in i or "0770" in i or "dup" in i for i in ids.values())
    assert ids["in/dup.wav"] == opaque_call_id("in/dup.wav")
    again = {r.key: r.call_id for r in LocalFolderSource(tmp_path, "in/", opaque_ids=True).list_recordings()}
    assert again == ids
    readable = {r.call_id for r in LocalFolderSource(tmp_path, "in/").list_recordings()}
    assert readable == {"john-smith-07700900123", "dup~wav", "dup~flac"}


def test_opaque_call_ids_setting(monkeypatch, tmp_path):
    from pipeline.config import PipelineConfig

    monkeypatch.setenv("CALLQA_OPAQUE_CALL_IDS", "true")
    cfg = PipelineConfig.from_env(local_root=tmp_path)
    assert cfg.opaque_call_ids and cfg.open_source().opaque_ids
