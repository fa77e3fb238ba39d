"""The agreement measures (store/agreement.py) give the reference implementations' values on their published
worked examples, and the bootstrap intervals hold the value and repeat with the seed."""

import math

import numpy as np
import pytest

from ftdemo.store.agreement import Ratings, agreement, bootstrap

# Fleiss (1971), as in Wikipedia's "Fleiss' kappa" worked example and statsmodels' tests: 10 subjects,
# 14 raters, 5 categories; each row counts the raters who chose each category. kappa = 0.210.
FLEISS_1971 = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
               [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]

# The krippendorff package's worked example (its README and docstring; Krippendorff's nominal reliability
# data): three coders, fifteen units, "*" not coded. Nominal alpha = 0.691.
KRIPPENDORFF = ["*    *    *    *    *    3    4    1    2    1    1    3    3    *    3",
                "1    *    2    1    3    3    4    3    *    *    *    *    *    *    *",
                "*    *    2    1    3    4    4    *    2    1    1    3    3    *    4"]

# A textbook 2 x 2 table (Wikipedia's "Cohen's kappa" example): 50 proposals read by A and B; both yes 20,
# A yes B no 5, A no B yes 10, both no 15. kappa = 0.4.
COHEN_TABLE = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}


def fleiss_items() -> list[dict[str, frozenset[str]]]:
    """Fleiss' table as items: raters r0..r13 hand out each subject's counts in category order (Fleiss'
    kappa does not depend on which rater chose what)."""
    items = []
    for row in FLEISS_1971:
        codes = [c for c, n in enumerate(row) for _ in range(n)]
        items.append({f"r{r:02d}": frozenset([f"c{code}"]) for r, code in enumerate(codes)})
    return items


def krippendorff_items() -> list[dict[str, frozenset[str]]]:
    coders = [line.split() for line in KRIPPENDORFF]
    return [{f"coder{c}": frozenset([coders[c][u]]) for c in range(3) if coders[c][u] != "*"}
            for u in range(len(coders[0]))]


def cohen_items() -> list[dict[str, frozenset[str]]]:
    return [{"A": frozenset([a]), "B": frozenset([b])} for (a, b), n in COHEN_TABLE.items() for _ in range(n)]


def test_fleiss_kappa_of_fleiss_1971():
    result = agreement(Ratings(fleiss_items(), [f"c{i}" for i in range(5)]), resamples=0)
    assert result.fleiss_kappa.value == pytest.approx(0.20993, abs=1e-5)
    assert (result.fleiss_kappa.items, result.fleiss_raters, result.items) == (10, 14, 10)


def test_krippendorff_alpha_of_the_packages_worked_example():
    result = agreement(Ratings(krippendorff_items(), ["1", "2", "3", "4"]), resamples=0)
    assert round(result.krippendorff_alpha.value, 3) == 0.691
    assert result.items == 12  # units coded by two or more: the ones alpha is computed on


def test_cohen_kappa_of_the_textbook_table():
    result = agreement(Ratings(cohen_items(), ["yes", "no"]), resamples=0)
    [pair] = result.cohen_kappa
    assert (pair.a, pair.b, pair.kappa.items) == ("A", "B", 50)
    assert pair.kappa.value == pytest.approx(0.4)
    assert result.kappa_matrix() == [[1.0, pytest.approx(0.4)], [pytest.approx(0.4), 1.0]]


def test_per_label_values_read_each_label_as_chosen_or_not():
    """Per label, each label is a binary variable: the textbook table's "yes" and "no" are the same split."""
    from sklearn.metrics import cohen_kappa_score

    result = agreement(Ratings(cohen_items(), ["yes", "no"]), resamples=0)
    a = [int("yes" in item["A"]) for item in cohen_items()]
    b = [int("yes" in item["B"]) for item in cohen_items()]
    import krippendorff

    expected = krippendorff.alpha(reliability_data=[a, b], level_of_measurement="nominal")
    for lab in result.per_label:
        assert lab.krippendorff_alpha.value == pytest.approx(expected)
        assert lab.krippendorff_alpha.items == 50
    assert cohen_kappa_score(a, b) == pytest.approx(0.4)


def test_interval_holds_the_value_and_repeats_with_its_seed():
    items = cohen_items()
    first = agreement(Ratings(items, ["yes", "no"]), resamples=50, seed=3)
    again = agreement(Ratings(items, ["yes", "no"]), resamples=50, seed=3)
    est = first.cohen_kappa[0].kappa
    assert est.low < est.value < est.high
    assert (est.low, est.high) == (again.cohen_kappa[0].kappa.low, again.cohen_kappa[0].kappa.high)
    assert first.to_dict()["interval"] == {"level": 0.95, "method": "percentile bootstrap over items",
                                           "resamples": 50, "seed": 3}


def test_undefined_values_are_none_not_nan():
    """Everyone chose the same label: kappa and alpha are undefined (no disagreement possible to measure)."""
    items = [{"A": frozenset(["x"]), "B": frozenset(["x"])} for _ in range(5)]
    result = agreement(Ratings(items, ["x", "y"]), resamples=20)
    assert result.cohen_kappa[0].kappa.value is None
    assert result.fleiss_kappa.value is None and result.krippendorff_alpha.value is None
    assert agreement(Ratings([], ["x", "y"])).to_dict()["overlap_items"] == 0


def test_bootstrap_resamples_whole_items():
    """An item's units stay together: a statistic that counts units per item sees whole items only."""
    units_of = [np.array([0, 1]), np.array([2, 3]), np.array([4, 5])]
    seen = []
    bootstrap(units_of, lambda rows: seen.append(len(rows)) or 0.0, resamples=10)
    assert all(n % 2 == 0 for n in seen)


def test_multi_label_reads_each_decision_as_a_unit():
    """A multi-label dataset's dataset-wide alpha is the binary alpha over (item, label) units."""
    import krippendorff

    rng = np.random.default_rng(1)
    labels = ["a", "b", "c"]
    items = [{who: frozenset(lab for lab in labels if rng.random() < 0.4) or frozenset(["a"]) for who in "PQR"}
             for _ in range(30)]
    result = agreement(Ratings(items, labels, multi_label=True), resamples=0)
    data = [[float(lab in item[who]) for item in items for lab in labels] for who in "PQR"]
    assert result.krippendorff_alpha.value == pytest.approx(krippendorff.alpha(reliability_data=data,
                                                                               level_of_measurement="nominal"))
    assert result.krippendorff_alpha.items == 30 and not math.isnan(result.fleiss_kappa.value)
