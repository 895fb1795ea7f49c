"""Plain words for what a rule looks for: the fail and N/A explanations of a scorecard (`plain`), never a
pattern, at most PLAIN_LIMIT characters.

A QA reviewer reads these, so they name what was looked for and where in everyday words and never show a
pattern: a node's `label:` wins; a word list or an example set speaks through its description and a few
of its terms; a regex through a few literal phrases it matches (checked against the pattern), or not at
all; metrics through their meaning ("dead air under 30 s"). `plain` bounds the text: it drops examples,
shortens descriptions and names fewer alternatives or conditions ("and 1 more condition") until the
sentence fits. Everything here reads the form only, never transcript text.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from core.chinese import CJK
from scoring.pattern_examples import MAX_EXAMPLE, regex_examples
from scoring.rules import Rule, _simplified

PLAIN_LIMIT = 200  # characters of an explanation
OPAQUE = "a matching phrase"  # a pattern with no label and no literal example
_REGEXY = re.compile(r"\\[A-Za-z]|\(\?|\[\^|\||\.\*|\.\{|\]\{")


@dataclass(frozen=True)
class Wording:
    """How much `words` spells out: quoted examples per list or pattern, how many children of a
    combinator, whether descriptions are cut short (`brief`), and the form's script (a Chinese form quotes
    Chinese examples, any other form Latin ones)."""
    examples: int = 2
    parts: int = 6
    brief: bool = False
    compact: bool = False  # "A and B in the same sentence" said as "A and B"
    exceptions: bool = True  # "…, unless the same sentence has …" (`except:`)
    cjk: bool = False
    nested: bool = False  # inside a combinator: a two-way choice reads "either A or B"
    negated: bool = False  # under `not`: a choice reads "neither A nor B"

    def down(self) -> "Wording":
        return replace(self, nested=True, negated=False)


_LEVELS = (Wording(2, 6), Wording(2, 6, exceptions=False), Wording(1, 6, exceptions=False),
           *(Wording(n, p, True, compact, False) for n, p, compact in
             ((1, 3, False), (0, 3, False), (0, 3, True), (0, 2, True), (0, 1, True))))
_WORDS: dict[str, Callable[[Any, Wording], str]] = {}


def words(rule: Rule, w: Wording = Wording()) -> str:
    """What `rule` looks for in plain words; "" when it cannot say anything useful (a pattern without a
    label or a literal example), so that combinators leave it out."""
    if rule.label:
        return rule.label
    fn = _WORDS.get(rule.op)
    if fn is not None:
        return fn(rule, w)
    if type(rule).describe is not Rule.describe:  # a plug-in operator's own words, when they are plain
        text = " ".join(str(rule.describe()).split())
        return text if len(text) <= 120 and not _REGEXY.search(text) else ""
    return ""


def plain(rule: Rule, sentence: Callable[[str], str] = lambda t: t, *, cjk: bool = False,
          examples: bool = True, limit: int = PLAIN_LIMIT) -> str:
    """`sentence(words(rule))` within `limit` characters: less detail until it fits, then cut at a word.
    `examples=False`: no quoted examples (when the evidence quotes what was found)."""
    text = ""
    for level in _LEVELS:
        level = replace(level, cjk=cjk, examples=level.examples if examples else 0)
        text = sentence(words(rule, level) or (no(OPAQUE) if rule.op == "not" else OPAQUE))
        if len(text) <= limit:
            return text
    return shorten(text, limit)


def shorten(text: str, limit: int = PLAIN_LIMIT) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:(") + "…"


def no(text: str) -> str:
    """"a phrase such as …" -> "no phrase such as …"; "the agent asking …" -> "no agent asking …"."""
    for word in ("either ", "both "):
        text = text.removeprefix(word)
    for article in ("a ", "an ", "the ", "any "):
        if text.startswith(article):
            return "no " + text[len(article):]
    return "no " + text


def _wording(*ops: str):
    def deco(fn):
        for op in ops:
            _WORDS[op] = fn
        return fn
    return deco


def _pick(items, n: int, cjk: bool) -> list[str]:
    """Up to n short, distinct examples in the form's script (Chinese for a Chinese form, else Latin): a
    list's terms in the other script are for the other language's calls. Spelling and script variants of
    an example already picked ("summarise", "總結") are skipped."""
    picked: list[str] = []
    for x in items:
        x = " ".join(str(x).replace('"', "").split())
        if (not x or len(x) > MAX_EXAMPLE or not any(c.isalnum() for c in x) or bool(CJK.search(x)) != cjk
                or any(difflib.SequenceMatcher(None, _simplified(x).lower(), _simplified(p).lower()).ratio() > 0.7
                       for p in picked)):
            continue
        picked.append(x)
        if len(picked) >= n:
            break
    return [x if cjk else re.sub(r"\bi\b", "I", x) for x in picked]


def _quoted(items, n: int, cjk: bool) -> str:
    q = [f'"{x}"' for x in _pick(items, n, cjk)]
    return "" if not q else q[0] if len(q) == 1 else ", ".join(q[:-1]) + " or " + q[-1]


def _join(parts: list[str], conj: str) -> str:
    """"A or B", "A, B or C"; with semicolons when a part has commas of its own ("A, said by …; or B")."""
    if len(parts) <= 1:
        return "".join(parts)
    if any("," in p for p in parts):
        return "; ".join(parts[:-1]) + f"; {conj} " + parts[-1]
    return ", ".join(parts[:-1]) + f" {conj} " + parts[-1]


def _description(text: str, w: Wording) -> str:
    """A word list's or example set's description as a phrase: first letter lowered, no final period,
    "Customer asks …" read as "the customer asking …"; its parentheses dropped when examples are few, and
    cut at its first comma or colon when brief."""
    text = " ".join(text.split()).rstrip(".")
    if w.examples < 2:
        text = re.sub(r"\s*\([^()]*\)", "", text)
    if w.brief:
        text = re.split(r",\s|:\s|;\s", text, maxsplit=1)[0]
    m = re.match(r"(?:the )?(agent|customer) ([a-z]{3,})s ", text, re.IGNORECASE)
    if m and m.group(2).lower() not in ("doe", "ha", "wa"):  # "Agent confirms …" -> "the agent confirming …"
        stem = m.group(2)
        gerund = (stem[:-1] if stem.endswith("e") and not stem.endswith("ee") else stem) + "ing"
        text = f"the {m.group(1).lower()} {gerund} " + text[m.end():]
    elif len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


def _with_examples(what: str, examples, w: Wording) -> str:
    q = _quoted(examples, w.examples, w.cjk) if w.examples else ""
    return f"{what} (e.g. {q})" if q else what


def _turns(n: int) -> str:
    """After "first" / "last": "turn", "2 turns"."""
    return "turn" if n == 1 else f"{n} turns"


@_wording("phrases")
def _phrases_words(rule, w):
    q = _quoted(rule.phrases, w.examples, w.cjk) if w.examples else ""
    return f"a phrase such as {q}" if q else f"one of {len(rule.phrases)} listed phrases"


@_wording("regex")
def _regex_words(rule, w):
    q = _quoted(regex_examples(rule.pattern), w.examples, w.cjk) if w.examples else ""
    return f"a phrase such as {q}" if q else ""


@_wording("similar")
def _similar_words(rule, w):
    q = _quoted(rule.examples, min(w.examples, 1), w.cjk) if w.examples else ""
    return f"a sentence like {q}" if q else "a sentence like the form's examples"


@_wording("terms")
def _terms_words(rule, w):
    from scoring.vocab import vocabulary  # lazy: scoring.vocab is loaded once the `terms` operator is used

    def about(name: str) -> str:
        wl = vocabulary().lists.get(name)
        return _description(wl.description, w) if wl else f'a word from the "{name.replace("_", " ")}" list'

    text = _with_examples(about(rule.name), rule.matcher.phrases, w)
    if rule.exception and w.exceptions:  # `except: LIST` (or several)
        text += ", unless the same sentence has " + _join([about(n.strip()) for n in rule.exception.split(",")], "or")
    return text


@_wording("examples")
def _examples_words(rule, w):
    from scoring.examples import shipped_example_sets

    es = shipped_example_sets().get(rule.name)
    what = _description(es.description, w) if es else f'a sentence like the "{rule.name.replace("_", " ")}" examples'
    return _with_examples(what, rule.similar.examples, replace(w, examples=min(w.examples, 1)))


@_wording("role")
def _role_words(rule, w):
    child = rule.child
    if not child.label and child.op in ("first_turns", "last_turns"):
        which = "first" if child.op == "first_turns" else "last"
        n = int(child.arg)
        return f"{words(child.child, w) or OPAQUE}, in the {rule.arg}'s {which} {_turns(n)}"
    inner = words(child, w) or OPAQUE
    if re.match(rf"(the |an? |no )?{rule.arg} ", inner):  # "the agent asking for …" says who already
        return inner
    return f"{inner}, said by the {rule.arg}"


@_wording("first_turns", "last_turns")
def _turns_words(rule, w):
    which = "first" if rule.op == "first_turns" else "last"
    return f"{words(rule.child, w) or OPAQUE}, in the {which} {_turns(int(rule.arg))}"


@_wording("within_first", "within_last")
def _window_words(rule, w):
    which = "first" if rule.op == "within_first" else "last"
    return f"{words(rule.child, w) or OPAQUE}, in the {which} {rule.arg:g} s"


def _parts(children, w: Wording) -> tuple[list[str], int]:
    """The children's words, repeats left out, and how many children had nothing to say (a bare
    pattern); a child that restates an earlier sibling (a YAML anchor used twice) says "that" instead."""
    parts: list[str] = []
    silent = 0
    for c in children:
        t = words(c, w.down())
        for earlier in parts:
            if len(earlier) >= 30 and earlier in t and earlier != t:
                t = t.replace(earlier, "that")
        silent += not t
        if t and t not in parts:
            parts.append(t)
    return parts, silent


def _combined(parts: list[str], conj: str, w: Wording, extra: int = 0, more: str = "more condition") -> str:
    """At most `w.parts` parts joined with `conj`; the rest, and `extra` unnamed ones, are counted
    ("and 1 more condition")."""
    if len(parts) > w.parts:
        extra, parts = extra + len(parts) - w.parts, parts[: w.parts]
    if w.negated and conj == "or" and len(parts) > 1:
        text = (f"neither {parts[0]} nor {parts[1]}" if len(parts) == 2
                else "none of: " + _join(parts, "or"))
    else:
        text = _join(parts, conj)
        if len(parts) > 1 and w.nested:
            text = ({"or": "either ", "and": "both "}[conj] if len(parts) == 2
                    else f"{'one' if conj == 'or' else 'all'} of: ") + text
    return text + (f" ({conj} {extra} {more}{'s' if extra > 1 else ''})" if extra > 0 and text else "")


@_wording("any")
def _any_words(rule, w):
    parts, _ = _parts(rule.children, w)  # an alternative with nothing to say is just left out
    return _combined(parts, "or", w, more="other")


@_wording("all")
def _all_words(rule, w):
    parts, silent = _parts(rule.children, w)
    return _combined(parts, "and", w, silent)


@_wording("together")
def _together_words(rule, w):
    parts, silent = _parts(rule.children, w)
    if silent:  # one word of a sentence that needs another, unnamed one would mislead
        return ""
    text = "".join(parts) if len(parts) <= 1 else _join(parts, "and") + ("" if w.compact else " in the same sentence")
    exclude = getattr(rule, "exclude", None)
    if text and exclude is not None and w.exceptions and (but := words(exclude, w.down())):
        text += f", unless it also has {but}"
    return text


@_wording("not")
def _not_words(rule, w):
    child = rule.child
    if not child.label and child.op == "any":
        inner = words(child, replace(w, nested=False, negated=True))
        return inner if inner.startswith(("neither ", "none of")) else no(inner) if inner else ""
    inner = words(child, replace(w, nested=False))
    return no(inner) if inner else ""


@_wording("before", "after")
def _order_words(rule, w):
    a, b = words(rule.first, w.down()), words(rule.second, w.down())
    return f"{a or OPAQUE} {rule.op} {b or OPAQUE}" if a or b else ""


@_wording("near")
def _near_words(rule, w):
    a, b = words(rule.first, w.down()), words(rule.second, w.down())
    return f"{a or OPAQUE} within {rule.seconds:g} s of {b or OPAQUE}" if a or b else ""


@_wording("followed_by", "unanswered")
def _answer_words(rule, w):
    a = words(rule.first, w.down()) or OPAQUE
    second = rule.second
    if not second.label and second.op == "role":
        inner = "" if w.brief else words(second.child, w.down())
        if re.match(rf"(the )?{second.arg} ", inner):  # "the agent confirming …"
            by = inner if inner.startswith("the ") else "the " + inner
        else:
            by = f"the {second.arg}" + (f" with {inner}" if inner else "")
    else:
        by = words(second, w.down()) or OPAQUE
    verb = "not answered" if rule.op == "unanswered" else "answered"
    return f"{a}, {verb} by {by}" + ("" if w.brief else f" within {rule.turns} turn{'s' if rule.turns > 1 else ''}")


# metric name -> (words, kind): kind "s" seconds, "%" a ratio, "rate" words per minute, or a count's
# (singular, plural)
_METRIC_WORDS: dict[str, tuple[str, Any]] = {
    "duration_seconds": ("the call length", "s"),
    "speech_seconds": ("speech time", "s"),
    "silence_seconds": ("total silence", "s"),
    "longest_silence_seconds": ("the longest silence", "s"),
    "dead_air_seconds": ("dead air", "s"),
    "overtalk_seconds": ("overtalk", "s"),
    "hold_seconds": ("total hold time", "s"),
    "time_to_first_agent_response": ("time to the agent's first response", "s"),
    "longest_hold_seconds": ("the longest hold", "s"),
    "hold_count": ("", ("hold", "holds")),
    "unannounced_hold_count": ("", ("unannounced hold", "unannounced holds")),
    "interruption_count": ("", ("interruption", "interruptions")),
}
_ROLE_METRIC_WORDS: dict[str, tuple[str, Any]] = {
    "talk_seconds": ("the {role}'s talk time", "s"),
    "talk_ratio": ("the {role}'s share of the talk time", "%"),
    "words_per_minute": ("the {role}'s speaking rate", "rate"),
    "units": ("", ("utterance by the {role}", "utterances by the {role}")),
    "interruptions": ("", ("interruption by the {role}", "interruptions by the {role}")),
}
_QUANTITY = {"lt": "under", "le": "at most", "gt": "over", "ge": "at least", "eq": "exactly", "ne": "other than"}


def _metric_meaning(name: str) -> tuple[str, Any]:
    if name in _METRIC_WORDS:
        return _METRIC_WORDS[name]
    role, _, field = name.partition(".")
    if field in _ROLE_METRIC_WORDS:
        what, kind = _ROLE_METRIC_WORDS[field]
        return what.format(role=role), (tuple(k.format(role=role) for k in kind) if isinstance(kind, tuple) else kind)
    return name.replace(".", " ").replace("_", " "), "s" if name.endswith("_seconds") else ""


def _count_words(op: str, x: float, one: str, many: str) -> str:
    n = f"{x:g}"
    if (op, x) in (("eq", 0), ("lt", 1), ("le", 0)):
        return f"no {many}"
    if (op, x) in (("gt", 0), ("ge", 1)):
        return f"at least one {one}"
    if op == "ne":
        return f"a number of {many} other than {n}"
    word = {"lt": "fewer than", "le": "at most", "gt": "more than", "ge": "at least", "eq": "exactly"}[op]
    return f"{word} {n} {one if x == 1 else many}"


_LONGEST = {"longest_hold_seconds": "hold", "longest_silence_seconds": "silence"}


@_wording("metric")
def _metric_words(rule, w):
    what, kind = _metric_meaning(rule.name)
    if isinstance(kind, tuple):
        return " and ".join(_count_words(op, x, *kind) for op, x in rule.comparisons)
    if rule.name in _LONGEST and len(rule.comparisons) == 1 and rule.comparisons[0][0] in ("le", "lt"):
        op, x = rule.comparisons[0]  # "no hold longer than 120 s"
        thing = _LONGEST[rule.name]
        return f"no {thing} longer than {x:g} s" if op == "le" else f"no {thing} of {x:g} s or longer"

    def value(x: float) -> str:
        return {"s": f"{x:g} s", "%": f"{x:.0%}", "rate": f"{x:g} words a minute"}.get(kind, f"{x:g}")

    order = sorted(rule.comparisons, key=lambda c: ("gt", "ge", "lt", "le", "eq", "ne").index(c[0]))  # low, high
    return f"{what} " + " and ".join(f"{_QUANTITY[op]} {value(x)}" for op, x in order)
