"""Run configuration: one validated object passed to flows (secrets as SecretStr, hidden in Prefect's UI)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import (BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_serializer,
                      field_validator, model_validator)

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


class S3AreaSettings(BaseModel):
    """A bucket of its own, and optionally credentials of their own, for one kind of material."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    bucket: str
    access_key: str | None = None  # None: the main credentials
    secret_key: SecretStr | None = None

    @model_validator(mode="after")
    def _both_keys(self):
        if (self.access_key is None) != (self.secret_key is None):
            raise ValueError(f"bucket {self.bucket}: give both access_key and secret_key, or neither")
        return self


class S3Settings(BaseModel):
    """The main bucket and credentials hold the inputs (recordings, sidecars, imported transcripts); the
    pipeline's unredacted transcripts and its redacted results go there too unless `unredacted` / `redacted`
    name buckets (and credentials) of their own (see README, "Security model")."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: str  # host:port
    access_key: str
    secret_key: SecretStr
    bucket: str
    prefix: str = "recordings/"
    secure: bool = False
    region: str | None = None
    unredacted: S3AreaSettings | None = None  # transcripts/
    redacted: S3AreaSettings | None = None  # redacted/, scorecards/, metrics/, quarantine/, reports/

    def areas(self) -> dict:
        from infra.storage import S3Area

        return {kind: S3Area(a.bucket, a.access_key, a.secret_key.get_secret_value() if a.secret_key else None)
                for kind, a in (("unredacted", self.unredacted), ("redacted", self.redacted)) if a is not None}


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    s3: S3Settings | None = None
    local_root: Path | None = None  # a folder source instead of S3
    local_prefix: str = ""
    database_url: str = "sqlite:///callqa.db"
    # a transcribe.registry.BACKENDS name: built-in, or a plug-in's entry point (checked even when defaulted, so a
    # broken plug-in fails at start, not inside a call)
    backend: str = Field("faster-whisper", validate_default=True)
    model: str = "base"  # packaged model name, CTranslate2 dir or openai-whisper checkpoint
    device: str | None = None  # None: cuda when present, else cpu
    languages_dir: Path | None = None  # your language profiles (*.yaml, see core/languages.py) beside en, zh
    language: str | None = None  # force for every call (a profile's code or alias); None = metadata, else detect
    chinese_script: Literal["zh-Hans", "zh-Hant"] = "zh-Hans"  # the zh profile's conversion target

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
    tenant_policies_dir: Path | None = None  # <tenant>.yaml: a client company's own policy for its calls
    redact_audio: bool = True
    reports: bool = True  # rebuild the reports (reports/ in the object store) after each batch
    reports_dir: Path | None = None  # also write them to this local folder; None = object store only
    lease_minutes: float = Field(10.0, gt=0)  # a killed worker's call is picked up after this (heartbeat: 1/3)
    opaque_call_ids: bool = False  # call ids hash the object key: file names never reach ids, logs, task names
    beam_size: int = Field(5, ge=1, le=10)
    asr_batch_size: int = Field(1, ge=1, le=64)  # >1: batched decoding of each chunk's speech (faster-whisper)
    # decodes one loaded model runs at once: both channels of a stereo call side by side, calls in flight
    # (faster-whisper's num_workers); 1 = one after another
    asr_parallel: int = Field(2, ge=1, le=16)
    concurrent_diarization: bool = True  # mono: diarize while transcribing, not after
    chunk_seconds: float = Field(300.0, ge=30)
    concurrency: int = Field(2, ge=1, le=64)
    max_seconds: float = Field(4 * 3600.0, gt=0)
    max_bytes: int = Field(2 * 1024**3, gt=0)

    @field_validator("languages_dir")
    @classmethod
    def _profiles(cls, v: Path | None) -> Path | None:
        from core.errors import LanguageProfileError
        from core.languages import load_languages

        try:
            load_languages(v)  # a malformed profile (E135: file, line, fix) stops the run before any call
        except LanguageProfileError as e:
            raise ValueError(e.message) from None
        return v

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str | None, info: ValidationInfo) -> str | None:
        from core.languages import load_languages

        if v is None:
            return v
        languages = load_languages(info.data.get("languages_dir"))
        if (code := languages.resolve(v)) is None:
            raise ValueError(f"unknown language {v!r}; languages with a profile: {', '.join(languages.codes)} "
                             "(add one with a profile file in languages_dir)")
        return code

    def languages(self):
        """The language profiles of these settings (core.languages.LanguageRegistry), read once per folder."""
        from core.languages import load_languages

        return load_languages(self.languages_dir)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, v: str) -> str:
        from transcribe.registry import BACKENDS

        if v not in BACKENDS:
            raise ValueError(BACKENDS.unknown(v).message)
        return v

    @model_validator(mode="after")
    def _one_source(self):
        if (self.s3 is None) == (self.local_root is None):
            raise ValueError("configure exactly one source: s3 settings or local_root")
        return self

    def transcribe_options(self) -> TranscribeOptions:
        return TranscribeOptions(language=self.language, chinese_script=self.chinese_script,
                                 beam_size=self.beam_size, chunk_seconds=self.chunk_seconds,
                                 languages=self.languages())

    def conversation_options(self) -> ConversationOptions:
        return ConversationOptions(split_stereo=self.split_stereo, num_speakers=self.num_speakers,
                                   min_speakers=self.min_speakers, max_speakers=self.max_speakers,
                                   concurrent_diarization=self.concurrent_diarization)

    def audio_limits(self) -> AudioLimits:
        return AudioLimits(max_bytes=self.max_bytes, max_seconds=self.max_seconds)

    def open_source(self):
        from infra.storage import LocalFolderSource, S3Source

        if self.s3 is not None:
            s = self.s3
            return S3Source.connect(s.endpoint, s.access_key, s.secret_key.get_secret_value(), s.bucket,
                                    prefix=s.prefix, secure=s.secure, region=s.region,
                                    opaque_ids=self.opaque_call_ids, areas=s.areas())
        return LocalFolderSource(self.local_root, self.local_prefix, opaque_ids=self.opaque_call_ids)

    @field_serializer("database_url", when_used="json")
    def _hide_db_password(self, url: str) -> str:
        """Prefect stores a flow's parameters (this config) as JSON and shows them in its UI: never the
        database password. In process the flow gets the object itself, password included."""
        return hide_password(url)

    def shown(self) -> dict:
        """The effective settings as `callqa config show` prints them: no secret, no password in the DB URL."""
        d = self.model_dump(mode="json")
        for where in (d.get("s3"), *((d.get("s3") or {}).get(k) for k in ("unredacted", "redacted"))):
            if where and where.get("access_key"):
                where["access_key"] = "***"
        return d

    @classmethod
    def from_env(cls, *, file: str | Path | None = None, **overrides) -> "PipelineConfig":
        """Settings in order of precedence: defaults < settings file (`file`, else $CALLQA_CONFIG) <
        environment (CALLQA_*) < `overrides` (command-line options)."""
        path = file or os.environ.get("CALLQA_CONFIG")
        from_file = read_settings_file(path) if path else {}
        cfg = cls._from_env({**from_file, **overrides}, file_keys=set(from_file), where=str(path or ""))
        if cfg.languages_dir is not None:  # stages not handed the profiles (sidecars, imports) read the same folder
            from core.languages import LANGUAGES_ENV

            os.environ[LANGUAGES_ENV] = str(cfg.languages_dir)
        return cfg

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
                                      secure=env.get("CALLQA_S3_SECURE", "0") == "1",
                                      unredacted=s3_area("UNREDACTED"), redacted=s3_area("REDACTED"))
        for key, field in (("CALLQA_DB_URL", "database_url"), ("CALLQA_BACKEND", "backend"),
                           ("CALLQA_MODEL", "model"), ("CALLQA_DEVICE", "device"),
                           ("CALLQA_LANGUAGE", "language"), ("CALLQA_CONCURRENCY", "concurrency"),
                           ("CALLQA_LANGUAGES_DIR", "languages_dir"),
                           ("CALLQA_DIARIZATION", "diarization"),
                           ("CALLQA_DIARIZATION_PIPELINE", "diarization_pipeline"),
                           ("CALLQA_REPORTS_DIR", "reports_dir"), ("CALLQA_LEASE_MINUTES", "lease_minutes"),
                           ("CALLQA_OPAQUE_CALL_IDS", "opaque_call_ids"),
                           ("CALLQA_TENANT_POLICIES_DIR", "tenant_policies_dir"),
                           ("CALLQA_ASR_BATCH_SIZE", "asr_batch_size"), ("CALLQA_BEAM_SIZE", "beam_size"),
                           ("CALLQA_ASR_PARALLEL", "asr_parallel")):
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


def s3_area(kind: str) -> "S3AreaSettings | None":
    """CALLQA_S3_<KIND>_BUCKET (+ optional _ACCESS_KEY / _SECRET_KEY): a bucket of its own for one kind of
    material; None when the bucket is not set. Keys without a bucket are E401, never silently ignored."""
    env = os.environ
    bucket, access, secret = (env.get(f"CALLQA_S3_{kind}_{part}") for part in ("BUCKET", "ACCESS_KEY", "SECRET_KEY"))
    if not bucket:
        if access or secret:
            raise ConfigError(f"CALLQA_S3_{kind}_ACCESS_KEY/SECRET_KEY are set but CALLQA_S3_{kind}_BUCKET is not: "
                              f"export CALLQA_S3_{kind}_BUCKET=<the bucket these credentials own>")
        return None
    try:
        return S3AreaSettings(bucket=bucket, access_key=access or None, secret_key=secret or None)
    except ValidationError as e:
        raise ConfigError(f"CALLQA_S3_{kind}_*: {e.errors()[0]['msg'].removeprefix('Value error, ')}") from None


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
