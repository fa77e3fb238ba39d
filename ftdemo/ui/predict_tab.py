"""Predict tab (everyone): classify a text with the active (or a chosen) model version, see its
label probabilities and why — CLS attention, rollout, Integrated Gradients, the attention matrix or
a heads overview — and compare two versions side by side on the same text.

The logic functions take plain values (`load_setup`, `answer`); `create_predict_tab` wires them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from ftdemo.errors import InvalidInputError
from ftdemo.explain.methods import MAX_IG_STEPS
from ftdemo.explain.render import render_explanation_html
from ftdemo.services import DatasetInfo, Services
from ftdemo.ui import html, js, plots
from ftdemo.ui.context import EXPLAIN_EVENTS, PRIVATE, UIContext, guard
from ftdemo.ui.explain_view import CHOICES, ExplainOptions, controls_for, prediction_html

ACTIVE = ""  # version choice meaning "whichever version is active"
SAMPLES = 6
SAMPLE_CHARS = 120


@dataclass
class Setup:
    """What the tab offers for a dataset before anything is typed."""

    info: DatasetInfo | None = None
    versions: list[dict[str, Any]] = field(default_factory=list)
    active: str | None = None
    layers: int = 0
    heads: int = 0
    labels: list[str] = field(default_factory=list)
    samples: list[tuple[str, str | None, str]] = field(default_factory=list)  # text, pair, current labels

    @property
    def has_model(self) -> bool:
        return bool(self.versions)


@dataclass
class Answer:
    """One model's answer: its prediction and the explanation, as HTML."""

    prediction: dict[str, Any]
    header: str
    explanation: str


# --- logic -------------------------------------------------------------------------------------


def sample_examples(services: Services, dataset: str, labels: list[str]) -> list[tuple[str, str | None, str]]:
    """A few examples to click: some of each label first, then any."""
    per_label = max(1, SAMPLES // max(1, len(labels)))
    views = [v for lab in labels for v in services.annotate.search(dataset, label=lab, limit=per_label)[0]]
    if len(views) < SAMPLES:
        views += services.annotate.search(dataset, limit=SAMPLES * 2)[0]
    seen, out = set(), []
    for v in views:
        if v.id not in seen:
            seen.add(v.id)
            out.append((v.text, v.text_pair, ", ".join(v.labels)))
    return out[:SAMPLES]


def load_setup(services: Services, dataset: str | None, version: str = ACTIVE) -> Setup:
    if not dataset:
        return Setup()
    info = services.datasets.info(dataset)
    versions = services.models.list(dataset)
    samples = sample_examples(services, dataset, info.labels)
    if not versions:
        return Setup(info, samples=samples)
    active = next((v["version"] for v in versions if v["active"]), None)
    names = [v["version"] for v in versions]
    version = version if version in names else (ACTIVE if active else names[0])
    shape = services.predict.shape(dataset, version or None)  # from its files: the model loads on first use
    return Setup(info, versions, active, shape.layers, shape.heads, list(shape.labels), samples)


def answer(services: Services, dataset: str | None, text: str, text_pair: str | None, version: str,
           options: ExplainOptions, *, active: str | None = None, faithfulness: bool = False,
           caller: str = "") -> Answer:
    """Predict and explain `text` with one version ("" = the active one), as `caller` (per-user limit)."""
    if not dataset:
        raise InvalidInputError("choose a dataset first")
    if not (text or "").strip():
        raise InvalidInputError("type or paste a text to classify, or click one of the examples")
    layers = services.predict.predictor(dataset, version or None).num_layers
    expl = services.predict.explanation(dataset, text, text_pair or None, version=version or None, caller=caller,
                                        **options.service_kwargs(layers, faithfulness=faithfulness))
    prediction = expl.prediction.to_dict()
    return Answer(prediction, prediction_html(prediction, active=active), render_explanation_html(expl, layers))


def version_choices(setup: Setup, *, with_active: bool = True) -> list[tuple[str, str]]:
    choices = [(f"active ({setup.active})", ACTIVE)] if with_active and setup.active else []
    for v in setup.versions:
        f1 = plots.split_metrics(v.get("metrics"), "validation").get("macro_f1")
        choices.append((f"{v['version']} · {'active' if v['active'] else v['status']}"
                        + (f" · val F1 {f1:.2f}" if f1 is not None else ""), v["version"]))
    return choices


def sample_rows(samples: list[tuple[str, str | None, str]]) -> list[list[str]]:
    def cut(s: str) -> str:
        s = " ".join(s.split())
        return s if len(s) <= SAMPLE_CHARS else s[:SAMPLE_CHARS - 1] + "…"

    return [[cut(t) + (f"  ⟶  {cut(p)}" if p else ""), lab or "unlabelled"] for t, p, lab in samples]


# --- rendering -----------------------------------------------------------------------------------


def render_setup(setup: Setup, e: dict[str, Any], *, version_a: str, version_b: str | None,
                 keep_layer: int | None) -> dict[Any, Any]:
    info = setup.info
    if info is None:
        empty = html.empty(html.NO_DATASET)
    elif not setup.has_model:
        empty = html.empty(f"No model for “{info.name}” yet. Train one in the Train tab, then come back here.")
    else:
        empty = ""
    names = [v["version"] for v in setup.versions]
    a = version_a if version_a in names or (version_a == ACTIVE and setup.active) else \
        (ACTIVE if setup.active else (names[0] if names else None))
    others = [n for n in names if n != (a or setup.active)]
    b = version_b if version_b in names else (others[0] if others else (names[0] if names else None))
    layers = max(2, setup.layers)  # a slider needs minimum < maximum; 2 of a 1-layer model still means "last"
    layer = keep_layer if keep_layer and keep_layer <= layers else layers
    return {
        e["empty"]: gr.update(value=empty, visible=not setup.has_model),
        e["body"]: gr.update(visible=setup.has_model),
        e["text"]: gr.update(label=info.text_name if info else "Text"),
        e["text_pair"]: gr.update(visible=bool(info) and info.task == "pair",
                                  label=(info.pair_name if info else None) or "Second text"),
        e["version_a"]: gr.update(choices=version_choices(setup), value=a),
        e["version_b"]: gr.update(choices=version_choices(setup, with_active=False), value=b),
        e["layer"]: gr.update(maximum=layers, value=layer, info=f"1 = lowest · {layers} = last"),
        e["head"]: gr.update(choices=[("mean of heads", -1)] + [(f"head {i + 1}", i) for i in range(setup.heads)]),
        e["target"]: gr.update(choices=[("predicted label", "")] + [(lab, lab) for lab in setup.labels]),
        e["examples"]: gr.update(samples=sample_rows(setup.samples) or [["(no examples yet)", ""]]),
        e["samples"]: setup.samples,
        e["layers"]: setup.layers,
    }


def render_answers(a: Answer | None, b: Answer | None, e: dict[str, Any]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for side, ans in (("a", a), ("b", b)):
        out[e[f"head_{side}"]] = ans.header if ans else ""
        out[e[f"label_{side}"]] = gr.update(value=ans.prediction["probabilities"] if ans else None,
                                            visible=ans is not None)
        out[e[f"heat_{side}"]] = ans.explanation if ans else ""
    out[e["message"]] = ""
    return out


# --- layout and wiring ---------------------------------------------------------------------------


def create_predict_tab(ctx: UIContext) -> dict[str, Any]:
    services = ctx.services
    with gr.Tab("Predict", id="predict") as tab:
        empty = gr.HTML(html.empty(html.NO_DATASET), elem_id="ftd-predict-empty")
        with gr.Column(visible=False) as body:
            with gr.Row(equal_height=False):
                with gr.Column(scale=3):
                    text = gr.Textbox(label="Text", lines=3, max_lines=12, max_length=services.settings.max_text_chars,
                                      placeholder="Type or paste a text, or pick an example at the bottom",
                                      elem_id=js.PREDICT_TEXT_ID)
                    text_pair = gr.Textbox(label="Second text", lines=2, max_lines=8, max_length=services.settings.max_text_chars,
                                           visible=False, elem_id=js.PREDICT_PAIR_ID)
                    with gr.Row():
                        run = gr.Button("Predict", variant="primary", scale=0, min_width=140,
                                        elem_id=js.PREDICT_RUN_ID, elem_classes="ftd-nowrap")
                        faith = gr.Button("Check faithfulness", scale=0, min_width=190, elem_id="ftd-predict-faith",
                                          elem_classes="ftd-nowrap")
                        gr.HTML(scale=1)
                with gr.Column(scale=2):
                    version_a = gr.Dropdown(label="Model version", elem_id="ftd-predict-version")
                    compare = gr.Checkbox(label="Compare with another version", elem_id="ftd-predict-compare")
                    version_b = gr.Dropdown(label="Second version", visible=False, elem_id="ftd-predict-version-b")
            with gr.Group(elem_classes="ftd-expl-controls"):
                with gr.Row(equal_height=True):
                    method = gr.Radio(CHOICES, value="cls", label="Explanation", scale=3, min_width=420,
                                      elem_id="ftd-predict-method")
                    layer = gr.Slider(1, 12, value=12, step=1, label="Layer", scale=1, min_width=160,
                                      elem_id="ftd-predict-layer")
                    head = gr.Dropdown([("mean of heads", -1)], value=-1, label="Head", scale=1, min_width=140,
                                       elem_id="ftd-predict-head")
                    target = gr.Dropdown([("predicted label", "")], value="", label="Explain label", visible=False,
                                         scale=1, min_width=160, elem_id="ftd-predict-target")
                    steps = gr.Slider(8, MAX_IG_STEPS, value=32, step=8, label="IG steps", visible=False, scale=1,
                                      min_width=160, elem_id="ftd-predict-steps")
                    special = gr.Checkbox(label="Show [CLS]/[SEP]", scale=0, min_width=150,
                                          elem_id="ftd-predict-special")
            message = gr.HTML(elem_id="ftd-predict-msg")
            with gr.Row(equal_height=False, elem_id=js.PREDICT_ANSWERS_ID):
                with gr.Column(elem_classes="ftd-answer"):
                    head_a = gr.HTML(elem_id="ftd-predict-head-a")
                    label_a = gr.Label(num_top_classes=5, show_heading=False, show_label=False, visible=False,
                                       elem_id="ftd-predict-label-a")
                    heat_a = gr.HTML(elem_id="ftd-predict-heat-a")
                with gr.Column(visible=False, elem_classes="ftd-answer") as col_b:
                    head_b = gr.HTML(elem_id="ftd-predict-head-b")
                    label_b = gr.Label(num_top_classes=5, show_heading=False, show_label=False, visible=False,
                                       elem_id="ftd-predict-label-b")
                    heat_b = gr.HTML(elem_id="ftd-predict-heat-b")
            examples = gr.Dataset(components=["textbox", "textbox"], samples=[["(no examples yet)", ""]],
                                  headers=["Try an example from the dataset", "label"], type="index", layout="table",
                                  samples_per_page=SAMPLES, elem_id="ftd-predict-examples")
        samples = gr.State([])
        layers = gr.State(0)
        shown = gr.State(None)  # the dataset the answers on screen belong to
    e: dict[str, Any] = dict(
        tab=tab, empty=empty, body=body, text=text, text_pair=text_pair, run=run, faith=faith, version_a=version_a,
        compare=compare, version_b=version_b, examples=examples, method=method, layer=layer, head=head,
        target=target, steps=steps, special=special, message=message, head_a=head_a, label_a=label_a,
        heat_a=heat_a, col_b=col_b, head_b=head_b, label_b=label_b, heat_b=heat_b, samples=samples,
        layers=layers, shown=shown,
    )
    setup_outputs = [empty, body, text, text_pair, version_a, version_b, layer, head, target, examples, samples, layers]
    answer_outputs = [head_a, label_a, heat_a, head_b, label_b, heat_b, message]

    @guard(message)
    @ctx.anyone
    def on_show(dataset: str | None, a: str, b: str | None, layer_: int, n_layers: int, shown_: str | None) -> dict:
        setup = load_setup(services, dataset, a or ACTIVE)
        keep = int(layer_) if layer_ and int(layer_) < int(n_layers or 0) else None  # "last" stays last
        out = render_setup(setup, e, version_a=a or ACTIVE, version_b=b, keep_layer=keep)
        out[shown] = dataset
        if dataset != shown_:
            out.update(render_answers(None, None, e))
            out[text], out[text_pair] = {**out[text], "value": ""}, {**out[text_pair], "value": ""}
        return out

    def run_answers(faithful: bool, quiet: bool) -> Any:
        @guard(message)
        @ctx.anyone
        def handler(dataset: str | None, text_: str, pair: str, a: str, on: bool, b: str | None, method_: str,
                    layer_: float, head_: int, target_: str, steps_: float, special_: bool, n_layers: int,
                    request: gr.Request) -> dict:
            if quiet and not (text_ or "").strip():
                return {}  # a control changed before anything was typed: nothing to redo
            # the slider at its end means "last layer" for both versions, whatever their depth
            chosen_layer = 0 if int(layer_ or 0) >= int(n_layers or 0) else int(layer_)
            options = ExplainOptions(method_, chosen_layer, int(head_ if head_ is not None else -1),
                                     target_ or "", int(steps_ or 32), bool(special_))
            active = next((v["version"] for v in services.models.list(dataset) if v["active"]), None) \
                if dataset else None
            caller = ctx.caller(request)
            first = answer(services, dataset, text_, pair, a or ACTIVE, options, active=active,
                           faithfulness=faithful, caller=caller)
            second = answer(services, dataset, text_, pair, b, options, active=active, faithfulness=faithful,
                            caller=caller) if on and b else None
            return render_answers(first, second, e)

        return handler

    @ctx.anyone
    def on_method(method_: str) -> dict:
        uses = controls_for(method_)
        return {layer: gr.update(visible=uses["layer"]), head: gr.update(visible=uses["head"]),
                target: gr.update(visible=uses["target_label"]), steps: gr.update(visible=uses["ig_steps"])}

    @ctx.anyone
    def on_compare(on: bool) -> dict:
        return {col_b: gr.update(visible=on), version_b: gr.update(visible=on)}

    @ctx.anyone
    def on_example(index: int, rows: list) -> dict:
        if index is None or not rows or index >= len(rows):
            return {}
        text_, pair, _ = rows[index]
        return {text: text_, text_pair: pair or ""}

    quiet = dict(show_progress="hidden", **PRIVATE)
    answer_inputs = [ctx.dataset, text, text_pair, version_a, compare, version_b, method, layer, head, target, steps,
                     special, layers]
    show_inputs = [ctx.dataset, version_a, version_b, layer, layers, shown]
    for trigger in (ctx.dataset.change, tab.select, ctx.refresh.change):
        trigger(on_show, show_inputs, [*setup_outputs, *answer_outputs, shown], **quiet)
    loud = dict(show_progress="minimal", trigger_mode="always_last", **EXPLAIN_EVENTS, **PRIVATE)
    # the page's script clicks Predict after a pause in typing and on Enter (Shift+Enter: a new line);
    # when the answer lands it drops the "stale" mark if the text is still the one that was asked about
    for trigger in (run.click, text.submit):
        trigger(run_answers(False, False), answer_inputs, answer_outputs, **loud).then(
            None, js=js.PREDICT_ANSWERED_JS, **PRIVATE)
    faith.click(run_answers(True, False), answer_inputs, answer_outputs, **loud)
    redo = run_answers(False, True)
    method.change(on_method, method, [layer, head, target, steps], **quiet).then(
        redo, answer_inputs, answer_outputs, **loud)
    compare.change(on_compare, compare, [col_b, version_b], **quiet).then(redo, answer_inputs, answer_outputs, **loud)
    version_a.input(on_show, show_inputs, [*setup_outputs, *answer_outputs, shown], **quiet).then(
        redo, answer_inputs, answer_outputs, **loud)
    for control in (layer.release, head.input, target.input, steps.release, special.input, version_b.input):
        control(redo, answer_inputs, answer_outputs, **loud)
    examples.click(on_example, [examples, samples], [text, text_pair], **quiet).then(
        redo, answer_inputs, answer_outputs, **loud)
    return e
