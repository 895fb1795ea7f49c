"""One plug-in convention (core.plugins): the same duplicate rule for every registry, and a user's package
adding a rule operator, a PII recognizer, a policy check and a transcription backend through Python entry
points, without forking. The package is a real installed distribution (dist-info with entry_points.txt on
the path of a fresh interpreter), found by importlib.metadata like any pip-installed one."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import PluginError
from core.plugins import Registry

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = '''
import re
from dataclasses import dataclass
from typing import ClassVar

from compliance.alerts import register_check
from compliance.pii_types import PiiFinding
from scoring.rules import Rule, RuleResult


@dataclass(frozen=True)
class MentionsRefund(Rule):
    op: ClassVar[str] = "mentions_refund"
    example: ClassVar[str] = "{mentions_refund: true}"
    id: str

    @classmethod
    def parse(cls, spec, rule_id, path, build):
        return cls(rule_id)

    def evaluate(self, ctx):
        return RuleResult(any("refund" in u.norm for u in ctx.units), ())


class LoyaltyIdRecognizer:
    name = "acme_loyalty_id"
    entity = "LOYALTY_ID"

    def analyze(self, text, language):
        return [PiiFinding(self.entity, m.start(), m.end(), m.group(), 0.9, self.name, "acme",
                           "an ACME loyalty number") for m in re.finditer(r"ACME-\\d{6}", text)]


def refund_promised(ctx, params, rule_id):
    return ()


refund_promised.check_params = __import__("compliance.alerts", fromlist=["NoParams"]).NoParams


def acme_asr(model, device):
    raise RuntimeError("not needed here")


class NotARule:
    op = "broken_op"
'''

ENTRY_POINTS = '''
[callqa.rule_operators]
mentions_refund = acme_callqa:MentionsRefund

[callqa.recognizers]
acme_loyalty_id = acme_callqa:LoyaltyIdRecognizer

[callqa.policy_checks]
refund_promised = acme_callqa:refund_promised

[callqa.asr_backends]
acme-asr = acme_callqa:acme_asr
'''

FORM = '''
id: refunds
version: "1"
languages: [en]
title: Refunds
sections:
- id: s
  title: S
  weight: 100
  questions:
  - id: refund
    text: Agent mentions the refund
    weight: 100
    rule: {mentions_refund: true}
'''

POLICY = '''
id: acme
version: "1"
rules:
  - id: refund_promised
    version: "1"
    category: reputation
    severity: low
    title: Refund promised
    check: refund_promised
'''

RECOGNIZERS = '''
version: "1"
languages:
  en: [email, acme_loyalty_id]
'''

PROBE = '''
import json, sys
from compliance.recognizer_config import load_recognizers
from compliance.pii import analyze
from core.plugins import Registry
from scoring.rules import REGISTRY
rs = load_recognizers(sys.argv[1])
found = analyze("my loyalty number is ACME-123456, thanks", "en", rs)
print(json.dumps({"entities": [f.entity for f in found], "origin": REGISTRY.origin("mentions_refund")}))
'''


def _install(site: Path, entry_points: str = ENTRY_POINTS) -> None:
    (site / "acme_callqa").mkdir(parents=True)
    (site / "acme_callqa" / "__init__.py").write_text(PLUGIN)
    info = site / "acme_callqa-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-callqa\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def _run(site: Path, *args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "PYTHONPATH": f"{site}:{ROOT}", **(env_extra or {})}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_a_package_adds_all_four_kinds_through_entry_points(tmp_path):
    site = tmp_path / "site"
    _install(site)
    (tmp_path / "form.yaml").write_text(FORM)
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "recognizers.yaml").write_text(RECOGNIZERS)
    (tmp_path / "probe.py").write_text(PROBE)

    forms = _run(site, "-m", "pipeline.cli", "forms", "check", str(tmp_path / "form.yaml"))
    assert forms.returncode == 0 and "refunds" in forms.stdout, forms.stderr[-2000:]
    policies = _run(site, "-m", "pipeline.cli", "policies", "check", str(tmp_path / "policy.yaml"))
    assert policies.returncode == 0 and "1 rules" in policies.stdout, policies.stderr[-2000:]
    config = _run(site, "-m", "pipeline.cli", "config", "show", "--local", str(tmp_path),
                  env_extra={"CALLQA_BACKEND": "acme-asr"})
    assert config.returncode == 0 and '"backend": "acme-asr"' in config.stdout, config.stderr[-2000:]
    probe = _run(site, str(tmp_path / "probe.py"), str(tmp_path / "recognizers.yaml"))
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert '"LOYALTY_ID"' in probe.stdout and "acme-callqa 0.1" in probe.stdout, probe.stdout

    # without the package the same files are refused with their own coded errors
    bare = tmp_path / "bare"
    bare.mkdir()
    forms = _run(bare, "-m", "pipeline.cli", "forms", "check", str(tmp_path / "form.yaml"))
    assert forms.returncode != 0 and "E120" in forms.stdout + forms.stderr
    config = _run(bare, "-m", "pipeline.cli", "config", "show", "--local", str(tmp_path),
                  env_extra={"CALLQA_BACKEND": "acme-asr"})
    assert config.returncode != 0 and "acme-asr" in config.stdout + config.stderr


@pytest.mark.parametrize("bad, message", [
    ("[callqa.asr_backends]\nfaster-whisper = acme_callqa:acme_asr\n", "already registered"),
    ("[callqa.rule_operators]\nbroken_op = acme_callqa:NotARule\n", "subclass of scoring.rules.Rule"),
    ("[callqa.rule_operators]\nrefund = acme_callqa:MentionsRefund\n", "operator key"),
    ("[callqa.policy_checks]\nmissing = acme_callqa:no_such_name\n", "failed to load"),
])
def test_a_broken_plugin_is_a_coded_error_naming_it(tmp_path, bad, message):
    site = tmp_path / "site"
    _install(site, bad)
    (tmp_path / "form.yaml").write_text(FORM)
    (tmp_path / "policy.yaml").write_text(POLICY)
    kind = bad.split(".")[1].split("]")[0]
    cmd = {"asr_backends": ("config", "show", "--local", str(tmp_path)),
           "rule_operators": ("forms", "check", str(tmp_path / "form.yaml")),
           "policy_checks": ("policies", "check", str(tmp_path / "policy.yaml"))}[kind]
    done = _run(site, "-m", "pipeline.cli", *cmd)
    out = done.stdout + done.stderr
    assert done.returncode != 0 and "E136" in out and message in out and "acme-callqa" in out, out[-2000:]
    assert "Traceback" not in out


def test_the_same_duplicate_rule_everywhere():
    reg: Registry[object] = Registry("rule operator", group="callqa.test_none")

    def one():
        pass

    def two():
        pass

    reg.register("x", one)
    reg.register("x", one)  # the same object again: fine
    with pytest.raises(PluginError) as e:
        reg.register("x", two)
    assert e.value.code == "E136" and "test_plugins" in e.value.message and "replace=True" in e.value.message
    reg.register("x", two, replace=True)
    assert reg["x"] is two
    err = reg.unknown("y")
    assert err.code == "E136" and "registered: x" in err.message and "callqa.test_none" in err.message
    assert "did you mean 'x'" in reg.unknown("xx").message


def test_the_four_registries_share_the_convention():
    from compliance.alerts import CHECKS
    from compliance.pii_types import RECOGNIZERS
    from scoring.rules import REGISTRY
    from transcribe.registry import BACKENDS

    groups = {r.group for r in (CHECKS, RECOGNIZERS, REGISTRY, BACKENDS)}
    assert groups == {"callqa.policy_checks", "callqa.recognizers", "callqa.rule_operators", "callqa.asr_backends"}
    assert all(isinstance(r, Registry) for r in (CHECKS, RECOGNIZERS, REGISTRY, BACKENDS))
    with pytest.raises(PluginError):
        BACKENDS.register("openai-whisper", lambda model, device: None)
    with pytest.raises(PluginError):
        REGISTRY.register("phrases", REGISTRY["regex"])
