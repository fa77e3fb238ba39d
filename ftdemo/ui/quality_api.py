"""The API for checking the labels and keeping the models' disk in hand: /agreement, /overlap,
/set_overlap and /prune_models.

    c.predict("sentiment", api_name="/agreement")
    # -> {"overlap_items": 120, "cohen_kappa": [{"a": "ann", "b": "bob", "kappa": 0.71, "items": 80,
    #     "low": 0.58, "high": 0.82}], "fleiss_kappa": {"value", "items", "low", "high", "raters"},
    #     "krippendorff_alpha": {"value", "items", "low", "high"}, "per_label": {...}, "interval": {...}}
    c.predict("sentiment", 0.2, 2, "", api_name="/set_overlap")   # admins: 20% of the examples to 2 annotators
    c.predict("sentiment", 3, "", api_name="/prune_models")       # admins: keep active, previous and the last 3
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ftdemo.errors import InvalidInputError
from ftdemo.ui.api import _shown, endpoint, string, whole_number
from ftdemo.ui.context import UIContext

MAX_KEEP = 1000


def number(value: Any, name: str, lo: float, hi: float) -> float:
    """`value` as a float from `lo` to `hi` (a JSON number or decimal text; bools refused)."""
    try:
        out = float(value) if not isinstance(value, bool) and isinstance(value, (int, float, str)) else None
    except ValueError:
        out = None
    if out is None or not lo <= out <= hi:
        raise InvalidInputError(f"{name} must be a number from {lo:g} to {hi:g}; got {_shown(value)}")
    return out


def register_quality_api(ctx: UIContext) -> None:
    services = ctx.services

    def agreement(dataset: str) -> dict[str, Any]:
        """Agreement over the examples two or more annotators labelled: Cohen's kappa per annotator pair,
        Fleiss' kappa, Krippendorff's alpha (nominal; multi-label per label), per-label values; each with the
        items it rests on and a 95% bootstrap interval (low, high)."""
        dataset = string(dataset, "dataset")
        return {**services.agreement.agreement(dataset).to_dict(),
                "overlap": services.agreement.overlap(dataset).to_dict()}

    def overlap(dataset: str) -> dict[str, Any]:
        """The overlap setting: {share, k, examples (chosen at this share), complete (labelled by k)}."""
        return services.agreement.overlap(string(dataset, "dataset")).to_dict()

    def set_overlap(dataset: str, share: float, k: int = 2, annotator: str = "",
                    request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        """Send a share (0..1) of the dataset's examples to k different annotators each (admins only)."""
        dataset = string(dataset, "dataset")
        share = number(share, "share", 0, 1)
        k = 2 if k is None else whole_number(k, "k", 2, 50)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return services.agreement.set_overlap(dataset, share, k, actor=actor).to_dict()

    def prune_models(dataset: str, keep: int = 3, annotator: str = "",
                     request: gr.Request = None) -> dict[str, Any]:  # type: ignore[assignment]
        """Delete the dataset's model versions but the active one, the previously active one and the last
        `keep` (admins only). Returns {kept, deleted, freed_mb, disk_mb}."""
        dataset = string(dataset, "dataset")
        keep = whole_number(keep, "keep", 0, MAX_KEEP)
        actor = ctx.actor(request, string(annotator, "annotator", optional=True))
        return services.models.prune(dataset, keep, actor=actor)

    gr.api(endpoint(ctx.anyone(agreement)), api_name="agreement")
    gr.api(endpoint(ctx.anyone(overlap)), api_name="overlap")
    gr.api(endpoint(ctx.admin("change how many annotators label each example")(set_overlap)), api_name="set_overlap")
    gr.api(endpoint(ctx.admin("delete model versions")(prune_models)), api_name="prune_models")
