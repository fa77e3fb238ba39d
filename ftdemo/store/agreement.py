"""Agreement between annotators over the examples several of them labelled (pure logic, no database).

The measures are the established implementations, not hand-written formulas: Cohen's kappa per annotator
pair (scikit-learn), Fleiss' kappa (statsmodels, `aggregate_raters` + `fleiss_kappa`) and Krippendorff's
alpha, nominal (the `krippendorff` package). Each comes with the number of items it rests on and a
percentile bootstrap interval over the items (resampled with replacement, seeded, at `LEVEL`).

Items are examples with two or more annotators whose current state is a label (`Ratings`). A single-label
dataset rates each item with one category; a multi-label one is read per label as a binary variable (chosen
or not): its dataset-wide values take every (item, label) decision as a unit, and the bootstrap resamples
whole items. Per label, every dataset is read that way (label chosen or not), which says which labels the
annotators agree on.

Fleiss' kappa needs the same number of raters per item: it uses the items with the most common number of
annotators (`fleiss_raters`) and says how many those are; Cohen's kappa and Krippendorff's alpha take every
item (alpha allows missing ratings).
"""

from __future__ import annotations

import itertools
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

LEVEL = 0.95  # the bootstrap intervals' level
RESAMPLES = 200  # bootstrap resamples per value: a few seconds at most on a thousand items and ten pairs
SEED = 0

Item = Mapping[str, frozenset[str]]  # one example: annotator -> the labels they chose


@dataclass(frozen=True)
class Ratings:
    """What the measures read: the items, the dataset's labels (in order) and whether it is multi-label."""

    items: Sequence[Item]
    labels: Sequence[str]
    multi_label: bool = False


@dataclass(frozen=True)
class Estimate:
    """A value (None where it is undefined: fewer than two items, or one category only), the items it rests
    on and its bootstrap interval (None when too few resamples give a value)."""

    value: float | None
    items: int
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PairKappa:
    """Cohen's kappa between annotators `a` and `b` (a < b) over the items both labelled."""

    a: str
    b: str
    kappa: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "kappa": self.kappa.value, "items": self.kappa.items,
                "low": self.kappa.low, "high": self.kappa.high}


@dataclass(frozen=True)
class LabelAgreement:
    """One label read as a binary variable (chosen or not) over the items."""

    label: str
    chosen: int  # (item, annotator) ratings that chose it
    fleiss_kappa: Estimate
    krippendorff_alpha: Estimate

    def to_dict(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "fleiss_kappa": self.fleiss_kappa.to_dict(),
                "krippendorff_alpha": self.krippendorff_alpha.to_dict()}


@dataclass(frozen=True)
class Agreement:
    """Agreement over a dataset's overlap items: per annotator pair, over all, and per label."""

    items: int  # examples with ≥2 annotators whose current state is a label
    annotators: list[str]
    cohen_kappa: list[PairKappa]
    fleiss_kappa: Estimate
    fleiss_raters: int  # the number of annotators per item Fleiss' kappa was computed for (0: none)
    krippendorff_alpha: Estimate
    per_label: list[LabelAgreement] = field(default_factory=list)
    level: float = LEVEL
    resamples: int = RESAMPLES
    seed: int = SEED

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `stats --agreement` and the /agreement endpoint."""
        return {"overlap_items": self.items, "annotator_names": self.annotators,
                "cohen_kappa": [p.to_dict() for p in self.cohen_kappa],
                "fleiss_kappa": {**self.fleiss_kappa.to_dict(), "raters": self.fleiss_raters},
                "krippendorff_alpha": self.krippendorff_alpha.to_dict(),
                "per_label": {lab.label: lab.to_dict() for lab in self.per_label},
                "interval": {"level": self.level, "method": "percentile bootstrap over items",
                             "resamples": self.resamples, "seed": self.seed}}

    def kappa_matrix(self) -> list[list[float | None]]:
        """Annotator × annotator Cohen's kappa (`annotators` order; 1.0 on the diagonal, None: no shared items)."""
        index = {name: i for i, name in enumerate(self.annotators)}
        out: list[list[float | None]] = [[1.0 if i == j else None for j in range(len(index))] for i in range(len(index))]
        for pair in self.cohen_kappa:
            i, j = index[pair.a], index[pair.b]
            out[i][j] = out[j][i] = pair.kappa.value
        return out


# --- the library calls, on a units × raters matrix of category codes (NaN: not rated) -----------------------


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def cohen(x: np.ndarray, y: np.ndarray, categories: int) -> float | None:
    """scikit-learn's Cohen's kappa of two raters' codes (None when undefined)."""
    from sklearn import config_context
    from sklearn.metrics import cohen_kappa_score

    if len(x) < 2:
        return None
    # the arguments are ours and valid: skipping scikit-learn's checks makes a bootstrap of 200 three times faster
    with warnings.catch_warnings(), config_context(skip_parameter_validation=True, assume_finite=True):
        warnings.simplefilter("ignore")
        return _finite(cohen_kappa_score(x.astype(int), y.astype(int), labels=list(range(categories))))


def fleiss(codes: np.ndarray, categories: int) -> float | None:
    """statsmodels' Fleiss' kappa of an items × raters array of codes, every item rated by all raters."""
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    if len(codes) < 2:
        return None
    table, _ = aggregate_raters(codes.astype(int), n_cat=categories)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(fleiss_kappa(table, method="fleiss"))


def alpha(matrix: np.ndarray, categories: int) -> float | None:
    """The krippendorff package's nominal alpha of a units × raters matrix (NaN: not rated)."""
    import krippendorff

    rated = matrix[np.sum(~np.isnan(matrix), axis=1) >= 2]
    if len(rated) < 2 or len(np.unique(rated[~np.isnan(rated)])) < 2:
        return None  # the package refuses a single value; alpha is undefined then
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(krippendorff.alpha(reliability_data=rated.T, level_of_measurement="nominal",
                                          value_domain=list(range(categories))))


# --- bootstrap -------------------------------------------------------------------------------------------------


def bootstrap(units_of: Sequence[np.ndarray], statistic: Callable[[np.ndarray], float | None], *,
              resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Estimate:
    """`statistic` of all units, and its percentile interval over `resamples` resamples of the items
    (`units_of[i]`: the unit rows of item i, kept together)."""
    if not units_of:
        return Estimate(None, 0)
    everything = np.concatenate(units_of)
    value = statistic(everything)
    if value is None or resamples <= 0 or len(units_of) < 2:
        return Estimate(value, len(units_of))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(units_of), size=len(units_of))
        v = statistic(np.concatenate([units_of[i] for i in pick]))
        if v is not None:
            values.append(v)
    if len(values) < resamples / 2:  # mostly undefined: no honest interval
        return Estimate(value, len(units_of))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Estimate(value, len(units_of), float(low), float(high))


# --- from ratings to estimates ---------------------------------------------------------------------------------


def _matrix(ratings: Ratings, annotators: list[str], label: str | None) -> tuple[np.ndarray, list[np.ndarray], int]:
    """(units × annotators codes with NaN, the unit rows of each item, the number of categories).

    label None: the dataset's own reading (single-label: one unit per item, coded by label; multi-label: one
    unit per item and label, 1 when chosen); a label: one unit per item, 1 when that label was chosen."""
    col = {name: j for j, name in enumerate(annotators)}
    per_item = len(ratings.labels) if (label is None and ratings.multi_label) else 1
    matrix = np.full((len(ratings.items) * per_item, len(annotators)), np.nan)
    code = {name: i for i, name in enumerate(ratings.labels)}
    for i, item in enumerate(ratings.items):
        for who, chosen in item.items():
            if label is not None:
                matrix[i, col[who]] = float(label in chosen)
            elif ratings.multi_label:
                for k, name in enumerate(ratings.labels):
                    matrix[i * per_item + k, col[who]] = float(name in chosen)
            elif chosen:
                matrix[i, col[who]] = code.get(next(iter(chosen)), np.nan)
    units_of = [np.arange(i * per_item, (i + 1) * per_item) for i in range(len(ratings.items))]
    categories = 2 if (label is not None or ratings.multi_label) else max(2, len(ratings.labels))
    return matrix, units_of, categories


def _fleiss_rows(matrix: np.ndarray, units_of: list[np.ndarray]) -> tuple[list[int], int]:
    """The items Fleiss' kappa uses (those with the most common number of raters; ties: the larger number)."""
    counts = [int(np.sum(~np.isnan(matrix[rows[0]]))) for rows in units_of]
    if not counts:
        return [], 0
    common = Counter(counts)
    raters = max(common, key=lambda n: (common[n], n))
    return [i for i, n in enumerate(counts) if n == raters], raters


def _fleiss_estimate(matrix: np.ndarray, units_of: list[np.ndarray], categories: int, **boot: Any) -> tuple[Estimate, int]:
    items, raters = _fleiss_rows(matrix, units_of)
    if raters < 2:
        return Estimate(None, 0), 0

    def stat(rows: np.ndarray) -> float | None:
        part = matrix[rows]
        return fleiss(part[~np.isnan(part)].reshape(len(part), raters), categories)

    return bootstrap([units_of[i] for i in items], stat, **boot), raters


def _alpha_estimate(matrix: np.ndarray, units_of: list[np.ndarray], categories: int, **boot: Any) -> Estimate:
    return bootstrap(units_of, lambda rows: alpha(matrix[rows], categories), **boot)


def _pairs(matrix: np.ndarray, units_of: list[np.ndarray], annotators: list[str], categories: int,
           **boot: Any) -> list[PairKappa]:
    out = []
    for i, j in itertools.combinations(range(len(annotators)), 2):
        both = [rows for rows in units_of if not np.isnan(matrix[rows[0], i]) and not np.isnan(matrix[rows[0], j])]
        if not both:
            continue
        kappa = bootstrap(both, lambda rows, i=i, j=j: cohen(matrix[rows, i], matrix[rows, j], categories), **boot)
        out.append(PairKappa(annotators[i], annotators[j], kappa))
    return out


def agreement(ratings: Ratings, *, resamples: int = RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Agreement:
    """Every agreement measure over the items (those with fewer than two annotators are left out)."""
    items = [item for item in ratings.items if len(item) >= 2]
    ratings = Ratings(items, list(ratings.labels), ratings.multi_label)
    annotators = sorted({who for item in items for who in item})
    boot = dict(resamples=resamples, seed=seed, level=level)
    matrix, units_of, categories = _matrix(ratings, annotators, None)
    fleiss_est, raters = _fleiss_estimate(matrix, units_of, categories, **boot)
    per_label = []
    for name in ratings.labels:
        m, u, c = _matrix(ratings, annotators, name)
        per_label.append(LabelAgreement(name, int(np.nansum(m)), _fleiss_estimate(m, u, c, **boot)[0],
                                        _alpha_estimate(m, u, c, **boot)))
    return Agreement(len(items), annotators, _pairs(matrix, units_of, annotators, categories, **boot),
                     fleiss_est, raters, _alpha_estimate(matrix, units_of, categories, **boot), per_label,
                     level, resamples, seed)
