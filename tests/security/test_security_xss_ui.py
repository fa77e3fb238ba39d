"""The real UI handlers over a store full of payloads: every HTML they put on the page is inert.

The app is built once (build_ui) and each tab's own event handlers are called the way gradio calls
them, for the payload dataset and for its harmless twin. Every gr.HTML/gr.Markdown value they return
is checked with payloads.check_inert against the twin's; every table is a plain-text Dataframe whose
cells hold the payloads verbatim; error toasts are escaped too.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from payloads import BIDI, HARMLESS, NON_EMPTY, PAYLOADS, SHORT, TWIN, XSS, Fragment, check_inert, twin_of

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor
from ftdemo.tasks import validate_dataset_name
from ftdemo.ui.app import build_ui
from ftdemo.ui.train_tab import Watch

SAFE_TABLE_TYPES = {"str", "number", "bool", "date"}
# a handler that fails unexpectedly (e.g. called with the wrong arguments) shows "something went wrong" and
# warns: the visit would pass without having rendered that output, so such a warning fails the module
pytestmark = pytest.mark.filterwarnings("error:something went wrong:UserWarning")


@pytest.fixture(scope="module")
def ui(xss_world):  # noqa: ANN001, ANN201
    return build_ui(xss_world)


def handler(demo: gr.Blocks, component: Any, trigger: str, module: str = "") -> Callable[..., dict]:
    """The function gradio runs when `component` fires `trigger` (in a tab module ending with `module`)."""
    found = [fn.fn for fn in demo.fns.values() if (component._id, trigger) in fn.targets and fn.fn is not None
             and fn.fn.__module__.endswith(module)]
    assert found, f"nothing handles {trigger} on {component}"
    return found[0]


def value_of(output: Any) -> Any:
    return output.get("value") if isinstance(output, dict) else output


def collect(outputs: dict, into: dict[str, list[Any]]) -> None:
    """HTML (Markdown rendered to HTML) and tables from one handler's outputs, by component."""
    for component, output in outputs.items():
        value = value_of(output)
        key = f"{type(component).__name__}#{component._id}"
        if isinstance(component, gr.HTML) and isinstance(value, str):
            into.setdefault(key, []).append(value)
        elif isinstance(component, gr.Markdown) and isinstance(value, str):
            into.setdefault(key, []).append(MarkdownIt("commonmark", {"html": True}).render(value))
        elif isinstance(component, gr.Dataframe) and isinstance(value, pd.DataFrame):
            into.setdefault(key, []).append(value)


def visit(ui: tuple, services: Any, dataset: str, upload_path: Path) -> dict[str, list[Any]]:
    """Open every tab on `dataset`, pick rows, label, preview an import and explain texts."""
    demo, ctx = ui
    e, out = ctx.elems, {}
    label = handler(demo, e["label"]["tab"], "select", "label_tab")
    services.assist.ensure_embeddings(dataset, wait=True)  # so the suggestion and similar examples are there
    screen = label(dataset, "", "in_order", 0, True, None)
    collect(screen, out)
    shown = value_of(screen[e["label"]["example_id"]])
    suggestion = screen[e["label"]["shown_suggestion"]]  # a state's value: the suggestion dict itself
    assert suggestion is not None and "Suggested:" in screen[e["label"]["card"]], "the visit shows no suggestion"
    collect(handler(demo, e["label"]["buttons"][0], "click")(dataset, "", "in_order", 0, True, shown,
                                                             services.datasets.info(dataset).labels, suggestion,
                                                             None), out)
    collect({e["label"]["status"]: handler(demo, e["label"]["status_timer"], "tick")(dataset, True)}, out)
    similar = e["label"]["similar"]
    found = handler(demo, similar["find"], "click")(dataset, "", "", 10, shown)
    collect(found, out)
    ids = value_of(found[similar["found_ids"]])
    first_label = services.datasets.info(dataset).labels[0]
    listed = found[similar["found_suggestions"]]  # a state's value: the suggestions the list showed
    collect(handler(demo, similar["apply"], "click")(dataset, "", ids[:3], first_label, "", "", 10, shown, listed, 0,
                                                     None), out)
    collect(handler(demo, similar["undo"], "click")(dataset, "", 0, None), out)
    review = e["review"]
    labels = services.datasets.info(dataset).labels
    # one example of the first label given the second: a suspect to show. One, not more: the other five
    # examples quoting the first label outvote it in every fold, whichever model or BLAS scores them.
    planter = Actor.local("planter")
    planted = [ex.id for ex in services.annotate.search(dataset, text=f"{labels[0]} ", label=labels[0], limit=1)[0]]
    for example_id in planted:
        services.annotate.label(dataset, example_id, labels[1], actor=planter)
    screen = handler(demo, review["tab"], "select", "review_tab")(dataset)
    collect(screen, out)
    check_card = next(fn.fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "on_check_show")
    collect(check_card(dataset, None), out)  # the newest check: one that failed quoting the payloads
    suspect = screen[review["shown"]]
    assert suspect is not None, "the visit shows no suspect"
    explain = next(fn.fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == "on_explain")
    collect(explain(dataset, suspect, None), out)
    collect(handler(demo, review["confirm"], "click")(dataset, "", suspect, [], None), out)
    collect(handler(demo, review["undo"], "click")(dataset, "", [], None), out)
    collect(handler(demo, review["accept"], "click")(dataset, "", suspect, [], None), out)
    collect(handler(demo, review["undo"], "click")(dataset, "", [], None), out)
    for _ in planted:
        services.annotate.undo(dataset, actor=planter)
    collect(handler(demo, e["data"]["tab"], "select", "data_tab")(dataset, "", "", "", False), out)
    first = services.annotate.search(dataset, limit=1)[0][0]
    pick = gr.SelectData(None, {"index": [0, 1], "value": first.text, "row_value": [first.id, first.text]})
    collect(handler(demo, e["data"]["table"], "select")(dataset, "", pick, None), out)
    for lab in services.datasets.info(dataset).labels:
        collect(handler(demo, e["data"]["search"], "submit")(dataset, "", lab, "", False), out)
    collect(handler(demo, ctx.dataset, "change", "manage_panel")(dataset), out)
    collect(handler(demo, e["data"]["transfer"]["upload"], "upload")(dataset, str(upload_path), None), out)
    collect(handler(demo, e["models"]["tab"], "select", "models_tab")(dataset, None, "validation"), out)
    train = handler(demo, e["train"]["tab"], "select", "train_tab")(dataset, Watch(), None)
    collect(train, out)
    for run in services.training.runs(dataset):
        pick = gr.SelectData(None, {"index": [0, 0], "value": run["id"], "row_value": [run["id"]]})
        collect(handler(demo, e["train"]["history"], "select")(dataset, Watch(), pick, None), out)
    p = e["predict"]
    collect(handler(demo, p["tab"], "select", "predict_tab")(dataset, "", None, 0, 0, None), out)
    layers = services.predict.predictor(dataset).num_layers
    run_text = handler(demo, p["run"], "click")
    for key, payload in NON_EMPTY.items():
        text = payload if dataset == XSS else twin_of(payload, key)
        for method in ("cls", "ig", "matrix"):
            collect(run_text(dataset, text, "", "", False, None, method, layers, -1, "", 8, False, layers, None), out)
    return out


def import_file(path: Path, strings: dict[str, str], labels: list[str]) -> Path:
    """A CSV with the strings as texts and as extra column names; the last row's label is unknown."""
    extra = [s[:60] for s in strings.values() if len(s) < 200]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label", *extra])
        for i, text in enumerate(strings.values()):
            writer.writerow([text, labels[i % len(labels)], *["x"] * len(extra)])
        writer.writerow(["one more row", f"{labels[0]}?", *["x"] * len(extra)])  # its error quotes the label
    return path


@pytest.fixture(scope="module")
def pages(ui, xss_world, tmp_path_factory) -> dict[str, dict[str, list[Any]]]:  # noqa: ANN001
    folder = tmp_path_factory.mktemp("imports")
    twin = {k: twin_of(v, k) for k, v in NON_EMPTY.items()}
    return {
        XSS: visit(ui, xss_world, XSS, import_file(folder / "xss.csv", dict(NON_EMPTY), list(SHORT.values()))),
        TWIN: visit(ui, xss_world, TWIN, import_file(folder / "twin.csv", twin, [twin[k] for k in SHORT])),
    }


def test_the_visit_reaches_every_html_component(ui, pages) -> None:
    demo, _ = ui
    shown = set(pages[XSS])
    expected = {f"HTML#{c._id}" for c in demo.blocks.values() if isinstance(c, gr.HTML) and c.elem_id
                and c.elem_id not in ("ftd-identity", "ftd-open-warning")}
    missing = expected - shown
    names = [demo.blocks[int(key.split("#")[1])].elem_id for key in missing]
    assert not missing, f"HTML components no handler filled: {names}"


CHART_IDS = ("ftd-train-loss", "ftd-train-metrics")  # inline SVG drawn from numbers and our own words only
CHART_TAGS = {"svg", "text", "line", "rect", "polyline", "circle"}


def _charts(ui) -> set[str]:  # noqa: ANN001
    demo, _ = ui
    return {f"HTML#{c._id}" for c in demo.blocks.values() if isinstance(c, gr.HTML) and c.elem_id in CHART_IDS}


def test_charts_carry_no_user_text_and_nothing_that_runs(ui, pages) -> None:
    charts = _charts(ui)
    assert charts <= set(pages[XSS]), "the visit drew no chart"
    for component in charts:
        for value in pages[XSS][component]:
            fragment = Fragment(value)
            assert {tag for tag, _ in fragment.tags} <= CHART_TAGS, value[:300]
            assert not any(a.startswith("on") for _, attrs in fragment.tags for a in attrs)
            assert not any(p in value for p in NON_EMPTY.values() if len(p) > 3), "user text in a chart"


@pytest.mark.parametrize("key", list(NON_EMPTY))
def test_every_html_output_is_inert(ui, pages, key) -> None:
    payload = NON_EMPTY[key]
    charts = _charts(ui)  # checked above: an <svg> of ours, no user text
    for component, values in pages[XSS].items():
        if component in charts:
            continue
        twin = pages[TWIN].get(component, [])
        baseline = "".join(v for v in twin if isinstance(v, str))
        for value in (v for v in values if isinstance(v, str)):
            check_inert(value, payload, baseline=baseline, expect_text=False)
            for label in SHORT.values():
                check_inert(value, label, baseline=baseline, expect_text=False)


@pytest.mark.parametrize("key", list(NON_EMPTY))
def test_payloads_read_as_text_on_the_page(pages, key) -> None:
    payload = NON_EMPTY[key]
    text = "".join(Fragment(v).all_text for values in pages[XSS].values() for v in values if isinstance(v, str))
    assert payload[:100] in text or "".join(c for c in payload if c not in BIDI)[:39] in text


def test_tables_are_plain_text_and_hold_the_payloads(ui, pages) -> None:
    demo, _ = ui
    for block in demo.blocks.values():
        if isinstance(block, gr.Dataframe):
            kinds = {block.datatype} if isinstance(block.datatype, str) else set(block.datatype)
            assert kinds <= SAFE_TABLE_TYPES, f"{block.elem_id} renders {kinds - SAFE_TABLE_TYPES} cells"
    cells = {str(cell) for values in pages[XSS].values() for frame in values if isinstance(frame, pd.DataFrame)
             for cell in frame.to_numpy().ravel()}
    for payload in NON_EMPTY.values():
        assert any(payload[:100] in cell for cell in cells), f"{payload[:40]!r} is in no table"


@pytest.mark.parametrize("key", list(PAYLOADS))
def test_error_messages_and_toasts_are_escaped(ui, xss_world, monkeypatch, key) -> None:
    demo, ctx = ui
    payload = PAYLOADS[key]
    toasts: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message, *a, **k: toasts.append(message))
    dataset = payload if payload and payload not in xss_world.datasets.names() else f"missing {payload}"
    out: dict[str, list[Any]] = {}
    e = ctx.elems
    collect(handler(demo, e["label"]["tab"], "select", "label_tab")(dataset, "", "in_order", 0, True, None), out)
    collect(handler(demo, e["models"]["tab"], "select", "models_tab")(dataset, None, "validation"), out)
    collect(handler(demo, e["predict"]["tab"], "select", "predict_tab")(dataset, "", None, 0, 0, None), out)
    collect(handler(demo, e["data"]["transfer"]["export"], "click")(dataset, "csv", payload, None), out)
    messages = [v for values in out.values() for v in values if isinstance(v, str) and "ftd-msg err" in v]
    assert len(messages) == 4 and len(toasts) == 4
    for markup in messages + toasts:
        check_inert(markup, payload, baseline=html_error(HARMLESS), expect_text=False)
        assert payload[:40] in Fragment(markup).all_text or repr(payload)[1:41] in Fragment(markup).all_text


def html_error(text: str) -> str:
    """The error line the UI's guard shows (ui/context.py: a message, stamped as an answer)."""
    from ftdemo.ui import html

    return html.stamped(html.message(f"dataset {text!r} not found", error=True))


@pytest.mark.parametrize("key", [k for k, v in NON_EMPTY.items() if "/" not in v and len(v) <= 100])
def test_payload_dataset_names_on_every_tab(ui, xss_world, key) -> None:
    demo, ctx = ui
    name = NON_EMPTY[key]
    if name not in xss_world.datasets.names():  # names the store refuses (control or bidi characters, '/', ...)
        with pytest.raises(InvalidInputError):
            validate_dataset_name(name)
        return
    e, out = ctx.elems, {}
    collect(handler(demo, e["label"]["tab"], "select", "label_tab")(name, "", "in_order", 0, True, None), out)
    collect(handler(demo, e["models"]["tab"], "select", "models_tab")(name, None, "validation"), out)
    collect(handler(demo, e["predict"]["tab"], "select", "predict_tab")(name, "", None, 0, 0, None), out)
    collect(handler(demo, e["train"]["tab"], "select", "train_tab")(name, Watch(), None), out)
    charts = _charts(ui)  # no user text in them (test_charts_carry_no_user_text_and_nothing_that_runs)
    shown = [v for component, values in out.items() if component not in charts for v in values if isinstance(v, str)]
    for markup in shown:
        check_inert(markup, name, expect_text=False)
    assert sum(name in Fragment(m).all_text for m in shown) >= 3  # the empty-state lines quote the name
