"""The whole loop, proven end to end: label → train → see the new version active → predict and explain.

1. In a real browser on a fresh data directory: create a dataset in the Data tab, label with the keyboard,
   train from the Train tab (a second browser watches the same live run), check the Models tab, predict.
   Quick with the tiny random BERT; `slow` with the bundled MiniLM, which learns the sample reviews.
2. Through gradio_client against the running app: /next + /label, /train, poll /run, /models, /predict.
3. Through the CLI in subprocesses: datasets create, import, label, train --json, models, predict --json.

Nothing is mocked: real SQLite, real child-process training, real models. Screenshots of each tab go to
artifacts/screenshots/ (gitignored); with FTDEMO_DOCS_SCREENSHOTS=1 the MiniLM run writes the README's
docs/screenshots/*.png instead (kept out of normal runs so tests never dirty the git tree).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromium
import pytest
from polling import wait_for

from ftdemo.services import Actor, Services
from ftdemo.settings import SAMPLES_DIR, Settings

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "screenshots" / "full-loop"
DOCS_SHOTS = REPO / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}
LABELS = ["positive", "negative", "neutral"]  # keys 1, 2, 3 in the Label tab
# The first unlabelled reviews of data/sentiment.csv in queue order, and the key that labels each correctly.
KEYED = [("The screen is bright but the speakers are a bit weak.", "3"),
         ("Dinner was lovely, though the dessert took forever.", "3"),
         ("I'm on my second pair of these sandals.", "1"),
         ("The plot lost me halfway through.", "2")]
PROBE = "The battery lasts two full days and the screen is gorgeous."
RUN_STATUS = re.compile(r"^(queued|running)$")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")  # gradio vs pandas 3
needs_chromium = pytest.mark.skipif(not chromium.CHROMIUM.exists(),
                                    reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)")


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def fresh_app(tmp_path: Path, serve_app) -> Iterator[tuple[str, Services]]:
    """The real app over an empty data directory, served on a free port."""
    # queue in order: the loop labels the first unlabelled reviews (KEYED)
    services = Services(Settings(data_dir=tmp_path / "data", seed_demo=False, queue_order="in_order"))
    with serve_app(services, close_services=True) as url:
        yield url, services


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    api.expect.set_options(timeout=15_000)  # shared 2-core runners can be slow to answer
    return api


@pytest.fixture(scope="module")
def browser(playwright_api: Any) -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = chromium.launch(p)
        yield b
        b.close()


# --- the loop in a browser -------------------------------------------------------------------------


def open_page(browser: Any, url: str, expect: Any) -> tuple[Any, Any]:
    """A new browser context (its own storage, as another person's browser) on the app."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.console_messages = []  # what the page logged, checked at the end of the loop
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.goto(url)
    expect(page.get_by_role("tab", name="Train")).to_be_visible()  # loaded, and shown as an admin
    return context, page


def field(page: Any, elem_id: str) -> Any:
    """The text input inside a gr.Textbox / gr.Dropdown / gr.Slider with this elem_id."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input:not([type=range])").first


def set_value(page: Any, elem_id: str, value: str, expect: Any) -> None:
    """Type into a textbox, a dropdown that takes custom values, or a slider's number box, and commit it."""
    box = field(page, elem_id)
    box.fill(value)
    box.press("Enter")
    box.blur()
    expect(box).to_have_value(value)


def seed_reviews(services: Services, dataset: str) -> None:
    """The labelled sample reviews (and their unlabelled rows) from data/sentiment.csv."""
    report = services.transfer.import_file(dataset, SAMPLES_DIR / "sentiment.csv", actor=Actor("seed"))
    assert report.imported > 150 and not report.errors


def run_browser_loop(browser: Any, expect: Any, url: str, services: Services, *, base_model: str | None,
                     settings: dict[str, str], shots: Path, train_timeout_s: float) -> dict[str, Any]:
    """Drive the loop through the page; returns the finished run (from the store) for further checks.

    base_model: a path or Hub id typed into the form, or None to keep its default (the bundled MiniLM).
    settings: TrainConfig field → the value to type into its form field."""
    shots.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str, top: str | None = None) -> None:
        """The viewport (1280x800), scrolled to the page top or to put `top` at the top."""
        page.wait_for_timeout(800)  # let plots and transitions settle
        if top:
            page.locator(top).evaluate("el => el.scrollIntoView({block: 'start'})")
        else:
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / f"{name}.png"))

    context, page = open_page(browser, url, expect)

    # create the dataset in the Data tab (fresh directory: there is none yet)
    page.get_by_role("tab", name="Data").click()
    page.get_by_role("button", name="Datasets and labels").click()
    field(page, "ftd-new-dataset").fill("reviews")
    field(page, "ftd-new-labels").fill(", ".join(LABELS))
    page.locator("#ftd-create-dataset").click()
    expect(page.get_by_text("created reviews")).to_be_visible()
    expect(page.locator("#ftd-dataset input")).to_have_value("reviews")
    seed_reviews(services, "reviews")
    stats = services.datasets.stats("reviews")
    unlabelled = stats.unlabelled

    # label the first unlabelled reviews with the number keys
    page.get_by_role("tab", name="Label").click()
    card, count = page.locator("#ftd-card"), page.locator("#ftd-count")
    expect(count).to_have_text(f"{stats.labelled} / {stats.examples} labelled")
    for done, (text, key) in enumerate(KEYED, start=1):
        expect(card).to_contain_text(text)
        if done == len(KEYED):
            shot(page, "label")
        page.keyboard.press(key)
        expect(count).to_have_text(f"{stats.labelled + done} / {stats.examples} labelled")
    for text, key in KEYED:
        [view], _ = services.annotate.search("reviews", text=text)
        assert view.labels == [LABELS[int(key) - 1]], text
    assert services.datasets.stats("reviews").unlabelled == unlabelled - len(KEYED)
    assert services.datasets.stats("reviews").annotators.get("anonymous") == len(KEYED)

    # the Data tab lists them with the labels the keys gave
    page.get_by_role("tab", name="Data").click()
    table = page.locator("#ftd-table")
    expect(page.get_by_text(f"of {stats.examples} · page 1 of")).to_be_visible()
    shot(page, "data")
    search = field(page, "ftd-search")
    search.fill("sandals")
    search.press("Enter")
    expect(table.get_by_role("row")).to_have_count(2)  # header + the one review
    expect(table).to_contain_text("positive")

    # train from the Train tab with the chosen base model and settings
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#ftd-train-snapshot")).to_contain_text(f"{stats.labelled + len(KEYED)} labelled examples")
    if base_model is not None:
        set_value(page, "ftd-train-base-model", base_model, expect)
    for name, value in settings.items():
        set_value(page, f"ftd-train-{name.replace('_', '-')}", value, expect)
    page.locator("#ftd-train-start").click()
    expect(page.locator("#ftd-train-msg")).to_contain_text("Run #1 started")
    [live] = services.training.live()
    assert live["config"]["base_model"] == (base_model or services.settings.resolved_base_model())
    assert {name: float(live["config"][name]) for name in settings} == {k: float(v) for k, v in settings.items()}

    # a second browser opened during the run shows the same live run, and that one run at a time is allowed
    other, watcher = open_page(browser, url, expect)
    watcher.get_by_role("tab", name="Train").click()
    their_card = watcher.locator("#ftd-train-progress [data-run-id]")
    expect(their_card).to_have_attribute("data-run-id", "1")
    expect(their_card).to_have_attribute("data-status", RUN_STATUS)
    expect(watcher.locator("#ftd-train-start")).to_be_disabled()

    # both pages follow it to the end
    timeout = int(train_timeout_s * 1000)
    my_card = page.locator("#ftd-train-progress [data-run-id]")
    expect(my_card).to_have_attribute("data-status", "succeeded", timeout=timeout)
    expect(their_card).to_have_attribute("data-status", "succeeded", timeout=10_000)
    for card_ in (my_card, their_card):
        expect(card_).to_contain_text("model v0001 trained")
        expect(card_).to_contain_text("now serving predictions")
    expect(page.locator("#ftd-train-history")).to_contain_text("succeeded")
    expect(page.locator("#ftd-train-start")).to_be_enabled()
    shot(page, "train")
    other.close()

    # the Models tab shows the new version as the active one
    page.get_by_role("tab", name="Models").click()
    expect(page.locator("#ftd-models-summary")).to_contain_text("active: v0001")
    expect(page.locator("#ftd-models-table")).to_contain_text("● active")
    expect(page.locator("#ftd-models-header")).to_contain_text("v0001")
    expect(page.locator("#ftd-models-confusion")).to_contain_text("positive")
    shot(page, "models")

    # the Predict tab offers the new version at once, and answers as you type (after a pause), on Enter
    page.get_by_role("tab", name="Predict").click()
    expect(page.locator("#ftd-predict-empty")).to_be_hidden()
    text_box = field(page, "ftd-predict-text")
    text_box.press_sequentially(PROBE, delay=5)  # no click: a pause in typing asks for the answer
    expect(page.locator("#ftd-predict-head-a")).to_contain_text("model v0001 (active)")
    answers = page.locator("#ftd-predict-answers")
    expect(answers).not_to_have_class(re.compile("ftd-stale"))
    text_box.press_sequentially(" Truly", delay=5)
    expect(answers).to_have_class(re.compile("ftd-stale"))  # the answer on screen is for the text before
    expect(answers).not_to_have_class(re.compile("ftd-stale"))  # until the answer for this text arrives
    text_box.press("Shift+Enter")  # a new line
    text_box.press("Enter")  # answers, adds no line
    assert text_box.input_value() == PROBE + " Truly\n"
    probabilities = page.locator("#ftd-predict-label-a")
    expect(probabilities).to_be_visible()
    for label in LABELS:
        expect(probabilities).to_contain_text(label)
    words = page.locator("#ftd-predict-heat-a .ftx-w")
    expect(words.filter(has_text="battery")).to_have_count(1)
    expect(words.filter(has_text="gorgeous")).to_have_count(1)
    shot(page, "predict", top="#ftd-tabs")  # tabs, text, probabilities and heatmap in one view
    # the charts draw without complaints (empty data used to make Vega-Lite warn of infinite extents)
    assert not [m for m in page.console_messages if "extent" in m or "NaN" in m or m.startswith("error")], \
        page.console_messages
    context.close()

    run = services.training.run(1)
    assert run["status"] == "succeeded", run["error"]
    assert services.models.active("reviews")["version"] == "v0001"
    assert run["counts"]["examples"] == stats.labelled + len(KEYED)
    return run


@pytest.mark.e2e
@needs_chromium
def test_browser_loop_with_tiny_model(fresh_app, browser, playwright_api, tiny_model_dir) -> None:
    url, services = fresh_app
    run = run_browser_loop(browser, playwright_api.expect, url, services, base_model=str(tiny_model_dir),
                           settings={"epochs": "3", "max_length": "64"}, shots=ARTIFACTS / "tiny",
                           train_timeout_s=120)
    assert run["config"]["epochs"] == 3
    assert {"validation", "test"} <= set(run["metrics"])
    prediction = services.predict.predict("reviews", PROBE)
    assert set(prediction["probabilities"]) == set(LABELS)
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.e2e
@pytest.mark.slow
@needs_chromium
def test_browser_loop_with_bundled_minilm(fresh_app, browser, playwright_api) -> None:
    from ftdemo.settings import bundled_model_path

    url, services = fresh_app
    docs = os.environ.get("FTDEMO_DOCS_SCREENSHOTS") == "1"
    run = run_browser_loop(browser, playwright_api.expect, url, services, base_model=None,
                           settings={"epochs": "3", "batch_size": "16", "learning_rate": "2e-4", "max_length": "64"},
                           shots=DOCS_SHOTS if docs else ARTIFACTS / "minilm", train_timeout_s=400)
    # a real checkpoint learns the sample reviews (validation has only ~17 of them: score all 180 instead)
    assert run["config"]["base_model"] == bundled_model_path() and {"validation", "test"} <= set(run["metrics"])
    fit = services.models.evaluate("reviews", SAMPLES_DIR / "sentiment.csv")
    assert fit["n"] == 180 and fit["accuracy"] >= 0.6, fit  # guessing gets 1/3
    assert services.predict.predict("reviews", PROBE)["label"] == "positive"


# --- the loop through gradio_client ----------------------------------------------------------------

TOPICS = ["on time", "the box was fine", "support answered", "I would order again", "it was cheap",
          "the size fits", "it came wrapped", "the colour matches"]
# 24 orders whose label follows one word: the tiny model can learn it, and the texts are all different
KEYWORD_TEXTS = [(f"order {i}: the delivery was {'excellent' if i % 2 else 'awful'}, {TOPICS[i % len(TOPICS)]}",
                  "pos" if i % 2 else "neg") for i in range(24)]


def test_api_loop(fresh_app, tiny_model_dir) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    url, services = fresh_app
    services.datasets.create("orders", "single_label", ["pos", "neg"], actor=Actor("setup"))
    for text, _ in KEYWORD_TEXTS:
        services.annotate.add("orders", text, actor=Actor("setup"))
    truth = dict(KEYWORD_TEXTS)
    client = gradio_client.Client(url, verbose=False)

    # label every example through /next and /label
    assert [d["name"] for d in client.predict(api_name="/datasets")] == ["orders"]
    while (example := client.predict("orders", "api-bot", "in_order", 0, api_name="/next")) is not None:
        client.predict("orders", example["id"], truth[example["text"]], "api-bot", api_name="/label")
    stats = client.predict("orders", api_name="/stats")
    assert (stats["labelled"], stats["annotators"]) == (len(KEYWORD_TEXTS), {"api-bot": len(KEYWORD_TEXTS)})

    # train, poll the run, see the version
    options = {"base_model": str(tiny_model_dir), "epochs": 3, "max_length": 32, "batch_size": 16}
    with pytest.raises(gradio_client.exceptions.AppError, match="unknown training option"):
        client.predict("orders", {"epoch": 3}, "api-bot", api_name="/train")
    run = client.predict("orders", options, "api-bot", api_name="/train")
    assert run["status"] in ("queued", "running") and run["counts"]["examples"] == len(KEYWORD_TEXTS)
    assert run["created_by"] == "api-bot" and run["dataset"] == "orders" and "environment" not in run
    with pytest.raises(gradio_client.exceptions.AppError, match="one run at a time"):
        client.predict("orders", options, "api-bot", api_name="/train")
    run = wait_for(lambda: (r := client.predict(run["id"], api_name="/run"))["status"] not in ("queued", "running")
                   and r, timeout=120, every=0.5)
    assert run["status"] == "succeeded", run["error"]
    assert run["version"] == "v0001" and run["progress"]["decision"]["active"]
    assert {"accuracy", "macro_f1"} <= set(run["metrics"]["validation"])
    [version] = client.predict("orders", api_name="/models")
    assert version["version"] == "v0001" and version["active"] and version["run_id"] == run["id"]
    assert "path" not in version and version["metrics"]["test"]

    # predict and explain with the new version
    prediction = client.predict("orders", "the delivery was excellent", "", "", api_name="/predict")
    assert prediction["model_version"] == "v0001" and prediction["label"] in ("pos", "neg")
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    explanation = client.predict("orders", "the delivery was excellent", "", "cls", -1, -1, "", 32, "",
                                 api_name="/explain")
    assert [w["text"] for w in explanation["words"] if not w["special"]] == ["the", "delivery", "was", "excellent"]


def test_api_train_is_for_admins_only(tmp_path, serve_app, tiny_model_dir) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    from ftdemo.settings import User

    settings = Settings(data_dir=tmp_path, seed_demo=False,
                        users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    services = Services(settings)
    try:
        services.datasets.create("orders", "single_label", ["pos", "neg"], actor=Actor("ada"))
        for text, label in KEYWORD_TEXTS:
            services.annotate.add("orders", text, labels=[label], actor=Actor("ada"))
        with serve_app(services) as url:
            annotator = gradio_client.Client(url, auth=("ann", "pw-b"), verbose=False)
            with pytest.raises(gradio_client.exceptions.AppError, match="only an admin can train"):
                annotator.predict("orders", {"base_model": str(tiny_model_dir)}, "", api_name="/train")
            assert annotator.predict("orders", api_name="/models") == []
            assert services.training.runs("orders") == []
    finally:
        services.close()


# --- the loop through the CLI ----------------------------------------------------------------------


def test_cli_loop(tmp_path, tiny_model_dir) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "FTDEMO_DATA_DIR": str(tmp_path / "data")}
    env.pop("FTDEMO_DB_URL", None)

    def cli(*args: str) -> Any:
        proc = subprocess.run([sys.executable, "-m", "ftdemo", *args, "--json"], capture_output=True, text=True,
                              timeout=300, cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    rows = tmp_path / "orders.csv"
    with rows.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([(text, "") if i == 0 else (text, label) for i, (text, label) in enumerate(KEYWORD_TEXTS)])

    assert cli("datasets", "create", "orders", "--task", "single_label", "--labels", "pos,neg")["name"] == "orders"
    assert cli("import", "orders", str(rows))["imported"] == len(KEYWORD_TEXTS)
    [unlabelled] = cli("examples", "orders", "--unlabelled")
    assert cli("label", "orders", str(unlabelled["id"]), KEYWORD_TEXTS[0][1], "--annotator", "cli")["labels"] \
        == [KEYWORD_TEXTS[0][1]]
    assert cli("stats", "orders")["labelled"] == len(KEYWORD_TEXTS)

    trained = cli("train", "orders", "--base-model", str(tiny_model_dir), "--epochs", "3", "--max-length", "32",
                  "--batch-size", "16", "--quiet")
    assert trained["status"] == "succeeded" and trained["version"] == "v0001" and trained["active"] is True
    for split in ("validation", "test"):
        assert {"accuracy", "macro_f1"} <= set(trained["metrics"][split])
        assert 0.0 <= trained["metrics"][split]["accuracy"] <= 1.0

    [version] = cli("models", "orders")
    assert version["version"] == "v0001" and version["active"]
    prediction = cli("predict", "orders", "the delivery was excellent")
    assert prediction["model_version"] == "v0001" and prediction["label"] in ("pos", "neg")
    assert set(prediction["probabilities"]) == {"pos", "neg"}
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert (tmp_path / "data" / "ftdemo.db").exists()  # FTDEMO_DATA_DIR decided where everything went
