"""scoring.forms: shipped forms load; malformed forms fail with file, line, suggestion and an example."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CallQAError, FormError
from scoring.forms import Form, load_form, parse_form, shipped_forms_dir
from scoring.rules import Phrases, RoleFilter

SHIPPED = sorted(shipped_forms_dir().glob("*.yaml"))

GOOD = """\
id: tiny
version: 2
languages: [en]
sections:
  - id: s1
    title: Opening
    weight: 60
    questions:
      - id: greet
        text: Greets
        weight: 60
        rule: {role: agent, rule: {phrases: [hello]}}
  - id: s2
    title: Closing
    questions:
      - id: bye
        text: Says goodbye
        weight: 40
        rule: {phrases: [bye]}
        na_when: {phrases: [hung up]}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "form.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def failure(tmp_path: Path, text: str) -> str:
    p = write(tmp_path, text)
    with pytest.raises(FormError) as e:
        load_form(p)
    assert isinstance(e.value, CallQAError) and e.value.code == "E120"
    assert str(p) in e.value.message
    return e.value.message


def test_shipped_forms_exist():
    assert {p.name for p in SHIPPED} >= {"inbound_service_en.yaml", "inbound_service_zh.yaml", "outbound_sales_en.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_form_loads(path):
    form = load_form(path)
    assert isinstance(form, Form) and form.id == path.stem and form.version
    assert sum(q.weight for q in form.questions) == pytest.approx(100)
    assert any(q.auto_fail for q in form.questions)  # every form carries forbidden phrases


def test_good_form_compiles_rules(tmp_path):
    form = load_form(write(tmp_path, GOOD))
    assert form.version == "2" and form.languages == ("en",)
    greet = form.questions[0]
    assert isinstance(greet.rule, RoleFilter) and isinstance(greet.rule.child, Phrases)
    assert greet.rule.id == "greet" and greet.rule_version == "1"
    assert form.questions[1].na_when.id == "bye.na_when"
    assert form.sections[1].total_weight == 40


def test_misspelt_key_names_line_and_suggests(tmp_path):
    msg = failure(tmp_path, GOOD.replace("        weight: 40", "        wieght: 40"))
    assert ":18: unknown key 'wieght' at sections.1.questions.0.wieght; did you mean 'weight'?" in msg
    assert "sections.1.questions.0.weight: Field required" in msg
    assert "rule: {role: agent" in msg  # corrected example of a question


def test_misspelt_form_and_section_keys(tmp_path):
    assert "did you mean 'languages'?" in failure(tmp_path, GOOD.replace("languages:", "langauges:"))
    msg = failure(tmp_path, GOOD.replace("    title: Closing", "    titel: Closing"))
    assert ":14: unknown key 'titel' at sections.1.titel; did you mean 'title'?" in msg


def test_weights_must_sum_to_100(tmp_path):
    msg = failure(tmp_path, GOOD.replace("weight: 40", "weight: 45"))
    assert ":4: <form>: question weights must sum to 100, but they sum to 105 (s1=60, s2=45)" in msg


def test_section_weight_must_match_its_questions(tmp_path):
    msg = failure(tmp_path, GOOD.replace("    weight: 60\n    questions", "    weight: 50\n    questions"))
    assert ":5: sections.0: section weight 50 differs from the sum of its question weights 60" in msg


def test_bad_rule_deep_in_tree_names_its_line(tmp_path):
    bad = GOOD.replace("        rule: {phrases: [bye]}",
                       "        rule:\n          any:\n            - {phrases: [bye]}\n            - {regx: 'good day'}")
    msg = failure(tmp_path, bad)
    assert ":22: sections.1.questions.0.rule.any.1: rule has no operator" in msg
    assert "did you mean 'regex' instead of 'regx'?" in msg


def test_unknown_metric_in_na_when(tmp_path):
    msg = failure(tmp_path, GOOD.replace("{phrases: [hung up]}", "{metric: hold_secs, gt: 0}"))
    assert ":20: sections.1.questions.0.na_when.metric:" in msg and "did you mean 'hold_seconds'?" in msg
    assert "e.g. {metric: longest_silence_seconds, lt: 30}" in msg


def test_duplicate_ids(tmp_path):
    assert "duplicate question id(s): greet" in failure(tmp_path, GOOD.replace("id: bye", "id: greet"))


def test_yaml_syntax_error_names_line(tmp_path):
    msg = failure(tmp_path, GOOD.replace("rule: {phrases: [bye]}", "rule: {phrases: [bye}"))
    assert ":19: not valid YAML" in msg


def test_not_a_mapping_and_missing_file(tmp_path):
    assert "must be a YAML mapping" in failure(tmp_path, "- just\n- a list\n")
    with pytest.raises(FormError, match="cannot read form"):
        load_form(tmp_path / "absent.yaml")


def test_parse_form_without_file():
    assert parse_form(GOOD).id == "tiny"
    with pytest.raises(FormError, match=r"<form>:3: languages: Tuple should have at least 1 item"):
        parse_form(GOOD.replace("languages: [en]", "languages: []"))


def test_duplicate_yaml_key_is_an_error(tmp_path):
    msg = failure(tmp_path, GOOD.replace("        weight: 40\n", "        weight: 40\n        weight: 30\n"))
    assert ":19: key 'weight' appears twice" in msg


def test_language_alias(tmp_path):
    assert load_form(write(tmp_path, GOOD.replace("languages: [en]", "language: zh"))).languages == ("zh",)
    assert "either 'language' or 'languages'" in failure(tmp_path, GOOD.replace("languages: [en]", "languages: [en]\nlanguage: en"))
