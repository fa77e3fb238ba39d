"""How the Predict tab shows one answer: the prediction header and the explanation, built from the
escaped pieces of ftdemo/explain/render.py with people's numbering (layer 1..L, head 1..H).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ftdemo.explain.render import display_text, render_matrix_html, render_words_html
from ftdemo.explain.types import Explanation, MatrixView
from ftdemo.ui.html import esc

METHODS = [("CLS attention", "cls"), ("Attention rollout", "rollout"), ("Integrated Gradients", "ig"),
           ("Attention matrix", "matrix"), ("Heads overview", "overview")]
METHOD_NAMES = {value: name for name, value in METHODS}
USES_LAYER = ("cls", "rollout", "matrix")
USES_HEAD = ("cls", "matrix")
USES_TARGET = ("ig",)
FAITHFULNESS_K = 3  # words the deletion test removes


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


def caption(expl: Explanation, num_layers: int) -> str:
    """Plain text (render_words_html escapes it): method, layer and head, and the label explained."""
    parts = [METHOD_NAMES.get(expl.method, expl.method)]
    if expl.layer is not None and expl.method in ("cls", "matrix"):
        parts.append(f"layer {expl.layer + 1} of {num_layers}")
    elif expl.layer is not None and expl.method == "rollout":
        parts.append(f"layers 1–{expl.layer + 1} of {num_layers}")
    if expl.method in USES_HEAD:
        parts.append("mean of heads" if expl.head is None else f"head {expl.head + 1}")
    if expl.method == "overview":
        parts.append("words: mean [CLS] attention over all layers and heads")
    if expl.signed:
        parts.append(f"evidence for “{expl.target_label}”")
    return " · ".join(parts)


def _one_based(expl: Explanation) -> MatrixView | None:
    view = expl.matrix
    if view is None:
        return None
    if expl.method == "overview":
        return replace(view, rows=[f"layer {i + 1}" for i in range(len(view.rows))],
                       cols=[f"head {j + 1}" for j in range(len(view.cols))])
    head = "mean of heads" if expl.head is None else f"head {expl.head + 1}"
    layer = "" if expl.layer is None else f"layer {expl.layer + 1}, "
    return replace(view, title=f"Attention matrix, {layer}{head} (row: from, column: to)")


def faithfulness_html(expl: Explanation) -> str:
    f = expl.faithfulness
    if f is None:
        return ""
    if not f.k:
        return '<div class="ftd-expl-meta">Deletion test: the text is too short to delete words from.</div>'
    words = ", ".join(f"“{display_text(w, 30)}”" for w in f.deleted)
    verdict = ("the highlighted words matter to the model more than random ones"
               if f.topk_drop > f.random_drop + 0.02 else
               "no clearer effect than deleting random words: read this view with care")
    label = display_text(expl.target_label, 60)
    return (f'<div class="ftd-expl-meta ftd-faith"><b>Deletion test</b>: removing the top {f.k} words ({words}) '
            f"moves p({label}) from {f.base_prob:.2f} to {f.topk_prob:.2f} (drop {f.topk_drop:+.2f}); "
            f"{f.k} random words: drop {f.random_drop:+.2f} on average. {verdict}.</div>")


def explanation_html(expl: Explanation, num_layers: int) -> str:
    """Header, word heatmap with legend, notices, IG completeness, deletion test and matrix — all escaped."""
    parts = ['<div class="ftd-expl">',
             render_words_html(expl.words, signed=expl.signed, caption=caption(expl, num_layers))]
    for notice in expl.notices:
        if notice == expl.prediction.notice:  # the prediction line above shows it already
            continue
        parts.append(f'<div class="ftd-expl-note">{display_text(notice, 300)}</div>')
    if expl.completeness_error is not None:
        parts.append(f'<div class="ftd-expl-meta">Completeness error {expl.completeness_error:.1%} '
                     f"({int(expl.ig_steps or 0)} steps, {display_text(expl.baseline or '', 10)} baseline): "
                     "how far the word scores are from summing to the change in the label's score.</div>")
    parts.append(faithfulness_html(expl))
    matrix = _one_based(expl)
    if matrix is not None:
        note = "darker: attention spread wider" if expl.method == "overview" else None
        parts.append(render_matrix_html(matrix, note=note))
    parts.append("</div>")
    return "".join(parts)


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
