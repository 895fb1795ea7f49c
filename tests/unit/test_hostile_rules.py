"""Hostile rule files and exports: catastrophic regexes, YAML alias bombs and deep nesting finish in seconds
with coded errors (file and line); CSV cells that a spreadsheet would run as formulas are neutralised."""
from __future__ import annotations

import time

import pytest

from compliance.alerts import PolicyError, parse_policy
from compliance.recognizer_config import parse_recognizer_config
from core.errors import FormError, RecognizerConfigError
from core.models import Segment, Transcript
from core.saferegex import PatternTimeoutError, UserPattern, compile_user_regex
from reports.pages import csv_cell
from scoring.forms import parse_form

FORM = ('id: f\nversion: "1"\nlanguages: [en]\ntitle: t\nsections:\n  - id: s\n    title: S\n    questions:\n'
        '      - id: q\n        text: Q\n        weight: 100\n        rule: {{regex: {regex}}}\n')
REDOS = "'(a|aa)+$'"


def _fast(fn, *args):
    t = time.monotonic()
    fn(*args)
    return time.monotonic() - t


def test_the_issue_pattern_runs_in_time_on_the_regex_engine():
    p = compile_user_regex(r"^([\w\s,.?]+)+!$")  # hangs the stdlib re on "aaaa...a"
    assert _fast(p.search, "a" * 5000) < 1.0


def test_catastrophic_regex_in_a_form_is_rejected_at_load_time_with_its_line():
    t = time.monotonic()
    with pytest.raises(FormError, match=r"f\.yaml:12.*backtracks catastrophically"):
        parse_form(FORM.format(regex=REDOS), "f.yaml")
    assert time.monotonic() - t < 10


def test_catastrophic_regex_in_a_policy_and_a_recognizer_config():
    policy = ('id: p\nversion: "1"\nrules:\n  - id: r\n    version: "1"\n    category: reputation\n'
              f'    severity: low\n    title: t\n    when: {{regex: {REDOS}}}\n')
    with pytest.raises(PolicyError, match="backtracks catastrophically"):
        parse_policy(policy, "p.yaml")
    rec = ('version: "1"\nlanguages: {en: [email]}\npatterns:\n  - name: x\n    entity: X\n'
           f'    regex: {REDOS}\n    score: 0.5\n')
    with pytest.raises(RecognizerConfigError, match=r"p\.yaml:6.*backtracks catastrophically"):
        parse_recognizer_config(rec, "p.yaml")


def test_a_search_over_budget_at_run_time_is_a_coded_error(monkeypatch):
    import core.saferegex as sr

    p = UserPattern(r"(a|aa)+$")  # not probed: as if it had slipped through
    monkeypatch.setattr(sr, "SEARCH_TIMEOUT", 0.2)
    t = time.monotonic()
    with pytest.raises(PatternTimeoutError, match=r"\[E132\]"):
        p.search("a" * 60 + "!")
    assert time.monotonic() - t < 5


@pytest.mark.parametrize("parse, error", [(parse_form, FormError), (parse_policy, PolicyError),
                                          (parse_recognizer_config, RecognizerConfigError)])
def test_alias_bomb_and_deep_nesting_are_refused_quickly(parse, error):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f'{c}: &{c} [{",".join(["*" + p] * 9)}]\n' for p, c in zip("abcdefgh", "bcdefghi"))
    t = time.monotonic()
    with pytest.raises(error, match=r"rules\.yaml:\d+: more than \d+ YAML aliases"):
        parse(bomb, "rules.yaml")
    with pytest.raises(error, match=r"rules\.yaml:\d+: YAML nested deeper"):
        parse("a: " + "[" * 50_000 + "]" * 50_000 + "\n", "rules.yaml")
    assert time.monotonic() - t < 10


def test_regex_rule_still_matches_normally():
    from scoring.rules import EvalContext, build_rule

    rule = build_rule({"regex": r"my name is \w+"}, "r")
    t = Transcript("c", "en", 1.0, 5.0, (Segment(0, 2, "Hi, my name is Sarah.", speaker="A", role="agent"),), "f", "n")
    assert rule.evaluate(EvalContext(t)).matched


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formula_cells_are_neutralised(cell):
    assert csv_cell(cell) == "'" + cell
    assert csv_cell("plain text") == "plain text" and csv_cell(-2.5) == -2.5
