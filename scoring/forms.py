"""QA evaluation forms: YAML files validated strictly, so a typo fails loudly with file, line and a fix.

A form has sections, a section has questions; each question carries a weight, and the question weights of
a form sum to 100. A section's `weight` may be left out; when given it must equal the sum of its
questions' weights. Each question's `rule` (and optional `na_when`) is a rule tree, see scoring.rules.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import FormError
from core.yamlspec import line_of, read_mapping, read_text, source_lines, unknown_key_message
from scoring.rules import Rule, RuleSpecError, build_rule

FORM_EXAMPLE = """\
id: inbound_service_en
version: "1.0"
languages: [en]
title: Inbound service
sections:
  - id: opening
    title: Opening
    questions: [...]"""
SECTION_EXAMPLE = """\
  - id: opening
    title: Opening
    weight: 10          # optional; must equal the sum of its question weights
    questions:
      - id: greeting
        ..."""
QUESTION_EXAMPLE = """\
      - id: greeting
        text: Agent greets and gives their name in the first 20 s
        weight: 10
        rule: {role: agent, rule: {within_first: 20, rule: {phrases: ["my name is"]}}}
        auto_fail: false
        critical: false
        na_when: {not: {phrases: ["complaint"]}}   # optional"""

Text = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Question(_Strict):
    id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    weight: float = Field(ge=0)
    rule: Rule
    auto_fail: bool = False
    critical: bool = False
    na_when: Rule | None = None
    rule_version: Text = "1"
    # what a reviewer reads for a fail / N/A answer, instead of the words made from the rule (scoring.wording)
    explain: str | None = Field(default=None, min_length=1, max_length=200)
    explain_na: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("rule", "na_when", mode="before")
    @classmethod
    def _rule(cls, v: Any, info) -> Rule | None:
        if v is None and info.field_name == "na_when":
            return None
        suffix = ".na_when" if info.field_name == "na_when" else ""
        return build_rule(v, str(info.data.get("id", "rule")) + suffix)


class Section(_Strict):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    weight: float | None = Field(default=None, ge=0)
    questions: tuple[Question, ...] = Field(min_length=1)

    @property
    def total_weight(self) -> float:
        return sum(q.weight for q in self.questions)

    @model_validator(mode="after")
    def _weight(self) -> "Section":
        if self.weight is not None and abs(self.weight - self.total_weight) > 1e-6:
            raise ValueError(f"section weight {self.weight:g} differs from the sum of its question weights "
                             f"{self.total_weight:g}; drop 'weight' or make them agree")
        return self


class Form(_Strict):
    id: str = Field(min_length=1)
    version: Text
    languages: tuple[str, ...] = Field(min_length=1)
    title: str = ""
    sections: tuple[Section, ...] = Field(min_length=1)

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    @model_validator(mode="before")
    @classmethod
    def _language_alias(cls, data: Any) -> Any:
        """`language: zh` is accepted as a one-language `languages: [zh]`."""
        if isinstance(data, dict) and "language" in data:
            if "languages" in data:
                raise ValueError("give either 'language' or 'languages', not both")
            data = {k: v for k, v in data.items() if k != "language"} | {"languages": [data["language"]]}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Form":
        for kind, ids in (("section", [s.id for s in self.sections]), ("question", [q.id for q in self.questions])):
            if dups := sorted({i for i in ids if ids.count(i) > 1}):
                raise ValueError(f"duplicate {kind} id(s): {', '.join(dups)}")
        got = sum(q.weight for q in self.questions)
        if abs(got - 100) > 1e-6:
            detail = ", ".join(f"{s.id}={s.total_weight:g}" for s in self.sections)
            raise ValueError(f"question weights must sum to 100, but they sum to {got:g} ({detail})")
        return self


# ---- loading with line numbers ----

def _example_for(loc: tuple) -> str:
    if "rule" in loc or "na_when" in loc:
        return QUESTION_EXAMPLE
    if "questions" in loc:
        return QUESTION_EXAMPLE
    if "sections" in loc:
        return SECTION_EXAMPLE
    return FORM_EXAMPLE


_MODELS = {"questions": Question, "sections": Section}


def _fields_at(loc: tuple) -> list[str]:
    """Valid keys of the model that holds the last element of `loc`."""
    model: type[BaseModel] = Form
    for part in loc[:-1]:
        if isinstance(part, str) and part in _MODELS:
            model = _MODELS[part]
    return list(model.model_fields)


def _describe(err: dict, lines: dict[tuple, int], where: str) -> str:
    loc = tuple(err["loc"])
    cause = (err.get("ctx") or {}).get("error")
    dotted = ".".join(map(str, loc)) or "<form>"
    if isinstance(cause, RuleSpecError):
        full = loc + cause.path
        return (f"{where}:{line_of(lines, full)}: {'.'.join(map(str, full))}: {cause.message}\n"
                f"  e.g. {cause.example}")
    if err["type"] == "extra_forbidden":
        return unknown_key_message(where, line_of(lines, loc), loc, _fields_at(loc), _example_for(loc))
    msg = err["msg"].removeprefix("Value error, ")
    line = line_of(lines, loc or ("sections",))  # form-wide checks (weights, ids) point at `sections:`
    return f"{where}:{line}: {dotted}: {msg}\n  e.g.\n{_example_for(loc)}"


def parse_form(text: str, where: str = "<form>") -> Form:
    node, data = read_mapping(text, where, FormError, "form", FORM_EXAMPLE)
    try:
        return Form.model_validate(data)
    except ValidationError as e:
        lines, errs = source_lines(node), e.errors()
        # pydantic adds "too short" on a list whose items failed: noise next to the items' own errors
        errs = [x for x in errs if not (x["type"] == "too_short" and any(
            len(y["loc"]) > len(x["loc"]) and tuple(y["loc"][:len(x["loc"])]) == tuple(x["loc"]) for y in errs))]
        problems = "\n".join(_describe(err, lines, where) for err in errs)
        raise FormError(f"invalid QA form ({len(errs)} problem(s)):\n{problems}") from None


def load_form(path: str | Path) -> Form:
    return parse_form(*read_text(path, FormError, "form"))


def shipped_forms_dir() -> Path:
    return Path(__file__).with_name("forms")
