"""One plug-in convention for every extension point: rule operators, PII recognizers, policy checks and
transcription backends each have a `Registry`.

The rules are the same everywhere:
- a name is registered once; registering a different object under a taken name is E136 naming both (pass
  `replace=True` to override one on purpose, e.g. a site's own version of a shipped check);
- a user's package adds one without forking, through a Python entry point in the registry's group, e.g. in
  its pyproject.toml:

      [project.entry-points."callqa.rule_operators"]
      mentions_refund = "acme_qa.rules:MentionsRefund"

  The entry point's name is the registered name and its object the item; entry points are read the first
  time a registry is looked into (not at import), so a broken plug-in fails with E136 naming it, never at
  start-up of unrelated commands.
"""
from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator, Mapping
from importlib import metadata
from typing import Callable, Generic, TypeVar

from core.errors import PluginError

T = TypeVar("T")

ENTRY_POINT_GROUPS = {
    "rule operator": "callqa.rule_operators",
    "PII recognizer": "callqa.recognizers",
    "policy check": "callqa.policy_checks",
    "transcription backend": "callqa.asr_backends",
}


class Registry(Mapping[str, T], Generic[T]):
    """Named components of one kind; read like a mapping (name -> item)."""

    def __init__(self, kind: str, group: str | None = None, *, check: Callable[[str, object], T] | None = None):
        """`check(name, item)` turns what a plug-in gives into the registry's item, or raises ValueError
        saying what is wrong (reported as E136 naming the plug-in)."""
        self.kind = kind
        self.check = check
        self.group = group if group is not None else ENTRY_POINT_GROUPS[kind]
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._lock = threading.RLock()
        self._loaded = False

    def register(self, name: str, item: T, *, replace: bool = False, origin: str | None = None) -> T:
        if not isinstance(name, str) or not name:
            raise PluginError(f"a {self.kind} needs a non-empty name (got {name!r} for {_describe(item)})")
        if self.check is not None:
            try:
                item = self.check(name, item)
            except ValueError as e:
                raise PluginError(f"{self.kind} {name!r} from {origin or _describe(item)}: {e}") from None
        with self._lock:
            taken = self._items.get(name)
            if taken is not None and taken is not item and not replace and not _same(taken, item):
                raise PluginError(f"{self.kind} {name!r} is already registered by {self._origin[name]}; "
                                  f"{origin or _describe(item)} cannot take the name (rename it, or register "
                                  f"with replace=True to override on purpose)")
            self._items[name] = item
            self._origin[name] = origin or _describe(item)
        return item

    def unregister(self, name: str) -> None:
        """Remove `name` (a test's temporary operator, say); unknown names are ignored."""
        with self._lock:
            self._items.pop(name, None)
            self._origin.pop(name, None)

    def load_entry_points(self) -> None:
        """Register every entry point of this registry's group (once)."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            for ep in sorted(metadata.entry_points(group=self.group), key=lambda e: e.name):
                where = f"entry point {ep.name!r} ({ep.value}) of package {_dist(ep)}"
                try:
                    item = ep.load()
                except Exception as e:  # noqa: BLE001 - any import failure of a user's package
                    self._loaded = False
                    raise PluginError(f"{self.kind} plug-in {where} failed to load: {type(e).__name__}: {e}") from None
                self.register(ep.name, item, origin=where)

    def unknown(self, name: str) -> PluginError:
        """The coded error for a name nobody registered, with the closest registered one."""
        close = difflib.get_close_matches(str(name), list(self), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return PluginError(f"unknown {self.kind} {name!r}; {hint}registered: {', '.join(sorted(self))} "
                           f"(plug-ins add more through the entry-point group {self.group!r})")

    def __getitem__(self, name: str) -> T:
        self.load_entry_points()
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        self.load_entry_points()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        self.load_entry_points()
        return iter(list(self._items))

    def __len__(self) -> int:
        self.load_entry_points()
        return len(self._items)

    def origin(self, name: str) -> str:
        """Where `name` came from (a module's object or a package's entry point)."""
        self.load_entry_points()
        return self._origin[name]


def _describe(item: object) -> str:
    return f"{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', type(item).__name__)}"


def _same(a: object, b: object) -> bool:
    """The same definition seen twice (a module imported again, or registered by its decorator and again
    through its entry point): not a clash."""
    if a == b:
        return True
    return callable(a) and callable(b) and _describe(a) == _describe(b)


def _dist(ep) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "(unknown)"
