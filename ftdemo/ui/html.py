"""Small HTML fragments for the UI. Every user-supplied string goes through `esc` first.

Texts, label names, annotator names and file contents all come from users; they are shown as
text, never as markup (`<img src=x onerror=…>` renders literally).
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Sequence

from ftdemo.services import DatasetInfo, ExampleView, Stats
from ftdemo.services.retrain import RetrainStatus

CSS = """
.ftd-header h1 { margin: 0; font-size: 1.5rem; }
.ftd-header p { margin: .15rem 0 0; color: var(--body-text-color-subdued); }
.ftd-card { border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  padding: 1.1rem 1.3rem; background: var(--block-background-fill); min-height: 7rem; }
.ftd-suggestion { font-size: .9rem; margin-top: .7rem; padding-top: .55rem; border-top: 1px dashed var(--border-color-primary); }
.ftd-suggestion kbd, .ftd-assist kbd { border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 0 .3rem;
  font-family: var(--font-mono); font-size: .75rem; }
.ftd-assist { font-size: .8rem; color: var(--body-text-color-subdued); }
.ftd-retrain { font-size: .85rem; color: var(--body-text-color-subdued); margin-top: .2rem; }
.ftd-meta { font-size: .85rem; color: var(--body-text-color-subdued); margin-bottom: .5rem; }
.ftd-text { font-size: 1.15rem; line-height: 1.55; white-space: pre-wrap; overflow-wrap: anywhere; }
/* user text may carry right-to-left overrides: isolate it so it cannot reorder what is around it */
.ftd-text, .ftd-chip, .ftd-details td, .ftd-table td, .ftd-history li, .ftd-msg { unicode-bidi: isolate; }
.ftd-pair-part + .ftd-pair-part { margin-top: .9rem; padding-top: .9rem; border-top: 1px dashed var(--border-color-primary); }
.ftd-part-title { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em;
  color: var(--body-text-color-subdued); margin-bottom: .2rem; }
.ftd-empty { color: var(--body-text-color-subdued); font-size: 1.05rem; }
.ftd-progress-head { display: flex; justify-content: space-between; font-size: .95rem; margin-bottom: .35rem; }
.ftd-bar { height: .5rem; border-radius: 999px; background: var(--border-color-primary); overflow: hidden; }
.ftd-bar > div { height: 100%; background: var(--color-accent); }
.ftd-chips { display: flex; flex-wrap: wrap; gap: .35rem; margin-top: .6rem; }
.ftd-chip { font-size: .8rem; padding: .1rem .55rem; border-radius: 999px; border: 1px solid var(--border-color-primary); }
.ftd-chip b { margin-left: .25rem; }
.ftd-msg { font-size: .9rem; min-height: 1.3rem; }
.ftd-msg.ok { color: var(--body-text-color-subdued); }
.ftd-msg.err { color: var(--error-text-color, #b91c1c); }
.ftd-keys { font-size: .8rem; color: var(--body-text-color-subdued); }
.ftd-keys kbd { border: 1px solid var(--border-color-primary); border-bottom-width: 2px; border-radius: 4px;
  padding: 0 .3rem; font-family: var(--font-mono); font-size: .75rem; }
button.ftd-label-btn { white-space: nowrap; min-width: max-content !important; padding-inline: 1.1rem; }
.ftd-table table, .ftd-table .virtual-row, .ftd-table td { font-family: var(--font) !important; }
.ftd-history { font-size: .85rem; padding-left: 1.1rem; }
.ftd-history li { margin: .1rem 0; }
/* Train, Models and Predict tabs */
.ftd-snapshot { font-size: .95rem; }
.ftd-chip-low { border-color: var(--error-text-color, #b91c1c); color: var(--error-text-color, #b91c1c); }
.ftd-run { min-height: 0; }
.ftd-run .ftd-progress-head { align-items: baseline; }
.ftd-status { font-size: .72rem; padding: .1rem .5rem; border-radius: 999px; margin-left: .4rem; text-transform: uppercase;
  letter-spacing: .05em; border: 1px solid var(--border-color-primary); }
.ftd-status-queued, .ftd-status-running { color: #4338ca; border-color: #a5b4fc; background: #eef2ff; }
.ftd-status-succeeded { color: #047857; border-color: #6ee7b7; background: #ecfdf5; }
.ftd-status-failed, .ftd-status-interrupted { color: #b91c1c; border-color: #fca5a5; background: #fef2f2; }
.ftd-status-cancelled { color: #92400e; border-color: #fcd34d; background: #fffbeb; }
.ftd-eta { color: var(--body-text-color-subdued); font-size: .85rem; font-variant-numeric: tabular-nums; }
.ftd-facts { margin: .6rem 0 0; padding-left: 1.1rem; font-size: .9rem; }
.ftd-bar-live > div { animation: ftd-pulse 1.6s ease-in-out infinite; }
@keyframes ftd-pulse { 50% { opacity: .55; } }
.ftd-details table { border-collapse: collapse; font-size: .9rem; }
.ftd-details th { text-align: left; padding: .2rem 1rem .2rem 0; color: var(--body-text-color-subdued); font-weight: 500;
  vertical-align: top; white-space: nowrap; }
.ftd-details td { padding: .2rem 0; overflow-wrap: anywhere; }
.ftd-error { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 24rem; overflow: auto; font-size: .8rem;
  background: var(--background-fill-secondary); padding: .6rem .8rem; border-radius: var(--radius-md); margin-top: .6rem; }
.ftd-cm table { border-collapse: separate; border-spacing: 3px; font-size: .9rem; }
.ftd-cm th { font-weight: 500; padding: .25rem .5rem; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.ftd-cm-row { text-align: right; }
.ftd-cm-cell { min-width: 3.4rem; height: 2.5rem; text-align: center; border-radius: 4px; font-variant-numeric: tabular-nums; }
.ftd-cm-hit { box-shadow: inset 0 0 0 2px #10b981; }
.ftd-cm-caption { font-size: .8rem; color: var(--body-text-color-subdued); margin-top: .3rem; }
.ftd-version-head { font-size: 1rem; margin-bottom: .2rem; }
.ftd-pred-head { font-size: 1rem; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.ftd-expl { overflow-x: auto; }
.ftd-expl-note { color: #a16207; font-size: .85rem; margin-top: .3rem; }
.ftd-expl-meta { color: var(--body-text-color-subdued); font-size: .85rem; margin-top: .4rem; }
/* gradio draws a border around every table cell in an HTML block; heatmaps need none (inline dividers stay) */
.gradio-container .ftd-cm table, .gradio-container .ftd-cm tr, .gradio-container .ftd-cm th,
.gradio-container .ftd-cm td, .gradio-container .ftd-expl table, .gradio-container .ftd-expl tr,
.gradio-container .ftd-expl th, .gradio-container .ftd-expl td { border: 0; }
.ftd-banner { border: 1px solid #f59e0b; background: #fffbeb; color: #92400e; border-radius: var(--radius-lg);
  padding: .6rem .9rem; font-size: .95rem; }
button.ftd-nowrap { white-space: nowrap; min-width: max-content !important; }
#ftd-predict-examples td { text-align: left; }
.ftd-bars { font-size: .9rem; padding: .2rem 0; }
.ftd-bars-title { font-weight: 600; margin-bottom: .4rem; text-align: center; }
.ftd-bar-row { display: flex; align-items: center; gap: .5rem; margin: .2rem 0; }
.ftd-bar-label { flex: 0 0 32%; text-align: right; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  unicode-bidi: isolate; }
.ftd-bar-track { flex: 1; background: #f1f1f4; border-radius: 3px; height: .9rem; }
.ftd-bar { display: block; height: 100%; background: #6366f1; border-radius: 3px; }
.ftd-bar-n { flex: 0 0 3.5rem; font-variant-numeric: tabular-nums; }
#ftd-predict-answers.ftd-stale { opacity: .45; transition: opacity .15s; }  /* the text changed since */
"""


NO_DATASET = "No dataset chosen. Pick one above, or create one in the Data tab."


def esc(value: object) -> str:
    """Escape anything for HTML text and attribute context."""
    return html.escape("" if value is None else str(value), quote=True)


def message(text: str, *, error: bool = False) -> str:
    """An inline status line (plain text in, escaped HTML out)."""
    return f'<div class="ftd-msg {"err" if error else "ok"}">{esc(text)}</div>'


def stamped(inner: str) -> str:
    """`inner` in a div whose data-render attribute is new on every call. A screen rendered in answer to a
    request carries one, so the page's key script (ui/js.py) can tell that a click it sent was answered,
    also when the answer looks the same (skip, then undo, shows the same example again)."""
    return f'<div class="ftd-stamp" data-render="{secrets.token_hex(6)}">{inner}</div>'


def banner(text: str) -> str:
    """A warning across the top of the page (e.g. served to a network without a login)."""
    return f'<div class="ftd-banner" role="alert"><b>Warning:</b> {esc(text)}</div>'


def empty(text: str) -> str:
    return f'<div class="ftd-card"><div class="ftd-empty">{esc(text)}</div></div>'


def example_card(example: ExampleView, info: DatasetInfo, extra: str = "") -> str:
    """One example to label: both texts for pair datasets, its current labels if any; `extra`: HTML made by
    ftdemo (the model's suggestion) shown under the texts."""
    meta = [f"#{example.id}"]
    if example.source:
        meta.append(esc(example.source))
    if example.labels:
        who = f" ({example.annotators} annotators)" if example.annotators > 1 else ""
        meta.append(f"current label: {esc(', '.join(example.labels))}{who}")
    head = f'<div class="ftd-meta">{" · ".join(meta)}</div>'
    if info.task == "pair":
        body = "".join(
            f'<div class="ftd-pair-part"><div class="ftd-part-title">{title}</div>'
            f'<div class="ftd-text">{esc(text)}</div></div>'
            for title, text in ((esc(info.text_name), example.text), (esc(info.pair_name or ""), example.text_pair or ""))
        )
    else:
        body = f'<div class="ftd-text">{esc(example.text)}</div>'
    return f'<div class="ftd-card" data-example-id="{example.id}">{head}{body}{extra}</div>'


def progress(stats: Stats | None) -> str:
    """'12 / 40 labelled' with a bar and a chip per label."""
    if stats is None:
        return ""
    pct = 100.0 * stats.labelled / stats.examples if stats.examples else 0.0
    chips = "".join(f'<span class="ftd-chip">{esc(lab)}<b>{n}</b></span>' for lab, n in stats.label_counts.items())
    return (
        '<div class="ftd-progress">'
        f'<div class="ftd-progress-head"><span id="ftd-count">{stats.labelled} / {stats.examples} labelled</span>'
        f'<span>{stats.unlabelled} to go</span></div>'
        f'<div class="ftd-bar"><div style="width:{pct:.1f}%"></div></div>'
        f'<div class="ftd-chips">{chips}</div></div>'
    )


def retrain_countdown(status: RetrainStatus | None) -> str:
    """'37 labels until the next automatic fine-tune' (a services.retrain.RetrainStatus; '' when it is off)."""
    if status is None or not status.every:
        return ""
    if status.running:
        text = "a fine-tune of this dataset is running; the next automatic one follows it"
    elif status.remaining:
        text = f"{status.remaining} label{'s' * (status.remaining != 1)} until the next automatic fine-tune"
    else:
        text = "an automatic fine-tune is due" + (f": {status.waiting}" if status.waiting else "")
    return f'<div class="ftd-retrain" id="ftd-retrain">{esc(text)}</div>'


def key_hint(mode: str, *, suggested: bool = False) -> str:
    """The Label tab's keys for the card's `mode` ("buttons", "radio", "multi"), as ui/js.py binds them:
    Enter submits the ticked labels, or with label buttons accepts the suggestion when there is one."""
    keys = ["<kbd>1</kbd>–<kbd>9</kbd> " + ("toggle a label" if mode == "multi" else "choose a label")]
    if mode != "buttons":
        keys.append("<kbd>Enter</kbd> submit")
    elif suggested:
        keys.append("<kbd>Enter</kbd> accept the suggestion")
    keys += ["<kbd>S</kbd> skip", "<kbd>U</kbd> undo"]
    return '<div class="ftd-keys">Keys: ' + " · ".join(keys) + "</div>"


def stats_summary(stats: Stats | None) -> str:
    if stats is None:
        return ""
    parts = [f"<b>{stats.labelled}</b> of <b>{stats.examples}</b> examples labelled"]
    if stats.annotators:
        people = ", ".join(f"{esc(name)} ({n})" for name, n in sorted(stats.annotators.items()))
        parts.append(f"annotators: {people}")
    if stats.multi_annotated:
        agreement = f", agreement {stats.agreement:.0%}" if stats.agreement is not None else ""
        parts.append(f"{stats.multi_annotated} annotated twice or more, {stats.conflicts} conflicts{agreement}")
    return '<div class="ftd-msg ok">' + " · ".join(parts) + "</div>"


def history(rows: Sequence[dict]) -> str:
    """An example's annotation history, newest first."""
    if not rows:
        return '<div class="ftd-history ftd-msg ok">No annotations yet.</div>'
    items = []
    for row in reversed(rows):
        what = {"label": esc(", ".join(row.get("labels") or [])), "skip": "skipped", "clear": "cleared"}.get(
            row.get("kind"), esc(row.get("kind")))
        undo = " (undo)" if row.get("reverts_id") else ""
        items.append(f"<li>{esc(row.get('created_at', ''))} · <b>{esc(row.get('annotator'))}</b>: {what}{undo}</li>")
    return f'<ul class="ftd-history">{"".join(items)}</ul>'


def identity(name: str, role: str, *, signed_in: bool) -> str:
    if signed_in:
        return (f'<div class="ftd-msg ok">Signed in as <b>{esc(name)}</b> ({esc(role)}) · '
                '<a href="/logout">sign out</a></div>')
    return f'<div class="ftd-msg ok">Labelling as <b>{esc(name)}</b></div>'
