"""The hand-written labels of the synthesised benchmark calls (bench/synth_dataset.py) refer to things that
exist: PII text in the script, alert rule ids / categories of the shipped policy, questions of the form.
No audio is synthesised here."""
from __future__ import annotations

import pytest

from bench.synth_dataset import QUICK, scripts
from compliance.alerts import default_policy_path, load_policy
from scoring.forms import load_form, shipped_forms_dir

SCRIPTS = scripts()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_labels_point_at_real_text_rules_and_questions(name):
    s = SCRIPTS[name]
    text = ("" if s.language == "zh" else " ").join(t for _, t in s.turns)
    for entity, value in s.pii:
        assert value in text, (entity, value)
    policy = load_policy(default_policy_path())
    known = {r.id for r in policy.rules} | {r.category for r in policy.rules}
    assert set(s.alerts) <= known, set(s.alerts) - known
    if s.sop:
        form = load_form(shipped_forms_dir() / f"inbound_service_{s.language}.yaml")
        questions = {q.id for sec in form.sections for q in sec.questions}
        assert set(s.sop) <= questions, set(s.sop) - questions
    assert s.sentiment in (None, "negative", "neutral", "positive")


def test_quick_subset_exists_and_covers_alerts_pii_and_sop():
    assert set(QUICK) <= set(SCRIPTS)
    chosen = [SCRIPTS[n] for n in QUICK]
    assert any(s.pii for s in chosen) and any(s.alerts for s in chosen) and any(s.sop for s in chosen)
