"""Pure views for the Train and Models tabs: progress events → curves (charts.py draws them), run
progress and confusion matrices as escaped HTML, metric tables. Plain data in, plain data out (no gradio).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from ftdemo.explain.render import score_color
from ftdemo.ui import charts
from ftdemo.ui.html import esc

MAX_POINTS = 400  # a loss curve never needs more points than this to look right
LIVE = ("queued", "running")
STATUS_TEXT = {"queued": "queued", "running": "training", "succeeded": "finished", "failed": "failed",
               "cancelled": "cancelled", "interrupted": "interrupted"}
LOSS_COLORS = {"training": "#6366f1", "validation": "#f59e0b"}
METRIC_NAMES = {"macro_f1": "macro-F1", "accuracy": "accuracy"}
METRIC_COLORS = {"macro-F1": "#6366f1", "accuracy": "#10b981"}


# --- numbers and times ---------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03; '—' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_score(value: Any) -> str:
    return f"{float(value):.3f}" if isinstance(value, (int, float)) else "—"


def adapt_scores(metrics: Mapping[str, Any] | None) -> str:
    """An adaptation's masked-LM scores on its held-out texts, before -> after (plain text)."""
    before, after = (metrics or {}).get("before") or {}, (metrics or {}).get("after") or {}
    if not before.get("masked_tokens"):
        return "no held-out texts were measured"
    return (f"held-out masked-LM loss {fmt_score(before.get('loss'))} → {fmt_score(after.get('loss'))}, masked-token "
            f"accuracy {fmt_score(before.get('accuracy'))} → {fmt_score(after.get('accuracy'))} "
            f"({int(before['masked_tokens'])} tokens)")


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def fmt_time(stamp: str | None) -> str:
    """'2025-01-31 14:05' (UTC, as stored) or ''."""
    when = parse_time(stamp)
    return when.strftime("%Y-%m-%d %H:%M") if when else ""


def run_duration(run: Mapping[str, Any]) -> float | None:
    start, end = parse_time(run.get("started_at")), parse_time(run.get("finished_at"))
    if start and end:
        return (end - start).total_seconds()
    return None


def split_metrics(metrics: Mapping[str, Any] | None, split: str) -> dict[str, Any]:
    """metrics['validation'] / metrics['test'] or {} (a test split may be empty: {'n': 0})."""
    part = (metrics or {}).get(split) or {}
    return part if part.get("n", 1) else {}


# --- live training plots -------------------------------------------------------------------------


def _thin(rows: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    if len(rows) <= limit:
        return rows
    every = -(-len(rows) // limit)
    return rows[::every] + ([rows[-1]] if (len(rows) - 1) % every else [])


def _along(event: Mapping[str, Any], key: str) -> float:
    """`step` or `epoch` of an event counted from the run's start: a label check's fine-tunes each count
    from 0, so the second one's steps are drawn after the first one's, not over them."""
    fold, _ = check_fold(event)
    per = {"step": "total_steps", "epoch": "epochs"}[key]
    return float(event[key]) + (fold - 1) * float(event.get(per) or 0)


def loss_series(events: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Training loss per logged step, and validation loss at the step each epoch ended."""
    train = [(_along(e, "step"), float(e["loss"])) for e in events if e.get("kind") == "step"
             and e.get("loss") is not None]
    val = [(_along(e, "step"), float(e["metrics"]["loss"])) for e in events if e.get("kind") == "epoch"
           and (e.get("metrics") or {}).get("loss") is not None]
    return {"training": _thin(train), "validation": val}


def metric_series(events: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """Validation macro-F1 and accuracy (subset accuracy for multi-label) after each epoch."""
    return {name: [(_along(e, "epoch"), float(e["metrics"][key])) for e in events
                   if e.get("kind") == "epoch" and (e.get("metrics") or {}).get(key) is not None]
            for key, name in METRIC_NAMES.items()}


def fold_marks(events: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, str]]:
    """Where each of a label check's fine-tunes after the first starts along `key` ("step" or "epoch"), as
    `_along` counts: (x, "fine-tune k"); [] for any other run."""
    per = {"step": "total_steps", "epoch": "epochs"}[key]
    starts: dict[int, float] = {}
    for event in events:
        fold, folds = check_fold(event)
        if folds > 1 and fold > 1 and event.get(per):
            starts.setdefault(fold, (fold - 1) * float(event[per]) + 0.5)
    return [(x, f"fine-tune {fold}") for fold, x in sorted(starts.items())]


def loss_chart(events: Sequence[Mapping[str, Any]]) -> str:
    return charts.line_chart(charts.series_of(loss_series(events), LOSS_COLORS, markers=("validation",)),
                             title="Loss", x_title="optimizer step", empty="the loss appears once training starts",
                             marks=fold_marks(events, "step"))


def metric_chart(events: Sequence[Mapping[str, Any]]) -> str:
    return charts.line_chart(charts.series_of(metric_series(events), METRIC_COLORS, markers=tuple(METRIC_COLORS)),
                             title="Validation after each epoch", x_title="epoch", y_lim=(0.0, 1.0),
                             empty="scores appear after the first epoch", marks=fold_marks(events, "epoch"))


def progress_html(run: Mapping[str, Any] | None, events: Sequence[Mapping[str, Any]]) -> str:
    """A card for one run: status, a bar with epoch/step, loss, speed and ETA; the outcome when done."""
    if run is None:
        return ('<div class="ftd-card ftd-run"><div class="ftd-empty">No training runs yet for this dataset. '
                "Pick the settings on the left and press <b>Train now</b>.</div></div>")
    status = run.get("status", "")
    last = next((e for e in reversed(events) if e.get("kind") in ("step", "epoch", "start")), None)
    step, total = (int(last.get("step") or 0), int(last.get("total_steps") or 0)) if last else (0, 0)
    fold, folds = check_fold(last)
    done = (fold - 1 + step / total) / folds if total else (fold - 1) / folds
    pct = 100.0 if status == "succeeded" else 100.0 * done
    label = STATUS_TEXT.get(status, status)
    if status in LIVE and run.get("cancel_requested"):
        label = "cancelling"
    badge = f'<span class="ftd-status ftd-status-{esc(status)}">{esc(label)}</span>'
    worker = run.get("worker") if status in LIVE else None
    on = f' <span class="ftd-where">on {esc(worker)}</span>' if worker else ""
    head = f'<span><b>Run #{int(run["id"])}</b> {badge}{on}</span>'
    facts: list[str] = []
    right = ""
    if status == "queued" and run.get("waiting_for_worker"):
        facts.append("waiting for a worker (start one with <code>python -m ftdemo worker</code>)")
    elif status == "queued":
        facts.append("starting the training process…")
    elif status == "running" and last is not None and last.get("kind") == "start":
        facts.append(f"{_fold_text(fold, folds)}preparing the first batch: {total} steps over "
                     f"{int(last.get('epochs') or 0)} epochs")
        right = f"elapsed {fmt_duration(last.get('elapsed_s'))}"
    elif status == "running" and last is not None:
        if folds > 1:
            facts.append(f"fine-tune {fold} of {folds}")
        if last.get("epoch"):
            facts.append(f"epoch {int(last['epoch'])} of {int(last.get('epochs') or 0)}")
        if total:
            facts.append(f"step {step} of {total}")
        if last.get("loss") is not None:
            facts.append(f"loss {float(last['loss']):.3f}")
        if last.get("examples_per_s"):
            facts.append(f"{float(last['examples_per_s']):,.0f} examples/s")
        facts = [" · ".join(facts)]
        eta = last.get("eta_s")
        if eta is not None and folds > 1:  # the folds still to come take about as long as this one
            eta = float(eta) + (folds - fold) * (float(eta) + float(last.get("elapsed_s") or 0.0))
        right = f"ETA {fmt_duration(eta)} · elapsed {fmt_duration(last.get('elapsed_s'))}"
    elif status == "running":
        facts.append("loading the model and tokenising the data…")
    else:
        facts.extend(_outcome(run))
    bar_class = "ftd-bar ftd-bar-live" if status in LIVE else "ftd-bar"
    body = "".join(f"<li>{f}</li>" for f in facts)
    return (
        f'<div class="ftd-card ftd-run" data-run-id="{int(run["id"])}" data-status="{esc(status)}">'
        f'<div class="ftd-progress-head">{head}<span class="ftd-eta">{esc(right)}</span></div>'
        f'<div class="{bar_class}"><div style="width:{pct:.1f}%"></div></div>'
        f'<ul class="ftd-facts">{body}</ul></div>'
    )


def check_fold(event: Mapping[str, Any] | None) -> tuple[int, int]:
    """(fine-tune, of how many) of a label check's progress event (training/crossfit.py tags them); (1, 1)
    for any other run's."""
    metrics = (event or {}).get("metrics") or {}
    folds = int(metrics.get("folds") or 1)
    return min(max(int(metrics.get("fold") or 1), 1), folds), folds


def _fold_text(fold: int, folds: int) -> str:
    return f"fine-tune {fold} of {folds}: " if folds > 1 else ""


def _outcome(run: Mapping[str, Any]) -> list[str]:
    """Escaped HTML lines describing how a finished run ended."""
    status = run.get("status")
    took = fmt_duration(run_duration(run))
    if status == "succeeded" and run.get("kind") == "check":
        metrics = run.get("metrics") or {}
        return [f"label check of {int(metrics.get('examples') or 0):,} labelled examples with "
                f"{int(metrics.get('folds') or 0)} fine-tunes, done in {took}",
                f"out-of-fold accuracy <b>{fmt_score(metrics.get('out_of_fold_accuracy'))}</b> (each example scored "
                "by the fine-tune that did not see it)",
                "the Review tab's suspects now average it with the instant and the word model"]
    if status == "succeeded" and run.get("kind") == "adapt":
        return [f"adapted checkpoint <b>{esc(run.get('version'))}</b> trained in {took}",
                esc(adapt_scores(run.get("metrics"))),
                "choose it as the base model to fine-tune from it"]
    if status == "succeeded":
        val, test = split_metrics(run.get("metrics"), "validation"), split_metrics(run.get("metrics"), "test")
        lines = [f"model <b>{esc(run.get('version'))}</b> trained in {took}",
                 f"validation macro-F1 <b>{fmt_score(val.get('macro_f1'))}</b>, "
                 f"accuracy {fmt_score(val.get('accuracy'))}"
                 + (f" · test macro-F1 {fmt_score(test.get('macro_f1'))}" if test else "")]
        decision = (run.get("progress") or {}).get("decision") or {}
        if decision:
            verdict = "now serving predictions" if decision.get("active") else "kept as a candidate"
            lines.append(f"{verdict}: {esc(decision.get('reason', ''))}")
        return lines
    first_line = (run.get("error") or "").strip().splitlines()[0:1]
    reason = esc(first_line[0]) if first_line else "no reason recorded"
    return [f"{esc(STATUS_TEXT.get(status, status))} after {took}: {reason}",
            "select the run in the history below for the full message"]


# --- model quality -------------------------------------------------------------------------------


def confusion_html(metrics: Mapping[str, Any], labels: Sequence[str], *, multi_label: bool) -> str:
    """The confusion matrix as an HTML heatmap table (counts in cells, colour by row share).

    Single-label: rows = true label, columns = predicted. Multi-label: one row per label with its
    TN / FP / FN / TP counts.
    """
    matrix = metrics.get("confusion_matrix")
    if not matrix:
        return '<div class="ftd-msg ok">No confusion matrix for this split (it has no examples).</div>'
    if multi_label:
        cols = ["true neg.", "false pos.", "false neg.", "true pos."]
        rows = [[cell for pair in per_label for cell in pair] for per_label in matrix]
        corner, caption = "label", "per label: counts of each outcome"
    else:
        cols, rows = list(labels), matrix
        corner, caption = "true ↓ / predicted →", "rows: true label · columns: predicted label"
    head = "".join(f"<th>{esc(c)}</th>" for c in cols)
    body = []
    for i, (name, row) in enumerate(zip(labels, rows)):
        total = sum(row) or 1
        cells = []
        for j, count in enumerate(row):
            rgb = score_color(count / total, 1.0, signed=False)
            luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255
            hit = " ftd-cm-hit" if (not multi_label and i == j) or (multi_label and j in (0, 3)) else ""
            ink = "#fff" if luminance < 0.55 else "#111"
            cells.append(f'<td class="ftd-cm-cell{hit}" style="background:rgb{rgb};color:{ink}" '
                         f'title="{count / total:.0%} of the row">{int(count)}</td>')
        body.append(f'<tr><th class="ftd-cm-row">{esc(name)}</th>{"".join(cells)}</tr>')
    return (f'<div class="ftd-cm"><table><tr><th class="ftd-cm-corner">{esc(corner)}</th>{head}</tr>'
            f'{"".join(body)}</table><div class="ftd-cm-caption">{esc(caption)}</div></div>')


def per_class_frame(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """Precision, recall, F1 and support per label (and ROC-AUC / threshold when known)."""
    per = metrics.get("per_class") or {}
    rows = []
    for label, m in per.items():
        row = {"label": label, "precision": round(m.get("precision", 0.0), 3), "recall": round(m.get("recall", 0.0), 3),
               "F1": round(m.get("f1", 0.0), 3), "support": int(m.get("support", 0))}
        if m.get("roc_auc") is not None:
            row["ROC-AUC"] = round(m["roc_auc"], 3)
        if m.get("threshold") is not None:
            row["threshold"] = round(m["threshold"], 2)
        rows.append(row)
    columns = ["label", "precision", "recall", "F1", "support"]
    columns += [c for c in ("ROC-AUC", "threshold") if any(c in r for r in rows)]
    return pd.DataFrame(rows, columns=columns)
