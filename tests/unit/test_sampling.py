"""Review-queue sampling: the pure seeded sampler (weights, quota, no repeats, disputes, idempotent re-runs,
round-robin) and the tenant-scoped store on a real SQLite results database."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy.orm import Session

from infra import review
from infra.sampling import Candidate, Queued, SamplingRules, SamplingStore, period_of, sample
from infra.store import AlertRow, CallRow, ResultsStore, ScorecardRow


def _rules(**kw) -> SamplingRules:
    base = dict(calls_per_agent=1, weight_low_score=0, weight_alert=0, weight_new_agent=0, weight_auto_fail=0,
                reviewers=["r1", "r2"])
    return SamplingRules(**{**base, **kw})


def _share(cands, rules, call_id, runs=300) -> float:
    return sum(any(p.call_id == call_id for p in sample(cands, rules, seed=f"s{i}")) for i in range(runs)) / runs


def test_weights_shift_picks_toward_low_scores_and_alerts():
    cands = [Candidate("low", "a", 20.0), Candidate("high", "a", 95.0)]
    assert 0.35 < _share(cands, _rules(), "low") < 0.65, "no weights: a fair coin"
    assert _share(cands, _rules(weight_low_score=10), "low") > 0.8  # weights 9 against 1.5
    alerted = [Candidate("quiet", "a", 80.0), Candidate("alert", "a", 80.0, has_alert=True)]
    assert _share(alerted, _rules(weight_alert=8), "alert") > 0.8
    failed = [Candidate("ok", "a", 80.0), Candidate("af", "a", 0.0, auto_failed=True)]
    assert _share(failed, _rules(weight_auto_fail=8), "af") > 0.8


def test_quota_per_agent_no_repeats_and_deterministic():
    cands = [Candidate(f"a{i}", "a", 50.0) for i in range(10)] + [Candidate(f"b{i}", "b", 50.0) for i in range(2)]
    rules = _rules(calls_per_agent=3)
    picks = sample(cands, rules, seed="x")
    ids = [p.call_id for p in picks]
    assert len(ids) == len(set(ids)), "a call is never picked twice"
    assert sum(p.agent == "a" for p in picks) == 3 and {p.call_id for p in picks if p.agent == "b"} == {"b0", "b1"}
    assert sample(list(reversed(cands)), rules, seed="x") == picks, "same seed, same picks, whatever the order"
    assert any(sample(cands, rules, seed=f"y{i}") != picks for i in range(5)), "the seed matters"


def test_disputed_always_included_beyond_the_quota():
    cands = [Candidate("d1", "a", 99.0, disputed=True), Candidate("d2", "a", 99.0, disputed=True),
             Candidate("a1", "a", 50.0), Candidate("a2", "a", 50.0)]
    picks = sample(cands, _rules(calls_per_agent=1), seed="x")
    assert {p.call_id for p in picks} >= {"d1", "d2"} and len(picks) == 3
    assert [p.reason for p in picks if p.call_id.startswith("d")] == ["disputed", "disputed"]
    off = sample(cands, _rules(calls_per_agent=1, include_disputed=False), seed="x")
    assert len(off) == 1, "without include_disputed a disputed call is an ordinary candidate"


def test_rerun_is_idempotent_and_tops_up():
    cands = [Candidate(f"a{i}", "a", 50.0) for i in range(6)]
    rules = _rules(calls_per_agent=2)
    first = sample(cands, rules, seed="w")
    queued = [Queued(p.call_id, p.agent, p.reviewer, False) for p in first]
    assert sample(cands, rules, seed="w", queued=queued) == [], "nothing new on a re-run"
    assert sample(cands + [Candidate("new", "a", 1.0)], rules, seed="w", queued=queued) == [], "quota used up"
    more = sample(cands, _rules(calls_per_agent=3), seed="w", queued=queued)
    assert len(more) == 1 and more[0].call_id not in {p.call_id for p in first}


def test_round_robin_across_reviewers_least_loaded_first():
    cands = [Candidate(f"{a}{i}", a, 50.0) for a in "abcd" for i in range(2)]
    picks = sample(cands, _rules(calls_per_agent=1), seed="x")
    assert [p.reviewer for p in picks] == ["r1", "r2", "r1", "r2"]
    loaded = [Queued("old1", "z", "r1", False), Queued("old2", "z", "r1", False)]
    again = sample(cands, _rules(calls_per_agent=1), seed="x", queued=loaded)
    assert [p.reviewer for p in again] == ["r2", "r2", "r1", "r2"]


def test_reasons_and_rule_validation():
    rules = SamplingRules(reviewers=["r1"])
    (p,) = sample([Candidate("c", "a", 30.0, has_alert=True, auto_failed=True, new_agent=True)], rules, seed="x")
    assert p.reason == "auto-fail, alert, low score, new agent"
    (q,) = sample([Candidate("c", "a", 90.0)], rules, seed="x")
    assert q.reason == "random"
    with pytest.raises(ValueError, match="no reviewer"):
        sample([Candidate("c", "a", 90.0)], SamplingRules(), seed="x")
    for bad in (dict(calls_per_agent=0), dict(weight_alert=-1), dict(period="month"), dict(reviewers=["a", "a"]),
                dict(reviewers=[" "]), dict(colour="red")):
        with pytest.raises(ValidationError):
            SamplingRules(**bad)


def test_periods():
    week = period_of(date(2026, 11, 25), "week")
    assert week.key == "2026-W48" and week.start == datetime(2026, 11, 23) and week.end == datetime(2026, 11, 30)
    assert period_of(date(2026, 11, 29), "week") == week
    day = period_of(date(2026, 11, 25), "day")
    assert day.key == "2026-11-25" and (day.end - day.start).days == 1
    with pytest.raises(ValueError, match="week or day"):
        period_of(date(2026, 11, 25), "month")


# the store
def _call(s, call_id, agent, started, total, *, tenant="default", auto_failed=False):
    s.add(CallRow(id=call_id, object_key=f"{call_id}.wav", etag="e", agent=agent, started_at=started, state="done",
                  tenant=tenant))
    body = {"form_id": "f", "answers": [{"question_id": "q1", "answer": "pass"}]}
    s.add(ScorecardRow(call_id=call_id, form_id="f", form_version="1", total=total, auto_failed=auto_failed,
                       body=json.dumps(body)))


@pytest.fixture
def db(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    with Session(store.engine) as s:
        for i in range(4):
            _call(s, f"a/{i}", "ann", datetime(2026, 11, 23 + i, 9), 40.0 + 10 * i)
        _call(s, "b/0", "bob", datetime(2026, 11, 24, 9), 90.0)
        _call(s, "b/old", "bob", datetime(2026, 10, 1, 9), 10.0)  # another period
        _call(s, "x/0", "ann", datetime(2026, 11, 24, 9), 5.0, tenant="acme")
        s.add(AlertRow(call_id="a/3", category="c", rule_id="r", rule_version="1", severity="high", title="t",
                       body="{}"))
        s.commit()
    return store


def test_candidates_flags(db):
    sampling = SamplingStore(db.engine)
    rules = SamplingRules(new_agent_days=30)
    got = {c.call_id: c for c in sampling.candidates("default", period_of(date(2026, 11, 25), "week"), rules, set())}
    assert set(got) == {"a/0", "a/1", "a/2", "a/3", "b/0"}, "this tenant's calls of this week only"
    assert got["a/0"].new_agent and not got["b/0"].new_agent, "ann started within 30 days, bob in October"
    assert got["a/3"].has_alert and not got["a/2"].has_alert and got["a/1"].total == 50.0


def test_store_generates_tenant_scoped_idempotent_queues(db):
    sampling = SamplingStore(db.engine)
    assert sampling.rules("default") == SamplingRules(), "defaults until a lead saves rules"
    sampling.save_rules("default", SamplingRules(calls_per_agent=2, reviewers=["qa", "qa2"]), "lead")
    assert sampling.rules("acme").reviewers == [], "rules are per tenant"
    review.open_dispute(db.engine, "default", "b/old", "q1", "bob", "not fair")
    review.record_review(db.engine, "default", "a/0", "someone")  # reviewed already: not sampled
    period, picks = sampling.generate("default", date(2026, 11, 25))
    ids = {p.call_id for p in picks}
    assert period.key == "2026-W48"
    assert "b/old" in ids, "an open dispute is queued whatever its date"
    assert "x/0" not in ids and "a/0" not in ids
    assert sum(p.call_id.startswith("a/") for p in picks) == 2 and "b/0" in ids
    assert sampling.generate("default", date(2026, 11, 26))[1] == [], "a re-run queues nothing new"
    with pytest.raises(ValueError, match="no reviewer"):
        sampling.generate("acme", date(2026, 11, 25))
    assert sampling.items("acme") == []
    later = sampling.generate("default", date(2026, 12, 2))[1]
    assert "b/old" not in {p.call_id for p in later}, "a dispute is queued once"
    progress = {p.reviewer: (p.done, p.total) for p in sampling.progress("default", "2026-W48")}
    assert progress == {"qa": (0, 2), "qa2": (0, 2)}


def test_items_are_done_when_their_reviewer_reviews_or_overrides(db):
    sampling = SamplingStore(db.engine)
    sampling.save_rules("default", SamplingRules(calls_per_agent=2, reviewers=["qa", "qa2"]), "lead")
    sampling.generate("default", date(2026, 11, 25))
    mine = sampling.items("default", reviewer="qa")
    first, second = mine[0].call_id, mine[1].call_id
    review.record_review(db.engine, "default", first, "qa2")  # someone else: not qa's item done
    assert all(i.done_at is None for i in sampling.items("default", reviewer="qa"))
    review.record_review(db.engine, "default", first, "qa")
    db.add_override(second, "q1", "fail", reviewer="qa")
    assert all(i.done_at is not None for i in sampling.items("default", reviewer="qa"))
    assert {p.reviewer: p.done for p in sampling.progress("default", "2026-W48")} == {"qa": 2, "qa2": 0}
    review.record_review(db.engine, "acme", sampling.items("default", reviewer="qa2")[0].call_id, "qa2")
    assert sampling.progress("default", "2026-W48")[1].done == 0, "a review in another tenant does not count"
