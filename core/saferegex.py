"""User-supplied regular expressions (forms, policies, recognizer configs) under a time budget.

They run on the `regex` module, which avoids most catastrophic backtracking that hangs `re`
(`^([\\w\\s,.?]+)+!$`), with a timeout on every search. At load time each pattern is tried on pathological
probe strings; one that exceeds the budget there is rejected with the rule file's coded error, so a hostile
pattern fails `callqa forms check` instead of hanging a batch. At run time a search over budget raises
`PatternTimeoutError` (E132) for that call only."""
from __future__ import annotations

import regex

from core.errors import CallQAError

SEARCH_TIMEOUT = 0.5  # seconds per search at run time
PROBE_TIMEOUT = 0.2  # seconds per probe at load time
PROBE_LENGTH = 400
_PROBE_UNITS = ("a", "a ", "1", " ", ",.?", "aA1 ,.?-_", "啊", "x1", "@.", "\n")


class PatternTimeoutError(CallQAError):
    """A user-supplied regular expression exceeded its time budget on a call's text."""

    code = "E132"


class UserPattern:
    """A compiled user regex whose searches stop after SEARCH_TIMEOUT (duck-types re.Pattern's search,
    finditer and pattern)."""

    def __init__(self, pattern: str, flags: int = 0):
        self.pattern = pattern
        self._compiled = regex.compile(pattern, flags | regex.VERSION0)

    def _guard(self, fn, text: str):
        try:
            return fn(text, timeout=SEARCH_TIMEOUT)
        except TimeoutError:
            raise PatternTimeoutError(f"pattern {self.pattern!r} took longer than {SEARCH_TIMEOUT:g} s on a "
                                      f"{len(text)}-character text; simplify it (nested repetition?)") from None

    def search(self, text: str):
        return self._guard(self._compiled.search, text)

    def finditer(self, text: str):
        return iter(self._guard(lambda t, timeout: list(self._compiled.finditer(t, timeout=timeout)), text))


def compile_user_regex(pattern: str, flags: int = 0) -> UserPattern:
    """Compile and probe `pattern`; ValueError (for the rule file's error) when it does not compile or
    backtracks catastrophically on a probe."""
    try:
        compiled = UserPattern(pattern, flags)
    except regex.error as e:
        raise ValueError(f"regex does not compile: {e}") from None
    for unit in _PROBE_UNITS:
        probe = unit * (PROBE_LENGTH // len(unit))
        for text in (probe, probe + "\x00", "\x00" + probe):
            try:
                compiled._compiled.search(text, timeout=PROBE_TIMEOUT)
            except TimeoutError:
                raise ValueError(f"regex {pattern!r} backtracks catastrophically (over {PROBE_TIMEOUT:g} s on a "
                                 f"{len(text)}-character probe of {unit!r}); remove nested repetition such as "
                                 "(x+)+") from None
    return compiled
