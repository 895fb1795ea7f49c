"""Languages as data (core.languages): the shipped en/zh profiles hold what used to be hard-coded, a language
added from a profile file goes through the pipeline's text path, and a malformed profile is E135 with the
file, the line and a corrected example."""
from __future__ import annotations

import json

import numpy as np
import pytest

from compliance.alerts import default_policy_path, load_policy
from core.errors import ConfigError, LanguageProfileError
from core.languages import LANGUAGES_ENV, load_languages, load_profile, parse_profile
from core.metrics import conversation_metrics
from core.models import Segment, Transcript
from infra.storage import LocalFolderSource
from infra.store import ResultsStore
from pipeline.analysis import CallAnalyser
from pipeline.config import PipelineConfig
from pipeline.metadata import parse_sidecar
from pipeline.process import discover, process_recording
from scoring.review import Reviewer
from transcribe.base import ZH_PROMPT, TranscribeOptions, pick_language

ES = """\
code: es
name: Spanish
aliases: [spa]
word_joiner: " "
pace_unit: words
asr: {codes: [es], prompt: null, detect: true}
pii: en
sentiment: null
phrases:
  hold: [un momento, no cuelgue]
  agent_strong: [gracias por llamar, en qué puedo ayudarle]
  customer: [quiero, mi cuenta]
"""

CHAT = ("role,text\n"
        "agent,\"Gracias por llamar a Northwind, me llamo Ana. ¿En qué puedo ayudarle?\"\n"
        "customer,\"Quiero cambiar mi cuenta. Mi correo es juan.perez@example.com\"\n"
        "agent,\"Un momento, por favor. Ya está cambiado.\"\n"
        "customer,\"Muchas gracias, adiós.\"\n")
# WhisperX JSON: the customer speaks first; the agent is found by the Spanish profile's strong phrase
WHISPERX = {"language": "spa", "segments": [
    {"start": 0.0, "end": 1.0, "text": "¿Hola?", "speaker": "SPEAKER_00"},
    {"start": 1.5, "end": 4.0, "text": "Gracias por llamar, ¿en qué puedo ayudarle?", "speaker": "SPEAKER_01"},
    {"start": 4.5, "end": 7.0, "text": "Quiero saber el saldo de mi cuenta.", "speaker": "SPEAKER_00"}]}


class StubSimilarity:
    def encode(self, texts):
        return np.ones((len(texts), 4)) / 2.0


@pytest.fixture
def es_dir(tmp_path, monkeypatch):
    folder = tmp_path / "languages"
    folder.mkdir()
    (folder / "es.yaml").write_text(ES, encoding="utf-8")
    monkeypatch.setenv(LANGUAGES_ENV, str(folder))  # restored after the test, whatever the settings set
    monkeypatch.delenv("CALLQA_CONFIG", raising=False)
    return folder


def test_shipped_profiles_hold_what_was_hard_coded():
    langs = load_languages()
    assert langs.codes == ("en", "zh") and load_languages() is langs, "read once per folder"
    assert [langs.resolve(t) for t in ("zh-TW", "cmn", "zho", "chi", "yue", "ZH_Hant", "eng", "en-US", "fr", "")] \
        == ["zh", "zh", "zh", "zh", "zh", "zh", "en", "en", None, None]
    assert (langs.joiner("zh"), langs.joiner("en"), langs.joiner("xx")) == ("", " ", " ")
    assert (langs.pace_unit("zh"), langs.pace_unit("en")) == ("characters", "words")
    zh = langs.get("zh")
    assert zh.asr.prompt == ZH_PROMPT and zh.asr_codes == ("zh", "yue") and langs.get("en").asr.prompt is None
    assert langs.script("zh", "zh-Hant") == "zh-Hant" and langs.script("zh") == "zh-Hans" and langs.script("en") is None
    assert (zh.pii, zh.sentiment.lexicon, langs.get("en").pii) == ("zh", "zh", "en")
    assert langs.form_map() == {
        "inbound:en": "inbound_service_en", "outbound:en": "outbound_sales_en", "*:en": "inbound_service_en",
        "inbound:zh": "inbound_service_zh", "outbound:zh": "outbound_sales_zh", "*:zh": "inbound_service_zh"}
    assert langs.phrases("hold")[:2] == ("please hold", "on hold") and "稍候" in langs.phrases("hold")
    assert "how can i help" in langs.phrases("agent_strong") and "请问有什么可以帮您" in langs.phrases("agent_strong")
    assert pick_language({"en": 0.3, "zh": 0.2, "yue": 0.3}, ("en", "zh"))[0] == "zh", "yue counts for zh"
    assert TranscribeOptions().detectable() == ("en", "zh")


def test_a_language_added_from_a_profile_file_runs_through_the_text_path(tmp_path, es_dir):
    cfg = PipelineConfig.from_env(local_root=tmp_path / "src", languages_dir=es_dir, language="spa")
    assert cfg.language == "es" and cfg.languages().codes == ("en", "zh", "es")
    assert cfg.transcribe_options().detectable() == ("en", "zh", "es")
    assert parse_sidecar(b'{"language": "es-MX"}').language == "es"
    with pytest.raises(Exception, match="language must be one of"):
        parse_sidecar(b'{"language": "fr"}')

    rec = tmp_path / "src" / "recordings"
    rec.mkdir(parents=True)
    (rec / "chat.chat.csv").write_text(CHAT, encoding="utf-8")
    (rec / "chat.json").write_text(json.dumps({"direction": "inbound", "language": "es-MX"}))
    (rec / "wx.transcript.json").write_text(json.dumps(WHISPERX, ensure_ascii=False), encoding="utf-8")
    (rec / "fr.chat.csv").write_text("role,text\nagent,Bonjour\n")
    (rec / "fr.json").write_text(json.dumps({"language": "fr"}))
    src = LocalFolderSource(tmp_path / "src", "recordings/")
    store = ResultsStore(f"sqlite:///{tmp_path}/r.db")
    analyser = CallAnalyser(store, src, reviewer=Reviewer(similarity=StubSimilarity()),
                            policy=load_policy(default_policy_path()))
    out = {o.call_id: o for o in (process_recording(r, src, store, None, analyser=analyser, redact_audio=False)
                                  for r in discover(src, store))}
    assert {k: (o.status, o.code) for k, o in out.items()} == \
        {"chat": ("done", None), "wx": ("done", None), "fr": ("quarantined", "E110")}

    chat = Transcript.from_json(src.read("transcripts/chat.json").decode())
    assert (chat.language, chat.script) == ("es", None)
    assert "ayudarle?\" " not in chat.text and "¿En qué puedo ayudarle? Quiero cambiar" in chat.text, \
        "segments joined with the profile's space"
    metrics = json.loads(src.read("metrics/chat.json").decode())
    assert metrics["rate_unit"] == "words" and metrics["agent"]["units"] > 0
    assert store.scorecard("chat") is None, "no evaluation form for es: nothing to score, no error"
    red = src.read("redacted/transcripts/chat.json").decode()
    assert "juan.perez" not in red and "[EMAIL]" in red, "the profile's PII rule set (en) ran"

    wx = Transcript.from_json(src.read("transcripts/wx.json").decode())
    assert wx.language == "es" and {s.speaker: s.role for s in wx.speakers} == \
        {"SPEAKER_01": "agent", "SPEAKER_00": "customer"}, "the Spanish agent phrase outranks who spoke first"

    langs = cfg.languages()
    hold = Transcript("h", "es", 1.0, 40.0, (
        Segment(0.0, 2.0, "Un momento, por favor.", speaker="A", role="agent"),
        Segment(30.0, 32.0, "Gracias por esperar.", speaker="A", role="agent")), "imported", "chat")
    m = conversation_metrics(hold, languages=langs)
    assert (m.rate_unit, m.holds[0].announced, m.holds[0].phrase) == ("words", True, "un momento")
    assert conversation_metrics(hold, languages=load_languages()).holds[0].announced is False, \
        "without the Spanish profile the phrase is not known"


def _error(tmp_path, text: str, name: str = "es.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LanguageProfileError) as e:
        load_profile(path)
    assert e.value.code == "E135"
    return str(e.value)


def test_a_typo_names_file_line_and_a_fix(tmp_path):
    msg = _error(tmp_path, ES.replace("word_joiner:", "word_joinr:"))
    assert f"{tmp_path / 'es.yaml'}:4: unknown key 'word_joinr'" in msg and "did you mean 'word_joiner'" in msg
    assert "e.g.\ncode: es" in msg, "a corrected example"
    msg = _error(tmp_path, ES.replace("  hold:", "  hodl:"))
    assert "es.yaml:10: unknown key 'hodl' at phrases.hodl; did you mean 'hold'?" in msg
    msg = _error(tmp_path, ES.replace("pace_unit: words", "pace_unit: syllables"))
    assert "es.yaml:5: pace_unit:" in msg and "'characters' or 'words'" in msg
    msg = _error(tmp_path, ES.replace("pii: en", "pii: es"))
    assert "es.yaml:7: pii:" in msg
    msg = _error(tmp_path, ES.replace('word_joiner: " "\n', ""))
    assert "missing 'word_joiner'" in msg
    msg = _error(tmp_path, ES.replace("asr: {", "scripts: {es-Latn: t2z}\nasr: {"))
    assert "es.yaml:6: scripts.es-Latn: unknown OpenCC conversion 't2z'" in msg
    msg = _error(tmp_path, ES + "forms: {inbond: inbound_service_es}\n")
    assert "es.yaml:13: forms.inbond: unknown call direction 'inbond'; did you mean 'inbound'?" in msg
    msg = _error(tmp_path, ES.replace("code: es", "code: ES"))
    assert "es.yaml:1: code: must be a lower-case ISO 639 code" in msg
    msg = _error(tmp_path, ES.replace("name: Spanish", "name: Spanish\npace_unit: words"))
    assert "es.yaml:6: key 'pace_unit' appears twice" in msg
    msg = _error(tmp_path, ES, name="sp.yaml")
    assert "sp.yaml:1: code 'es' must equal the file name 'sp'" in msg
    msg = _error(tmp_path, "code: es\n  name: [\n")
    assert "es.yaml:2: not valid YAML" in msg
    with pytest.raises(LanguageProfileError, match=r"<profile>:1: a language profile must be a YAML mapping"):
        parse_profile("- es\n", "<profile>")


def test_a_folder_with_a_bad_profile_stops_the_settings(tmp_path, monkeypatch):
    folder = tmp_path / "langs"
    folder.mkdir()
    (folder / "es.yaml").write_text(ES.replace("aliases: [spa]", "aliases: [spa, eng]"), encoding="utf-8")
    with pytest.raises(LanguageProfileError, match=r"es.yaml: 'eng' already names language 'en' \(.*en.yaml\)"):
        load_languages(folder)
    monkeypatch.delenv(LANGUAGES_ENV, raising=False)
    monkeypatch.delenv("CALLQA_CONFIG", raising=False)
    with pytest.raises(ConfigError, match=r"E401.*languages_dir: .*'eng' already names language 'en'"):
        PipelineConfig.from_env(local_root=tmp_path, languages_dir=folder)
    with pytest.raises(ConfigError, match=r"E401.*unknown language 'fr'; languages with a profile: en, zh"):
        PipelineConfig.from_env(local_root=tmp_path, language="fr")
    (folder / "es.yaml").write_text(ES.replace("word_joiner:", "word_joinr:"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"es.yaml:4: unknown key 'word_joinr'"):
        PipelineConfig.from_env(local_root=tmp_path, languages_dir=folder)
    with pytest.raises(ConfigError, match="no such folder of language profiles"):
        PipelineConfig.from_env(local_root=tmp_path, languages_dir=tmp_path / "missing")
