"""Named word lists that rules refer to with ``{terms: NAME}``: language and market knowledge as data.

Each YAML file in a vocabulary folder holds one list::

    id: media
    version: "1"
    description: Media, social networks, video platforms, forums and review sites
    terms:            # groups by market or purpose; every group is matched, the names are for reviewers
      global: [Facebook, Instagram, TikTok]
      cn: [微博, 抖音, 小红书]
      tw: [臉書, 爆料公社, PTT]

Latin terms match on word boundaries, case-insensitively; Chinese terms anywhere, compared in Simplified
script (so a list may hold either script, see scoring.rules). The shipped lists live in scoring/vocab/;
`Vocabulary.load(folder)` reads another folder (a deployment's own lists), and `vocabulary()` is the
shipped one, read once per process on first use.
"""
from __future__ import annotations

import functools
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.errors import CallQAError
from core.yamlspec import did_you_mean, load_named_files

EXAMPLE = """\
id: media
version: "1"
description: Media and social networks
terms:
  global: [Facebook, Instagram]
  cn: [微博, 抖音]"""


class VocabularyError(CallQAError):
    """A vocabulary file is malformed, or a rule names a list that does not exist."""

    code = "E133"


class WordList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(min_length=1)
    description: str = Field(min_length=1)
    terms: dict[str, tuple[str, ...]] = Field(min_length=1)

    def all_terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.strip() for group in self.terms.values() for t in group if t.strip()))


class Vocabulary:
    def __init__(self, lists: dict[str, WordList]):
        self.lists = dict(lists)

    @classmethod
    def load(cls, folder: str | Path) -> "Vocabulary":
        lists: dict[str, WordList] = load_named_files(folder, WordList, VocabularyError, "word list", EXAMPLE)
        for wl in lists.values():
            if not wl.all_terms():
                raise VocabularyError(f"{Path(folder) / wl.id}.yaml: word list {wl.id!r} holds no terms\n  e.g.\n{EXAMPLE}")
        return cls(lists)

    def terms(self, name: str) -> tuple[str, ...]:
        if name not in self.lists:
            raise VocabularyError(f"unknown word list {name!r}; {did_you_mean(name, self.lists)}"
                                  f"known: {', '.join(sorted(self.lists))}")
        return self.lists[name].all_terms()


def shipped_vocabulary_dir() -> Path:
    return Path(__file__).with_name("vocab")


@functools.lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The shipped vocabulary, read on first use (rules are compiled once per form/policy load)."""
    return Vocabulary.load(shipped_vocabulary_dir())
