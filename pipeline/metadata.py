"""Metadata sidecar (`<recording stem>.json`): validated strictly so a typo is reported, not ignored."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from core.errors import MetadataError
from core.languages import LanguageRegistry, languages_or_default
from core.models import TENANT_PATTERN, Call
from infra.storage import RecordingRef

EXAMPLE = ('{"agent": "a-1042", "queue": "billing", "direction": "inbound", '
           '"started_at": "2026-11-27T09:30:00+08:00", "language": "zh"}')


class CallMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agent: str | None = None
    queue: str | None = None
    direction: Literal["inbound", "outbound", "internal", "unknown"] = "unknown"
    started_at: datetime | None = None
    language: str | None = None
    tenant: str = Field("default", pattern=TENANT_PATTERN)  # the client company (outsourced centres serve several)
    attributes: dict[str, Any] = {}  # anything else the telephony system exports

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A language profile's code, alias or regional tag (zh-CN, cmn), as that profile's code."""
        if v is None:
            return v
        languages = languages_or_default((info.context or {}).get("languages"))
        code = languages.resolve(v)
        if code is None:
            raise ValueError(f"language must be one of {languages.codes} (a language profile's code or alias) "
                             "or null (detect)")
        return code


def parse_sidecar(raw: bytes, *, languages: LanguageRegistry | None = None) -> CallMetadata:
    """The sidecar's fields; `language` is checked against `languages` (default: the configured profiles)."""
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MetadataError(f"sidecar is not valid UTF-8 JSON ({e.__class__.__name__}: line "
                            f"{getattr(e, 'lineno', '?')}); expected e.g. {EXAMPLE}") from None
    if not isinstance(data, dict):
        raise MetadataError(f"sidecar must be a JSON object; expected e.g. {EXAMPLE}")
    try:
        return CallMetadata.model_validate(data, context={"languages": languages})
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '<root>'}: {err['msg']}" for err in e.errors())
        raise MetadataError(f"sidecar fields invalid: {problems}; expected e.g. {EXAMPLE} "
                            "(put other fields under \"attributes\")") from None


def build_call(ref: RecordingRef, meta: CallMetadata | None) -> Call:
    meta = meta or CallMetadata()
    return Call(id=ref.call_id, object_key=ref.key, etag=ref.etag, agent=meta.agent, queue=meta.queue,
                direction=meta.direction, started_at=meta.started_at, language=meta.language,
                size_bytes=ref.size, tenant=meta.tenant, attributes=dict(meta.attributes))
