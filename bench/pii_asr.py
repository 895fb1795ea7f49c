"""Personal numbers rendered the way speech recognition writes them, inside realistic call turns: how many
survive redaction.

    python bench/pii_asr.py [--split test|dev|both] [--per-cell 6] [--seed 11] [--json out.json]

The set is built here, deterministically (nothing downloaded). Values: Luhn-valid cards (Visa, Mastercard,
UnionPay), mainland resident IDs (valid MOD 11-2 check digit, plausible birth dates), Taiwan IDs (valid
checksum), and phones of the regions we serve (US, UK, CN mobile, HK, TW mobile, E.164 with +), each read in
the groups people use. Each value is rendered in every form ASR produces:

  typed           as a person types it (4121 6416 1286 1648, 212-555-0147)
  period          "4121. 6416. 1286. 1648."          ellipsis   "4121...6416...1286...1648"
  ellipsis_char   "4121…6416…"                       comma      "4121, 6416, ..."
  fullwidth_comma "4121，6416，..."                   dunhao     "4121、6416、..."
  dash, spaces    "4121-6416-...", "4121 6416 ..."
  segments        one segment per group, each ending in "."
  backchannel     the read-out interrupted by the other party ("Uh-huh." / 「嗯。」)
  words           digits said as words (en) or Chinese numerals (zh: 幺 for 1, 两 for 2, 洞 for 0 at random)
  mixed           half the groups in words, half in digits
  dropped         one digit lost by ASR (rendered like "period"): the checksum fails
  inserted        one digit added by ASR
  spelled         Taiwan ID with its letter spelled out alone ("A, 1234, 56789")

inside carrier turns in English, Simplified and Traditional Chinese, in three situations: the customer says
it with a context word ("my card number is ..."), the customer answers the agent's question with the number
alone (context only in the question), and the agent reads it back. Carrier templates are split in two halves:
`dev` (the ones the recognizers may be tuned on) and `test` (reported). Hard negatives (amounts, times,
years, flight and room numbers, quantities) measure what is masked that should not be.

A value counts as masked when no digit of it is left visible in the redacted transcript (digits said as words
count: the redacted text is digit-normalised before counting); `visible<=4` allows the last four digits.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pii_zh import card, cn_id, tw_id  # noqa: E402  (generators with valid checksums)

FORMS = ("typed", "period", "ellipsis", "ellipsis_char", "comma", "fullwidth_comma", "dunhao", "dash", "spaces",
         "segments", "backchannel", "words", "mixed", "dropped", "inserted", "spelled")
SEPARATORS = {"period": ". ", "ellipsis": "...", "ellipsis_char": "…", "comma": ", ", "fullwidth_comma": "，",
              "dunhao": "、", "dash": "-", "spaces": " ", "dropped": ". ", "inserted": ". "}
LANGS = ("en", "zh-Hans", "zh-Hant")

# (entity label, groups) per value kind; phones in the groups people read them in
KINDS = ("card", "cn_id", "tw_id", "phone_us", "phone_uk", "phone_cn", "phone_hk", "phone_tw", "phone_e164")
ENTITY = {"card": "CARD_NUMBER", "cn_id": "NATIONAL_ID", "tw_id": "NATIONAL_ID"} | {
    k: "PHONE_NUMBER" for k in KINDS if k.startswith("phone")}

CONTEXT = {  # what the customer calls the number, per language
    "card": ("card number", "卡号", "卡號"), "cn_id": ("ID number", "身份证号码", "身分證號碼"),
    "tw_id": ("ID number", "身份证号", "身分證字號"),
} | {k: ("phone number", "手机号码", "手機號碼") for k in KINDS if k.startswith("phone")}
QUESTION = {
    "card": ("Could I have the long number on the front of the card, please?", "麻烦您报一下银行卡上的那串数字。",
             "麻煩您報一下信用卡上的那串數字。"),
    "cn_id": ("And for security, what's your resident ID?", "为了核实身份，请问您的身份证是？", "為了核實身分，請問您的身分證是？"),
    "tw_id": ("And for security, what's your national ID?", "为了核实身份，请问您的身份证是？", "為了核實身分，請問您的身分證字號是？"),
} | {k: ("What's the best number to reach you on?", "请问您的联系电话是多少？", "請問您的聯絡電話是多少？")
     for k in KINDS if k.startswith("phone")}

# carrier templates per situation: {ctx} context word, {v} the value; index parity splits dev/test
SAYS = {
    "en": ("Sure, my {ctx} is {v}.", "Yeah so the {ctx}, it's {v}, I think.", "OK, um, {ctx} is {v}.",
           "Right, let me find it. The {ctx} is {v}.", "It's my {ctx} you need? {v}.",
           "My {ctx}? Sure, that'd be {v}."),
    "zh-Hans": ("好的，我的{ctx}是{v}。", "嗯，{ctx}是{v}，你记一下。", "那个{ctx}啊，是{v}。", "我看一下，{ctx}是{v}。",
                "{ctx}就是{v}吧。", "你要{ctx}是吧，{v}。"),
    "zh-Hant": ("好的，我的{ctx}是{v}。", "嗯，{ctx}是{v}，你記一下。", "那個{ctx}喔，是{v}。", "我看一下，{ctx}是{v}。",
                "{ctx}就是{v}吧。", "你要{ctx}是吧，{v}。"),
}
ANSWERS = {
    "en": ("{v}.", "Yeah, it's {v}.", "Um, {v}.", "OK so that's {v}.", "Sure. {v}.", "It should be {v}."),
    "zh-Hans": ("{v}。", "是{v}。", "嗯，{v}。", "好的，{v}。", "稍等，{v}。", "应该是{v}。"),
    "zh-Hant": ("{v}。", "是{v}。", "嗯，{v}。", "好的，{v}。", "稍等，{v}。", "應該是{v}。"),
}
READ_BACK = {
    "en": ("Let me read that back: {v}, is that right?", "So that's {v}. Thank you.", "I have {v} on file, correct?",
           "Just to confirm, {v}?", "Great, {v}. Got it.", "Thanks, so {v}, yes?"),
    "zh-Hans": ("我跟您核对一下，{v}，对吗？", "好的，{v}，已经记下了。", "系统里是{v}，没错吧？", "确认一下，{v}？",
                "好，{v}，收到。", "那就是{v}，对吧？"),
    "zh-Hant": ("我跟您核對一下，{v}，對嗎？", "好的，{v}，已經記下了。", "系統裡是{v}，沒錯吧？", "確認一下，{v}？",
                "好，{v}，收到。", "那就是{v}，對吧？"),
}
BACKCHANNEL = {"en": ("Uh-huh.", "Mm-hmm.", "OK.", "Yep."), "zh-Hans": ("嗯。", "好。", "对。", "嗯嗯。"),
               "zh-Hant": ("嗯。", "好。", "對。", "嗯嗯。")}
NEGATIVES = {
    "en": ("It was 1,250 dollars and 40 cents, twice.", "I called at 10:30 and again at 4:15.",
           "We were customers in 2023, 2024 and 2025.", "My flight is BA 287 on the 14th.", "I'm in room 1204.",
           "I waited 45 minutes, then another 20.", "You have about 3,000 customers complaining.",
           "It's the X-500 model, the 2022 one.", "I paid 89.99 on the 3rd and 89.99 on the 17th.",
           "Order 5521 arrived, 5522 did not."),
    "zh-Hans": ("一共花了一千二百五十块。", "我十点半打过一次，四点一刻又打了。", "我们从2023年、2024年到2025年都是会员。",
                "航班是CA 1831，十四号的。", "我住在1204房间。", "等了四十五分钟，又等了二十分钟。",
                "价格是89.99元，扣了两次。", "订单5521到了，5522没到。"),
    "zh-Hant": ("一共花了一千二百五十塊。", "我十點半打過一次，四點一刻又打了。", "我們從2023年、2024年到2025年都是會員。",
                "航班是CI 0065，十四號的。", "我住在1204房間。", "等了四十五分鐘，又等了二十分鐘。",
                "價格是89.99元，扣了兩次。", "訂單5521到了，5522沒到。"),
}
EN_WORDS = "zero one two three four five six seven eight nine".split()
ZH = "零一二三四五六七八九"


def phone(kind: str, rng: random.Random) -> list[str]:
    """Phone number groups of `kind`, drawn until libphonenumber accepts the number for its region (the
    phone counterpart of a valid checksum)."""
    import phonenumbers

    d = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    region = {"phone_us": "US", "phone_uk": "GB", "phone_cn": "CN", "phone_hk": "HK", "phone_tw": "TW",
              "phone_e164": "GB"}[kind]
    while True:
        if kind == "phone_us":
            groups = [rng.choice("2345678") + d(2), rng.choice("2345678") + d(2), d(4)]
        elif kind == "phone_uk":
            area = rng.choice(("020", "0161", "0117"))
            groups = [area, rng.choice("379") + d(3 if area == "020" else 2), d(4)]
        elif kind == "phone_cn":
            groups = ["1" + rng.choice("3589") + d(1), d(4), d(4)]
        elif kind == "phone_hk":
            groups = [rng.choice("569") + d(3), d(4)]
        elif kind == "phone_tw":
            groups = ["09" + d(2), d(3), d(3)]
        else:  # E.164, a UK mobile
            groups = ["+44", "7" + d(3), d(6)]
        if phonenumbers.is_valid_number(phonenumbers.parse("".join(groups), region)):
            return groups


def value_groups(kind: str, rng: random.Random) -> list[str]:
    if kind == "card":
        c = card(rng).replace(" ", "")
        return [c[i:i + 4] for i in range(0, len(c), 4)]
    if kind == "cn_id":
        i = cn_id(rng)
        return [i[:6], i[6:10], i[10:14], i[14:]]
    if kind == "tw_id":
        t = tw_id(rng)
        return [t[0], t[1:5], t[5:]]
    return phone(kind, rng)


def say_digits(group: str, lang: str, rng: random.Random) -> str:
    if not group.isdigit():
        return group
    if lang == "en":
        return " ".join(EN_WORDS[int(c)] for c in group)
    out = []
    for c in group:
        ch = ZH[int(c)]
        if c == "1" and rng.random() < 0.5:
            ch = "幺"
        elif c == "2" and rng.random() < 0.3:
            ch = "两" if lang == "zh-Hans" else "兩"
        elif c == "0" and rng.random() < 0.2:
            ch = "洞"
        out.append(ch)
    return "".join(out)


def render(groups: list[str], form: str, lang: str, rng: random.Random) -> list[str] | None:
    """The value as one or more pieces of text (several pieces: separate segments / around a backchannel)."""
    sep_word = ", " if lang == "en" else "，"
    if form == "typed":
        return [("-" if len(groups) == 3 and groups[0].isdigit() and len(groups[0]) == 3 else " ").join(groups)]
    if form in ("dropped", "inserted"):
        digits = [i for i, g in enumerate(groups) if g.isdigit() and len(g) > 2]
        k = rng.choice(digits)
        g = groups[k]
        p = rng.randrange(len(g))
        groups = groups[:k] + [g[:p] + g[p + 1:] if form == "dropped" else g[:p] + rng.choice("0123456789") + g[p:]] \
            + groups[k + 1:]
    if form in SEPARATORS:
        return [SEPARATORS[form].join(groups)]
    if form == "segments":
        return [g + "." for g in groups]
    if form == "backchannel":
        h = (len(groups) + 1) // 2
        return [sep_word.join(groups[:h]), sep_word.join(groups[h:])]
    if form == "words":
        return [sep_word.join(say_digits(g, lang, rng) for g in groups)]
    if form == "mixed":
        return [sep_word.join(say_digits(g, lang, rng) if i % 2 == 0 else g for i, g in enumerate(groups))]
    if form == "spelled":
        return [sep_word.join(groups)] if not groups[0].isdigit() else None
    raise ValueError(form)


@dataclass(frozen=True)
class Case:
    kind: str
    form: str
    lang: str
    situation: str  # says | answers | read_back
    turns: tuple[tuple[str, str, bool], ...]  # (role, text, holds the value)
    value_digits: int


def build(split: str, per_cell: int, seed: int) -> tuple[list[Case], list[tuple[str, str]]]:
    rng = random.Random(f"{seed}-{split}")
    pick = (lambda seq: [t for i, t in enumerate(seq) if i % 2 == (0 if split == "dev" else 1)])
    cases = []
    for kind in KINDS:
        for form in FORMS:
            if (form == "spelled") != (kind == "tw_id") and form == "spelled":
                continue
            for lang in LANGS:
                li = LANGS.index(lang)
                for n in range(per_cell):
                    situation = ("says", "answers", "read_back")[n % 3]
                    groups = value_groups(kind, rng)
                    pieces = render(groups, form, lang, rng)
                    if pieces is None:
                        continue
                    digits = sum(ch.isdigit() for g in groups for ch in g)
                    q = QUESTION[kind][li]
                    if situation == "says":
                        tpl, role = rng.choice(pick(SAYS[lang])), "customer"
                        pre = [("agent", q, False)] if rng.random() < 0.5 else [("agent", "How can I help?", False)]
                    elif situation == "answers":
                        tpl, role = rng.choice(pick(ANSWERS[lang])), "customer"
                        pre = [("agent", q, False)]
                    else:
                        tpl, role = rng.choice(pick(READ_BACK[lang])), "agent"
                        pre = [("customer", "OK.", False)]
                    head, tail = tpl.replace("{ctx}", CONTEXT[kind][li]).split("{v}")
                    if len(pieces) == 1:
                        body = [(role, head + pieces[0] + tail, True)]
                    elif form == "backchannel":  # the other party says "uh-huh" in the middle of the read-out
                        other = "agent" if role == "customer" else "customer"
                        body = [(role, head + pieces[0], True), (other, rng.choice(BACKCHANNEL[lang]), False),
                                (role, pieces[1] + tail, True)]
                    else:  # one segment per group, as whisper splits a slow read-out
                        body = [(role, head + pieces[0], True), *((role, p, True) for p in pieces[1:-1]),
                                (role, pieces[-1] + tail, True)]
                    cases.append(Case(kind, form, lang, situation, tuple(pre + body), digits))
    negatives = [(lang, t) for lang in LANGS for t in pick(NEGATIVES[lang])]
    return cases, negatives


# --- names: precision on call-center speech ----------------------------------------------------------
NAME_TURNS = {  # (template, holds a customer/agent name); {n} a name from NAMES
    "en": (("Hi, my name's {n}, I'm calling about my bill.", True), ("This is {n} speaking, how can I help?", True),
           ("Yes, I spoke to {n} {s} last week.", True), ("Thanks {n}, that's really helpful.", True),
           ("Could I speak to Mr {s}, please?", True), ("It's {n} {s}, the account holder.", True),
           ("Anyway, the parcel never came.", False), ("Amazon said it was delivered.", False),
           ("Right, so DHL has it now?", False), ("Okay. Northwind charged me twice.", False),
           ("Honestly, Visa told me to call you.", False), ("Alright, I'll check with FedEx.", False),
           ("Cheers, that's sorted then.", False), ("Well, PayPal refunded half of it.", False)),
    "zh": (("您好，我叫{n}，想查一下订单。", True), ("请问是{n}先生吗？", True), ("我是客服{n}，工号三零二。", True),
           ("麻烦找一下{n}女士。", True), ("{n}，你好，这边是售后。", True), ("我姓{s}，{n}。", True),
           ("顺丰的快递小哥说明天到。", False), ("我在淘宝上买的，京东也有。", False), ("亲，在吗？", False),
           ("嗯嗯，好的，那个韵达还没来。", False), ("拼多多那边已经退款了。", False), ("菜鸟驿站说没收到。", False),
           ("老板说今天发货。", False), ("掌柜的回复了吗？", False)),
}
NAMES = {"en": (("Michael", "Johnson"), ("Sarah", "Miller"), ("Priya", "Patel"), ("Tom", "Baker"), ("Aisha", "Khan"),
                ("Wei", "Chen"), ("Laura", "Garcia"), ("James", "O'Brien")),
         "zh": (("王建国", "王"), ("李娜", "李"), ("张伟", "张"), ("陈静", "陈"), ("刘洋", "刘"), ("黄丽", "黄"),
                ("周杰", "周"), ("林美玲", "林"))}


def evaluate_names(split: str, seed: int) -> dict:
    """PERSON precision and recall on call-center turns: names with and without context, and couriers,
    platforms, company names and fillers that NER models tag as names (Traditional: the zh turns converted)."""
    from compliance.pii import analyze
    from compliance.redact import REDACT_MIN_SCORE
    from core.chinese import to_script

    rng = random.Random(f"{seed}-{split}-names")
    tp = fp = fn = 0
    wrong: list[str] = []
    for lang in ("en", "zh-Hans", "zh-Hant"):
        base = "en" if lang == "en" else "zh"
        for i, (tpl, holds) in enumerate(NAME_TURNS[base]):
            if i % 2 != (0 if split == "dev" else 1):
                continue
            for given, surname in rng.sample(NAMES[base], 3 if holds else 1):
                text = tpl.format(n=given, s=surname)
                if lang == "zh-Hant":
                    text = to_script(text, "zh-Hant")
                found = [f for f in analyze(text, base) if f.entity == "PERSON" and f.score >= REDACT_MIN_SCORE]
                hit = holds and any(surname in f.text or given in f.text or to_script(given, "zh-Hant") in f.text
                                    for f in found)
                tp += hit
                fn += holds and not hit
                fp += len(found) - hit
                if (holds and not hit) or len(found) > hit:
                    wrong.append(text)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "errors": wrong[:8]}


def evaluate(cases: list[Case], negatives: list[tuple[str, str]]) -> dict:
    from compliance.redact import find_pii, redact_transcript
    from compliance.spoken import normalise_spoken_digits
    from core.models import Segment, Transcript

    def transcript(lang: str, turns) -> Transcript:
        segs, t = [], 0.0
        for role, text, _ in turns:
            segs.append(Segment(t, t + 2.0, text, speaker="A" if role == "agent" else "C", role=role))
            t += 2.2
        return Transcript("bench", "en" if lang == "en" else "zh", 1.0, t, tuple(segs), "bench", "none")

    def digits_in(text: str, lang: str) -> int:
        return sum(ch.isdigit() for ch in normalise_spoken_digits(text, "en" if lang == "en" else "zh")[0])

    by: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    worst = 0
    for c in cases:
        t = transcript(c.lang, c.turns)
        spans = find_pii(t)
        red = redact_transcript(t, spans)
        visible = sum(digits_in(red.segments[i].text, c.lang) for i, (_, _, holds) in enumerate(c.turns) if holds)
        worst = max(worst, visible)
        ents = {s.entity for s in spans}
        row = (visible == 0, visible <= 4, ENTITY[c.kind] in ents, bool(ents - {ENTITY[c.kind], "NUMBER"}))
        for key in (f"entity:{ENTITY[c.kind]}", f"kind:{c.kind}", f"form:{c.form}", f"lang:{c.lang}",
                    f"situation:{c.situation}", "all"):
            by[key.split(":")[0]][key.split(":")[-1]].append(row)
    neg_hits = []
    for lang, text in negatives:
        t = transcript(lang, [("customer", text, True)])
        if find_pii(t):
            neg_hits.append(text)
    agent_neg = []
    for lang, text in negatives:
        t = transcript(lang, [("agent", text, True)])
        if find_pii(t):
            agent_neg.append(text)

    def summary(rows):
        n = len(rows)
        return {"n": n, "masked": round(sum(r[0] for r in rows) / n, 4), "visible<=4": round(sum(r[1] for r in rows) / n, 4),
                "named_right": round(sum(r[2] for r in rows) / n, 4)}
    return {"values": len(cases), "max_visible_digits": worst,
            **{group: {k: summary(v) for k, v in sorted(rows.items())} for group, rows in by.items()},
            "negatives": {"n": len(negatives), "masked_customer": len(neg_hits), "masked_agent": len(agent_neg),
                          "examples": neg_hits[:5]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test", "both"), default="test")
    ap.add_argument("--per-cell", type=int, default=6, help="values per kind x form x language (default 6)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    out = {}
    for split in (("dev", "test") if a.split == "both" else (a.split,)):
        cases, negatives = build(split, a.per_cell, a.seed)
        res = evaluate(cases, negatives)
        out[split] = res
        print(f"== {split}: {res['values']} values, max digits left visible {res['max_visible_digits']}")
        for group in ("entity", "kind", "form", "lang", "situation", "all"):
            print(f"  by {group}:")
            for k, v in res[group].items():
                print(f"    {k:18s} n={v['n']:4d}  masked {v['masked']:.3f}  visible<=4 {v['visible<=4']:.3f}  "
                      f"named right {v['named_right']:.3f}")
        ng = res["negatives"]
        print(f"  hard negatives: {ng['n']} turns, masked when a customer says them {ng['masked_customer']}, "
              f"when an agent does {ng['masked_agent']}; e.g. {ng['examples']}")
        names = res["names"] = evaluate_names(split, a.seed)
        print(f"  names (PERSON, en/zh-Hans/zh-Hant call turns): P {names['precision']:.3f} R {names['recall']:.3f} "
              f"(tp {names['tp']}, fp {names['fp']}, fn {names['fn']}); errors e.g. {names['errors']}")
    if a.json:
        a.json.write_text(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
