"""The scoring stage as the pipeline runs it: pick the evaluation form for a call, score the transcript
against it, and summarise sentiment. Forms are loaded (and validated) once, when the reviewer is built,
so a malformed form stops a batch before any call is touched."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from core.errors import ConfigError
from core.languages import LanguageRegistry, languages_or_default
from core.metrics import ConversationMetrics
from core.models import TENANT_PATTERN, Call, Transcript
from scoring.forms import Form, load_form, shipped_forms_dir
from scoring.scorecard import Scorecard, score_call
from scoring.sentiment import LexiconSentiment, SentimentModel, SentimentSummary, sentiment_summary
from scoring.similarity import SimilarityModel

@dataclass(frozen=True)
class CallReview:
    """What QA reviewers get per call: the scorecard, the sentiment summary and the conversation KPIs."""
    scorecard: Scorecard
    sentiment: SentimentSummary
    kpis: ConversationMetrics

    def to_dict(self) -> dict[str, Any]:
        return {**self.scorecard.to_dict(), "sentiment": asdict(self.sentiment), "kpis": self.kpis.to_dict()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


class Reviewer:
    """`form_map`: "<direction>:<language>" -> form id ("*" matches any direction); None takes the language
    profiles' `forms` (core/languages/*.yaml: inbound_service_en, outbound_sales_zh, ...). A client company's
    own version of a form lives in `<forms_dir>/tenants/<tenant>/<file>.yaml` with the same id: its calls are
    scored on it, every other tenant's on the shared one (a tenant form never serves another tenant)."""

    def __init__(self, forms_dir: str | Path | None = None, form_map: Mapping[str, str] | None = None, *,
                 similarity: SimilarityModel | None = None, sentiment: SentimentModel | None = None,
                 languages: LanguageRegistry | None = None):
        folder = Path(forms_dir) if forms_dir else shipped_forms_dir()
        self.forms: dict[str, Form] = {}
        for path in sorted(folder.glob("*.yaml")):
            form = load_form(path)  # FormError names file, line and a corrected example
            self.forms[form.id] = form
        self.tenant_forms: dict[str, dict[str, Form]] = {}
        for tenant_dir in sorted(p for p in (folder / "tenants").glob("*") if p.is_dir()):
            if not re.match(TENANT_PATTERN, tenant_dir.name):
                raise ConfigError(f"{tenant_dir}: a tenant folder is named by the tenant id (lower-case letters, "
                                  "digits, - and _), e.g. forms/tenants/acme/")
            for path in sorted(tenant_dir.glob("*.yaml")):
                form = load_form(path)
                if form.id not in self.forms:
                    raise ConfigError(f"{path}: tenant form '{form.id}' replaces no shared form (shared: "
                                      f"{', '.join(sorted(self.forms))}); give it the id of the form it replaces")
                self.tenant_forms.setdefault(tenant_dir.name, {})[form.id] = form
        self.form_map = dict(form_map or languages_or_default(languages).form_map())
        if missing := sorted(set(self.form_map.values()) - set(self.forms)):
            raise ConfigError(f"form map names forms {missing} that are not in {folder} "
                              f"(found {sorted(self.forms)})")
        self.similarity = similarity
        self.sentiment = sentiment or LexiconSentiment()

    def form_for(self, call: Call, transcript: Transcript) -> Form | None:
        lang = transcript.language
        form_id = self.form_map.get(f"{call.direction}:{lang}") or self.form_map.get(f"*:{lang}")
        if not form_id:
            return None
        return self.tenant_forms.get(call.tenant, {}).get(form_id) or self.forms.get(form_id)

    def review(self, call: Call, transcript: Transcript, kpis: ConversationMetrics, *,
               sentiment: SentimentSummary | None = None) -> CallReview | None:
        """The call's scorecard; `sentiment` when the caller has already summarised it (computed once)."""
        form = self.form_for(call, transcript)
        if form is None:
            return None
        return CallReview(scorecard=score_call(form, transcript, kpis, similarity=self.similarity),
                          sentiment=sentiment or sentiment_summary(transcript, self.sentiment), kpis=kpis)
