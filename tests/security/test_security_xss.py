"""Every renderer of user text, fed the shared payloads from a real store and a real tiny model.

Each output is parsed with html.parser (payloads.check_inert): no element or attribute may come from
a payload, and the payload must still read as text. A harmless twin dataset, built the same way,
gives the markup each renderer produces on its own (the baseline a payload may not add to).
Model cards are Markdown: they are rendered with raw HTML allowed (as the Hub and editors do)
before the same check.
"""

from __future__ import annotations

import dataclasses

import pytest
from markdown_it import MarkdownIt
from payloads import BIDI, HARMLESS, NON_EMPTY, PAYLOADS, SHORT, TWIN, XSS, Fragment, check_inert, twin_of

from ftdemo.explain.methods import NAMES
from ftdemo.explain.render import render_explanation_html, render_matrix_html, render_words_html
from ftdemo.explain.types import MatrixView
from ftdemo.models.card import render_model_card
from ftdemo.ui import charts, html, plots
from ftdemo.ui.explain_view import ExplainOptions, prediction_html
from ftdemo.ui.models_tab import ModelsScreen, load_models, summary_html, version_header
from ftdemo.ui.train_tab import data_summary, run_details
from ftdemo.ui.transfer_panel import plan_html

KEYS = list(NON_EMPTY)


def views(services, dataset: str) -> dict[str, object]:
    """The dataset's examples by text."""
    found, _ = services.annotate.search(dataset, limit=1000)
    return {v.text: v for v in found}


def example(services, dataset: str, key: str):  # noqa: ANN201
    text = NON_EMPTY[key] if dataset.startswith(XSS) else twin_of(NON_EMPTY[key], key)
    return views(services, dataset)[text]


def rendered_markdown(text: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(text)


# --- label UI -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("task", ["single", "pair"])
def test_example_card(xss_world, key, task) -> None:
    suffix = "-pair" if task == "pair" else ""
    info, twin_info = xss_world.datasets.info(XSS + suffix), xss_world.datasets.info(TWIN + suffix)
    payload = NON_EMPTY[key]
    view = dataclasses.replace(example(xss_world, XSS + suffix, key), labels=list(SHORT.values()), source=payload,
                               annotators=2)
    twin = dataclasses.replace(example(xss_world, TWIN + suffix, key), labels=[HARMLESS], source=HARMLESS,
                               annotators=2)
    out, base = html.example_card(view, info), html.example_card(twin, twin_info)
    check_inert(out, payload, baseline=base)
    assert Fragment(out).all_text.count(payload) >= (3 if task == "pair" else 2)  # text (+ pair) and source
    for label in SHORT.values():
        check_inert(out, label, baseline=base)


def test_progress_stats_and_history(xss_world) -> None:
    stats, twin_stats = xss_world.datasets.stats(XSS), xss_world.datasets.stats(TWIN)
    outputs = {
        "progress": (html.progress(stats), html.progress(twin_stats)),
        "summary": (html.stats_summary(stats), html.stats_summary(twin_stats)),
    }
    for key in KEYS:
        # pair examples were labelled by an annotator named after their text
        history = xss_world.annotate.get(f"{XSS}-pair", example(xss_world, f"{XSS}-pair", key).id).history
        twin_history = xss_world.annotate.get(f"{TWIN}-pair", example(xss_world, f"{TWIN}-pair", key).id).history
        assert history and history[0]["annotator"] == NON_EMPTY[key][:100]
        labelled = [dict(row, kind="label", labels=list(SHORT.values())) for row in history]
        twin_labelled = [dict(row, kind="label", labels=[HARMLESS]) for row in twin_history]
        check_inert(html.history(labelled), NON_EMPTY[key][:100], baseline=html.history(twin_labelled))
    for name, (out, base) in outputs.items():
        for payload in (SHORT if name == "progress" else NON_EMPTY).values():
            check_inert(out, payload[:100], baseline=base)  # annotator names are cut to 100 characters


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_messages_banners_and_identity(key) -> None:
    payload = PAYLOADS[key]
    for render in (html.message, lambda t: html.message(t, error=True), html.empty, html.banner):
        check_inert(render(f"dataset {payload} not found"), payload, baseline=render(f"dataset {HARMLESS} not found"))
    check_inert(html.identity(payload, "admin", signed_in=True), payload,
                baseline=html.identity(HARMLESS, "admin", signed_in=True))
    check_inert(html.identity(payload, "admin", signed_in=False), payload,
                baseline=html.identity(HARMLESS, "admin", signed_in=False))


# --- train and models tabs ---------------------------------------------------------------------------


def runs(services, dataset: str) -> dict[str, dict]:
    return {r["status"]: services.training.run(r["id"]) for r in services.training.runs(dataset)}


def test_run_history_progress_and_errors(xss_world) -> None:
    mine, twin = runs(xss_world, XSS), runs(xss_world, TWIN)
    assert set(mine) == {"succeeded", "failed"}
    for status in mine:
        for render in (run_details, lambda r: plots.progress_html(r, [])):
            out, base = render(mine[status]), render(twin[status])
            for payload in SHORT.values():
                check_inert(out, payload, baseline=base, expect_text=False)  # quoted in the error by repr()
    error = mine["failed"]["error"]
    assert error.strip() in Fragment(run_details(mine["failed"])).all_text  # the whole error, as text
    assert error.strip().splitlines()[0] in Fragment(plots.progress_html(mine["failed"], [])).all_text
    snapshot = data_summary(xss_world, XSS)
    for payload in SHORT.values():
        check_inert(snapshot, payload, baseline=data_summary(xss_world, TWIN))


def test_models_tab_views(xss_world) -> None:
    screen, twin = load_models(xss_world, XSS), load_models(xss_world, TWIN)
    metrics = plots.split_metrics(screen.selected["metrics"], "validation")
    twin_metrics = plots.split_metrics(twin.selected["metrics"], "validation")
    labels, twin_labels = list(SHORT.values()), [twin_of(SHORT[k], k) for k in SHORT]
    outs = {
        "confusion": (plots.confusion_html(metrics, labels, multi_label=False),
                      plots.confusion_html(twin_metrics, twin_labels, multi_label=False)),
        "confusion-multi": (plots.confusion_html({"confusion_matrix": [[[1, 0], [0, 1]]] * len(labels)}, labels,
                                                 multi_label=True),
                            plots.confusion_html({"confusion_matrix": [[[1, 0], [0, 1]]] * len(labels)}, twin_labels,
                                                 multi_label=True)),
        "header": (version_header({**screen.selected, "reason": " ".join(labels)}, screen.info),
                   version_header({**twin.selected, "reason": HARMLESS}, twin.info)),
        "summary": (summary_html(ModelsScreen(screen.info, screen.versions)),
                    summary_html(ModelsScreen(twin.info, twin.versions))),
    }
    for name, (out, base) in outs.items():
        for payload in labels:
            check_inert(out, payload, baseline=base, expect_text=name != "summary")
    per_class = plots.per_class_frame(metrics)
    assert set(per_class["label"]) <= set(labels)  # a Dataframe cell: shown as text (see the UI module)


def test_label_count_bars() -> None:
    for key, payload in SHORT.items():
        out = charts.bar_chart({payload: 3, "b": 1}, title="Current labels")
        base = charts.bar_chart({HARMLESS: 3, "b": 1}, title="Current labels")
        check_inert(out, payload, baseline=base, strip_bidi=True, max_chars=40)
        assert not set(out) & BIDI


def test_import_plan_summary() -> None:
    for key, payload in SHORT.items():
        out = plan_html({"rows": 3, "valid": 2, "labelled": 2, "label_counts": {payload: 2}, "errors": 1})
        base = plan_html({"rows": 3, "valid": 2, "labelled": 2, "label_counts": {HARMLESS: 2}, "errors": 1})
        check_inert(out, payload, baseline=base)


# --- explanations with the real tiny model -------------------------------------------------------------


METHODS = list(NAMES)  # every method in the table, so a new one is checked too


def explain(services, dataset: str, text: str, method: str, pair: str | None = None):  # noqa: ANN201
    options = ExplainOptions(method=method, target_label="")
    layers = services.predict.predictor(dataset).num_layers
    return services.predict.explanation(dataset, text, pair, **options.service_kwargs(layers, faithfulness=True))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("key", KEYS)
def test_explanation_heatmaps(xss_world, key, method) -> None:
    payload = NON_EMPTY[key]
    expl = explain(xss_world, XSS, payload, method)
    twin = explain(xss_world, TWIN, twin_of(payload, key), method)
    layers = xss_world.predict.predictor(XSS).num_layers
    pages = {"tab": (render_explanation_html(expl, layers), render_explanation_html(twin, layers)),
             "render": (render_explanation_html(expl), render_explanation_html(twin))}
    for name, (out, base) in pages.items():
        check_inert(out, payload, baseline=base, expect_text=False)
        for word in (w for w in expl.words if not w.special):
            check_inert(out, word.text, strip_bidi=True, max_chars=40)  # each word box reads as the word
        for label in SHORT.values():
            check_inert(out, label, baseline=base, expect_text=False)
        assert not set(out) & BIDI, "bidi controls must not reach the page"
    prediction = expl.prediction.to_dict()
    head = prediction_html(prediction, active=prediction["model_version"])
    check_inert(head, prediction["label"], baseline=prediction_html(twin.prediction.to_dict(), active=None))


@pytest.mark.parametrize("key", KEYS)
def test_word_and_matrix_renderers(key) -> None:
    payload = NON_EMPTY[key]
    words = [{"text": payload, "score": 0.7}, {"text": payload, "score": -0.2, "segment": 1, "special": True}]
    harmless = [{"text": HARMLESS, "score": 0.7}, {"text": HARMLESS, "score": -0.2, "segment": 1, "special": True}]
    for signed in (False, True):
        check_inert(render_words_html(words, signed=signed, caption=payload), payload, strip_bidi=True, max_chars=40,
                    baseline=render_words_html(harmless, signed=signed, caption=HARMLESS))
    view = MatrixView([[0.5, 0.5], [0.1, 0.9]], [payload, "b"], ["a", payload], payload, [0, 1], [0, 1])
    base = MatrixView([[0.5, 0.5], [0.1, 0.9]], [HARMLESS, "b"], ["a", HARMLESS], HARMLESS, [0, 1], [0, 1])
    check_inert(render_matrix_html(view), payload, strip_bidi=True, max_chars=14, baseline=render_matrix_html(base))


# --- model cards -----------------------------------------------------------------------------------------


def card_meta(value: str, labels: list[str]) -> dict:
    return {"dataset": value, "version": "v0001", "task": "single_label", "base_model": value, "created_at": value,
            "labels": labels, "thresholds": {lab: 0.5 for lab in labels}, "device": value,
            "config": {"learning_rate": value, "batch_size": value},
            "snapshot": {"hash": value, "counts": {"train": {"per_label": {lab: 1 for lab in labels}}}},
            "metrics": {"validation": {"n": 1, "accuracy": 1.0, "macro_f1": 1.0}}}


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_model_card(key) -> None:
    payload = PAYLOADS[key]
    labels = [payload] if payload and len(payload) <= 64 else ["a"]
    out = rendered_markdown(render_model_card(card_meta(payload, labels)))
    base = rendered_markdown(render_model_card(card_meta(HARMLESS, ["a"])))
    check_inert(out, payload, baseline=base, strip_bidi=True, max_chars=40)
    assert not set(out) & BIDI
    if key == "template":
        assert "{{7*7}}" in Fragment(out).all_text and "49" not in out  # shown as written, never evaluated


def test_the_saved_model_card_of_a_trained_version(xss_world) -> None:
    path = xss_world.models.path(XSS)[1] / "README.md"
    out = rendered_markdown(path.read_text(encoding="utf-8"))
    twin = rendered_markdown((xss_world.models.path(TWIN)[1] / "README.md").read_text(encoding="utf-8"))
    for payload in SHORT.values():
        check_inert(out, payload, baseline=twin, strip_bidi=True)
    assert not set(out) & BIDI
