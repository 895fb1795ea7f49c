"""Chinese PII evaluation set, built deterministically, and span P/R/F1 of compliance.pii on it.

    python bench/pii_zh.py [--seed 7] [--positives 400] [--negatives 120] [--min-score 0.5] [--json out.json]
                           [--dump set.jsonl]

How the set is built (nothing is downloaded; the same seed gives the same set):
  * carrier sentences: the call-center templates below, written for this benchmark (released with the
    project under its licence, so openly licensed), with slots;
  * slot values generated here: mainland resident IDs (valid MOD 11-2 check digit, real region prefixes,
    plausible birth dates), Taiwan IDs (valid checksum), Luhn-valid card numbers (16/19 digits, plain or
    grouped by 4), mainland/Taiwan/Hong Kong phones, emails, dates of birth (1985年3月12日 and
    一九八五年三月十二日), account numbers after an account word, names (common surnames + given
    names), addresses (province/city/district/road/number) and city names;
  * part of the phones and account numbers are spoken (一三八…, 幺 for 1, 两 for 2), and part of the
    sentences are converted to Traditional script with OpenCC (s2t), piece by piece so gold spans stay exact;
  * negative sentences (order numbers without context, prices, times, non-birth dates, codes) hold no PII
    and measure precision.
Gold spans are known by construction. A prediction is correct when it overlaps a gold span of its group
(LOCATION and ADDRESS form one group, as in bench/pii.py).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEMPLATES = (
    "您好，我叫{name}，我的手机号是{phone}。",
    "我的身份证号码是{cn_id}，麻烦帮我查一下。",
    "请问是{name}先生吗？这里是客服中心。",
    "我的银行卡号是{card}，上个月被扣了两次费。",
    "我的邮箱是{email}，请把账单发到这个邮箱。",
    "我的出生日期是{dob}。",
    "我的账号是{account}，一直登录不上去。",
    "收货地址是{address}，请尽快发货。",
    "我住在{address}，快递一直没送到。",
    "我现在人在{city}，下周才回来。",
    "帮我把联系电话改成{phone}吧。",
    "持卡人是{name}，卡号{card}。",
    "我是{dob}出生的，身份证是{cn_id}。",
    "我的台湾身份证字号是{tw_id}。",
    "会员编号{account}，积分怎么没有到账？",
    "您登记的邮箱{email}已经验证成功。",
    "{name}女士，您的账户{account}本月有一笔退款。",
    "麻烦您核对一下，手机{phone}，姓名{name}，对吗？",
    "新的地址是{address}，以后寄到这里。",
    "我叫{name}，电话是{phone}，地址是{address}。",
    "您好，我是客服{name}，请问您是在{city}吗？",
    "我老婆叫{name}，她的生日是{dob}。",
    "身份证最后一位是X吗？完整的是{cn_id}。",
    "信用卡{card}的账单日是每月几号？",
    "我把钱转到账户{account}了，您查一下。",
    "我们公司在{address}，欢迎来访。",
    "我的手机号码{phone}，有事随时打给我。",
    "刚才那位叫{name}的同事已经帮我处理了。",
    "请发邮件到{email}，抄送给我的同事{name}。",
    "我老家是{city}的，现在在外地工作。",
    "我的帐号是{account}，密码忘了。",
    "出生年月日是{dob}，证件号{tw_id}。",
    "银行卡{card}绑定的手机是{phone}。",
    "{name}您好，您的快递已送达{address}。",
    "我想把收件人改成{name}，电话{phone}。",
    "您的身份证号码，我这边记录是{cn_id}，对吗？",
    "我是{city}人，身份证号{cn_id}。",
    "联系方式：{email}，或者打{phone}。",
    "本人{name}，生日{dob}，住在{address}。",
    "你们的工作人员{name}态度很差。",
)
NEGATIVE_TEMPLATES = (
    "您的订单号是{order}，预计三天内发货。",
    "这款套餐每月{price}元，包含{small}G流量。",
    "我们下午{hour}点{minute}分再给您回电。",
    "您的快递单号{order}已经在派送中了。",
    "这个订单一共是{price}元，优惠了{small}元。",
    "商品编号{order}目前缺货。",
    "退款{price}元会在{small}个工作日内到账。",
    "请在{year}年{month}月{day}日之前完成付款。",
    "您排在第{small}位，请稍候。",
    "今年的活动从{year}年{month}月开始。",
    "工单{order}已经升级处理。",
    "我们的营业时间是早上九点到晚上六点。",
    "验证码是{code}，五分钟内有效。",
    "发票金额{price}元，税号请填写公司的。",
    "这个问题我们会在{small}小时内答复您。",
)
SLOT_ENTITY = {"name": "PERSON", "phone": "PHONE_NUMBER", "cn_id": "NATIONAL_ID", "tw_id": "NATIONAL_ID",
               "card": "CARD_NUMBER", "email": "EMAIL_ADDRESS", "dob": "DATE_OF_BIRTH", "account": "ACCOUNT_NUMBER",
               "address": "ADDRESS", "city": "LOCATION"}
GROUP = {"LOCATION": "LOCATION/ADDRESS", "ADDRESS": "LOCATION/ADDRESS"}

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰志红建国文斌辉鹏宇浩博晨欣怡佳琪子涵雨萱俊峰"
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛")
PLACES = (  # (province, city, districts)
    ("", "北京市", ("朝阳区", "海淀区", "东城区", "丰台区")), ("", "上海市", ("浦东新区", "徐汇区", "静安区")),
    ("广东省", "深圳市", ("南山区", "福田区", "宝安区")), ("广东省", "广州市", ("天河区", "越秀区", "番禺区")),
    ("浙江省", "杭州市", ("西湖区", "余杭区", "拱墅区")), ("江苏省", "南京市", ("鼓楼区", "玄武区")),
    ("四川省", "成都市", ("武侯区", "锦江区", "高新区")), ("湖北省", "武汉市", ("洪山区", "江汉区")),
    ("", "天津市", ("和平区", "南开区")), ("山东省", "青岛市", ("市南区", "崂山区")),
)
ROADS = ("人民路", "建设路", "解放路", "中山路", "和平路", "科技园路", "长江路", "文化路", "新华街", "世纪大道")
CITIES = ("北京", "上海", "广州", "深圳", "杭州", "南京", "成都", "武汉", "西安", "重庆", "长沙", "郑州", "台北", "香港")
REGIONS = ("110105", "110108", "310104", "310115", "440305", "440106", "330106", "320106", "510107", "420111")
EMAIL_USERS = ("wangwei", "lina88", "zhang.min", "chenjie_2020", "liuyang", "xiaohong", "sunny.li", "hui_zhao")
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "gmail.com", "sina.com", "outlook.com")
ZH_DIGITS = "零一二三四五六七八九"


def cn_id(rng: random.Random) -> str:
    from compliance.pii import cn_id_check_digit

    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + cn_id_check_digit(first17)


_TW_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))


def tw_id(rng: random.Random) -> str:
    letter = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
    body = f"{rng.choice('12')}{rng.randrange(10 ** 7):07d}"
    code = _TW_CODES[letter]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(body, range(8, 0, -1)))
    return f"{letter}{body}{(10 - total % 10) % 10}"


def luhn_complete(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)  # doubled positions: counted from the (missing) check digit
        total += d - 9 if d > 9 else d
    return partial + str((10 - total % 10) % 10)


def card(rng: random.Random) -> str:
    length = rng.choice((16, 16, 19))
    prefix = rng.choice(("62", "4", "5"))
    number = luhn_complete(prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1)))
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4)) if rng.random() < 0.4 else number


def phone(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        n = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
        return rng.choice((n, f"{n[:3]}-{n[3:7]}-{n[7:]}", f"{n[:3]} {n[3:7]} {n[7:]}", f"+86 {n}"))
    if kind < 0.8:
        n = f"09{rng.randrange(10 ** 8):08d}"
        return rng.choice((n, f"{n[:4]}-{n[4:7]}-{n[7:]}"))
    n = f"{rng.choice('569')}{rng.randrange(10 ** 7):07d}"
    return rng.choice((f"{n[:4]} {n[4:]}", f"+852 {n[:4]} {n[4:]}"))


def spoken(digits: str, rng: random.Random) -> str:
    yao, liang = rng.random() < 0.5, rng.random() < 0.3
    out = []
    for ch in digits:
        if not ch.isdigit():
            continue  # spoken numbers have no separators or "+"
        out.append("幺" if ch == "1" and yao else "两" if ch == "2" and liang else ZH_DIGITS[int(ch)])
    return "".join(out)


def dob(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    if rng.random() < 0.7:
        return f"{born.year}年{born.month}月{born.day}{rng.choice('日号')}"
    return "".join(ZH_DIGITS[int(c)] for c in str(born.year)) + f"年{_zh_number(born.month)}月{_zh_number(born.day)}日"


def _zh_number(n: int) -> str:
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else ZH_DIGITS[tens]) + "十" if tens else "") + (ZH_DIGITS[ones] if ones else "")


def name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.05 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def address(rng: random.Random) -> str:
    province, city, districts = rng.choice(PLACES)
    tail = rng.choice(("", f"{rng.randrange(1, 30)}栋{rng.randrange(1, 30)}0{rng.randrange(1, 9)}室"))
    return f"{province}{city}{rng.choice(districts)}{rng.choice(ROADS)}{rng.randrange(1, 999)}号{tail}"


def slot_value(slot: str, rng: random.Random) -> str:
    makers = {"name": name, "phone": phone, "cn_id": cn_id, "tw_id": tw_id, "card": card, "dob": dob,
              "address": address, "city": lambda r: r.choice(CITIES),
              "email": lambda r: f"{r.choice(EMAIL_USERS)}{r.randrange(100)}@{r.choice(EMAIL_DOMAINS)}",
              "account": lambda r: str(r.randrange(10 ** 9, 10 ** r.choice((10, 12, 16, 18)))),
              "order": lambda r: f"{2020 + r.randrange(6)}{r.randrange(1, 13):02d}{r.randrange(1, 29):02d}"
                                 f"{r.randrange(10 ** 6, 10 ** 8)}",
              "price": lambda r: str(r.choice((9, 19, 59, 99, 128, 299, 1999, 3999, 12800))),
              "small": lambda r: str(r.randrange(1, 60)), "hour": lambda r: str(r.randrange(1, 12)),
              "minute": lambda r: str(r.choice((10, 15, 20, 30, 45))), "year": lambda r: str(2020 + r.randrange(6)),
              "month": lambda r: str(r.randrange(1, 13)), "day": lambda r: str(r.randrange(1, 29)),
              "code": lambda r: f"{r.randrange(10 ** 6):06d}"}
    value = makers[slot](rng)
    if slot in ("phone", "account") and rng.random() < 0.3:
        value = spoken(value, rng)
    return value


def build(seed: int, positives: int, negatives: int, traditional: float = 0.25) -> list[dict]:
    """[{"text", "spans": [[entity, start, end]], "script", "negative"}] — same seed, same set."""
    from core.chinese import to_script

    rng = random.Random(seed)
    plan = [(TEMPLATES[i % len(TEMPLATES)], False) for i in range(positives)]
    plan += [(NEGATIVE_TEMPLATES[i % len(NEGATIVE_TEMPLATES)], True) for i in range(negatives)]
    out = []
    for template, negative in plan:
        to_trad = rng.random() < traditional
        text, spans = "", []
        for piece in re.split(r"(\{\w+\})", template):
            if not piece:
                continue
            slot = piece[1:-1] if piece.startswith("{") else None
            value = slot_value(slot, rng) if slot else piece
            if to_trad:
                value = to_script(value, "zh-Hant")
            if slot in SLOT_ENTITY:
                spans.append([SLOT_ENTITY[slot], len(text), len(text) + len(value)])
            text += value
        out.append({"text": text, "spans": spans, "script": "Hant" if to_trad else "Hans", "negative": negative})
    return out


def evaluate(items: list[dict], min_score: float) -> tuple[dict, float]:
    from compliance.pii import analyze

    tp, pred_n, gold_n, recalled = Counter(), Counter(), Counter(), Counter()
    analyze("我叫张伟", "zh")  # loads LAC and OpenCC outside the timing
    started = time.perf_counter()
    for item in items:
        gold = [(GROUP.get(e, e), s, t) for e, s, t in item["spans"]]
        pred = [(GROUP.get(f.entity, f.entity), f.start, f.end) for f in analyze(item["text"], "zh")
                if f.score >= min_score]
        for g, s, e in pred:
            pred_n[g] += 1
            tp[g] += any(g == h and s < he and hs < e for h, hs, he in gold)
        for g, s, e in gold:
            gold_n[g] += 1
            recalled[g] += any(g == p and s < pe and ps < e for p, ps, pe in pred)
    elapsed = time.perf_counter() - started
    rows = {}
    for g in sorted(set(gold_n) | set(pred_n)) + ["ALL"]:
        t, n_pred, n_gold, r_ = ((sum(tp.values()), sum(pred_n.values()), sum(gold_n.values()), sum(recalled.values()))
                                 if g == "ALL" else (tp[g], pred_n[g], gold_n[g], recalled[g]))
        p, r = t / max(1, n_pred), r_ / max(1, n_gold)
        rows[g] = {"gold": n_gold, "pred": n_pred, "P": round(p, 3), "R": round(r, 3),
                   "F1": round(2 * p * r / (p + r) if p + r else 0.0, 3)}
    return rows, 1000 * elapsed / max(1, len(items))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--positives", type=int, default=400)
    ap.add_argument("--negatives", type=int, default=120)
    ap.add_argument("--min-score", type=float, default=0.5)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--dump", type=Path, help="write the generated set as JSON lines")
    args = ap.parse_args()
    items = build(args.seed, args.positives, args.negatives)
    if args.dump:
        args.dump.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    rows, ms = evaluate(items, args.min_score)
    trad = sum(i["script"] == "Hant" for i in items)
    print(f"{len(items)} sentences ({args.positives} with PII, {args.negatives} negative; {trad} Traditional), "
          f"seed {args.seed}, min score {args.min_score}, {ms:.1f} ms per sentence (all recognizers, LAC included)")
    print(f"{'entity':17} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}")
    for g, row in rows.items():
        print(f"{g:17} {row['gold']:5} {row['pred']:5} {row['P']:6.3f} {row['R']:6.3f} {row['F1']:6.3f}")
    if args.json:
        args.json.write_text(json.dumps({"sentences": len(items), "seed": args.seed, "min_score": args.min_score,
                                         "traditional": trad, "ms_per_sentence": round(ms, 2), "entities": rows},
                                        indent=2))


if __name__ == "__main__":
    main()
