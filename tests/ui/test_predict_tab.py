"""Predict tab logic (probabilities, escaped heatmaps, every explanation view, compare mode, empty states)
and the /predict and /explain API through gradio_client against the running app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import InvalidInputError
from ftdemo.services import Actor, Services
from ftdemo.settings import Settings
from ftdemo.ui.app import build_ui
from ftdemo.ui.context import EXPLAIN_EVENTS
from ftdemo.ui.explain_view import ExplainOptions
from ftdemo.ui.predict_tab import (
    ACTIVE,
    answer,
    load_setup,
    render_answers,
    render_setup,
    sample_rows,
    version_choices,
)

gradio_client = pytest.importorskip("gradio_client")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # gradio vs pandas 3

FAST = FAST_TRAIN
XSS = "<img src=x onerror=alert(1)>"
ADMIN = Actor("ada", "admin")
SETUP_KEYS = ["empty", "body", "text", "text_pair", "version_a", "version_b", "layer", "head", "target", "examples",
              "samples", "layers"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir) -> Iterator[Services]:
    """Dataset 'kw' (v0001 active, v0002 candidate) and 'empty' (no model), behind real services."""
    services = Services(Settings(data_dir=tmp_path_factory.mktemp("predict"), seed_demo=False))
    services.datasets.create("kw", "single_label", ["pos", "neg"], actor=ADMIN)
    for i in range(40):
        services.annotate.add("kw", f"item {i} is {'good' if i % 2 else 'bad'}", labels=["pos" if i % 2 else "neg"],
                              actor=ADMIN)
    services.annotate.add("kw", XSS, labels=["neg"], actor=ADMIN)
    for seed in (1, 2):
        run = services.training.train_sync("kw", {**FAST, "seed": seed, "base_model": str(tiny_model_dir)},
                                           actor=ADMIN)
        assert run["status"] == "succeeded", run["error"]
    services.models.activate("kw", "v0001", actor=ADMIN)
    services.datasets.create("empty", "pair", ["yes", "no"], actor=ADMIN)
    yield services
    services.close()


def test_setup_after_a_run_shows_the_model_at_once(tmp_path, tiny_model_dir) -> None:
    """Right after a run the tab offers the new version from its files; the model loads on the first answer."""
    services = Services(Settings(data_dir=tmp_path, seed_demo=False))
    try:
        services.datasets.create("kw", "single_label", ["pos", "neg"], actor=ADMIN)
        for i in range(20):
            services.annotate.add("kw", f"item {i} is {'good' if i % 2 else 'bad'}",
                                  labels=["pos" if i % 2 else "neg"], actor=ADMIN)
        assert not load_setup(services, "kw").has_model
        run = services.training.train_sync("kw", {**FAST, "base_model": str(tiny_model_dir)}, actor=ADMIN)
        assert run["status"] == "succeeded", run["error"]
        setup = load_setup(services, "kw")
        assert setup.has_model and (setup.active, setup.layers, setup.heads) == ("v0001", 2, 2)
        assert services.predict.loaded() == []  # nothing waited for a model to load
        out = render_setup(setup, {k: k for k in SETUP_KEYS}, version_a=ACTIVE, version_b=None, keep_layer=None)
        assert out["empty"]["visible"] is False and out["body"]["visible"] is True
    finally:
        services.close()


def test_setup_offers_versions_layers_heads_and_examples(trained) -> None:
    setup = load_setup(trained, "kw")
    assert (setup.active, setup.layers, setup.heads, setup.labels) == ("v0001", 2, 2, ["pos", "neg"])
    assert [value for _, value in version_choices(setup)] == [ACTIVE, "v0002", "v0001"]
    assert {lab for _, _, lab in setup.samples} == {"pos", "neg"} and len(setup.samples) <= 6
    out = render_setup(setup, {k: k for k in SETUP_KEYS}, version_a=ACTIVE, version_b=None, keep_layer=None)
    assert out["layer"]["maximum"] == 2 and out["layer"]["value"] == 2  # starts on the last layer
    assert out["version_b"]["value"] == "v0002" and out["body"]["visible"] and out["text_pair"]["visible"] is False
    assert [v for _, v in out["head"]["choices"]] == [-1, 0, 1]


def test_probabilities_and_an_escaped_heatmap(trained) -> None:
    result = answer(trained, "kw", f"{XSS} good", None, ACTIVE, ExplainOptions("cls"), active="v0001")
    probs = result.prediction["probabilities"]
    assert set(probs) == {"pos", "neg"} and abs(sum(probs.values()) - 1) < 1e-3
    assert "model v0001 (active)" in result.header
    assert "&lt;img" in result.explanation and "<img" not in result.explanation
    assert "CLS attention · layer 2 of 2 · mean of heads" in result.explanation
    out = render_answers(result, None, {k: k for k in ("head_a", "label_a", "heat_a", "head_b", "label_b", "heat_b",
                                                        "message")})
    assert out["label_a"]["value"] == probs and out["label_b"]["visible"] is False


@pytest.mark.parametrize(("options", "expected"), [
    (ExplainOptions("rollout", layer=1), "Attention rollout · layers 1–1 of 2"),
    (ExplainOptions("cls", layer=1, head=1), "layer 1 of 2 · head 2"),
    (ExplainOptions("ig", target_label="pos", ig_steps=16), "Completeness error"),
    (ExplainOptions("matrix", head=0), "Attention matrix, layer 2, head 1"),
    (ExplainOptions("overview"), "layer 2</th>"),
    (ExplainOptions("cls", show_special=True), "[CLS]"),
])
def test_every_explanation_view(trained, options, expected) -> None:
    result = answer(trained, "kw", "item 3 is good", None, ACTIVE, options)
    assert expected in result.explanation
    if options.method == "ig":
        assert "evidence for “pos”" in result.explanation


def test_deletion_test_on_demand(trained) -> None:
    plain = answer(trained, "kw", "item 5 is really good", None, ACTIVE, ExplainOptions("ig"))
    tested = answer(trained, "kw", "item 5 is really good", None, ACTIVE, ExplainOptions("ig"), faithfulness=True)
    assert "Deletion test" not in plain.explanation and "Deletion test" in tested.explanation
    assert "removing the top 3 words" in tested.explanation


def test_compare_two_versions_on_the_same_text(trained) -> None:
    a = answer(trained, "kw", "item 7 is good", None, ACTIVE, ExplainOptions("ig"), active="v0001")
    b = answer(trained, "kw", "item 7 is good", None, "v0002", ExplainOptions("ig"), active="v0001")
    assert (a.prediction["model_version"], b.prediction["model_version"]) == ("v0001", "v0002")
    assert "(active)" in a.header and "(active)" not in b.header


def test_empty_long_and_over_long_input(trained) -> None:
    with pytest.raises(InvalidInputError, match="type or paste a text"):
        answer(trained, "kw", "   ", None, ACTIVE, ExplainOptions())
    with pytest.raises(InvalidInputError, match="at most"):
        answer(trained, "kw", "x" * (trained.settings.max_text_chars + 1), None, ACTIVE, ExplainOptions())
    long = answer(trained, "kw", "good " * 300, None, ACTIVE, ExplainOptions())
    assert long.prediction["truncated"] and long.prediction["notice"]
    assert "ftd-expl-note" in long.header


def test_no_model_yet_is_a_friendly_empty_state(trained) -> None:
    setup = load_setup(trained, "empty")
    assert not setup.has_model
    out = render_setup(setup, {k: k for k in SETUP_KEYS}, version_a=ACTIVE, version_b=None, keep_layer=None)
    assert "Train one in the Train tab" in out["empty"]["value"] and out["body"]["visible"] is False
    assert out["text_pair"]["visible"] is True  # a pair dataset asks for the second text
    assert sample_rows([("premise", "hypothesis", "")]) == [["premise  ⟶  hypothesis", "unlabelled"]]


# --- the API, through gradio_client ----------------------------------------------------------------


@pytest.fixture(scope="module")
def client(trained, serve_app) -> Iterator[object]:
    with serve_app(trained) as url:
        yield gradio_client.Client(url, verbose=False)


def test_api_predict(client) -> None:
    result = client.predict("kw", "item 9 is good", api_name="/predict")
    assert set(result) == {"label", "labels", "probabilities", "model_version", "truncated", "notice"}
    assert result["model_version"] == "v0001" and result["label"] in ("pos", "neg")
    other = client.predict("kw", "item 9 is good", "", "v0002", api_name="/predict")
    assert other["model_version"] == "v0002"


def test_api_explain(client) -> None:
    result = client.predict("kw", XSS, "", "ig", -1, -1, "pos", 16, api_name="/explain")
    assert result["method"] == "ig" and result["target_label"] == "pos" and "completeness_error" in result
    assert "".join(w["text"] for w in result["words"]) == XSS.replace(" ", "")  # words are exact substrings
    cls = client.predict("kw", "item 9 is good", api_name="/explain")
    assert cls["method"] == "cls" and {w["segment"] for w in cls["words"]} == {0}


def test_api_errors_are_messages(client) -> None:
    with pytest.raises(gradio_client.exceptions.AppError, match="text is empty"):
        client.predict("kw", "", api_name="/predict")
    with pytest.raises(gradio_client.exceptions.AppError, match="train one first"):
        client.predict("empty", "a", "b", api_name="/predict")
    with pytest.raises(gradio_client.exceptions.AppError, match="unknown explanation method"):
        client.predict("kw", "good", "", "attention", api_name="/explain")
    with pytest.raises(gradio_client.exceptions.AppError, match="ig_steps must be a whole number from 1 to 256"):
        client.predict("kw", "good", "", "ig", -1, -1, "", 1024, api_name="/explain")


def test_explanations_queue_behind_a_small_shared_limit(trained) -> None:
    """The Predict tab's explain events and /explain share one gradio concurrency group, so eight users
    (or one with eight tabs) queue instead of running eight explanations at once."""
    demo, _ = build_ui(trained)
    explaining = [fn for fn in demo.fns.values() if fn.api_name == "explain"
                  or (fn.fn is not None and fn.fn.__module__.endswith("predict_tab") and fn.fn.__name__ == "handler")]
    assert len(explaining) >= 10  # Predict, Enter, faithfulness, the redo after every control, /explain
    for fn in explaining:
        assert (fn.concurrency_id, fn.concurrency_limit) == (EXPLAIN_EVENTS["concurrency_id"],
                                                             EXPLAIN_EVENTS["concurrency_limit"])
    assert EXPLAIN_EVENTS["concurrency_limit"] <= 4
