"""Run configuration: one validated object passed to flows (secrets as SecretStr, hidden in Prefect's UI)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_serializer, model_validator

from core.errors import ConfigError
from infra.audio import AudioLimits
from pipeline.conversation import ConversationOptions
from transcribe.base import TranscribeOptions


def offline_defaults(prefect_home: Path | None = None) -> None:
    """Privacy and offline defaults; must run before prefect is imported. Explicit env settings win."""
    defaults = {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # Prefect telemetry off
        "DO_NOT_TRACK": "1",
        "HF_HUB_OFFLINE": "1",  # never reach for a model hub
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "PYANNOTE_METRICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    }
    if prefect_home is not None:
        defaults["PREFECT_HOME"] = str(prefect_home)
    for k, v in defaults.items():
        os.environ.setdefault(k, v)


class S3Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: str  # host:port
    access_key: str
    secret_key: SecretStr
    bucket: str
    prefix: str = "recordings/"
    secure: bool = False
    region: str | None = None


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    s3: S3Settings | None = None
    local_root: Path | None = None  # a folder source instead of S3
    local_prefix: str = ""
    database_url: str = "sqlite:///callqa.db"
    backend: Literal["faster-whisper", "openai-whisper"] = "faster-whisper"
    model: str = "base"  # packaged model name, CTranslate2 dir or openai-whisper checkpoint
    device: str | None = None  # None: cuda when present, else cpu
    language: Literal["en", "zh"] | None = None  # force for every call; None = metadata, else detect
    chinese_script: Literal["zh-Hans", "zh-Hant"] = "zh-Hans"
    split_stereo: bool = True  # stereo = one party per channel (telephony); False = mix down
    diarization: Literal["pyannote", "none"] = "pyannote"  # for mono calls
    diarization_pipeline: str | None = None  # your pyannote config.yaml / checkpoint dir; None = packaged
    num_speakers: int | None = Field(2, ge=1)  # None = estimate (between min and max)
    min_speakers: int | None = Field(None, ge=1)
    max_speakers: int | None = Field(None, ge=1)
    scoring: bool = True  # score calls against the evaluation forms
    forms_dir: Path | None = None  # your forms; None = the shipped examples (scoring/forms/)
    compliance: bool = True  # privacy/reputation alerts and redacted copies
    policy_file: Path | None = None  # your compliance policy; None = compliance/policies/default.yaml
    redact_audio: bool = True
    reports: bool = True  # rebuild the reports (reports/ in the object store) after each batch
    reports_dir: Path | None = None  # also write them to this local folder; None = object store only
    lease_minutes: float = Field(10.0, gt=0)  # a killed worker's call is picked up after this (heartbeat: 1/3)
    opaque_call_ids: bool = False  # call ids hash the object key: file names never reach ids, logs, task names
    beam_size: int = Field(5, ge=1, le=10)
    chunk_seconds: float = Field(300.0, ge=30)
    concurrency: int = Field(2, ge=1, le=64)
    max_seconds: float = Field(4 * 3600.0, gt=0)
    max_bytes: int = Field(2 * 1024**3, gt=0)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.s3 is None) == (self.local_root is None):
            raise ValueError("configure exactly one source: s3 settings or local_root")
        return self

    def transcribe_options(self) -> TranscribeOptions:
        return TranscribeOptions(language=self.language, chinese_script=self.chinese_script,
                                 beam_size=self.beam_size, chunk_seconds=self.chunk_seconds)

    def conversation_options(self) -> ConversationOptions:
        return ConversationOptions(split_stereo=self.split_stereo, num_speakers=self.num_speakers,
                                   min_speakers=self.min_speakers, max_speakers=self.max_speakers)

    def audio_limits(self) -> AudioLimits:
        return AudioLimits(max_bytes=self.max_bytes, max_seconds=self.max_seconds)

    def open_source(self):
        from infra.storage import LocalFolderSource, S3Source

        if self.s3 is not None:
            s = self.s3
            return S3Source.connect(s.endpoint, s.access_key, s.secret_key.get_secret_value(), s.bucket,
                                    prefix=s.prefix, secure=s.secure, region=s.region,
                                    opaque_ids=self.opaque_call_ids)
        return LocalFolderSource(self.local_root, self.local_prefix, opaque_ids=self.opaque_call_ids)

    @field_serializer("database_url", when_used="json")
    def _hide_db_password(self, url: str) -> str:
        """Prefect stores a flow's parameters (this config) as JSON and shows them in its UI: never the
        database password. In process the flow gets the object itself, password included."""
        return hide_password(url)

    def shown(self) -> dict:
        """The effective settings as `callqa config show` prints them: no secret, no password in the DB URL."""
        d = self.model_dump(mode="json")
        if d.get("s3"):
            d["s3"]["access_key"] = "***" if d["s3"].get("access_key") else None
        return d

    @classmethod
    def from_env(cls, *, file: str | Path | None = None, **overrides) -> "PipelineConfig":
        """Settings in order of precedence: defaults < settings file (`file`, else $CALLQA_CONFIG) <
        environment (CALLQA_*) < `overrides` (command-line options)."""
        path = file or os.environ.get("CALLQA_CONFIG")
        from_file = read_settings_file(path) if path else {}
        return cls._from_env({**from_file, **overrides}, file_keys=set(from_file), where=str(path or ""))

    @classmethod
    def _from_env(cls, overrides: dict, file_keys: set, where: str) -> "PipelineConfig":
        """CALLQA_S3_ENDPOINT/ACCESS_KEY/SECRET_KEY/BUCKET/PREFIX, CALLQA_DB_URL, CALLQA_BACKEND, ..."""
        env = os.environ
        values: dict = {}
        if env.get("CALLQA_S3_ENDPOINT"):
            access_key, secret_key = s3_keys("CALLQA_S3_ENDPOINT is set")
            values["s3"] = S3Settings(endpoint=env["CALLQA_S3_ENDPOINT"], access_key=access_key, secret_key=secret_key,
                                      bucket=env.get("CALLQA_S3_BUCKET", "calls"),
                                      prefix=env.get("CALLQA_S3_PREFIX", "recordings/"),
                                      secure=env.get("CALLQA_S3_SECURE", "0") == "1")
        for key, field in (("CALLQA_DB_URL", "database_url"), ("CALLQA_BACKEND", "backend"),
                           ("CALLQA_MODEL", "model"), ("CALLQA_DEVICE", "device"),
                           ("CALLQA_LANGUAGE", "language"), ("CALLQA_CONCURRENCY", "concurrency"),
                           ("CALLQA_DIARIZATION", "diarization"),
                           ("CALLQA_DIARIZATION_PIPELINE", "diarization_pipeline"),
                           ("CALLQA_REPORTS_DIR", "reports_dir"), ("CALLQA_LEASE_MINUTES", "lease_minutes"),
                           ("CALLQA_OPAQUE_CALL_IDS", "opaque_call_ids")):
            if env.get(key):
                values[field] = env[key]
        # the file sits below the environment: an environment value replaces a file value
        merged = {**{k: v for k, v in overrides.items() if k in file_keys}, **values,
                  **{k: v for k, v in overrides.items() if k not in file_keys}}
        try:
            return cls(**merged)
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'settings'}: "
                                 f"{err['msg'].removeprefix('Value error, ')}"
                                 + (f" (from {where})" if err["loc"] and err["loc"][0] in file_keys else "")
                                 for err in e.errors())
            raise ConfigError(f"invalid settings: {problems}") from None


SETTINGS_EXAMPLE = """\
database_url: postgresql+psycopg://callqa@db.internal/callqa
concurrency: 2
s3: {endpoint: "minio.internal:9000", access_key: "...", secret_key: "...", bucket: calls}
reports_dir: /srv/callqa/reports"""


def read_settings_file(path: str | Path) -> dict:
    """A YAML settings file: every key a PipelineConfig field, checked here with file, line and the closest
    valid key (E401); values are validated with the rest of the settings."""
    from core.yamlspec import did_you_mean, read_mapping, read_text, source_lines

    text, where = read_text(path, ConfigError, "settings file")
    node, data = read_mapping(text, where, ConfigError, "settings file", SETTINGS_EXAMPLE)
    lines = source_lines(node)
    for key in data:
        if key not in PipelineConfig.model_fields:
            hint = did_you_mean(key, PipelineConfig.model_fields)
            raise ConfigError(f"{where}:{lines.get((key,), 1)}: unknown setting '{key}'; {hint}valid settings: "
                              f"{', '.join(PipelineConfig.model_fields)}\n  e.g.\n{SETTINGS_EXAMPLE}")
    return data


def s3_keys(why: str) -> tuple[str, str]:
    """(access key, secret key) from CALLQA_S3_ACCESS_KEY / CALLQA_S3_SECRET_KEY; E401 naming what is missing."""
    missing = [k for k in ("CALLQA_S3_ACCESS_KEY", "CALLQA_S3_SECRET_KEY") if not os.environ.get(k)]
    if missing:
        raise ConfigError(f"{why}: export {' and '.join(missing)}")
    return os.environ["CALLQA_S3_ACCESS_KEY"], os.environ["CALLQA_S3_SECRET_KEY"]


def hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL hidden)"


def database_url(cli_value: str | None = None) -> str:
    """--db, else CALLQA_DB_URL, else the default SQLite file."""
    return cli_value or os.environ.get("CALLQA_DB_URL") or PipelineConfig.model_fields["database_url"].default


def open_results_db(url: str):
    """The results database at `url` for commands that read or amend it: a SQLite file that does not exist
    is a coded error (a mistyped path must never become a new, empty database)."""
    from sqlalchemy.engine import make_url

    from infra.store import ResultsStore

    try:
        parsed = make_url(url)
    except Exception:
        raise ConfigError("the results database URL is not a valid SQLAlchemy URL, e.g. sqlite:///callqa.db or "
                          "postgresql+psycopg://user@host/callqa") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).is_file():
        raise ConfigError(f"no results database at {parsed.database!r}; give the right --db or CALLQA_DB_URL "
                          "(the pipeline creates it on its first run)")
    return ResultsStore(url)
