"""Team and per-agent figures over the gathered calls: the dashboard and the coaching picks."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from reports.data import CallReport, ReportData

LOWEST_N = 5
BEST_PRACTICE_MIN_SCORE = 85.0


@dataclass(frozen=True)
class PassRate:
    question_id: str
    text: str
    passed: int
    failed: int

    @property
    def rate(self) -> float | None:
        n = self.passed + self.failed
        return 100.0 * self.passed / n if n else None


@dataclass(frozen=True)
class Dashboard:
    calls: int
    scored: int
    mean_score: float | None
    auto_failed: int
    scores: tuple[float, ...]
    pass_rates: tuple[PassRate, ...]
    alerts_by_category: tuple[tuple[str, int], ...]
    alerts_by_severity: tuple[tuple[str, int], ...]
    by_queue: tuple[tuple[str, int], ...]
    by_language: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class FailedQuestion:
    question_id: str
    text: str
    calls: tuple[CallReport, ...]


@dataclass(frozen=True)
class AgentCoaching:
    agent: str
    calls: tuple[CallReport, ...]  # scored calls, oldest first
    mean_score: float | None
    lowest: tuple[CallReport, ...]  # lowest total first
    failed: tuple[FailedQuestion, ...]  # per question the agent failed at least once
    best_practice: tuple[CallReport, ...]  # high score and the customer's sentiment improved
    pass_rates: tuple[tuple[PassRate, PassRate], ...]  # (agent, team) per question


def _scored(calls) -> list[CallReport]:
    return [c for c in calls if c.scored is not None]


def pass_rates(calls) -> tuple[PassRate, ...]:
    passed: Counter = Counter()
    failed: Counter = Counter()
    texts: dict[str, str] = {}
    for c in _scored(calls):
        for q in c.scored.questions:
            texts.setdefault(q.question_id, q.text)
            if q.answer == "pass":
                passed[q.question_id] += 1
            elif q.answer == "fail":
                failed[q.question_id] += 1
    return tuple(PassRate(qid, texts[qid], passed[qid], failed[qid]) for qid in texts)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _counts(values) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))


def dashboard(data: ReportData, team: tuple[PassRate, ...] | None = None) -> Dashboard:
    """`team`: `pass_rates(data.calls)` when the caller has it already."""
    scored = _scored(data.calls)
    totals = [c.scored.total for c in scored if c.scored.total is not None]
    return Dashboard(
        calls=len(data.calls), scored=len(scored), mean_score=_mean(totals),
        auto_failed=sum(c.scored.auto_failed for c in scored), scores=tuple(totals),
        pass_rates=pass_rates(data.calls) if team is None else team,
        alerts_by_category=_counts(a.category for a in data.alerts),
        alerts_by_severity=tuple(sorted(Counter(a.severity for a in data.alerts).items(),
                                        key=lambda kv: ("critical", "high", "medium", "low").index(kv[0])
                                        if kv[0] in ("critical", "high", "medium", "low") else 9)),
        by_queue=_counts(c.info.queue for c in data.calls),
        by_language=_counts(c.info.language for c in data.calls))


def _improved(c: CallReport) -> bool:
    return c.scored is not None and c.scored.sentiment_outcome == "improved"


def coaching(data: ReportData, *, lowest_n: int = LOWEST_N, best_min_score: float = BEST_PRACTICE_MIN_SCORE,
             team_rates: tuple[PassRate, ...] | None = None) -> tuple[AgentCoaching, ...]:
    team = {p.question_id: p for p in (pass_rates(data.calls) if team_rates is None else team_rates)}
    by_agent: dict[str, list[CallReport]] = {}
    for c in _scored(data.calls):
        by_agent.setdefault(c.info.agent, []).append(c)
    out = []
    for agent in sorted(by_agent):
        mine = by_agent[agent]
        with_total = [c for c in mine if c.scored.total is not None]
        lowest = sorted(with_total, key=lambda c: (c.scored.total, c.info.when))[:lowest_n]
        own = {p.question_id: p for p in pass_rates(mine)}  # question texts in the agent's own forms
        failed_in = [{q.question_id for q in c.scored.questions if q.answer == "fail"} for c in mine]
        failed = []
        for qid in own:
            hits = tuple(c for c, f in zip(mine, failed_in) if qid in f)
            if hits:
                failed.append(FailedQuestion(qid, own[qid].text, hits))
        best = tuple(sorted((c for c in with_total if c.scored.total >= best_min_score and _improved(c)),
                            key=lambda c: -c.scored.total))
        rates = tuple((own[qid], team[qid]) for qid in team if qid in own)
        out.append(AgentCoaching(agent, tuple(mine), _mean([c.scored.total for c in with_total]), tuple(lowest),
                                 tuple(failed), best, rates))
    return tuple(out)
