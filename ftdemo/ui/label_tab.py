"""Label tab: one example at a time, label buttons (or checkboxes), skip, undo, progress, add examples;
the model's suggestion preselected (Enter accepts it), similar examples labelled in bulk (similar_panel).

The logic functions (`load_screen`, `submit_labels`, …) take plain values and return a LabelScreen;
`create_label_tab` only wires components to them and renders the screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ftdemo.errors import FtdemoError, InvalidInputError
from ftdemo.services import Actor, DatasetInfo, ExampleView, Services, Stats
from ftdemo.services.queue import ORDERS
from ftdemo.services.retrain import RetrainStatus
from ftdemo.ui import assist_view, html, js
from ftdemo.ui.context import PRIVATE, UIContext, guard
from ftdemo.ui.similar_panel import create_similar_panel

ORIGIN = "label"  # recorded with every annotation made here; U undoes only these
MAX_BUTTONS = 12  # more labels than this: a radio list + submit (number keys still pick the first 9)
STATUS_EVERY_S = 4.0  # how often the assist line (embeddings, models, acceptance) is refreshed


@dataclass
class LabelScreen:
    """Everything the Label tab shows for one user at one moment."""

    info: DatasetInfo | None = None
    example: ExampleView | None = None
    stats: Stats | None = None
    message: str = ""
    retrain: RetrainStatus | None = None  # the countdown to the next automatic fine-tune
    error: bool = False
    suggestions: bool = True  # the person's switch: off for a gold-standard set the model must not anchor

    @property
    def suggestion(self) -> dict[str, Any] | None:
        """The model's suggestion for the example on screen, when suggestions are on."""
        return self.example.suggestion if self.suggestions and self.example is not None else None

    @property
    def mode(self) -> str:
        """'buttons' (single-label, pair), 'multi' (checkboxes) or 'radio' (many labels); '' without a dataset."""
        if self.info is None:
            return ""
        if self.info.task == "multi_label":
            return "multi"
        return "buttons" if len(self.info.labels) <= MAX_BUTTONS else "radio"


# --- logic -------------------------------------------------------------------------------------


def load_screen(services: Services, dataset: str | None, actor: Actor, *, order: str = "in_order", seed: int = 0,
                example: ExampleView | None = None, message: str = "", suggest: bool = True) -> LabelScreen:
    """The screen for `dataset`: `example` if given, else the next one in this annotator's queue (with the
    model's suggestion unless `suggest` is off)."""
    if not dataset:
        return LabelScreen(message=message, suggestions=suggest)
    info = services.datasets.info(dataset)
    if example is None:
        example = services.annotate.next(dataset, actor, order=order, seed=int(seed or 0), suggest=suggest)
    elif suggest and example.suggestion is None:
        example.suggestion = services.annotate.suggestion(dataset, example.id)
    return LabelScreen(info, example, services.datasets.stats(dataset), message,
                       retrain=services.retrain.status(dataset), suggestions=suggest)


def _current(services: Services, dataset: str, example_id: int | None) -> ExampleView | None:
    if example_id is None:
        return None
    view = services.annotate.get(dataset, int(example_id), with_history=False)
    return None if view.deleted else view


def submit_labels(services: Services, dataset: str | None, example_id: int | None, labels: list[str], actor: Actor,
                  *, order: str = "in_order", seed: int = 0, suggestion: dict[str, Any] | None = None,
                  suggest: bool = True) -> LabelScreen:
    """Record the actor's labels for the shown example (with the suggestion that was on screen, if any, so
    the store knows whether it was accepted or changed) and move on to the next one."""
    if not dataset or example_id is None:
        raise InvalidInputError("there is no example to label: choose a dataset first")
    if not labels:
        raise InvalidInputError("choose at least one label (or press S to skip)")
    services.annotate.label(dataset, int(example_id), labels, actor=actor, origin=ORIGIN, suggestion=suggestion)
    accepted = " (the suggestion)" if suggestion and sorted(suggestion.get("labels") or []) == sorted(labels) else ""
    return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                       message=f"#{example_id} labelled {', '.join(labels)}{accepted}")


def accept_suggestion(services: Services, dataset: str | None, example_id: int | None,
                      suggestion: dict[str, Any] | None, actor: Actor, *, order: str = "in_order",
                      seed: int = 0) -> LabelScreen:
    """Label the shown example with the model's suggestion (Enter)."""
    if not suggestion:
        raise InvalidInputError("there is no suggestion for this example: choose a label with its number key")
    labels = list(suggestion.get("labels") or [])
    if not labels:
        raise InvalidInputError("the model suggests none of the labels: choose at least one, or press S to skip")
    return submit_labels(services, dataset, example_id, labels, actor, order=order, seed=seed, suggestion=suggestion)


def skip_example(services: Services, dataset: str | None, example_id: int | None, actor: Actor, *,
                 order: str = "in_order", seed: int = 0, suggest: bool = True) -> LabelScreen:
    if not dataset or example_id is None:
        raise InvalidInputError("there is no example to skip")
    services.annotate.skip(dataset, int(example_id), actor=actor, origin=ORIGIN)
    return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                       message=f"#{example_id} skipped")


def undo_last(services: Services, dataset: str | None, actor: Actor, *, order: str = "in_order",
              seed: int = 0, suggest: bool = True) -> LabelScreen:
    """Undo the actor's last action in this tab (not edits made in the Data tab) and show that example again."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    undone = services.annotate.undo(dataset, actor=actor, origin=ORIGIN)
    if undone is None:
        return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                           message="nothing to undo")
    view = undone.example
    if undone.bulk:  # the queue goes on where it was
        return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                           message=undone.describe())
    return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                       example=None if view.deleted else view, message=undone.describe())


def add_example(services: Services, dataset: str | None, text: str, text_pair: str | None, labels: list[str] | None,
                actor: Actor, *, shown_id: int | None, order: str = "in_order", seed: int = 0,
                suggest: bool = True) -> LabelScreen:
    """Add a typed example (optionally labelled); the example on screen stays."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    view = services.annotate.add(dataset, text, text_pair or None, list(labels or []), actor=actor, origin=ORIGIN)
    state = f"labelled {', '.join(view.labels)}" if view.labels else "unlabelled, added to the queue"
    return load_screen(services, dataset, actor, order=order, seed=seed, suggest=suggest,
                       example=_current(services, dataset, shown_id), message=f"added #{view.id} ({state})")


# --- rendering -----------------------------------------------------------------------------------


def button_text(index: int, label: str) -> str:
    """A label as its button, checkbox or radio shows it: with its number key for the first nine."""
    return f"{index + 1} · {label}" if index < 9 else label


def keyed_choices(labels: list[str]) -> list[tuple[str, str]]:
    """(shown, value) choices: the number key in front, the label itself as the value."""
    return [(button_text(i, lab), lab) for i, lab in enumerate(labels)]


def render(screen: LabelScreen, e: dict[str, Any]) -> dict[Any, Any]:
    """Map a LabelScreen onto the tab's components."""
    info, ex, mode = screen.info, screen.example, screen.mode
    labels = info.labels if info else []
    has_example = ex is not None
    suggestion = screen.suggestion
    suggested = list(suggestion.get("labels") or []) if suggestion else []
    if info is None:
        card = html.empty(html.NO_DATASET)
    elif ex is None:
        card = html.empty(f"Nothing left to label in “{info.name}” for you: every example is labelled or skipped. "
                          "Next: review the labels (the Data tab lists where annotators disagree), or fine-tune a "
                          "model on them (Train tab). Or add an example below, or import more in the Data tab.")
    else:
        card = html.example_card(ex, info, assist_view.suggestion_line(suggestion, multi=mode != "buttons"))
    # what is preselected: the example's current labels, else the model's suggestion
    chosen = list(ex.labels) if ex and ex.labels else suggested
    out: dict[Any, Any] = {
        e["progress"]: html.progress(screen.stats) + html.retrain_countdown(screen.retrain),
        e["card"]: html.stamped(card),  # new on every render: the key script's sign of an answer (ui/js.py)
        e["example_id"]: ex.id if ex else None,
        e["shown_labels"]: labels,
        e["shown_suggestion"]: suggestion,
        e["accept"]: gr.update(visible=mode == "buttons" and bool(suggested)),
        e["done"]: gr.update(visible=info is not None and ex is None),
        e["message"]: html.message(screen.message, error=screen.error) if screen.message else "",
        e["keys"]: html.key_hint(mode, suggested=bool(suggested)) if has_example else "",
        e["multi"]: gr.update(visible=mode == "multi" and has_example, choices=keyed_choices(labels),
                              value=chosen if ex and mode == "multi" else []),
        e["radio"]: gr.update(visible=mode == "radio" and has_example, choices=keyed_choices(labels),
                              value=chosen[0] if ex and mode == "radio" and chosen else None),
        e["submit"]: gr.update(visible=mode in ("multi", "radio") and has_example),
        e["skip"]: gr.update(interactive=has_example),
        e["undo"]: gr.update(interactive=info is not None),
        e["add_text"]: gr.update(label=info.text_name if info else "Text"),
        e["add_pair"]: gr.update(visible=bool(info) and info.task == "pair", label=(info.pair_name if info else None)
                                 or "Second text"),
        e["add_labels"]: gr.update(choices=labels, value=[], max_choices=None if mode == "multi" else 1),
    }
    for i, button in enumerate(e["buttons"]):
        visible = mode == "buttons" and has_example and i < len(labels)
        # with a suggestion on screen, its button stands out and the others step back
        variant = "secondary" if suggested and visible and labels[i] not in suggested else "primary"
        out[button] = gr.update(value=button_text(i, labels[i]) if visible else "", visible=visible, variant=variant)
    return out


# --- layout and wiring ---------------------------------------------------------------------------


def create_label_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Tab("Label", id="label") as tab:
        with gr.Column(elem_id=js.PANEL_ID):
            progress = gr.HTML(elem_id="ftd-progress")
            card = gr.HTML(html.empty(html.NO_DATASET), elem_id=js.CARD_ID)
            with gr.Row():
                buttons = [gr.Button("", visible=False, variant="primary", min_width=120, scale=0,
                                     elem_id=js.LABEL_BUTTON_ID.format(n=i + 1), elem_classes="ftd-label-btn")
                           for i in range(MAX_BUTTONS)]
            multi = gr.CheckboxGroup(label="Labels (choose all that apply)", visible=False, elem_id=js.MULTI_ID)
            radio = gr.Radio(label="Label", visible=False, elem_id=js.RADIO_ID)
            with gr.Row():
                accept = gr.Button("Accept suggestion", variant="primary", visible=False, elem_id=js.ACCEPT_ID,
                                   scale=0, min_width=160)
                submit = gr.Button("Submit", variant="primary", visible=False, elem_id=js.SUBMIT_ID, scale=0,
                                   min_width=120)
                skip = gr.Button("Skip", elem_id=js.SKIP_ID, scale=0, min_width=100)
                undo = gr.Button("Undo", elem_id=js.UNDO_ID, scale=0, min_width=100)
                gr.HTML(scale=1)  # spacer: keeps the queue picker at the right
                suggest_on = gr.Checkbox(True, label="Suggestions", scale=0, min_width=130, container=False,
                                         elem_id="ftd-suggest-on")
                # the longest title ("Covering first, then least sure (recommended)") fits at this width
                order = gr.Dropdown([(o.title, o.name) for o in ORDERS], value=ctx.settings.queue_order,
                                    label="Queue: which example comes next", scale=0, min_width=400,
                                    elem_id="ftd-order")
            with gr.Row(visible=False) as done:
                review = gr.Button("Review in the Data tab", scale=0, min_width=200)
                train = gr.Button("Train a model", scale=0, min_width=160)
            keys = gr.HTML()
            message = gr.HTML(elem_id=js.LABEL_MSG_ID)
            status = gr.HTML(elem_id="ftd-assist-line")
            status_timer = gr.Timer(STATUS_EVERY_S)
        # per-session state; created inside the Tab (a bare child of gr.Tabs confuses its tab bar)
        example_id = gr.State(None)
        shown_labels = gr.State([])
        shown_suggestion = gr.State(None)  # the suggestion on screen, recorded with the label it leads to
        similar = create_similar_panel(ctx, origin=ORIGIN, example_id=example_id)
        with gr.Accordion("Add an example", open=False):
            with gr.Row():
                add_text = gr.Textbox(label="Text", lines=2, scale=3, elem_id="ftd-add-text")
                add_pair = gr.Textbox(label="Second text", lines=2, scale=3, visible=False)
                add_labels = gr.Dropdown(label="Label (optional)", multiselect=True, scale=1)
            add_button = gr.Button("Add example", scale=0, elem_id="ftd-add")
    ctx.admin_only.append(train)  # annotators have no Train tab
    e: dict[str, Any] = dict(
        tab=tab, progress=progress, card=card, buttons=buttons, multi=multi, radio=radio, accept=accept,
        submit=submit, skip=skip, undo=undo, suggest_on=suggest_on, order=order, done=done, keys=keys,
        message=message, status=status, status_timer=status_timer, similar=similar, add_text=add_text, add_pair=add_pair,
        add_labels=add_labels, add_button=add_button, example_id=example_id, shown_labels=shown_labels,
        shown_suggestion=shown_suggestion,
    )
    screen_outputs = [progress, card, *buttons, multi, radio, accept, submit, skip, undo, done, keys, message,
                      add_text, add_pair, add_labels, example_id, shown_labels, shown_suggestion]
    common = [ctx.dataset, ctx.annotator, order, ctx.seed, suggest_on]

    @guard(message)
    @ctx.anyone
    def on_refresh(dataset: str | None, name: str, order_: str, seed: int, on: bool, request: gr.Request) -> dict:
        actor = ctx.actor(request, name)
        return render(load_screen(services, dataset, actor, order=order_, seed=seed, suggest=on), e)

    @guard(message)
    @ctx.anyone
    def on_stay(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None,
                request: gr.Request) -> dict:
        """Refresh labels and progress but keep the example on screen (labels edited elsewhere)."""
        actor = ctx.actor(request, name)
        current = _current(services, dataset, shown) if dataset else None
        return render(load_screen(services, dataset, actor, order=order_, seed=seed, example=current, suggest=on), e)

    def on_button(index: int) -> Any:
        @guard(message)
        @ctx.anyone
        def handler(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None,
                    labels: list[str], suggestion: dict | None, request: gr.Request) -> dict:
            if index >= len(labels):
                raise InvalidInputError(f"there is no label number {index + 1} in this dataset")
            screen = submit_labels(services, dataset, shown, [labels[index]], ctx.actor(request, name),
                                   order=order_, seed=seed, suggestion=suggestion if on else None, suggest=on)
            return render(screen, e)

        return handler

    @guard(message)
    @ctx.anyone
    def on_accept(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None,
                  suggestion: dict | None, request: gr.Request) -> dict:
        screen = accept_suggestion(services, dataset, shown, suggestion if on else None, ctx.actor(request, name),
                                   order=order_, seed=seed)
        return render(screen, e)

    @guard(message)
    @ctx.anyone
    def on_submit(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None,
                  chosen: list[str], choice: str | None, suggestion: dict | None, request: gr.Request) -> dict:
        # only one of the two is on screen; the hidden one is reset to empty by render()
        picked = list(chosen or []) or ([choice] if choice else [])
        screen = submit_labels(services, dataset, shown, picked, ctx.actor(request, name), order=order_, seed=seed,
                               suggestion=suggestion if on else None, suggest=on)
        return render(screen, e)

    @guard(message)
    @ctx.anyone
    def on_skip(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None,
                request: gr.Request) -> dict:
        return render(skip_example(services, dataset, shown, ctx.actor(request, name), order=order_, seed=seed,
                                   suggest=on), e)

    @guard(message)
    @ctx.anyone
    def on_undo(dataset: str | None, name: str, order_: str, seed: int, on: bool, request: gr.Request) -> dict:
        return render(undo_last(services, dataset, ctx.actor(request, name), order=order_, seed=seed, suggest=on), e)

    @guard(message)
    @ctx.anyone
    def on_add(dataset: str | None, name: str, order_: str, seed: int, on: bool, shown: int | None, text: str,
               pair: str, labels: list[str], request: gr.Request) -> dict:
        screen = add_example(services, dataset, text, pair, labels, ctx.actor(request, name), shown_id=shown,
                             order=order_, seed=seed, suggest=on)
        out = render(screen, e)
        out[add_text] = {**out[add_text], "value": ""}
        out[add_pair] = {**out[add_pair], "value": ""}
        return out

    @ctx.anyone
    def on_status(dataset: str | None, on: bool) -> str:
        """The assist line: embeddings, models and acceptance (on a timer: it never slows a label click)."""
        return assist_line(services, dataset, suggestions_on=on)

    @ctx.anyone
    def to_data() -> Any:
        return gr.Tabs(selected="data")

    @ctx.anyone
    def to_train() -> Any:
        return gr.Tabs(selected="train")

    # Every screen change goes through the same outputs. Clicks keep Gradio's default trigger_mode
    # ("once": a second click while the first is saving is dropped); changes run "always_last".
    events = dict(outputs=screen_outputs, show_progress="hidden", **PRIVATE)
    for trigger in (ctx.dataset.change, order.change, suggest_on.change, ctx.annotator.submit, ctx.annotator.blur,
                    tab.select):
        trigger(on_refresh, common, **events)
    ctx.refresh.change(on_stay, [*common, example_id], **events)
    for i, button in enumerate(buttons):
        button.click(on_button(i), [*common, example_id, shown_labels, shown_suggestion], **events)
    accept.click(on_accept, [*common, example_id, shown_suggestion], **events)
    submit.click(on_submit, [*common, example_id, multi, radio, shown_suggestion], **events)
    skip.click(on_skip, [*common, example_id], **events)
    similar["relist_after"](undo.click(on_undo, common, **events))  # an undone bulk label: the list follows
    add_button.click(on_add, [*common, example_id, add_text, add_pair, add_labels], **events)
    for trigger in (status_timer.tick, ctx.dataset.change, suggest_on.change, tab.select):
        trigger(on_status, [ctx.dataset, suggest_on], [status], show_progress="hidden", **PRIVATE)
    if ctx.tabs is not None:
        review.click(to_data, None, [ctx.tabs], **PRIVATE)
        train.click(to_train, None, [ctx.tabs], **PRIVATE)
    return e


def assist_line(services: Services, dataset: str | None, *, suggestions_on: bool = True) -> str:
    """The assist status for `dataset` as HTML ('' without one); a failure here never breaks labelling."""
    if not dataset:
        return ""
    try:
        quality = services.assist.quality(dataset)
        acceptance = services.annotate.acceptance(dataset)
    except FtdemoError:  # e.g. the dataset was just deleted: the screen's own refresh says so
        return ""
    return assist_view.assist_status(quality, acceptance, suggestions_on=suggestions_on)
