"""Is one model better than another on the same examples? The paired difference and its uncertainty (pure).

Two models scored on the same rows (1/0 for right/wrong, or any per-row score such as the probability of
the true label) differ by the mean of the per-row differences. On small validation sets that mean moves
by several points from one draw to the next, so a comparison reports its interval too: a percentile
bootstrap over rows (the rows are resampled together, which is what makes it paired and much narrower
than comparing two unpaired accuracies) and an exact test (McNemar's for right/wrong scores, Wilcoxon's
signed-rank test for continuous ones, both from established implementations). A candidate is "clearly
better" only when the whole interval lies above zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

N_BOOT, LEVEL = 2000, 0.95


@dataclass(frozen=True)
class PairedComparison:
    """candidate − reference on the same `n` rows: the mean `difference`, its bootstrap interval
    [`low`, `high`] at `level`, and the exact test's `p_value` (`test` names it)."""

    difference: float
    low: float
    high: float
    p_value: float
    n: int
    level: float = LEVEL
    test: str = "mcnemar"

    @property
    def clearly_better(self) -> bool:
        return self.n > 0 and self.low > 0

    @property
    def clearly_worse(self) -> bool:
        return self.n > 0 and self.high < 0

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def describe(self, what: str = "the active model", rows: str = "examples") -> str:
        """In words, in percentage points: 'better than the active model by 2.1 ± 3.0 points on 30 validation
        examples: not clearly better' (`rows`: what the rows are, e.g. "validation examples")."""
        if self.n == 0:
            return f"no common examples to compare with {what} on"
        diff, pm = 100 * self.difference, 100 * self.half_width
        side = "better than" if diff > 0 else ("worse than" if diff < 0 else "level with")
        amount = f" by {abs(diff):.1f} ± {pm:.1f} points" if diff else f" (± {pm:.1f} points)"
        verdict = ("clearly better" if self.clearly_better else "clearly worse" if self.clearly_worse
                   else "not clearly different")
        noun = rows[:-1] if self.n == 1 and rows.endswith("s") else rows
        return f"{side} {what}{amount} on {self.n} {noun}: {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clearly_better": self.clearly_better, "clearly_worse": self.clearly_worse}


def paired_comparison(candidate: np.ndarray, reference: np.ndarray, *, seed: int = 0, n_boot: int = N_BOOT,
                      level: float = LEVEL) -> PairedComparison:
    """Compare per-row scores of a candidate and a reference model on the same rows (equal-length arrays,
    row i of one is row i of the other)."""
    cand = np.asarray(candidate, dtype=np.float64).ravel()
    ref = np.asarray(reference, dtype=np.float64).ravel()
    if cand.shape != ref.shape:
        raise ValueError(f"paired scores need the same rows: {cand.size} candidate scores, {ref.size} reference")
    binary = bool(np.isin(cand, (0.0, 1.0)).all() and np.isin(ref, (0.0, 1.0)).all())
    test = "mcnemar" if binary else "wilcoxon"
    n = int(cand.size)
    if n == 0:
        return PairedComparison(0.0, 0.0, 0.0, 1.0, 0, level, test)
    diffs = cand - ref
    rng = np.random.default_rng(seed)
    # resample rows, chunked so that 2,000 resamples of 50,000 rows stay a few MB at a time
    means = np.concatenate([diffs[rng.integers(0, n, size=(m, n))].mean(axis=1)
                            for m in _chunks(n_boot, max(1, 4_000_000 // n))])
    tail = (1 - level) / 2
    low, high = (float(v) for v in np.quantile(means, [tail, 1 - tail]))
    return PairedComparison(float(diffs.mean()), low, high, _p_value(cand, ref, binary), n, level, test)


def _p_value(cand: np.ndarray, ref: np.ndarray, binary: bool) -> float:
    if binary:
        from statsmodels.stats.contingency_tables import mcnemar

        only_cand = int(((cand == 1) & (ref == 0)).sum())
        only_ref = int(((cand == 0) & (ref == 1)).sum())
        both = int(((cand == 1) & (ref == 1)).sum())
        neither = int(((cand == 0) & (ref == 0)).sum())
        return float(mcnemar([[both, only_cand], [only_ref, neither]], exact=True).pvalue)
    if not np.any(cand != ref):
        return 1.0
    from scipy.stats import wilcoxon

    return float(wilcoxon(cand, ref).pvalue)


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]
