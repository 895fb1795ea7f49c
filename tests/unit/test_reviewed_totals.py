"""core.reviewed: a scorecard re-scored with reviewers' answers follows score_call's weighting exactly."""
from __future__ import annotations

import csv
import io

import pytest

from core.reviewed import ScorecardShapeError, reviewed_totals
from tests.unit.test_web_fixture import AUTOFAIL, CALLS, GOOD, fresh_copy


def _card(answers, sections):
    """A stored-scorecard-shaped body: answers (qid, section, answer, weight, auto_fail, critical)."""
    return {"sections": [{"section_id": s, "title": s.title(), "weight": w} for s, w in sections],
            "answers": [{"question_id": q, "section_id": s, "text": f"text of {q}", "answer": a, "weight": w,
                         "auto_fail": af, "critical": cr} for q, s, a, w, af, cr in answers]}


FORM = [("open", 30.0), ("close", 70.0)]
ANSWERS = [("q1", "open", "pass", 10.0, False, False), ("q2", "open", "pass", 10.0, False, True),
           ("q3", "open", "pass", 10.0, False, False), ("q4", "close", "pass", 50.0, False, False),
           ("q5", "close", "pass", 20.0, True, False)]


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


@pytest.fixture(scope="module")
def stored(copy):
    return copy[0].scorecards()


def test_no_overrides_reproduce_every_machine_scorecard(stored):
    assert {c.call_id for c in stored} == set(CALLS)
    for c in stored:
        r = reviewed_totals(c.body, {})
        assert r.total == c.total == c.body["total"], c.call_id
        assert r.auto_failed == c.auto_failed
        assert list(r.auto_fail_reasons) == c.body["auto_fail_reasons"]
        assert list(r.critical_failures) == c.body["critical_failures"]
        assert [(s.section_id, s.effective_weight, s.points, s.score) for s in r.sections] == \
            [(s["section_id"], s["effective_weight"], s["points"], s["score"]) for s in c.body["sections"]]
        assert [(a.question_id, a.answer, a.effective_weight, a.points) for a in r.answers] == \
            [(a["question_id"], a["answer"], a["effective_weight"], a["points"]) for a in c.body["answers"]]
        assert not r.changed


def test_overriding_the_auto_fail_question_lifts_the_zero(stored):
    card = next(c for c in stored if c.call_id == AUTOFAIL).body
    assert card["total"] == 0.0
    r = reviewed_totals(card, {"forbidden_phrases": "pass"})
    assert not r.auto_failed and r.auto_fail_reasons == ()
    # the machine's points elsewhere stay: greeting 25 + dead_air 14 + forbidden_phrases 10
    assert r.total == 49.0
    assert r.changed and r.answer("forbidden_phrases").overridden


def test_failing_a_good_call_lowers_its_total(stored):
    card = next(c for c in stored if c.call_id == GOOD).body
    r = reviewed_totals(card, {"recap": "fail"})
    assert r.total == 90.0
    assert next(s for s in r.sections if s.section_id == "closing").score == pytest.approx(66.67)


def test_na_redistributes_inside_the_section():
    r = reviewed_totals(_card(ANSWERS, FORM), {"q3": "na"})
    assert r.total == 100.0
    assert r.answer("q1").effective_weight == 15.0 and r.answer("q3").effective_weight == 0.0
    r = reviewed_totals(_card(ANSWERS, FORM), {"q3": "na", "q1": "fail"})
    assert r.total == 85.0
    assert r.sections[0].score == 50.0


def test_an_all_na_section_passes_its_weight_to_the_others():
    r = reviewed_totals(_card(ANSWERS, FORM), {"q1": "na", "q2": "na", "q3": "na", "q4": "fail"})
    assert r.sections[0].score is None and r.sections[0].effective_weight == 0.0
    assert r.answer("q4").effective_weight == pytest.approx(71.4286)
    assert r.total == pytest.approx(28.57)


def test_everything_na_has_no_total():
    r = reviewed_totals(_card(ANSWERS, FORM), {q[0]: "na" for q in ANSWERS})
    assert r.total is None and not r.auto_failed


def test_a_failed_auto_fail_question_zeroes_the_total_and_critical_is_listed():
    r = reviewed_totals(_card(ANSWERS, FORM), {"q5": "fail", "q2": "fail"})
    assert r.total == 0.0 and r.auto_failed
    assert r.auto_fail_reasons == ("q5: text of q5",)
    assert r.critical_failures == ("q2: text of q2",)
    assert r.sections[1].points == 50.0  # section scores are still reported as computed


def test_agreeing_override_is_marked_but_changes_nothing():
    r = reviewed_totals(_card(ANSWERS, FORM), {"q1": "pass"})
    assert r.answer("q1").overridden and not r.changed and r.total == 100.0


def test_unknown_question_is_ignored_and_reported():
    r = reviewed_totals(_card(ANSWERS, FORM), {"gone": "fail"})
    assert r.ignored == ("gone",) and r.total == 100.0


def test_bad_answer_and_bad_shape_are_precise_errors():
    with pytest.raises(ValueError, match="pass, fail or na"):
        reviewed_totals(_card(ANSWERS, FORM), {"q1": "maybe"})
    with pytest.raises(ScorecardShapeError, match="'sections'"):
        reviewed_totals({"answers": []}, {})
    broken = _card(ANSWERS, FORM)
    del broken["answers"][0]["weight"]
    with pytest.raises(ScorecardShapeError, match="answer 0 has no 'weight'"):
        reviewed_totals(broken, {})


def test_static_report_csv_has_reviewed_answer_and_total_beside_the_machines(copy, tmp_path):
    from reports.build import build_reports

    store, src, _ = copy
    store.add_override(AUTOFAIL, "forbidden_phrases", "pass", reviewer="qa", comment="=cmd|' /C calc'!A0")
    build_reports(store, src, tmp_path / "out")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "scorecards.csv").read_text("utf-8"))))
    fp = next(r for r in rows if r["call_id"] == AUTOFAIL and r["question_id"] == "forbidden_phrases")
    assert (fp["answer"], fp["reviewed_answer"], fp["reviewer"]) == ("fail", "pass", "qa")
    assert {(r["total"], r["reviewed_total"]) for r in rows if r["call_id"] == AUTOFAIL} == {("0.0", "49.0")}
    good = [r for r in rows if r["call_id"] == GOOD]
    assert good and all(r["reviewed_total"] == r["total"] == "100.0" and r["reviewed_answer"] == r["answer"]
                        and r["reviewer"] == "" for r in good)
