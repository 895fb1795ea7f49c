"""Where recordings come from and results go: any S3 API (MinIO, Ceph RGW, AWS) or a local folder.

Layout inside a source (results sit beside the recordings, under their own prefixes):
    <prefix>/<path>/<name>.<ext>     recording (any audio container; decoded by content)
    <prefix>/<path>/<name>.transcript.json   a transcript instead of a recording (callqa or WhisperX JSON)
    <prefix>/<path>/<name>.csv|.jsonl        a two-role chat log instead of a recording (also .chat.csv|.chat.jsonl)
    <prefix>/<path>/<name>.json      optional metadata sidecar (agent, queue, direction, started_at, language)
    transcripts/<path>/<name>.json   transcript written by the pipeline (+ .rttm, .vtt, .srt exports)
    metrics/<path>/<name>.json       conversation metrics (talk time, silence, overtalk, holds, ...)
    quarantine/<path>/<name>.json    why a recording was rejected (the recording itself is left untouched)
On S3, each kind of material (core.keys.material_of: raw inputs, unredacted transcripts, redacted results) can
live in its own bucket under its own credentials (`S3Source.connect(..., areas=...)`); keys stay the same.
"""
from __future__ import annotations

import hashlib
import io
import errno
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol

from core.errors import DiskFullError, StorageError, UnsafeKeyError
from core.keys import (RESULT_PREFIXES, SIDECAR_SUFFIX, Material, input_kind, input_stem,  # noqa: F401
                       input_suffix, material_of, sidecar_key)

VERSION_SEP = "+"  # call version = recording etag + sidecar etag (neither S3 nor local etags contain it)


@dataclass(frozen=True)
class RecordingRef:
    key: str  # full object key / relative path of the recording
    etag: str  # content version: S3 ETag, or size+mtime for local files
    size: int
    call_id: str
    sidecar_key: str | None = None
    unsafe: bool = False  # the key would escape its prefix: quarantined as E111 under an opaque id
    kind: str = "recording"  # "recording", or "transcript" / "chat": text in place of audio (core.keys.input_kind)

    @property
    def is_text(self) -> bool:
        """A transcript or chat log: imported (transcribe.imported), not decoded and transcribed."""
        return self.kind in ("transcript", "chat")


def call_id_for(key: str, prefix: str) -> str:
    """Stable id from the key: path below the prefix without extension ("2026/11/call-0001"); a transcript
    or chat input loses its whole input suffix (`c.transcript.json`, `c.chat.csv` give "c")."""
    rel = key[len(prefix):] if prefix and key.startswith(prefix) else key
    return input_stem(str(PurePosixPath(rel.lstrip("/"))))


def _stem_tag(key: str) -> str:
    """Tells apart inputs with one stem: `wav`, `flac`, `transcript-json`, `chat-csv`, `csv`."""
    suffix = input_suffix(key) or PurePosixPath(key).suffix.lower()
    return suffix.lstrip(".").replace(".", "-")


_UNSAFE_KEY = re.compile(r"(?:^|/)\.\.(?:/|$)|^/|\\|[\x00-\x1f\x7f]")


def unsafe_key(key: str) -> bool:
    return bool(_UNSAFE_KEY.search(key))


def opaque_call_id(key: str) -> str:
    """A call id that says nothing about the file name (for sites whose names carry personal data): a hash
    of the whole key, stable across runs, distinct for `dup.wav` and `dup.flac`."""
    return "c-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _pair_recordings(entries: list[tuple[str, str, int]], prefix: str, opaque: bool = False) -> list[RecordingRef]:
    """Calls among (key, etag, size) listings: recordings, transcripts and chat logs (by name:
    `core.keys.input_kind`); a `<stem>.json` next to one is its sidecar, never a call of its own, and the
    pipeline's results (under `RESULT_PREFIXES`) are skipped. Two inputs with one stem (`dup.wav`,
    `dup.flac`, `dup.transcript.json`) get distinct ids (`dup~wav`, `dup~flac`, `dup~transcript-json`)
    instead of overwriting each other's results; a key that would escape its prefix gets an opaque id and
    `unsafe`. `opaque`: every call id is `opaque_call_id(key)`, so no file name reaches ids, logs or task names."""
    keys = {k for k, _, _ in entries}
    etags = {k: e for k, e, _ in entries}
    recordings = [(k, e, s) for k, e, s in sorted(entries)
                  if not k.endswith("/") and not any(k.startswith(p) for p in RESULT_PREFIXES)
                  and input_kind(k) != "sidecar"]
    stems = Counter(call_id_for(k, prefix) for k, _, _ in recordings)
    refs = []
    for key, etag, size in recordings:
        kind = input_kind(key)
        if unsafe_key(key):
            refs.append(RecordingRef(key, etag, size, "unsafe-" + hashlib.sha256(key.encode()).hexdigest()[:16],
                                     unsafe=True, kind=kind))
            continue
        sidecar = sidecar_key(key)
        call_id = call_id_for(key, prefix)
        if stems[call_id] > 1:
            call_id += "~" + _stem_tag(key)
        if opaque:
            call_id = opaque_call_id(key)
        has_sidecar = sidecar is not None and sidecar in keys
        # the call's version covers its metadata too: a sidecar that arrives, changes or is fixed later
        # makes a new version (pipeline.process re-analyses it without transcribing again)
        version = f"{etag}{VERSION_SEP}{etags[sidecar]}" if has_sidecar else etag
        refs.append(RecordingRef(key=key, etag=version, size=size, call_id=call_id,
                                 sidecar_key=sidecar if has_sidecar else None, kind=kind))
    return refs


def _orphan_sidecars(entries: list[tuple[str, str, int]]) -> list[str]:
    """Sidecar keys (`<stem>.json`) that no recording, transcript or chat log in the listing claims."""
    def is_input_area(k: str) -> bool:
        return not k.endswith("/") and not any(k.startswith(p) for p in RESULT_PREFIXES)

    keys = [k for k, _, _ in entries if is_input_area(k)]
    claimed = {sidecar_key(k) for k in keys if input_kind(k) != "sidecar"}
    return sorted(k for k in keys if input_kind(k) == "sidecar" and k not in claimed)


class Inventory(NamedTuple):
    """One listing of the input prefix: the calls, and the sidecars no call claims."""
    recordings: list[RecordingRef]
    orphan_sidecars: list[str]


def recording_version(version: str) -> str:
    """The recording's own etag within a call version (without the sidecar's)."""
    return version.split(VERSION_SEP, 1)[0]


class RecordingSource(Protocol):
    def describe(self) -> str: ...
    def list_recordings(self) -> list[RecordingRef]: ...
    def inventory(self) -> "Inventory": ...
    def ref_for(self, key: str) -> RecordingRef: ...
    def download(self, ref: RecordingRef, dest_dir: Path) -> Path: ...
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None: ...


@dataclass(frozen=True)
class S3Area:
    """Where one kind of material lives: its bucket and the credentials that reach it (None: the main ones)."""
    bucket: str
    access_key: str | None = None
    secret_key: str | None = None


class S3Source:
    """Recordings in a bucket, read and written with the `minio` client (works with any S3 API). `areas` maps
    a kind of material ("unredacted", "redacted"; see core.keys.material_of) to its own (client, bucket);
    the rest, and every kind not mapped, is read and written with `client` in `bucket`."""

    def __init__(self, client, bucket: str, prefix: str = "recordings/", *, opaque_ids: bool = False,
                 areas: dict[Material, tuple[object, str]] | None = None):
        self.client, self.bucket, self.prefix, self.opaque_ids = client, bucket, prefix, opaque_ids
        self.areas = dict(areas or {})

    @classmethod
    def connect(cls, endpoint: str, access_key: str, secret_key: str, bucket: str, *,
                prefix: str = "recordings/", secure: bool = False, region: str | None = None,
                opaque_ids: bool = False, areas: dict[Material, S3Area] | None = None) -> "S3Source":
        import urllib3
        from minio import Minio

        def client(access: str, secret: str):
            # Bounded timeouts and retries: a server that goes away fails the call quickly (retried later)
            # instead of hanging the batch.
            http = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=5, read=120), maxsize=8,
                retries=urllib3.Retry(total=2, backoff_factor=0.3, status_forcelist=(500, 502, 503, 504)))
            return Minio(endpoint, access_key=access, secret_key=secret, secure=secure, region=region,
                         http_client=http)

        main = client(access_key, secret_key)
        routed = {kind: (client(a.access_key, a.secret_key) if a.access_key else main, a.bucket)
                  for kind, a in (areas or {}).items()}
        return cls(main, bucket, prefix, opaque_ids=opaque_ids, areas=routed)

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _where(self, key: str) -> tuple[object, str]:
        """The (client, bucket) that holds `key`, by its kind of material."""
        return self.areas.get(material_of(key), (self.client, self.bucket))

    def _guard(self, what: str, fn, *args, **kwargs):
        from minio.error import S3Error

        try:
            return fn(*args, **kwargs)
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject"):
                raise FileNotFoundError(what) from e
            raise StorageError(f"{what}: S3 error {e.code}") from e
        except (OSError, ValueError) as e:  # urllib3 errors derive from these; ValueError for bad replies
            if isinstance(e, FileNotFoundError):
                raise
            if getattr(e, "errno", None) == errno.ENOSPC:
                raise _local_disk_full(what) from e
            raise StorageError(f"{what}: {type(e).__name__}") from e
        except Exception as e:  # noqa: BLE001 - urllib3.MaxRetryError etc.
            if type(e).__module__.startswith("urllib3"):
                raise StorageError(f"{what}: {type(e).__name__}") from e
            raise

    def ensure_bucket(self) -> None:
        """Create every bucket of this source that does not exist yet (each with the credentials that own it)."""
        for client, bucket in {(id(c), b): (c, b) for c, b in [(self.client, self.bucket),
                                                              *self.areas.values()]}.values():
            if not self._guard("bucket check", client.bucket_exists, bucket):
                self._guard("bucket create", client.make_bucket, bucket)

    def _entries(self, under: str | None = None) -> list[tuple[str, str, int]]:
        def _list():
            return [(o.object_name, (o.etag or "").strip('"'), o.size or 0)
                    for o in self.client.list_objects(self.bucket, prefix=under or self.prefix, recursive=True)]

        return self._guard("listing recordings", _list)

    def list_recordings(self) -> list[RecordingRef]:
        return _pair_recordings(self._entries(), self.prefix, self.opaque_ids)

    def refs_under(self, folder: str) -> list[RecordingRef]:
        """The inputs whose keys start with `folder` (below the prefix): one listing of that folder only,
        for event-driven ingestion (a new object names its folder)."""
        if not folder.startswith(self.prefix):
            return []
        return _pair_recordings(self._entries(folder), self.prefix, self.opaque_ids)

    def inventory(self) -> Inventory:
        entries = self._entries()  # one listing for both
        return Inventory(_pair_recordings(entries, self.prefix, self.opaque_ids), _orphan_sidecars(entries))

    def ref_for(self, key: str) -> RecordingRef:
        def _stat():
            folder = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
            names = [(o.object_name, (o.etag or "").strip('"'), o.size or 0)
                     for o in self.client.list_objects(self.bucket, prefix=folder)]
            st = self.client.stat_object(self.bucket, key)
            return names, st

        try:
            names, st = self._guard("reading a recording's details", _stat)
        except FileNotFoundError:
            raise StorageError(f"no recording at key {key!r} in bucket {self.bucket}") from None
        # the siblings' etags too: the call's version covers its sidecar's, as in list_recordings
        entries = [n for n in names if n[0] != key] + [(key, (st.etag or "").strip('"'), st.size or 0)]
        return next(r for r in _pair_recordings(entries, self.prefix, self.opaque_ids) if r.key == key)

    def download(self, ref: RecordingRef, dest_dir: Path) -> Path:
        dest = dest_dir / ("recording" + PurePosixPath(ref.key).suffix)
        self._guard("downloading a recording", self.client.fget_object, self.bucket, ref.key, str(dest))
        return dest

    def read(self, key: str) -> bytes | None:
        client, bucket = self._where(key)

        def _read():
            resp = client.get_object(bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        try:
            return self._guard("reading an object", _read)
        except FileNotFoundError:
            return None

    def size(self, key: str) -> int | None:
        """Size in bytes of the object at `key`; None when there is none."""
        client, bucket = self._where(key)
        try:
            return self._guard("reading an object's size", client.stat_object, bucket, key).size
        except FileNotFoundError:
            return None

    def read_range(self, key: str, start: int, length: int, chunk: int = 256 * 1024):
        """The bytes [start, start + length) of `key`, streamed in chunks (a ranged GET)."""
        client, bucket = self._where(key)
        resp = self._guard("reading an object", client.get_object, bucket, key, offset=start, length=length)
        try:
            yield from resp.stream(chunk)
        finally:
            resp.close()
            resp.release_conn()

    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        client, bucket = self._where(key)
        self._guard("writing a result", client.put_object, bucket, key, io.BytesIO(data),
                    len(data), content_type=content_type)


def _local_disk_full(what: str) -> DiskFullError:
    """The worker's own disk (its temporary folder) is full: the object store is fine, the call is retried."""
    return DiskFullError(f"{what}: no space left on the worker's temporary disk; free space (or point TMPDIR "
                         "elsewhere) and run again (the call is retried)")


class LocalFolderSource:
    """Recordings in a folder; results are written under the same root, like the S3 layout."""

    def __init__(self, root: Path, prefix: str = "", *, opaque_ids: bool = False):
        self.root, self.prefix, self.opaque_ids = Path(root), prefix, opaque_ids

    def describe(self) -> str:
        return f"file://{self.root}/{self.prefix}"

    def _entries(self) -> list[tuple[str, str, int]]:
        base = self.root / self.prefix
        if not base.is_dir():
            raise StorageError(f"recordings folder {base} does not exist")
        entries = []
        for f in base.rglob("*"):
            if f.is_file():
                st = f.stat()
                entries.append((f.relative_to(self.root).as_posix(), f"{st.st_size}-{st.st_mtime_ns}",
                                st.st_size))
        return entries

    def list_recordings(self) -> list[RecordingRef]:
        return _pair_recordings(self._entries(), self.prefix, self.opaque_ids)

    def refs_under(self, folder: str) -> list[RecordingRef]:
        return [r for r in self.list_recordings() if r.key.startswith(folder)]

    def inventory(self) -> Inventory:
        entries = self._entries()  # one listing for both
        return Inventory(_pair_recordings(entries, self.prefix, self.opaque_ids), _orphan_sidecars(entries))

    def ref_for(self, key: str) -> RecordingRef:
        found = [r for r in self.list_recordings() if r.key == key]
        if not found:
            raise StorageError(f"no recording {key!r} under {self.root}")
        return found[0]

    def download(self, ref: RecordingRef, dest_dir: Path) -> Path:
        dest = dest_dir / ("recording" + PurePosixPath(ref.key).suffix)
        try:
            shutil.copyfile(self.root / ref.key, dest)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise _local_disk_full("copying a recording") from e
            raise StorageError(f"copying a recording: {type(e).__name__}") from e
        return dest

    def _inside(self, key: str) -> Path:
        path = self.root / key
        if unsafe_key(key) or not path.resolve().is_relative_to(self.root.resolve()):
            raise UnsafeKeyError("an object key would reach outside the results folder; rename the object")
        return path

    def read(self, key: str) -> bytes | None:
        path = self._inside(key)
        return path.read_bytes() if path.is_file() else None

    def size(self, key: str) -> int | None:
        path = self._inside(key)
        return path.stat().st_size if path.is_file() else None

    def read_range(self, key: str, start: int, length: int, chunk: int = 256 * 1024):
        with open(self._inside(key), "rb") as f:
            f.seek(start)
            left = length
            while left > 0 and (block := f.read(min(chunk, left))):
                left -= len(block)
                yield block

    def write(self, key: str, data: bytes, content_type: str = "application/json") -> None:
        path = self._inside(key)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # results: the service user only
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            tmp.replace(path)
        except OSError as e:
            tmp.unlink(missing_ok=True)  # never leave a half-written result behind
            if e.errno == errno.ENOSPC:
                raise DiskFullError(f"no space left to write results under {self.root} ({key.split('/')[0]}/...); "
                                    "free space and run again (the call is retried)") from None
            raise
