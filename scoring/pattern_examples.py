"""Literal phrases a form's regex matches, to quote as examples in plain-words explanations
(`scoring.wording`): the pattern's alternatives enumerated where they are made of literals, each candidate
checked against the real pattern."""
from __future__ import annotations

import functools

import regex

from scoring.rules import _simplified

MAX_EXAMPLE = 40  # characters of a quoted example

_ENUM_CAP = 16  # strings per node while enumerating


def _enum(items) -> list[str] | None:
    """Strings the parsed pattern `items` (re._parser) can match, built from literals, groups, alternatives,
    boundaries and optional parts; None when the pattern needs anything else (classes, wildcards, repeats
    of those): there is no literal example to quote then. Lookarounds are ignored here; every candidate
    is checked against the real pattern afterwards."""
    from re import _constants as c

    out = [""]
    for op, av in items:
        if op is c.LITERAL:
            opts = [chr(av)]
        elif op is c.AT or op in (c.ASSERT, c.ASSERT_NOT):
            opts = [""]
        elif op is c.SUBPATTERN:
            opts = _enum(av[3])
        elif op is c.ATOMIC_GROUP:
            opts = _enum(av)
        elif op is c.BRANCH:
            opts = [x for alt in av[1] for x in (_enum(alt) or [])][:_ENUM_CAP] or None
        elif op is c.IN:
            opts = [chr(v) for o, v in av if o is c.LITERAL] if all(o is c.LITERAL for o, _ in av) else None
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", c.MAX_REPEAT)):
            lo, _hi, sub = av
            inner = _enum(sub)
            if inner is None:  # a wildcard or class, even an optional one (".{0,14}"): no literal example
                opts = None
            elif lo == 0:  # optional: a single letter ("thanks?") is kept, punctuation or a longer part left out first
                single = len(sub) == 1 and sub[0][0] is c.LITERAL and chr(sub[0][1]).isalnum()
                opts = (inner + [""]) if single else ([""] + inner)
            else:
                opts = [x * min(lo, 3) for x in inner]
        else:
            return None
        if opts is None:
            return None
        out = [a + b for a in out for b in opts][:_ENUM_CAP]
    return out


def _alternatives(tree: list) -> list[list]:
    """The pattern's alternatives, a group of alternatives that stands alone (``\\b( … | … )\\b``) opened up."""
    from re import _constants as c

    core = [(op, av) for op, av in tree if op is not c.AT]
    if len(core) == 1 and core[0][0] is c.SUBPATTERN:
        return _alternatives(list(core[0][1][3]))
    if len(core) == 1 and core[0][0] is c.BRANCH:
        return [alt for a in core[0][1][1] for alt in _alternatives(list(a))]
    return [tree]


@functools.lru_cache(maxsize=4096)
def regex_examples(pattern: str) -> tuple[str, ...]:
    """Literal phrases the pattern matches, one per alternative in the pattern's order, each checked
    against the pattern itself (lookarounds, case); () when it has none (classes, wildcards only)."""
    from re import _parser

    try:
        tree = list(_parser.parse(pattern))
        compiled = regex.compile(_simplified(pattern), regex.IGNORECASE | regex.VERSION0)
    except Exception:  # syntax only the `regex` module knows, or anything else: no examples, no harm
        return ()
    found: list[str] = []
    for alt in _alternatives(tree)[:64]:
        for cand in _enum(list(alt)) or []:
            cand = " ".join(cand.split())
            if not cand or len(cand) > MAX_EXAMPLE or not any(ch.isalnum() for ch in cand) or cand in found:
                continue
            try:
                m = compiled.search(_simplified(cand), timeout=0.05)
            except TimeoutError:
                m = None
            if m is not None and m.group(0).strip() == _simplified(cand):
                found.append(cand)
                break  # one example per alternative: varied examples
        if len(found) >= 6:
            break
    return tuple(found)
