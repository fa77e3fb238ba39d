"""The activation guard: should a newly trained version replace the active one? (pure)"""

from __future__ import annotations

from typing import Any


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


def _val_f1(metrics: dict[str, Any] | None) -> float | None:
    if not metrics:
        return None
    val = metrics.get("validation", metrics)
    value = val.get("macro_f1") if isinstance(val, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def validation_macro_f1(metrics: dict[str, Any] | None) -> float | None:
    """A version's validation macro-F1 from its metrics (full or just the validation dict), None if absent."""
    return _val_f1(metrics)
