"""Agreement between raters on categorical answers (pass / fail / na): percent agreement, Cohen's kappa for
two raters, Fleiss' kappa for several, and the per-question summary a calibration session shows. Pure: no
database, no web.

Kappa is (observed - expected) / (1 - expected) agreement. When the expected agreement is 1 (every rater
gave one and the same category to every item) the ratio is 0/0; observed agreement is then 1 as well, and
it is reported as 1.0 (complete agreement), never as NaN. Nothing to compare (no item, or no item rated by
two raters) is None, never 0.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

_ONE = 1e-12  # expected agreement this close to 1 counts as 1


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Share (0-1) of items on which two raters gave the same answer; None for no items."""
    _same_length(a, b)
    if not a:
        return None
    return sum(x == y for x, y in zip(a, b)) / len(a)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters' answers to the same items (a[i] and b[i] rate item i); None for no items."""
    _same_length(a, b)
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    return _kappa(observed, expected)


def fleiss_kappa(items: Sequence[Sequence[Hashable]]) -> float | None:
    """Fleiss' kappa; `items[i]` is the list of answers item i got (one per rater). Items may have different
    numbers of raters (the usual generalisation: category shares over all ratings); items with fewer than
    two are left out. None when no item has two."""
    rated = [list(r) for r in items if len(r) >= 2]
    if not rated:
        return None
    per_item, totals, ratings = [], Counter(), 0
    for answers in rated:
        n, counts = len(answers), Counter(answers)
        per_item.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
        totals.update(counts)
        ratings += n
    observed = sum(per_item) / len(per_item)
    expected = sum((c / ratings) ** 2 for c in totals.values())
    return _kappa(observed, expected)


def _kappa(observed: float, expected: float) -> float:
    if abs(1.0 - expected) < _ONE:
        return 1.0  # expected == 1 implies observed == 1: one category everywhere, complete agreement
    return (observed - expected) / (1.0 - expected)


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"the two raters must rate the same items: {len(a)} answers against {len(b)}")


@dataclass(frozen=True)
class Pairwise:
    percent: float | None  # agreeing pairs of answers / all pairs of answers to the same item
    kappa: float | None  # mean over rater pairs of Cohen's kappa on the items both rated
    pairs: int  # rater pairs with at least one common item


def pairwise(ratings: Mapping[str, Mapping[Hashable, Hashable]]) -> Pairwise:
    """Agreement between every two raters; `ratings[rater][item]` is that rater's answer to the item."""
    kappas: list[float] = []
    agree = total = 0
    for r1, r2 in combinations(sorted(ratings), 2):
        common = sorted(set(ratings[r1]) & set(ratings[r2]), key=repr)
        if not common:
            continue
        a, b = [ratings[r1][i] for i in common], [ratings[r2][i] for i in common]
        kappas.append(cohen_kappa(a, b))
        agree += sum(x == y for x, y in zip(a, b))
        total += len(common)
    return Pairwise(agree / total if total else None, sum(kappas) / len(kappas) if kappas else None, len(kappas))


@dataclass(frozen=True)
class Agreement:
    """One question of a calibration session."""
    items: int  # items (calls) at least one rater answered
    raters: int  # raters who answered at least one item
    reviewer_percent: float | None  # between reviewers, pairwise (0-1)
    reviewer_kappa: float | None  # mean pairwise Cohen's kappa
    fleiss_kappa: float | None  # only with more than two raters
    machine_percent: float | None  # reviewers' answers that equal the machine's (0-1), all reviewers pooled
    machine_kappa: float | None  # mean over reviewers of Cohen's kappa against the machine


def agreement(machine: Mapping[Hashable, Hashable], ratings: Mapping[str, Mapping[Hashable, Hashable]]
              ) -> Agreement:
    """Agreement on one question: `machine[item]` the machine's answer, `ratings[rater][item]` the raters'.
    Items the machine did not answer are compared between raters only."""
    ratings = {r: dict(answers) for r, answers in ratings.items() if answers}
    items = set().union(*ratings.values()) if ratings else set()
    between = pairwise(ratings)
    fleiss = None
    if len(ratings) > 2:
        fleiss = fleiss_kappa([[answers[i] for answers in ratings.values() if i in answers]
                               for i in sorted(items, key=repr)])
    kappas: list[float] = []
    agree = total = 0
    for answers in ratings.values():
        common = sorted((i for i in answers if i in machine), key=repr)
        if not common:
            continue
        human, auto = [answers[i] for i in common], [machine[i] for i in common]
        kappas.append(cohen_kappa(human, auto))
        agree += sum(h == m for h, m in zip(human, auto))
        total += len(common)
    return Agreement(items=len(items), raters=len(ratings), reviewer_percent=between.percent,
                     reviewer_kappa=between.kappa, fleiss_kappa=fleiss,
                     machine_percent=agree / total if total else None,
                     machine_kappa=sum(kappas) / len(kappas) if kappas else None)
