"""Semantic detection beside phrases: named sets of example utterances, matched with the sentence-embedding
model, used by rules as ``{examples: NAME}``.

Each YAML file in scoring/examples/ holds one set::

    id: media_threat
    version: "1"
    description: A customer threatening to go public
    role: customer          # who says such things (agent | customer | any): documentation for reviewers
    threshold: 0.91         # calibrated on the dev half of bench/judgement (bench/calibrate_examples.py)
    positive: ["I'm going to put this all over Instagram.", "我要发到微博上让大家看看。", ...]
    unlike: ["I saw your advert on the television.", ...]   # near misses that must not count

An utterance matches when its best cosine similarity to a positive example reaches `threshold` and beats
its best similarity to the near misses (scoring.rules.Similar). Evidence names the example and the score.
The model is injected at evaluation time (EvalContext.similarity), so another judge (an LLM, another
encoder) can replace it without touching forms: anything with `encode(texts) -> rows` will do.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from core.errors import CallQAError
from core.yamlspec import did_you_mean, load_named_files
from scoring.rules import Rule, Similar, register

EXAMPLE = """\
id: media_threat
version: "1"
description: A customer threatening to go public
role: customer
threshold: 0.91
positive: ["I'm going to put this all over Instagram.", "我要发到微博上让大家看看。"]
unlike: ["I saw your advert on the television."]"""


class ExampleSetError(CallQAError):
    """An example-set file is malformed, or a rule names a set that does not exist."""

    code = "E134"


class ExampleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    role: Literal["agent", "customer", "any"]
    threshold: float = Field(gt=0, le=1)
    positive: tuple[str, ...] = Field(min_length=1)
    unlike: tuple[str, ...] = ()


def load_example_sets(folder: str | Path) -> dict[str, ExampleSet]:
    return load_named_files(folder, ExampleSet, ExampleSetError, "example set", EXAMPLE)


def shipped_examples_dir() -> Path:
    return Path(__file__).with_name("examples")


@functools.lru_cache(maxsize=1)
def shipped_example_sets() -> dict[str, ExampleSet]:
    """The shipped sets, read once per process on first use (rules are compiled once per form/policy load)."""
    return load_example_sets(shipped_examples_dir())


@register
@dataclass(frozen=True)
class Examples(Rule):
    """`{examples: NAME}`, optionally with `threshold: T` to override the set's calibrated threshold."""
    op: ClassVar[str] = "examples"
    params: ClassVar[tuple[str, ...]] = ("threshold",)
    example: ClassVar[str] = "{examples: media_threat}"
    id: str
    name: str
    version: str
    similar: Similar

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        name, sets = str(spec["examples"]), shipped_example_sets()
        if name not in sets:
            raise cls.fail(f"unknown example set {name!r}; {did_you_mean(name, sets)}known: {', '.join(sorted(sets))}",
                           path + ("examples",))
        es = sets[name]
        threshold = spec.get("threshold", es.threshold)
        sim = Similar.parse({"similar": list(es.positive), "threshold": threshold,
                             **({"unlike": list(es.unlike)} if es.unlike else {})}, rule_id, path, build)
        return cls(rule_id, name, es.version, sim)

    def evaluate(self, ctx):
        return self.similar.evaluate(ctx)

    def describe(self):
        return f"a sentence like the '{self.name}' examples (similarity >= {self.similar.threshold:g})"
