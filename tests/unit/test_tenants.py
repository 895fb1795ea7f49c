"""Tenants (client companies of an outsourced centre) in the pipeline: a call's sidecar names its tenant, which
is stored with the call; the tenant's own version of a form and its own compliance policy apply to its calls
only; cross-call history never joins customers of two tenants."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from compliance.alerts import PolicyError, default_policy_path, load_policy, load_tenant_policies
from core.errors import ConfigError, MetadataError
from core.models import Call
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser, contact_history
from pipeline.metadata import parse_sidecar
from pipeline.process import discover, process_recording
from scoring.forms import shipped_forms_dir
from scoring.review import Reviewer

from .fakes import FakeTranscriber, write_tone_wav


def _call(tenant: str, **kw) -> Call:
    return Call(id=f"{tenant}-1", object_key="k", etag="e", direction="inbound", tenant=tenant, **kw)


def test_the_sidecar_names_the_tenant_and_the_call_row_keeps_it(tmp_path):
    rec = tmp_path / "recordings"
    rec.mkdir()
    write_tone_wav(rec / "a.wav", 3.0)
    (rec / "a.json").write_text('{"tenant": "acme", "agent": "a-1"}')
    write_tone_wav(rec / "b.wav", 3.0)
    src, store = LocalFolderSource(tmp_path, "recordings/"), ResultsStore(f"sqlite:///{tmp_path}/r.db")
    for ref in discover(src, store):
        assert process_recording(ref, src, store, FakeTranscriber()).status == "done"
    with store.engine.connect() as c:
        tenants = dict(c.execute(sa.text("SELECT id, tenant FROM calls")).all())
    assert tenants == {"a": "acme", "b": "default"}
    with pytest.raises(MetadataError, match="tenant"):
        parse_sidecar(b'{"tenant": "ACME Corp"}')


def test_a_tenants_own_form_scores_its_calls_only(tmp_path):
    forms = tmp_path / "forms"
    shutil.copytree(shipped_forms_dir(), forms)
    (forms / "tenants" / "acme").mkdir(parents=True)
    text = (forms / "inbound_service_en.yaml").read_text().replace("version: '2.0'", "version: 2.0-acme")
    (forms / "tenants" / "acme" / "inbound_service_en.yaml").write_text(text)
    reviewer = Reviewer(forms)
    from core.models import Transcript

    t = Transcript("x", "en", 1.0, 1.0, (), "import", "chat")
    assert reviewer.form_for(_call("acme"), t).version == "2.0-acme"
    assert reviewer.form_for(_call("globex"), t).version == "2.0"
    assert reviewer.form_for(_call("default"), t).version == "2.0"

    (forms / "tenants" / "Bad Name").mkdir()
    with pytest.raises(ConfigError, match="tenant folder"):
        Reviewer(forms)
    (forms / "tenants" / "Bad Name").rmdir()
    (forms / "tenants" / "acme" / "other.yaml").write_text(text.replace("id: inbound_service_en", "id: acme_only"))
    with pytest.raises(ConfigError, match="replaces no shared form"):
        Reviewer(forms)


def test_a_tenants_own_policy_checks_its_calls_only(tmp_path):
    folder = tmp_path / "policies"
    folder.mkdir()
    own = default_policy_path().read_text().replace('id: default\nversion: "1"', 'id: acme\nversion: "7"', 1)
    (folder / "acme.yaml").write_text(own)
    tenant_policies = load_tenant_policies(folder)
    assert (tenant_policies["acme"].id, tenant_policies["acme"].version) == ("acme", "7")
    analyser = CallAnalyser(None, None, policy=load_policy(default_policy_path()), tenant_policies=tenant_policies)
    assert analyser.policy_for(_call("acme")).id == "acme"
    assert analyser.policy_for(_call("globex")).id == "default"
    (folder / "Acme Corp.yaml").write_text(own)
    with pytest.raises(PolicyError, match="tenant id"):
        load_tenant_policies(folder)
    with pytest.raises(PolicyError, match="does not exist"):
        load_tenant_policies(tmp_path / "missing")


def test_contact_history_never_joins_two_tenants_customers(tmp_path):
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    policy = load_policy(default_policy_path())
    when = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    from compliance.alerts import contact_keys

    if not contact_keys(policy):
        pytest.fail("the default policy has a cross-call check")
    key, topic = contact_keys(policy)[0]
    attrs = {key: "cust-42", topic: "billing"}
    a = Call(id="a1", object_key="a1", etag="e", started_at=when, tenant="acme", attributes=attrs)
    b = Call(id="b1", object_key="b1", etag="e", started_at=when, tenant="globex", attributes=attrs)
    a2 = Call(id="a2", object_key="a2", etag="e", started_at=when, tenant="acme", attributes=attrs)
    assert contact_history(a, store, policy) == []
    assert contact_history(b, store, policy) == [], "the other tenant's customer with the same id is not met"
    assert len(contact_history(a2, store, policy)) == 1
