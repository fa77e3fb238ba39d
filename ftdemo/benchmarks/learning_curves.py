"""Learning curves of the label-efficiency benchmark: pure arithmetic over accuracy-per-budget numbers.

A curve is a list of points `{labels, instant_accuracy, finetune_accuracy}` (None where a model was
not trained at that budget). Per seed the benchmark produces one curve per strategy; this module
averages them (mean and standard error over seeds), measures the area under each (trapezoid over the
budgets, divided by the budget range so it reads as a mean accuracy) and how many labels a strategy
needs to reach random sampling's accuracy at its largest budget (interpolated along the curve).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

METRICS = ("instant_accuracy", "finetune_accuracy")  # which model's held-out accuracy a point holds
REFERENCE = "random"  # the strategy every other one is measured against


def mean_se(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and standard error of the mean (sample stdev / sqrt(n)) of the values that exist.

    (None, None) when none exists; the standard error is None with a single value."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return None, None
    mean = statistics.fmean(present)
    se = statistics.stdev(present) / math.sqrt(len(present)) if len(present) > 1 else None
    return mean, se


def mean_curve(per_seed: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """Average the curves of several seeds point by point (they share their budgets).

    Each point of the result has `labels`, and per metric its mean and `<metric>_se`."""
    if not per_seed:
        return []
    budgets = [p["labels"] for p in per_seed[0]]
    if any([p["labels"] for p in curve] != budgets for curve in per_seed):
        raise ValueError("the seeds' curves must have the same budgets to be averaged")
    out = []
    for i, labels in enumerate(budgets):
        point: dict[str, Any] = {"labels": labels}
        for metric in METRICS:
            mean, se = mean_se([curve[i].get(metric) for curve in per_seed])
            point[metric], point[f"{metric}_se"] = mean, se
        out.append(point)
    return out


def points(curve: Sequence[Mapping[str, Any]], metric: str) -> list[tuple[float, float]]:
    """(labels, value) of the points where `metric` was measured, by labels."""
    return sorted((float(p["labels"]), float(p[metric])) for p in curve if p.get(metric) is not None)


def area(xy: Sequence[tuple[float, float]]) -> float | None:
    """Trapezoid area under (x, y) divided by the x range: the curve's mean height over its budgets.

    One point: its height. None for no points."""
    if not xy:
        return None
    if len(xy) == 1:
        return xy[0][1]
    total = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(xy, xy[1:]))
    return total / (xy[-1][0] - xy[0][0])


def labels_to_reach(xy: Sequence[tuple[float, float]], target: float) -> float | None:
    """Labels at which a curve first reaches `target`, linearly interpolated between the two budgets
    around the crossing; the first budget if it starts at or above it; None if it never gets there.

    A curve measured only from budget b0 on can say "at most b0", never less: there is nothing to
    interpolate from below its first point."""
    for i, (x, y) in enumerate(xy):
        if y >= target:
            if i == 0:
                return x
            x0, y0 = xy[i - 1]
            return x0 + (target - y0) * (x - x0) / (y - y0)
    return None


def summarise(curves: Mapping[str, Sequence[Mapping[str, Any]]], reference: str = REFERENCE) -> dict[str, Any]:
    """Areas and labels-to-match for mean curves `{strategy: curve}`, for both metrics.

    Returns `auc` and `labels_to_match_random` (instant model: every strategy has that curve at every
    budget), `auc_finetune` and `labels_to_match_random_finetune` (None where a strategy was not
    fine-tuned), and the `random_target` accuracies they were matched against."""
    out: dict[str, Any] = {}
    for metric, suffix in (("instant_accuracy", ""), ("finetune_accuracy", "_finetune")):
        ref = points(curves.get(reference, []), metric)
        target = ref[-1][1] if ref else None
        out[f"auc{suffix}"] = {name: area(points(curve, metric)) for name, curve in curves.items()}
        out[f"labels_to_match_random{suffix}"] = {
            name: (None if target is None else _rounded(labels_to_reach(points(curve, metric), target)))
            for name, curve in curves.items()}
        out[f"random_target{suffix}"] = ({"labels": int(ref[-1][0]), "accuracy": target} if ref else None)
    return out


def _rounded(labels: float | None) -> int | None:
    return None if labels is None else int(math.ceil(labels - 1e-9))  # a label is whole: round up


def at_budget(curve: Sequence[Mapping[str, Any]], labels: int, metric: str) -> float | None:
    """The curve's `metric` at exactly `labels`, or None if not measured there."""
    return next((p.get(metric) for p in curve if p["labels"] == labels), None)
