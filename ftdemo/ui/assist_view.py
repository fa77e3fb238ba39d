"""How the model's help looks: the suggestion on the Label tab's card, the assist status line (embeddings,
which model suggests and how good it is, how often its suggestions are taken), and similar examples as
choices to label in bulk. Plain values in, escaped HTML or choice lists out; no gradio, no services.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ftdemo.ui.html import esc

SNIPPET_CHARS = 140  # of an example's text in a similar-examples choice


def model_name(model: str) -> str:
    """'the instant model' or 'model v0003' (the version that made a suggestion)."""
    return "the instant model" if model == "instant" else f"model {model}"


def _percent(p: Any) -> str:
    return f"{100 * float(p):.0f}%" if p is not None else "?"


def suggestion_line(suggestion: dict[str, Any] | None, *, multi: bool) -> str:
    """'Suggested: positive 87% · by the instant model · Enter accepts, a number key picks another'."""
    if not suggestion:
        return ""
    probs = suggestion.get("probabilities") or {}
    labels = list(suggestion.get("labels") or [])
    if labels:
        what = ", ".join(f"<b>{esc(lab)}</b> {_percent(probs.get(lab))}" for lab in labels)
    else:  # a multi-label model that proposes none of the labels
        what = f"<b>none of the labels</b> (the most likely, {esc(suggestion.get('label'))}, at " \
               f"{_percent(probs.get(suggestion.get('label')))})"
    how = ("preselected: <kbd>Enter</kbd> accepts, <kbd>1</kbd>–<kbd>9</kbd> change it" if multi
           else "<kbd>Enter</kbd> accepts, a number key picks another")
    return (f'<div class="ftd-suggestion" id="ftd-suggestion">Suggested: {what} · by '
            f'{esc(model_name(str(suggestion.get("model", ""))))} · {how}</div>')


def _quality_text(scores: dict[str, Any] | None) -> str:
    if not scores:
        return ""
    f1 = scores.get("macro_f1")
    return f"macro-F1 {f1:.2f}" if isinstance(f1, (int, float)) else ""


def _instant_text(scores: dict[str, Any]) -> str:
    """The instant model's score and what it rests on: cross-validation, or (on a fine-tune's embeddings)
    the labels that fine-tune never learned."""
    text, n = _quality_text(scores), int(scores.get("n") or 0)
    held_out = scores.get("method") == "held-out"
    if not text:
        return ("instant model (too few labels its encoder did not learn to score it)" if held_out
                else "instant model (too few labels to score)")
    how = f"on {n} labels its encoder did not learn" if held_out else f"cross-validated on {n} labels"
    return f"instant model {text} ({how})"


def assist_status(quality: dict[str, Any] | None, acceptance: Sequence[dict[str, Any]] = (), *,
                  suggestions_on: bool = True) -> str:
    """One line under the card: embeddings done/total, which model suggests (with both models' honest
    scores), and how often each model's suggestions were accepted."""
    if not quality:
        return ""
    parts = []
    emb = quality.get("embeddings") or {}
    if emb.get("error"):
        parts.append(f"embeddings failed: {esc(emb['error'])}")
    elif emb.get("total"):
        done, total = int(emb.get("done", 0)), int(emb["total"])
        state = "embeddings ready" if done >= total else f"embedding examples: {done:,} of {total:,}"
        parts.append(state)
    instant, fine = quality.get("instant"), quality.get("finetuned")
    models = []
    if instant:
        models.append(_instant_text(instant))
    if fine:
        text = _quality_text(fine)
        models.append(f"fine-tuned {esc(fine.get('version'))}{' ' + text if text else ''} (validation)")
    serving = quality.get("serving")
    if not suggestions_on:
        parts.append("suggestions off")
    elif serving:
        parts.append(f"suggestions by {esc(model_name(str(serving)))}")
    elif not instant and not fine:
        parts.append("suggestions start after a few labels of each kind")
    if models:
        parts.append(" vs ".join(models))
    taken = [f"{esc(model_name(str(row['model'])))} {_percent(row['rate'])} of {int(row['shown'])}"
             for row in acceptance if row.get("shown")]
    if taken:
        parts.append("accepted: " + ", ".join(taken))
    return f'<div class="ftd-assist" id="ftd-assist">{" · ".join(parts)}</div>'


def similar_choices(rows: Sequence[dict[str, Any]]) -> list[tuple[str, int]]:
    """(shown, example id) choices: '#12 · 0.83 · positive · the text…' (its labels, else the suggestion)."""
    out = []
    for row in rows:
        labels = row.get("labels") or []
        if labels:
            tag = ", ".join(labels)
        elif row.get("suggestion"):
            tag = "suggested " + (", ".join(row["suggestion"].get("labels") or []) or "none")
        else:
            tag = "unlabelled"
        text = " ".join(str(row.get("text", "")).split())
        if row.get("text_pair"):
            text += " / " + " ".join(str(row["text_pair"]).split())
        if len(text) > SNIPPET_CHARS:
            text = text[: SNIPPET_CHARS - 1] + "…"
        out.append((f"#{row['id']} · {float(row.get('score', 0.0)):.2f} · {tag} · {text}", int(row["id"])))
    return out
