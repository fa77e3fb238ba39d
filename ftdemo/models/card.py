"""README.md model card for a saved version, from its metadata.

Every piece of user text (dataset and label names, base model, extra metadata) is
neutralised before it lands in Markdown: one line, no bidi controls, HTML/Markdown control
characters backslash-escaped or entity-encoded, length-capped. The YAML header holds fixed
values only, so no user text can break out of it.
"""

from __future__ import annotations

import re
from typing import Any

# inline syntax only: values never start a line, so list/heading markers mid-line are inert
_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|~])")
# bidi controls would let a name reorder the text around it on the Hub or in an editor (as in explain/render.py)
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}


def md(text: Any, limit: int = 200) -> str:
    """User text made inert inside Markdown: single line, no HTML, no Markdown syntax."""
    value = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", _BIDI.sub("", str(text))).strip()
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = "".join(_HTML.get(ch, ch) for ch in value)
    return _MD_SPECIAL.sub(r"\\\1", value)


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def _self_training_lines(info: Any) -> list[str]:
    """One line per self-training round (pseudo-labels from the unlabelled texts), if there were any."""
    if not isinstance(info, dict):
        return []
    out = [f"- self-training on {_int(info.get('pool'))} unlabelled texts:"]
    for r in info.get("rounds") or []:
        out.append(f"  - round {_int(r.get('round'))}: {_int(r.get('pseudo_labelled'))} pseudo-labels, "
                   f"{'kept' if r.get('kept') else 'not kept'} ({md(r.get('says', ''), 200)})")
    return out


def _int(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "–"


def render_model_card(meta: dict[str, Any]) -> str:
    """Markdown card: what the model is, what it was trained on, how well it does."""
    labels = list(meta.get("labels") or [])
    metrics = meta.get("metrics") or {}
    val, test = metrics.get("validation") or {}, metrics.get("test") or {}
    counts = (meta.get("snapshot") or {}).get("counts") or {}
    cfg = meta.get("config") or {}
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        "tags: [ftdemo]",
        "---",
        "",
        f"# {md(meta.get('dataset', ''))} {md(meta.get('version', ''))}",
        "",
        f"A {md(meta.get('task', ''), 40)} text classifier fine-tuned by ftdemo from "
        f"{md(meta.get('base_model', ''))} on {md(meta.get('created_at', ''), 40)}.",
        "",
        "## Labels",
        "",
        "| id | label | train | validation | test |",
        "| --- | --- | --- | --- | --- |",
    ]
    per = {name: (counts.get(name) or {}).get("per_label") or {} for name in ("train", "validation", "test")}
    for i, lab in enumerate(labels):
        lines.append(f"| {i} | {md(lab, 64)} | {per['train'].get(lab, '–')} | {per['validation'].get(lab, '–')} "
                     f"| {per['test'].get(lab, '–')} |")
    lines += ["", "## Metrics", "", "| split | n | accuracy | macro-F1 | ROC-AUC |", "| --- | --- | --- | --- | --- |"]
    for name, block in (("validation", val), ("test", test)):
        lines.append(f"| {name} | {block.get('n', 0)} | {_num(block.get('accuracy'))} | {_num(block.get('macro_f1'))} "
                     f"| {_num(block.get('roc_auc'))} |")
    if meta.get("thresholds"):
        lines += ["", "Decision thresholds (tuned on validation): "
                  + ", ".join(f"{md(k, 64)} = {_num(v)}" for k, v in meta["thresholds"].items())]
    lines += [
        "",
        "## Training",
        "",
        f"- epochs run: {len(meta.get('history') or [])} (best: {meta.get('best_epoch', '–')}), "
        f"learning rate {md(cfg.get('learning_rate', '–'), 20)}, batch size {md(cfg.get('batch_size', '–'), 20)}",
        f"- data snapshot: `{re.sub('[^0-9a-f]', '', str((meta.get('snapshot') or {}).get('hash', '')))[:16]}`",
        f"- device: {md(meta.get('device', ''), 80)}",
        *_self_training_lines(meta.get("self_training")),
        "",
        "The test split was held out by example-id hash and never used for training or model selection.",
        "Validation and test sets are small on small datasets; read these numbers with that in mind.",
        "",
        "## Load",
        "",
        "```python",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        "model = AutoModelForSequenceClassification.from_pretrained(PATH, use_safetensors=True)",
        "tokenizer = AutoTokenizer.from_pretrained(PATH)",
        "```",
        "",
    ]
    return "\n".join(lines)
