"""Coded errors. Every failure the pipeline records carries one of these codes, so a quarantine entry
or a log line says what went wrong without quoting any call content."""
from __future__ import annotations


class CallQAError(Exception):
    """Base class. `code` is stable (documented in README), `message` is safe to log (no personal data)."""

    code = "E000"
    transient = False  # transient errors are retried; the rest quarantine the call

    def __init__(self, message: str):
        super().__init__(f"[{self.code}] {message}")
        self.message = message


class BadAudioError(CallQAError):
    """The recording itself cannot be used; retrying will not help until the object changes."""


class EmptyRecordingError(BadAudioError):
    code = "E101"


class NotAudioError(BadAudioError):
    code = "E102"


class CorruptAudioError(BadAudioError):
    code = "E103"


class SilentRecordingError(BadAudioError):
    code = "E104"


class RecordingTooLongError(BadAudioError):
    code = "E105"


class RecordingTooLargeError(BadAudioError):
    code = "E106"


class ChannelLayoutError(BadAudioError):
    """More than two channels and no sidecar mapping saying which carry the agent and the customer."""

    code = "E107"


class TranscriptFileError(BadAudioError):
    """A transcript or chat log given in place of a recording (transcribe.imported) is malformed: the
    message names the file, the line or record and shows a corrected example, never the file's text.
    Permanent like bad audio: the call is quarantined until the object changes."""

    code = "E108"


class UnsafeKeyError(CallQAError):
    """An object key with '..' segments, a leading '/', a backslash or control characters: results would be
    written outside their prefix (or folder). Permanent: the call is quarantined until the object is renamed."""

    code = "E111"


class MetadataError(CallQAError):
    """The metadata sidecar is malformed or contradicts the recording."""

    code = "E110"


class StorageError(CallQAError):
    """Object storage unreachable or misbehaving: transient, retried by the flow and by the next run."""

    code = "E201"
    transient = True


class DiskFullError(CallQAError):
    """The worker's disk (temporary folder or local results) is full: transient, the call is retried and
    nothing half-written is left behind."""

    code = "E202"
    transient = True


class ResultsDatabaseError(CallQAError):
    """The results database refused the work: read-only, locked for too long, or full. Transient: retried
    by the next run once it is fixed; the message never carries SQL parameters (they may hold call data)."""

    code = "E203"
    transient = True


class ModelError(CallQAError):
    """Model weights missing, corrupt or incompatible."""

    code = "E301"


class TranscriptionError(CallQAError):
    code = "E302"
    transient = True


class ConfigError(CallQAError):
    code = "E401"


class UnknownRecordError(CallQAError, ValueError):
    """A command names a call, question or alert the results database does not have."""

    code = "E402"


class UnexpectedError(CallQAError):
    """Anything not foreseen (a bug): recorded without its text, which may quote call content."""

    code = "E999"
    transient = True


class FormError(CallQAError):
    """A QA evaluation form (scoring/forms/*.yaml) is malformed: the message names file, line and a fix."""

    code = "E120"


class RecognizerConfigError(CallQAError):
    """A PII recognizer config (compliance/recognizers/*.yaml) is malformed: the message names file, line and a fix."""

    code = "E131"


class PluginError(CallQAError):
    """A plug-in (rule operator, PII recognizer, policy check, transcription backend) cannot be used: a name
    registered twice, an entry point that fails to load, or a name nobody registered (core.plugins)."""

    code = "E136"


class LanguageProfileError(CallQAError):
    """A language profile (core/languages/*.yaml, or one in the configured `languages_dir`) is malformed:
    the message names file, line and a fix."""

    code = "E135"
