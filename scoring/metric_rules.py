"""The `metric` rule operator: compare a conversation metric (core.metrics) with numbers.

``{metric: longest_silence_seconds, lt: 30}``; per-role metrics are named ``agent.talk_ratio``; derived
ones (hold_count, longest_hold_seconds, ...) are listed in `_DERIVED`.
"""
from __future__ import annotations

import difflib
import operator
from dataclasses import dataclass, fields
from typing import Any, Callable, ClassVar

from core.metrics import ConversationMetrics, RoleMetrics
from core.models import ROLES
from scoring.rules import Evidence, Rule, RuleResult, _number, register


_CMP: dict[str, Callable[[float, float], bool]] = {
    "lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "eq": operator.eq, "ne": operator.ne}
_SYM = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}
_DERIVED: dict[str, Callable[[ConversationMetrics], float]] = {
    "hold_count": lambda m: len(m.holds),
    "unannounced_hold_count": lambda m: sum(1 for h in m.holds if not h.announced),
    "longest_hold_seconds": lambda m: max((h.seconds for h in m.holds), default=0.0),
    "interruption_count": lambda m: len(m.interruptions),
}


def metric_names() -> tuple[str, ...]:
    numeric = ("float", "int", "float | None", "int | None", float, int)
    top = [f.name for f in fields(ConversationMetrics) if f.type in numeric]
    per_role = [f"{r}.{f.name}" for r in ROLES for f in fields(RoleMetrics) if f.type in numeric]
    return tuple(top + per_role + list(_DERIVED))


def metric_value(m: ConversationMetrics, name: str) -> float | None:
    if name in _DERIVED:
        return _DERIVED[name](m)
    obj: Any = m
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@register
@dataclass(frozen=True)
class Metric(Rule):
    """`{metric: longest_silence_seconds, lt: 30}`; several comparisons must all hold. A None value fails."""
    op: ClassVar[str] = "metric"
    params: ClassVar[tuple[str, ...]] = tuple(_CMP)
    example: ClassVar[str] = "{metric: longest_silence_seconds, lt: 30}"
    id: str
    name: str
    comparisons: tuple[tuple[str, float], ...]

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        name, names = spec["metric"], metric_names()
        if name not in names:
            close = difflib.get_close_matches(str(name), names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise cls.fail(f"unknown metric {name!r} (known: {', '.join(names)}){hint}", path + ("metric",))
        comps = tuple((k, _number(cls, spec[k], path + (k,), positive=False)) for k in _CMP if k in spec)
        if not comps:
            raise cls.fail(f"needs a comparison, one of {', '.join(_CMP)}", path)
        return cls(rule_id, name, comps)

    def describe(self):
        return f"{self.name} " + " and ".join(f"{_SYM[k]} {x:g}" for k, x in self.comparisons)

    def evaluate(self, ctx):
        if ctx.metrics is None:
            return RuleResult(False, (Evidence("", None, None, None, None, self.id, "metrics unavailable"),))
        v = metric_value(ctx.metrics, self.name)
        ok = v is not None and all(_CMP[k](v, x) for k, x in self.comparisons)
        cond = " and ".join(f"{_SYM[k]} {x:g}" for k, x in self.comparisons)
        return RuleResult(ok, (Evidence("", None, None, None, None, self.id, f"{self.name}={v} (wanted {cond})"),))
