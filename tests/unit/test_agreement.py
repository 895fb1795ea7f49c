"""core.agreement against hand-computed values: percent agreement, Cohen's and Fleiss' kappa (including the
degenerate case where chance agreement is 1), the pairwise mean and the per-question summary."""
from __future__ import annotations

import pytest

from core.agreement import agreement, cohen_kappa, fleiss_kappa, pairwise, percent_agreement

P, F, N = "pass", "fail", "na"


def test_cohen_kappa_hand_computed():
    a, b = [P, P, F, F, P, N], [P, F, F, F, P, P]
    # observed 4/6; chance (3*3 + 2*3 + 1*0) / 36 = 15/36; kappa (24-15)/(36-15) = 9/21 = 3/7
    assert percent_agreement(a, b) == pytest.approx(4 / 6)
    assert cohen_kappa(a, b) == pytest.approx(3 / 7)
    assert cohen_kappa(b, a) == pytest.approx(3 / 7), "symmetric"
    assert cohen_kappa([P, F], [F, P]) == pytest.approx(-1.0), "observed 0, chance 1/2"
    assert cohen_kappa([P, P, F, F], [P, F, P, F]) == pytest.approx(0.0), "exactly what chance gives"


def test_degenerate_and_empty_cases():
    assert cohen_kappa([P, P, P], [P, P, P]) == 1.0, "chance agreement 1: complete agreement, not NaN"
    assert fleiss_kappa([[N, N, N], [N, N, N]]) == 1.0
    assert cohen_kappa([], []) is None and percent_agreement([], []) is None
    assert fleiss_kappa([[P]]) is None, "an item with one rater says nothing"
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa([P], [P, F])


def test_fleiss_kappa_small_and_textbook():
    # item 1 all pass: P1 = 1; item 2 pass/pass/fail: P2 = (4 + 1 - 3) / 6 = 1/3; mean 2/3
    # shares pass 5/6, fail 1/6: chance 26/36; kappa (24/36 - 26/36) / (10/36) = -0.2
    assert fleiss_kappa([[P, P, P], [P, P, F]]) == pytest.approx(-0.2)
    # Fleiss (1971) as tabulated on Wikipedia: 10 items, 14 raters, 5 categories -> 0.210
    table = [(0, 0, 0, 0, 14), (0, 2, 6, 4, 2), (0, 0, 3, 5, 6), (0, 3, 9, 2, 0), (2, 2, 8, 1, 1),
             (7, 7, 0, 0, 0), (3, 2, 6, 3, 0), (2, 5, 3, 2, 2), (6, 5, 2, 1, 0), (0, 2, 2, 3, 7)]
    items = [[cat for cat, n in enumerate(row) for _ in range(n)] for row in table]
    assert fleiss_kappa(items) == pytest.approx(0.20993, abs=1e-4)


def test_pairwise_mean_over_common_items():
    ratings = {"ann": {1: P, 2: F, 3: P}, "bob": {1: P, 2: F, 3: F}, "cy": {1: P, 2: P}}
    out = pairwise(ratings)
    # ann-bob on 1,2,3: po 2/3, chance (2*1 + 1*2)/9 = 4/9 -> (6-4)/(9-4) = 0.4
    # ann-cy on 1,2: po 1/2, chance (1*2)/4 = 1/2 -> 0 ; bob-cy on 1,2: same -> 0
    assert out.pairs == 3 and out.kappa == pytest.approx(0.4 / 3)
    assert out.percent == pytest.approx((2 + 1 + 1) / (3 + 2 + 2))
    assert pairwise({"ann": {1: P}, "bob": {2: P}}).kappa is None, "no common item"


def test_question_agreement_with_machine():
    machine = {"c1": P, "c2": F, "c3": P, "c4": F}
    two = agreement(machine, {"ann": {"c1": P, "c2": F, "c3": P, "c4": F}, "bob": {"c1": P, "c2": P, "c3": P, "c4": F}})
    assert (two.items, two.raters) == (4, 2)
    assert two.machine_percent == pytest.approx(7 / 8)
    # ann = machine: 1.0; bob: po 3/4, chance (2*3 + 2*1)/16 = 1/2 -> 0.5; mean 0.75
    assert two.machine_kappa == pytest.approx(0.75)
    assert two.reviewer_kappa == pytest.approx(0.5) and two.reviewer_percent == pytest.approx(3 / 4)
    assert two.fleiss_kappa is None, "Fleiss only with more than two raters"
    three = agreement(machine, {"a": {"c1": P, "c2": F}, "b": {"c1": P, "c2": F}, "c": {"c1": P, "c2": P}})
    # c1: all pass P=1; c2: F,F,P: P=1/3; mean 2/3; shares pass 4/6 fail 2/6: chance 20/36 -> (24-20)/(36-20)=0.25
    assert three.fleiss_kappa == pytest.approx(0.25)
    lone = agreement(machine, {"ann": {"c1": F}})
    assert lone.reviewer_kappa is None and lone.machine_percent == 0.0
    empty = agreement(machine, {})
    assert empty.items == 0 and empty.machine_kappa is None and empty.reviewer_percent is None
