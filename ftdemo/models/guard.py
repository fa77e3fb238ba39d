"""The activation guard: should a newly trained version replace the active one? (pure)

The rule (`paired_activation`): the candidate and the active model are scored on the *same* current
validation rows (models.selection) and compared pairwise (models.compare): the candidate goes live when
there is no active model, or when the whole 95% interval of the difference lies above −margin, i.e. it
is clearly better, or, with a margin, surely not worse by more than the margin. A candidate trained on
the active version's labels *plus new ones* (retraining as labels arrive) goes live unless it is clearly
worse: more labels make it better in expectation, and on a few dozen validation rows "not clearly
different" is all any comparison of such close models can say (20 draws of 300 SST-2 labels: two
versions 0.8 points apart held out, intervals of ±6 to ±16 points; docs/benchmarks.md, "selection").
Otherwise it is kept as a candidate, with the comparison in words. Comparing each run's own validation
macro-F1 instead (`activation_decision`, the rule before) picked the worse model on small data: those numbers rest on
different rows and move by several points from one seed to the next (docs/benchmarks.md, "selection").
"""

from __future__ import annotations

from typing import Any

from ftdemo.models.compare import PairedComparison


def activation_decision(new_metrics: dict[str, Any], active_metrics: dict[str, Any] | None,
                        margin: float = 0.0) -> tuple[bool, str]:
    """Should a new version replace the active one? Only if its validation macro-F1 is at least
    the active one's minus `margin`. Accepts full metrics ({"validation": {...}}) or just the
    validation dict. Note: versions trained on different snapshots are validated on different rows."""
    new_f1 = _val_f1(new_metrics)
    if new_f1 is None:
        return False, "the new version has no validation macro-F1, so it cannot be compared; activate it by hand"
    if not active_metrics:
        return True, f"no active model to compare with (new validation macro-F1 {new_f1:.3f})"
    old_f1 = _val_f1(active_metrics)
    if old_f1 is None:
        return True, f"the active model has no validation macro-F1 to compare with (new: {new_f1:.3f})"
    if new_f1 >= old_f1 - margin:
        return True, f"validation macro-F1 {new_f1:.3f} >= active {old_f1:.3f} - margin {margin:.3f}"
    return False, (f"validation macro-F1 {new_f1:.3f} is below the active model's {old_f1:.3f} - margin {margin:.3f}; "
                   "kept the active model (activate the new one by hand to override)")


def paired_activation(comparison: PairedComparison | None, margin: float = 0.0, *,
                      active_version: str | None = None, measure: str = "", added_labels: int = 0) -> tuple[bool, str]:
    """Should a candidate replace the active model, given their comparison on the same validation rows?

    `comparison` is candidate − active (None: there is no active model). The candidate goes live when it
    is clearly better: the bootstrap interval lies above zero *and* the exact test agrees (p < 1 − level;
    on a few dozen rows a percentile bootstrap over three or four differing rows is too narrow on its
    own). `margin` (a share, 0.01 = one point) lets a candidate go live that is level with the active
    model, when the comparison is precise to within the margin (`precise_within`) and its lower end is
    above −margin: on a large validation set a newer model that is as good serves. `added_labels` > 0: the
    candidate was trained on every label the active model was trained on and that many more; it goes live
    unless its interval lies below zero (no exact test needed to hold it back: caution costs only a click).
    The reason is in words a user understands (`measure`: what the per-row scores are, e.g. "accuracy")."""
    what = f"the active model ({active_version})" if active_version else "the active model"
    if comparison is None:
        return True, "no active model to compare with; activated"
    words = comparison.describe(what, f"validation examples ({measure})" if measure else "validation examples")
    if clearly_better(comparison):
        return True, f"{words}; activated"
    if margin > 0 and precise_within(comparison, margin) and comparison.low > -margin:
        return True, f"{words}, but within the {100 * margin:.1f}-point margin of it; activated"
    if added_labels > 0 and not comparison.clearly_worse:  # the interval alone: any sign of harm keeps
        more = f"{added_labels} more label{'s' if added_labels != 1 else ''}"
        return True, f"{words}; trained on the same labels and {more}, and not clearly worse: activated"
    if comparison.clearly_better:  # the interval says so, the exact test does not
        words = words.replace(": clearly better", f": not clearly better (exact test p = {comparison.p_value:.2f})")
    return False, f"{words}; kept as candidate (activate it by hand to override)"


def precise_within(comparison: PairedComparison, margin: float) -> bool:
    """Whether a comparison can tell differences of `margin`: its interval is no wider than ±margin, on enough
    rows that agreement everywhere means something (3/n ≤ margin, the rule of three: two models that agree on
    all of 30 rows may still differ on up to 10% of others)."""
    return comparison.n > 0 and comparison.half_width <= margin and 3 / comparison.n <= margin


def clearly_better(comparison: PairedComparison) -> bool:
    """The guard's "clearly better": the interval above zero and the exact test significant at its level."""
    return comparison.clearly_better and comparison.p_value < 1 - comparison.level


def _val_f1(metrics: dict[str, Any] | None) -> float | None:
    if not metrics:
        return None
    val = metrics.get("validation", metrics)
    value = val.get("macro_f1") if isinstance(val, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def validation_macro_f1(metrics: dict[str, Any] | None) -> float | None:
    """A version's validation macro-F1 from its metrics (full or just the validation dict), None if absent."""
    return _val_f1(metrics)
