"""Review tab: labels that are probably wrong, one at a time, surest first (services/review.py finds them).

Each suspect shows its text, the given label, the model's suggestion with its probability, who labelled it
and when, and — when a fine-tuned model exists — Integrated Gradients toward the given label and toward
the suggested one side by side, so the reviewer sees which words pull each way. One click (or key)
relabels (Enter: the suggestion; 1–9: that label), confirms the label (C), skips (S) or undoes (U).

Admins can also run a fine-tune check from here (k fine-tunes, each scoring the examples it left out;
services.training.check): its progress shows below the suspects, and once it succeeds the list is
reloaded with the check averaged in.

The logic functions take plain values and return a ReviewScreen; `create_review_tab` only wires them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.services import Actor, Services
from ftdemo.services.review import SuspectList, SuspectView
from ftdemo.training.splits import DEFAULT_FOLDS, MAX_FOLDS
from ftdemo.ui import html, plots
from ftdemo.ui.context import EXPLAIN_EVENTS, PRIVATE, UIContext, guard
from ftdemo.ui.js import (
    REVIEW_ACCEPT_ID,
    REVIEW_BUTTON_ID,
    REVIEW_CARD_ID,
    REVIEW_CONFIRM_ID,
    REVIEW_MSG_ID,
    REVIEW_PANEL_ID,
    REVIEW_SKIP_ID,
    REVIEW_UNDO_ID,
)

MAX_BUTTONS = 9  # 1-9 relabel as that label
LIST_LIMIT = 200  # suspects fetched per refresh; the reviewer works down from the surest
IG_STEPS = 32
TITLE = "Review"
CHECK_POLL_S = 2.0  # how often the tab reads a running check's progress
CHECK_RUNS = 50  # runs looked through for the newest check


@dataclass
class ReviewScreen:
    """What the Review tab shows for one user at one moment."""

    found: SuspectList | None = None
    skipped: list[int] = field(default_factory=list)  # skipped in this session, shown again after a refresh
    labels: list[str] = field(default_factory=list)
    multi: bool = False
    message: str = ""

    @property
    def suspect(self) -> SuspectView | None:
        if self.found is None:
            return None
        return next((x for x in self.found.suspects if x.id not in self.skipped), None)


def load_review(services: Services, dataset: str | None, *, skipped: list[int] | None = None,
                message: str = "") -> ReviewScreen:
    """The suspects of `dataset` (those skipped in this session left for later)."""
    if not dataset:
        return ReviewScreen(message=message)
    info = services.datasets.info(dataset)
    found = services.review.suspects(dataset, limit=LIST_LIMIT)
    return ReviewScreen(found, list(skipped or []), list(info.labels), info.task == "multi_label", message)


def relabel(services: Services, dataset: str | None, example_id: int | None, labels: list[str], actor: Actor,
            skipped: list[int]) -> ReviewScreen:
    if not dataset or example_id is None:
        raise InvalidInputError("there is no suspect on screen: choose a dataset, or refresh the list")
    if not labels:
        raise InvalidInputError("choose at least one label to give it")
    done = services.review.relabel(dataset, int(example_id), labels, actor=actor)
    return load_review(services, dataset, skipped=skipped, message=done.message + " · U undoes it")


def confirm(services: Services, dataset: str | None, example_id: int | None, actor: Actor,
            skipped: list[int]) -> ReviewScreen:
    if not dataset or example_id is None:
        raise InvalidInputError("there is no suspect on screen: choose a dataset, or refresh the list")
    done = services.review.confirm(dataset, int(example_id), actor=actor)
    return load_review(services, dataset, skipped=skipped, message=done.message + " · U undoes it")


def undo(services: Services, dataset: str | None, actor: Actor, skipped: list[int]) -> ReviewScreen:
    if not dataset:
        raise InvalidInputError(html.NO_DATASET)
    done = services.review.undo(dataset, actor=actor)
    return load_review(services, dataset, skipped=skipped,
                       message="nothing to undo" if done is None else done.message)


def explain_both(services: Services, dataset: str | None, suspect: dict[str, Any] | None, caller: str) -> tuple[str, str]:
    """Integrated Gradients toward the given label and toward the suggested one (HTML each), by the active
    fine-tuned model; a note instead when there is none (the instant model has no words to attribute)."""
    from ftdemo.explain.render import render_explanation_html

    if not dataset or not suspect:
        return "", ""
    if services.models.active(dataset) is None:
        note = html.message("Train a model (Train tab) to see which words pull toward each label: the "
                            "explanations come from the model that serves predictions (a fine-tune check keeps "
                            "only its probabilities).")
        return note, ""
    given, suggested = list(suspect.get("given") or []), list(suspect.get("suggested") or [])
    # multi-label: explain the labels the two sets disagree on
    toward = ([x for x in given if x not in suggested] or given)[:1], ([x for x in suggested if x not in given] or suggested)[:1]
    out = []
    for names, title in zip(toward, ("given", "suggested")):
        if not names:
            out.append(html.message(f"no {title} label to explain"))
            continue
        try:
            expl = services.predict.explanation(dataset, suspect["text"], suspect.get("text_pair"), method="ig",
                                                target_label=names[0], ig_steps=IG_STEPS, caller=caller)
        except FtdemoError as err:
            out.append(html.message(str(err), error=True))
            continue
        out.append(f'<div class="ftd-part-title">Toward the {title} label “{html.esc(names[0])}”</div>'
                   + render_explanation_html(expl))
    return out[0], out[1]


def latest_check(services: Services, dataset: str | None, actor: Actor | None = None) -> dict[str, Any] | None:
    """The dataset's newest fine-tune check in any state (running, done, failed), or None."""
    if not dataset:
        return None
    return next((r for r in services.training.runs(dataset, limit=CHECK_RUNS, actor=actor) if r.get("kind") == "check"),
                None)


def start_check(services: Services, dataset: str | None, folds: Any, actor: Actor) -> dict[str, Any]:
    """Start a fine-tune check with `folds` fine-tunes (the service checks the role, the labels and the range)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    return services.training.check(dataset, {"folds": folds}, actor=actor)


def cancel_check(services: Services, run: dict[str, Any] | None, actor: Actor) -> dict[str, Any]:
    if run is None or run.get("status") not in plots.LIVE:
        raise InvalidInputError("no fine-tune check is running")
    return services.training.cancel(int(run["id"]), actor=actor)


# --- rendering -----------------------------------------------------------------------------------

def start_label(folds: Any) -> str:
    try:
        return f"Run {int(folds)} fine-tunes"
    except (TypeError, ValueError):
        return "Run the check"


def check_card(run: dict[str, Any] | None) -> str:
    if run is None:
        return html.message("No fine-tune check yet for this dataset. It takes about as long as that many "
                            "training runs; the suspects then average it with the instant and the word model.")
    return plots.progress_html(run, [run["progress"]] if run.get("progress") else [])


def render_check(run: dict[str, Any] | None, c: dict[str, Any]) -> dict[Any, Any]:
    """The check panel for the dataset's newest check; the timer runs only while it is live."""
    live = run is not None and run.get("status") in plots.LIVE
    return {c["card"]: check_card(run), c["start"]: gr.update(interactive=not live),
            c["cancel"]: gr.update(visible=live), c["timer"]: gr.update(active=live),
            c["run"]: None if run is None else {"id": run["id"], "status": run["status"]}}


def card(screen: ReviewScreen) -> str:
    x = screen.suspect
    if screen.found is None:
        return html.empty(html.NO_DATASET)
    if x is None:
        return html.empty("No suspects left: every label the model doubts has been reviewed or skipped "
                          "(refresh to see skipped ones again).")
    pair = (f'<div class="ftd-pair-part"><div class="ftd-text">{html.esc(x.text_pair)}</div></div>'
            if x.text_pair else "")
    facts = (f'<div class="ftd-meta">#{x.id} · given: <b>{html.esc(", ".join(x.given))}</b> · suggested: '
             f'<b>{html.esc(", ".join(x.suggested) or "none")}</b> ({x.probability:.0%}) · '
             f'suspicion {x.confidence:.2f}</div>')
    return (f'<div class="ftd-card" data-example-id="{x.id}">{facts}<div class="ftd-text">{html.esc(x.text)}</div>'
            f'{pair}{html.history(x.history)}</div>')


def status(screen: ReviewScreen) -> str:
    found = screen.found
    if found is None:
        return ""
    left = sum(1 for x in found.suspects if x.id not in screen.skipped)
    text = (f"{left} suspects to review among {found.checked:,} labelled examples checked "
            f"({found.folds}-fold out-of-fold: {', '.join(found.models) or 'no model yet'})")
    if found.checked < found.labelled:
        text += f"; {found.labelled - found.checked:,} more once their embeddings are computed"
    if found.note:
        text += f" · {found.note}"
    return html.message(text)


def render(screen: ReviewScreen, e: dict[str, Any]) -> dict[Any, Any]:
    x = screen.suspect
    single = not screen.multi and x is not None
    out: dict[Any, Any] = {
        e["card"]: html.stamped(card(screen)),  # new on every render: the key script's sign of an answer
        e["status"]: status(screen),
        e["message"]: html.message(screen.message) if screen.message else "",
        e["accept"]: gr.update(visible=x is not None and bool(x.suggested),
                               value=f"Relabel as {', '.join(x.suggested)} (Enter)" if x is not None else "Relabel"),
        e["confirm"]: gr.update(interactive=x is not None),
        e["skip"]: gr.update(interactive=x is not None),
        e["multi"]: gr.update(visible=screen.multi and x is not None, choices=screen.labels,
                              value=list(x.suggested) if x is not None and screen.multi else []),
        e["multi_apply"]: gr.update(visible=screen.multi and x is not None),
        e["shown"]: None if x is None else x.to_dict(),
        e["skipped"]: screen.skipped,
        e["labels"]: screen.labels,
        e["given_expl"]: "",
        e["suggested_expl"]: "",
    }
    for i, button in enumerate(e["buttons"]):
        visible = single and i < len(screen.labels)
        out[button] = gr.update(value=f"{i + 1} · {screen.labels[i]}" if visible else "", visible=visible)
    return out


KEYS_HINT = ('<div class="ftd-keys">Keys: <kbd>Enter</kbd> relabel as suggested · <kbd>1</kbd>–<kbd>9</kbd> '
             "relabel as that label · <kbd>C</kbd> confirm · <kbd>S</kbd> skip · <kbd>U</kbd> undo</div>")


def create_review_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Tab(TITLE, id="review") as tab:
        with gr.Column(elem_id=REVIEW_PANEL_ID):
            with gr.Row():
                status_line = gr.HTML(elem_id="ftd-review-status")
                refresh = gr.Button("Refresh suspects", scale=0, min_width=200, elem_id="ftd-review-refresh")
            card_html = gr.HTML(html.empty(html.NO_DATASET), elem_id=REVIEW_CARD_ID)
            with gr.Row():
                buttons = [gr.Button("", visible=False, scale=0, min_width=120, elem_id=REVIEW_BUTTON_ID.format(n=i + 1))
                           for i in range(MAX_BUTTONS)]
            multi = gr.CheckboxGroup(label="Labels (choose all that apply)", visible=False)
            with gr.Row():
                accept = gr.Button("Relabel", variant="primary", visible=False, scale=0, min_width=240, elem_id=REVIEW_ACCEPT_ID)
                multi_apply = gr.Button("Relabel as ticked", visible=False, scale=0, min_width=170)
                confirm_btn = gr.Button("Confirm label (C)", scale=0, min_width=200, elem_id=REVIEW_CONFIRM_ID)
                skip = gr.Button("Skip (S)", scale=0, min_width=110, elem_id=REVIEW_SKIP_ID)
                undo_btn = gr.Button("Undo (U)", scale=0, min_width=120, elem_id=REVIEW_UNDO_ID)
            gr.HTML(KEYS_HINT)
            message = gr.HTML(elem_id=REVIEW_MSG_ID)
            with gr.Row():
                given_expl = gr.HTML(elem_id="ftd-review-given")
                suggested_expl = gr.HTML(elem_id="ftd-review-suggested")
            # hidden until the page load finds an admin (ctx.admin_only), like the Train tab
            with gr.Accordion("Check the labels with fine-tunes", open=False, visible=False,
                              elem_id="ftd-review-check-box") as check_box:
                gr.Markdown("The instant and the word model miss what only a fine-tuned model reads (negations, "
                            "word order). A check fine-tunes the base model *k* times, each time on all labelled "
                            "examples but one fold, and scores the fold it left out; the suspects then average its "
                            "probabilities in. It takes about *k* training runs and neither serves predictions nor "
                            "changes the active model.")
                with gr.Row():
                    folds = gr.Slider(2, MAX_FOLDS, value=DEFAULT_FOLDS, step=1, label="Fine-tunes (folds)",
                                      elem_id="ftd-review-check-folds")
                    check_start = gr.Button(start_label(DEFAULT_FOLDS), variant="primary", scale=0, min_width=200,
                                            elem_id="ftd-review-check-start")
                    check_cancel = gr.Button("Cancel check", variant="stop", visible=False, scale=0, min_width=150,
                                             elem_id="ftd-review-check-cancel")
                check_html = gr.HTML(elem_id="ftd-review-check")
            check_timer = gr.Timer(CHECK_POLL_S, active=False)
            check_run = gr.State(None)  # {"id", "status"} of the newest check as last shown
        shown = gr.State(None)  # the suspect on screen (dict)
        is_open = gr.State(False)  # this tab is the one on screen (a dataset change then reloads the list)
        skipped = gr.State([])
        labels = gr.State([])
    e = dict(card=card_html, status=status_line, message=message, accept=accept, confirm=confirm_btn, skip=skip,
             multi=multi, multi_apply=multi_apply, shown=shown, skipped=skipped, labels=labels, buttons=buttons,
             given_expl=given_expl, suggested_expl=suggested_expl)
    outputs = [card_html, status_line, message, accept, confirm_btn, skip, multi, multi_apply, shown, skipped, labels,
               given_expl, suggested_expl, *buttons]
    ctx.admin_only.append(check_box)
    c = dict(box=check_box, folds=folds, start=check_start, cancel=check_cancel, card=check_html, timer=check_timer,
             run=check_run)
    check_outputs = [check_html, check_start, check_cancel, check_timer, check_run]

    def check_view(dataset: str | None, request: gr.Request) -> dict:
        actor = ctx.actor(request, None)
        return render_check(latest_check(services, dataset, actor) if actor.is_admin else None, c)

    @guard(message)
    @ctx.anyone
    def on_load(dataset: str | None) -> dict:
        return render(load_review(services, dataset), e)

    @ctx.anyone
    def on_tabs(evt: gr.SelectData) -> bool:
        return evt.value == TITLE

    @guard(message)
    @ctx.anyone
    def on_dataset(dataset: str | None, open_now: bool) -> dict:
        # the suspects are computed when this tab is on screen (opened, refreshed, or its dataset changed),
        # not on every page load or dataset change elsewhere
        if open_now:
            return render(load_review(services, dataset), e)
        out = render(ReviewScreen(), e)
        out[card_html] = html.empty("Open this tab again or press “Refresh suspects” to check the labels of "
                                    f"{dataset}." if dataset else html.NO_DATASET)
        return out

    def on_label(index: int) -> Any:
        @guard(message)
        @ctx.anyone
        def handler(dataset: str | None, name: str, current: dict | None, names: list[str], skips: list[int],
                    request: gr.Request) -> dict:
            if current is None or index >= len(names or []):
                raise InvalidInputError("there is no suspect on screen to relabel")
            return render(relabel(services, dataset, current["id"], [names[index]], ctx.actor(request, name),
                                  skips), e)
        return handler

    @guard(message)
    @ctx.anyone
    def on_accept(dataset: str | None, name: str, current: dict | None, skips: list[int], request: gr.Request) -> dict:
        if current is None:
            raise InvalidInputError("there is no suspect on screen to relabel")
        return render(relabel(services, dataset, current["id"], list(current.get("suggested") or []),
                              ctx.actor(request, name), skips), e)

    @guard(message)
    @ctx.anyone
    def on_multi(dataset: str | None, name: str, current: dict | None, ticked: list[str], skips: list[int],
                 request: gr.Request) -> dict:
        if current is None:
            raise InvalidInputError("there is no suspect on screen to relabel")
        return render(relabel(services, dataset, current["id"], list(ticked or []), ctx.actor(request, name), skips), e)

    @guard(message)
    @ctx.anyone
    def on_confirm(dataset: str | None, name: str, current: dict | None, skips: list[int], request: gr.Request) -> dict:
        return render(confirm(services, dataset, (current or {}).get("id"), ctx.actor(request, name), skips), e)

    @guard(message)
    @ctx.anyone
    def on_skip(dataset: str | None, current: dict | None, skips: list[int]) -> dict:
        if current is None:
            raise InvalidInputError("there is no suspect on screen to skip")
        skips = [*(skips or []), int(current["id"])]
        return render(load_review(services, dataset, skipped=skips, message=f"#{current['id']} skipped"), e)

    @guard(message)
    @ctx.anyone
    def on_undo(dataset: str | None, name: str, skips: list[int], request: gr.Request) -> dict:
        return render(undo(services, dataset, ctx.actor(request, name), skips), e)

    @guard()
    @ctx.anyone
    def on_check_show(dataset: str | None, request: gr.Request) -> dict:
        return check_view(dataset, request)

    @guard(message)
    @ctx.admin("check labels with fine-tunes")
    def on_check(dataset: str | None, name: str, k: Any, request: gr.Request) -> dict:
        run = start_check(services, dataset, k, ctx.actor(request, name))
        note = (f"Fine-tune check #{run['id']} started: {int(k)} fine-tunes on {run['counts'].get('examples', 0)} "
                "labelled examples; the suspects are reloaded when it is done.")
        return {**check_view(dataset, request), message: html.message(note)}

    @guard(message)
    @ctx.admin("cancel training")
    def on_check_cancel(dataset: str | None, name: str, request: gr.Request) -> dict:
        run = cancel_check(services, latest_check(services, dataset), ctx.actor(request, name))
        return {**check_view(dataset, request), message: html.message(f"Cancelling check #{run['id']}…")}

    @guard()
    @ctx.anyone
    def on_check_tick(dataset: str | None, before: dict | None, skips: list[int], request: gr.Request) -> dict:
        out = check_view(dataset, request)
        now = out[check_run]
        if (before and before.get("status") in plots.LIVE and now and now["id"] == before["id"]
                and now["status"] == "succeeded"):  # the check just finished: the suspects average it in now
            screen = load_review(services, dataset, skipped=skips,
                                 message=f"Fine-tune check #{now['id']} done: the suspects include it.")
            out.update(render(screen, e))
            shown_now = None if screen.suspect is None else screen.suspect.to_dict()
            # the other reloads explain the new suspect in a follow-up event; a tick has none (it fires
            # every few seconds), so this one reload explains it here
            out[given_expl], out[suggested_expl] = explain_both(services, dataset, shown_now, ctx.caller(request))
        return out

    @guard(message)
    @ctx.anyone
    def on_explain(dataset: str | None, current: dict | None, request: gr.Request) -> dict:
        left, right = explain_both(services, dataset, current, ctx.caller(request))
        return {given_expl: left, suggested_expl: right}

    events = [
        refresh.click(on_load, [ctx.dataset], outputs, **PRIVATE),
        tab.select(on_load, [ctx.dataset], outputs, **PRIVATE),
        accept.click(on_accept, [ctx.dataset, ctx.annotator, shown, skipped], outputs, **PRIVATE),
        multi_apply.click(on_multi, [ctx.dataset, ctx.annotator, shown, multi, skipped], outputs, **PRIVATE),
        confirm_btn.click(on_confirm, [ctx.dataset, ctx.annotator, shown, skipped], outputs, **PRIVATE),
        skip.click(on_skip, [ctx.dataset, shown, skipped], outputs, **PRIVATE),
        undo_btn.click(on_undo, [ctx.dataset, ctx.annotator, skipped], outputs, **PRIVATE),
    ]
    events += [b.click(on_label(i), [ctx.dataset, ctx.annotator, shown, labels, skipped], outputs, **PRIVATE)
               for i, b in enumerate(buttons)]
    if ctx.tabs is not None:
        ctx.tabs.select(on_tabs, None, [is_open], show_progress="hidden", **PRIVATE)
    events.append(ctx.dataset.change(on_dataset, [ctx.dataset, is_open], outputs, **PRIVATE))
    quiet = dict(show_progress="hidden", **PRIVATE)
    for trigger in (refresh.click, tab.select, ctx.dataset.change):
        trigger(on_check_show, [ctx.dataset], check_outputs, **quiet)
    check_start.click(on_check, [ctx.dataset, ctx.annotator, folds], [*check_outputs, message], trigger_mode="once",
                      **quiet)
    @ctx.anyone
    def on_folds(k: Any) -> Any:
        return gr.update(value=start_label(k))

    folds.change(on_folds, [folds], [check_start], queue=False, **quiet)
    check_cancel.click(on_check_cancel, [ctx.dataset, ctx.annotator], [*check_outputs, message], **quiet)
    check_timer.tick(on_check_tick, [ctx.dataset, check_run, skipped], [*check_outputs, *outputs], trigger_mode="once",
                     **quiet)
    for event in events:
        event.then(on_explain, [ctx.dataset, shown], [given_expl, suggested_expl, message], **EXPLAIN_EVENTS, **PRIVATE)
    return dict(e, tab=tab, refresh=refresh, undo=undo_btn, check=c)
