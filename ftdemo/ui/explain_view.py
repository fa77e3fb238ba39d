"""How the Predict tab shows one answer: the explanation controls (which the methods table decides),
and the prediction header. The explanation itself is rendered by ftdemo.explain.render.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ftdemo.explain.methods import HEAD, LAYER, METHODS, STEPS, TARGET, get_method
from ftdemo.ui.html import esc

CHOICES = [(m.title, m.name) for m in METHODS]  # the method radio: title shown, name sent
FAITHFULNESS_K = 3  # words the deletion test removes


def controls_for(method: str) -> dict[str, bool]:
    """Which explanation controls the method uses: layer, head, target label, IG steps."""
    row = get_method(method)
    return {name: row.uses(name) for name in (LAYER, HEAD, TARGET, STEPS)}


@dataclass(frozen=True)
class ExplainOptions:
    """The explanation controls as the page shows them (layer 1-based, 0 or ≥ the model's count = last)."""

    method: str = "cls"
    layer: int = 0
    head: int = -1  # -1: mean of heads; else 0-based
    target_label: str = ""  # "": the predicted label
    ig_steps: int = 32
    show_special: bool = False

    def service_kwargs(self, num_layers: int, *, faithfulness: bool = False) -> dict[str, Any]:
        """Keyword arguments for PredictService.explanation for a model with `num_layers` layers."""
        layer = int(self.layer or 0)
        return dict(
            method=self.method, layer=-1 if layer <= 0 or layer >= num_layers else layer - 1,
            head=None if int(self.head) < 0 else int(self.head), target_label=self.target_label or None,
            ig_steps=int(self.ig_steps), show_special=bool(self.show_special),
            faithfulness_k=FAITHFULNESS_K if faithfulness else None,
        )


def prediction_html(prediction: dict[str, Any], *, active: str | None) -> str:
    """One line over the probabilities: which model answered and what it predicted."""
    version = prediction.get("model_version", "")
    tag = " (active)" if version and version == active else ""
    labels = prediction.get("labels") or []
    if prediction.get("task") == "multi_label":
        said = ", ".join(esc(x) for x in labels) if labels else "no label above its threshold"
        what = f"predicted labels: <b>{said}</b>"
    else:
        top = prediction.get("label", "")
        what = f"predicted: <b>{esc(top)}</b> ({prediction.get('probabilities', {}).get(top, 0.0):.2f})"
    notice = (f'<div class="ftd-expl-note">{esc(prediction["notice"])}</div>'
              if prediction.get("notice") else "")
    return (f'<div class="ftd-pred-head"><span class="ftd-chip">model {esc(version)}{tag}</span> {what}</div>'
            f"{notice}")
