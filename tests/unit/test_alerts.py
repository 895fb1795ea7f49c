"""compliance.alerts: each risk of the default policy on hand-built transcripts, and policy file errors."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from compliance.alerts import (
    CHECKS,
    Alert,
    PolicyError,
    default_policy_path,
    evaluate_policy,
    load_policy,
    parse_policy,
)
from compliance.pii import cn_id_check_digit
from core.errors import CallQAError
from core.models import Call, Segment, SpeakerInfo, Transcript
from scoring.sentiment import SentimentScore, sentiment_summary

DISCLOSE = "Thank you for calling Acme, this call may be recorded. How can I help?"
CN_ID = "11010519491231002" + cn_id_check_digit("11010519491231002")


def seg(spk: str, start: float, end: float, text: str) -> Segment:
    # roles on the segments too: sentiment_summary reads Segment.role, not Transcript.speakers
    return Segment(start, end, text, speaker=spk, role={"A": "agent", "C": "customer"}[spk])


def call(*segs: Segment, language: str = "en", duration: float = 120.0) -> Transcript:
    return Transcript("c1", language, 1.0, duration, tuple(segs), "fake", "none",
                      speakers=(SpeakerInfo("A", "agent", 1.0, "test"), SpeakerInfo("C", "customer", 1.0, "test")))


@pytest.fixture(scope="module")
def policy():
    return load_policy(default_policy_path())


def policy_rule(policy, rule_id: str):
    return next(r for r in policy.rules if r.id == rule_id)


def alerts_by_id(alerts: list[Alert]) -> dict[str, Alert]:
    return {a.rule_id: a for a in alerts}


CLEAN = call(
    seg("A", 0.5, 5.0, DISCLOSE),
    seg("C", 5.5, 9.0, "Hi, I'd like to check my order status."),
    seg("A", 9.5, 14.0, "Sure, it ships tomorrow. Anything else?"),
    seg("C", 14.5, 17.0, "No, that's great, thanks."),
)


def test_shipped_policy_loads(policy):
    assert policy.id == "default"
    assert {r.category for r in policy.rules} == {"privacy", "reputation"}
    assert all(r.check in CHECKS for r in policy.rules if r.check)


def test_clean_call_raises_nothing(policy):
    assert evaluate_policy(policy, CLEAN) == []


@pytest.mark.parametrize("rule_id, spk, text, language", [
    ("media_threat", "C", "If this isn't fixed I will post this on Twitter.", "en"),
    ("media_threat", "C", "我要把这件事发到网上曝光", "zh"),
    ("regulator_threat", "C", "I'm going to report you to the regulator.", "en"),
    ("regulator_threat", "C", "我要打12315投诉你们", "zh"),
    ("legal_threat", "C", "My lawyer will hear about this.", "en"),
    ("legal_threat", "C", "我要起诉你们", "zh"),
    ("abusive_language", "A", "Listen, you idiot, just wait.", "en"),
    ("abusive_language", "C", "你们都是白痴", "zh"),
    ("supervisor_request", "C", "I want to speak to your manager now.", "en"),
    ("supervisor_request", "C", "我要找你们领导", "zh"),
    ("supervisor_request", "C", "我要找你們領導", "zh"),  # Traditional script too
    ("agent_dismissive", "A", "That's not my problem, you should have read the terms.", "en"),
    ("agent_dismissive", "A", "这个不归我管，你找别人去吧", "zh"),
])
def test_reputation_phrases(policy, rule_id, spk, text, language):
    opening = DISCLOSE if language == "en" else "您好，本次通话可能会被录音。"
    t = call(seg("A", 0.5, 5.0, opening), seg(spk, 20.0, 25.0, text), language=language)
    got = alerts_by_id(evaluate_policy(policy, t))
    assert set(got) == {rule_id}
    a = got[rule_id]
    assert a.category == "reputation" and a.call_id == "c1" and a.rule_version == policy_rule(policy, rule_id).version
    ev = a.evidence[0]
    assert (ev.quote, ev.speaker, ev.start, ev.end) == (text, spk, 20.0, 25.0)
    assert a.to_dict()["evidence"][0]["quote"] == text


def test_threat_by_agent_is_not_a_customer_threat(policy):
    t = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "You can of course speak to a manager."))
    assert evaluate_policy(policy, t) == []


def test_dismissive_customer_is_not_a_dismissive_agent(policy):
    t = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, "That's not my problem, you sort it out."),
             seg("A", 10.0, 12.0, "I'm sorry, let me help."))
    assert evaluate_policy(policy, t) == []


@pytest.mark.parametrize("text", ["Your card number is 4111 1111 1111 1111.", f"您的身份证号是{CN_ID}"])
def test_pii_read_out(policy, text):
    t = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, "What card do you have on file?"),
             seg("A", 10.0, 14.0, text))
    got = alerts_by_id(evaluate_policy(policy, t))
    assert set(got) == {"pii_read_out"}
    a = got["pii_read_out"]
    assert a.severity == "critical" and a.category == "privacy"
    assert (a.evidence[0].quote, a.evidence[0].speaker, a.evidence[0].start) == (text, "A", 10.0)


def test_last_four_digits_and_customer_pii_are_fine(policy):
    t = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, "It's 4111 1111 1111 1111."),
             seg("A", 10.0, 14.0, "Thanks, the card ending in 1111."))
    assert not {"pii_read_out", "long_number_read_out"} & set(alerts_by_id(evaluate_policy(policy, t)))


def test_pii_before_verification(policy):
    bad = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "Your balance is 200 dollars."),
               seg("A", 10.0, 12.0, "Can you confirm your date of birth?"))
    got = alerts_by_id(evaluate_policy(policy, bad))
    assert set(got) == {"pii_before_verification"}
    assert any(e.quote == "Your balance is 200 dollars." and e.start == 6.0 for e in got["pii_before_verification"].evidence)
    good = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "Can you confirm your date of birth?"),
                seg("C", 9.5, 10.0, "It's the ninth of July, 1990."),
                seg("A", 10.5, 12.0, "Thanks. Your balance is 200 dollars."))
    assert evaluate_policy(policy, good) == []
    # asking is not verifying: the customer never gave the identifier before the balance was read
    unanswered = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "Can you confirm your date of birth?"),
                      seg("A", 10.0, 12.0, "Actually never mind. Your balance is 200 dollars."))
    assert set(alerts_by_id(evaluate_policy(policy, unanswered))) == {"pii_before_verification"}
    # outbound calls are not held to the inbound verification order (this opening states no purpose, which an
    # outbound call must: see test_missing_outbound_disclosure)
    outbound = Call("c1", "k", "e", direction="outbound")
    assert set(alerts_by_id(evaluate_policy(policy, bad, call=outbound))) == {"missing_outbound_disclosure"}
    assert set(alerts_by_id(evaluate_policy(policy, bad, call=Call("c1", "k", "e", direction="inbound")))) == {
        "pii_before_verification"}


def test_missing_disclosure(policy):
    late = call(seg("A", 0.5, 5.0, "Hello, how can I help?"), seg("A", 50.0, 55.0, "This call may be recorded."))
    a = alerts_by_id(evaluate_policy(policy, late))["missing_recording_disclosure"]
    assert (a.evidence[0].start, a.evidence[0].end) == (0.0, 45.0) and "45 s" in a.explanation
    zh_tw = call(seg("A", 0.5, 5.0, "您好，本通話可能會被錄音。"), language="zh")
    assert evaluate_policy(policy, zh_tw) == []


def test_missing_outbound_disclosure(policy):
    outbound, inbound = Call("c1", "k", "e", direction="outbound"), Call("c1", "k", "e", direction="inbound")
    stated = call(seg("A", 0.5, 5.0, "Hi, this is Sam calling from Northwind Energy about your renewal. "
                                     "This call may be recorded."), seg("C", 5.5, 7.0, "Oh, okay."))
    assert evaluate_policy(policy, stated, call=outbound) == []
    # a name and a question, but neither the company nor the purpose in the agent's first two turns
    vague = call(seg("A", 0.5, 5.0, "Hi there, is that Mr Jones? This call may be recorded."),
                 seg("C", 5.5, 7.0, "Yes, who's this?"), seg("A", 7.5, 9.0, "Have you thought about a new plan?"))
    a = alerts_by_id(evaluate_policy(policy, vague, call=outbound))["missing_outbound_disclosure"]
    assert (a.category, a.severity, a.rule_version) == ("privacy", "medium", policy_rule(policy, a.rule_id).version)
    assert set(alerts_by_id(evaluate_policy(policy, vague, call=outbound))) == {"missing_outbound_disclosure"}
    # the rule is for outbound calls only
    assert evaluate_policy(policy, vague, call=inbound) == [] and evaluate_policy(policy, vague) == []
    zh = call(seg("A", 0.5, 5.0, "您好，我是北风电力的小李，本次通话可能会被录音，打电话是想跟您确认一下续约的事情。"),
              seg("C", 5.5, 7.0, "哦，好的。"), language="zh")
    assert evaluate_policy(policy, zh, call=outbound) == []
    # a call-back the customer asked for is a purpose; "National Insurance number" names no company
    callback = call(seg("A", 0.5, 5.0, "It's Lucy from the Larkspur Broadband shop. You left your number with us "
                                       "asking for a call back. Calls are recorded."), seg("C", 5.5, 7.0, "Yes."))
    assert evaluate_policy(policy, callback, call=outbound) == []
    nino = call(seg("A", 0.5, 5.0, "Hi, is that Ms Quinlan? This call is recorded."), seg("C", 5.5, 7.0, "Who's this?"),
                seg("A", 7.5, 9.0, "I'm doing a quick review, can I confirm your National Insurance number?"))
    assert "missing_outbound_disclosure" in alerts_by_id(evaluate_policy(policy, nino, call=outbound))
    # a trade word with no name before it is no company (装修这块), one after a name is (海川燃气)
    trade = call(seg("A", 0.5, 5.0, "李女士是吧？本次通话会录音。你家房子快交房了，装修这块有没有打算？"),
                 seg("C", 5.5, 7.0, "谁啊？"), seg("A", 7.5, 9.0, "我们这边做整装的，现在有个活动。"), language="zh")
    assert "missing_outbound_disclosure" in alerts_by_id(evaluate_policy(policy, trade, call=outbound))
    named = call(seg("A", 0.5, 5.0, "王先生您好，我这边是海川燃气安检组的小邓，通话会录音。今天打过来是跟您定一下上门的时间。"),
                 seg("C", 5.5, 7.0, "哦对。"), language="zh")
    assert evaluate_policy(policy, named, call=outbound) == []


def test_opt_out_ignored(policy):
    ask = "Please delete my data, I don't want to be a customer."
    bad = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, ask), seg("A", 10.0, 12.0, "Anything else?"))
    a = alerts_by_id(evaluate_policy(policy, bad))["opt_out_ignored"]
    assert (a.evidence[0].quote, a.evidence[0].speaker, a.evidence[0].start) == (ask, "C", 6.0)
    assert "no answer within 2 turn(s)" in a.evidence[0].detail
    good = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, ask),
                seg("A", 10.0, 12.0, "Of course, we will delete your data within 30 days."))
    assert evaluate_policy(policy, good) == []
    pitch = call(seg("A", 0.5, 5.0, "本次通话可能会被录音。"), seg("C", 6.0, 9.0, "以后不要再打给我了"),
                 seg("A", 10.0, 14.0, "先生您先别挂，我们这个套餐真的很划算"), seg("C", 15.0, 16.0, "我说了不要"),
                 seg("A", 17.0, 20.0, "就耽误您一分钟"), language="zh", duration=30)
    assert "opt_out_ignored" in alerts_by_id(evaluate_policy(policy, pitch))
    honoured = call(seg("A", 0.5, 5.0, "本次通话可能会被录音。"), seg("C", 6.0, 9.0, "以後不要再打來了"),
                    seg("A", 10.0, 14.0, "好的，已經幫您登記，不會再打擾您。"), language="zh", duration=30)
    assert "opt_out_ignored" not in alerts_by_id(evaluate_policy(policy, honoured))


class FakeSentiment:
    def __init__(self, scores):
        self.scores = scores

    def score(self, texts, language):
        return [SentimentScore.from_score(s) for s in self.scores]


def test_negative_ending(policy):
    s = sentiment_summary(CLEAN, FakeSentiment([0.0, 0.1, 0.0, -0.8]))
    a = alerts_by_id(evaluate_policy(policy, CLEAN, sentiment=s))["negative_ending"]
    assert a.evidence[0].quote == "No, that's great, thanks." and "-0.80" in a.explanation
    ok = sentiment_summary(CLEAN, FakeSentiment([0.0, 0.1, 0.0, 0.6]))
    assert evaluate_policy(policy, CLEAN, sentiment=ok) == []


def test_repeated_contact(policy):
    now = datetime(2026, 3, 1, 12)
    c = Call("c1", "k", "e", started_at=now, attributes={"customer_id": "cust9", "topic": "billing"})
    history = [("cust9", now - timedelta(days=3), "billing"), ("cust9", now - timedelta(days=20), "billing"),
               ("cust9", now - timedelta(days=5), "shipping"), ("other", now - timedelta(days=1), "billing")]
    a = alerts_by_id(evaluate_policy(policy, CLEAN, call=c, history=history))["repeated_contact"]
    assert "2 other call(s)" in a.explanation
    assert evaluate_policy(policy, CLEAN, call=c, history=history[:1] + history[2:]) == []
    old = [("cust9", now - timedelta(days=40), "billing")] * 3
    assert evaluate_policy(policy, CLEAN, call=c, history=old) == []
    assert evaluate_policy(policy, CLEAN, history=history) == []  # no call: cannot tell


BAD = """\
id: p
version: 1
rules:
  - id: r1
    version: 1
    category: privacy
    severity: high
    title: ok
    when: {phrases: [x]}
  - id: r2
    version: 1
    category: reputation
    severty: high
    title: typo
    when: {phrases: [y]}
"""


def test_malformed_policy_names_file_and_line():
    with pytest.raises(PolicyError) as e:
        parse_policy(BAD, "p.yaml")
    assert isinstance(e.value, CallQAError) and e.value.code == "E130"
    assert "p.yaml:13: unknown key 'severty'" in str(e.value) and "did you mean 'severity'" in str(e.value)


@pytest.mark.parametrize("edit, expect", [
    (("when: {phrases: [y]}", "when: {phrazes: [y]}"), "p.yaml:15: rules.1.when"),
    (("when: {phrases: [y]}", "check: no_such_check"), "p.yaml:15: rules.1.check: unknown check 'no_such_check'"),
    (("when: {phrases: [y]}", "check: missing_disclosure\n    params: {secs: 3}"), "p.yaml:16: rules.1.params: check 'missing_disclosure': secs"),
    (("category: reputation", "category: pr"), "p.yaml:12: rules.1.category"),
    (("title: ok\n", "title: ok\n    check: pii_read_out\n"), "exactly one of 'when'"),
    (("id: r2", "id: r1"), "duplicate rule id(s): r1"),
    (("rules:", "rules: [\n"), "not valid YAML"),
])
def test_policy_errors(edit, expect):
    text = BAD.replace("severty", "severity").replace(*edit)
    with pytest.raises(PolicyError) as e:
        parse_policy(text, "p.yaml")
    assert expect in str(e.value)


def test_missing_file():
    with pytest.raises(PolicyError, match="cannot read policy"):
        load_policy("/nonexistent/policy.yaml")


def _asks(text, role="agent"):
    return call(seg("A", 0.0, 4.0, DISCLOSE), seg("A" if role == "agent" else "C", 5.0, 9.0, text))


@pytest.mark.parametrize("text,queue,flagged", [
    ("Can I have your social security number please?", "sales", True),
    ("Can I have your social security number please?", "identity", False),
    ("What is your full card number?", "sales", True),
    ("What is your full card number?", "billing", False),
    ("Please provide your password so I can log in for you.", "billing", True),
    ("What is your date of birth?", "sales", False),
    ("请提供您的身份证号码。", "销售", True),
    ("請提供您的身份證號碼。", "实名认证", False),  # Traditional speech
    ("請提供您的身份證號碼。", "销售", True),
    ("请告诉我您的银行卡密码。", "billing", True),
    ("My social security number is on file, can I have your help?", "sales", False),  # not the agent: see below
])
def test_unneeded_data_request(policy, text, queue, flagged):
    role = "customer" if text.startswith("My social") else "agent"
    call = Call("q", "q.wav", "e", queue=queue)
    got = alerts_by_id(evaluate_policy(policy, _asks(text, role), call=call))
    assert ("unneeded_data_request" in got) is flagged, got
    if flagged:
        ev = got["unneeded_data_request"].evidence[0]
        assert ev.role == "agent" and ev.start == 5.0 and "does not need" in ev.detail


DELETION_POLICY = """\
id: deletion
version: "1"
rules:
  - id: deletion_not_acknowledged
    version: "1"
    category: privacy
    severity: high
    title: Data deletion / opt-out request not acknowledged
    check: deletion_not_acknowledged
    params: {seconds: 60}
"""


def test_deletion_not_acknowledged_check_still_works():
    """The default policy uses opt_out_ignored now; the time-based check stays available to other policies."""
    policy = parse_policy(DELETION_POLICY)
    ask = "Please delete my data, I don't want to be a customer."
    bad = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, ask), seg("A", 10.0, 12.0, "Anything else?"))
    a = alerts_by_id(evaluate_policy(policy, bad))["deletion_not_acknowledged"]
    assert (a.evidence[0].quote, a.evidence[0].speaker, a.evidence[0].start) == (ask, "C", 6.0)
    good = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 6.0, 9.0, ask),
                seg("A", 10.0, 12.0, "Of course, we will delete your data within 30 days."))
    assert evaluate_policy(policy, good) == []
    zh = call(seg("A", 0.5, 5.0, "本次通话可能会被录音。"), seg("C", 6.0, 9.0, "以后不要再打给我了"),
              seg("A", 100.0, 102.0, "好的，我们会删除您的号码"), language="zh", duration=110)
    assert "deletion_not_acknowledged" in alerts_by_id(evaluate_policy(policy, zh))  # acknowledged too late


def test_account_detail_needs_a_real_verification_first(policy):
    # a verification answered without digits (a name and a memorable word) counts; a question for an identifier
    # that holds no value of the account ("your order number") is not itself a detail
    worded = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "Can I take your order number and your full name?"),
                  seg("C", 9.5, 11.0, "Ellen Marsh, and it's on the email somewhere."),
                  seg("A", 11.5, 14.0, "Thanks Ellen. Your balance is 42 pounds."))
    assert "pii_before_verification" not in alerts_by_id(evaluate_policy(policy, worded))
    # "hang on" is not an answer, and the amount said in the same turn as the question came first
    stalled = call(seg("A", 0.5, 5.0, DISCLOSE), seg("A", 6.0, 9.0, "What's your date of birth?"),
                   seg("C", 9.5, 10.0, "Hang on, let me find my card."),
                   seg("A", 10.5, 12.0, "Sure. Your balance is 42 pounds."))
    assert "pii_before_verification" in alerts_by_id(evaluate_policy(policy, stalled))
    same_turn = call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 5.5, 7.0, "How much do I owe?"),
                     seg("A", 7.5, 11.0, "You owe 812 pounds. Oh, can I take your date of birth first?"),
                     seg("C", 11.5, 12.0, "Second of August 1979."))
    assert "pii_before_verification" in alerts_by_id(evaluate_policy(policy, same_turn))


def test_outbound_disclosure_with_a_bare_company_name(policy):
    outbound = Call("c1", "k", "e", direction="outbound")
    bare = call(seg("A", 0.5, 5.0, "Hi, is that Priya? It's Tom, Harbourside Dental. Just ringing to confirm your "
                                   "check-up, and this line's recorded."), seg("C", 5.5, 7.0, "Oh hi."))
    assert evaluate_policy(policy, bare, call=outbound) == []
    # a first and a full name are not a company
    named = call(seg("A", 0.5, 5.0, "Hi Mark, it's Jenny, Jenny Walsh. This call is recorded. How are you?"),
                 seg("C", 5.5, 7.0, "Fine, do I know you?"),
                 seg("A", 7.5, 9.0, "I was hoping for a quick chat about your savings."))
    assert set(alerts_by_id(evaluate_policy(policy, named, call=outbound))) == {"missing_outbound_disclosure"}
    zh = call(seg("A", 0.5, 5.0, "王先生您好，我是链家小李，通话有录音。上周您看的那套房子降价了，想第一时间跟您说一声。"),
              seg("C", 5.5, 7.0, "哦，降到多少了？"), language="zh")
    assert evaluate_policy(policy, zh, call=outbound) == []


@pytest.mark.parametrize("text,abusive", [
    ("Are you thick as mince or what?", True),
    ("Can I speak to someone from this country please?", True),
    ("你是不是脑子不好使？", True),
    ("你是猪喔？讲几遍了还听不懂", True),
    ("This damn phone is a piece of junk, this stupid thing keeps restarting.", False),
    ("I had to go back to the menu three times.", False),
    ("哎呀我真是脑子不好使，忘了这茬了。", False),
    ("你们这是不是人工客服啊？", False),
])
def test_abuse_is_aimed_at_a_person(policy, text, abusive):
    lang = "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"
    got = alerts_by_id(evaluate_policy(policy, call(seg("A", 0.5, 5.0, DISCLOSE), seg("C", 5.5, 9.0, text), language=lang)))
    assert ("abusive_language" in got) == abusive
