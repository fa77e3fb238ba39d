"""The app in a real browser: create a dataset, label with the keyboard, browse, import.

Runs the Gradio app in-process on a free localhost port and drives Debian's chromium through
Playwright. Screenshots of each screen go to artifacts/screenshots/ (gitignored) for a human look.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import chromium
import pytest
from polling import wait_for

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
XSS = "<img src=x onerror=alert(1)>"
MOODS = ["so glad the sun is out", "I am sad about the rain", "glad to see you", "a sad grey day",
         "glad and grateful", "sad news today", "glad it worked out", "sad to say goodbye"]
STREAK = 8  # presses of one key in a row, each the moment the next card shows (the old script lost one of the first 3)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing"),  # gradio vs pandas 3, not ours
    pytest.mark.skipif(not chromium.CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (apt-get install chromium)"),
]

playwright_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = playwright_api.expect
expect.set_options(timeout=15_000)  # CI machines and shared runners can be slow to answer


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator[tuple[str, object]]:
    from ftdemo.services import Actor, Services
    from ftdemo.settings import Settings

    # the tests follow examples in the order they were added (the app starts on the model-ranked order)
    settings = Settings(data_dir=tmp_path_factory.mktemp("e2e"), seed_demo=False, queue_order="in_order")
    services = Services(settings)
    admin = Actor("setup", "admin")
    services.datasets.create("topics", "multi_label", ["sports", "politics", "tech"], actor=admin)
    for text in ("Cup final tonight", "Parliament votes on chips", "New phone launched"):
        services.annotate.add("topics", text, actor=admin)
    services.datasets.create("nli", "pair", ["entailment", "neutral", "contradiction"], actor=admin)
    services.annotate.add("nli", "A man is sleeping on a sofa.", "A person is resting.", actor=admin)
    services.datasets.create("drops", "single_label", ["yes", "no"], actor=admin)
    for text in ("the first of two", "the second of two"):
        services.annotate.add("drops", text, actor=admin)
    # a dataset the model can already help with: six labelled examples, the rest waiting, embeddings ready
    services.datasets.create("moods", "single_label", ["happy", "sad"], actor=admin)
    for i, text in enumerate(MOODS):
        view = services.annotate.add("moods", text, actor=admin)
        if i < 6:
            services.annotate.label("moods", view.id, "happy" if "glad" in text else "sad", actor=Actor("seed"))
    services.assist.ensure_embeddings("moods", wait=True)
    with serve_app(services, close_services=True) as url:
        yield url, services


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        b = chromium.launch(p)
        yield b
        b.close()


@pytest.fixture
def page(app, browser) -> Iterator[object]:
    url, _ = app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.dialogs = []  # an alert() would mean user text ran as HTML
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.set_default_timeout(15_000)
    pg.goto(url)
    expect(pg.locator("#ftd-count")).to_be_visible()  # page loaded and the first dataset shown
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1000)  # let transitions and the chart settle
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def choose_dataset(page, name: str) -> None:
    page.locator("#ftd-dataset input").click()
    page.get_by_role("option", name=name, exact=True).click()
    expect(page.locator("#ftd-dataset input")).to_have_value(name)


def field(page, elem_id: str) -> object:
    """The text input inside a gr.Textbox with this elem_id."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def open_accordion(page, title: str) -> None:
    page.get_by_role("button", name=title).click()


def count(page) -> object:
    return page.locator("#ftd-count")


def test_create_dataset_and_label_three_with_number_keys(app, page) -> None:
    _, services = app
    # create a dataset through the Data tab
    page.get_by_role("tab", name="Data").click()
    open_accordion(page, "Datasets and labels")
    field(page, "ftd-new-dataset").fill("reviews")
    field(page, "ftd-new-labels").fill("good, bad, meh")
    page.locator("#ftd-create-dataset").click()
    expect(page.get_by_text("created reviews")).to_be_visible()
    shot(page, "data-manage")
    expect(page.locator("#ftd-dataset input")).to_have_value("reviews")
    from ftdemo.services import Actor

    for text in ("First review", "Second review", "Third review"):
        services.annotate.add("reviews", text, actor=Actor("setup", "admin"))

    # add a fourth example by typing it in the Label tab (an XSS payload: must show as text)
    page.get_by_role("tab", name="Label").click()
    expect(count(page)).to_have_text("0 / 3 labelled")
    expect(page.locator("#ftd-card")).to_contain_text("First review")
    open_accordion(page, "Add an example")
    text_box = field(page, "ftd-add-text")
    text_box.fill(XSS)
    page.locator("#ftd-add").click()
    expect(count(page)).to_have_text("0 / 4 labelled")

    # number keys are ignored while typing in a text box
    text_box.click()
    page.keyboard.press("1")
    expect(text_box).to_have_value("1")
    text_box.fill("")
    page.locator("#ftd-card").click()  # leave the text box

    shot(page, "label-single")
    for key, expected in (("1", "1 / 4"), ("2", "2 / 4"), ("1", "3 / 4")):
        page.keyboard.press(key)
        expect(count(page)).to_have_text(f"{expected} labelled")

    # the fourth example is the typed payload, rendered literally
    card = page.locator("#ftd-card")
    expect(card).to_contain_text(XSS)
    assert card.locator("img").count() == 0
    assert page.dialogs == []

    views, _ = services.annotate.search("reviews")
    annotations = [h for v in views for h in services.annotate.get("reviews", v.id).history]
    assert len(annotations) == 3
    assert {a["annotator"] for a in annotations} == {"anonymous"}
    assert sorted(a["labels"][0] for a in annotations) == ["bad", "good", "good"]


def test_multi_label_toggle_submit_skip_undo(app, page) -> None:
    _, services = app
    field(page, "ftd-annotator").fill("mia")
    page.locator("#ftd-card").click()
    choose_dataset(page, "topics")
    expect(count(page)).to_have_text("0 / 3 labelled")
    # the page opened on topics as "anonymous", who holds "Cup final tonight" (#1) for FTDEMO_LEASE_S:
    # two people are never handed the same example, so mia gets the next one
    expect(page.locator("#ftd-card")).to_contain_text("Parliament votes on chips")
    page.keyboard.press("1")
    page.keyboard.press("3")
    expect(page.locator("#ftd-multi input[type=checkbox]:checked")).to_have_count(2)
    shot(page, "label-multi")
    page.keyboard.press("Enter")
    expect(count(page)).to_have_text("1 / 3 labelled")
    assert services.annotate.get("topics", 2).labels == ["sports", "tech"]

    page.keyboard.press("s")  # skip "New phone launched": nothing else is free for mia
    expect(page.locator("#ftd-card")).to_contain_text("Nothing left to label in “topics” for you")
    page.keyboard.press("u")  # undo the skip: it comes back
    expect(page.locator("#ftd-card")).to_contain_text("New phone launched")
    page.locator("#ftd-multi input[type=checkbox]:checked").evaluate_all("boxes => boxes.forEach(b => b.click())")
    expect(page.locator("#ftd-multi input[type=checkbox]:checked")).to_have_count(0)
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(count(page)).to_have_text("2 / 3 labelled")
    assert services.annotate.get("topics", 3).labels == ["politics"]
    assert services.datasets.stats("topics").annotators == {"mia": 2}


def test_enter_accepts_the_suggestion_and_the_acceptance_is_recorded(app, page) -> None:
    _, services = app
    choose_dataset(page, "moods")
    expect(count(page)).to_have_text("6 / 8 labelled")
    suggestion = page.locator("#ftd-suggestion")
    expect(suggestion).to_contain_text("by the instant model")
    expect(page.locator("#ftd-accept")).to_be_visible()
    shown = int(page.locator("#ftd-card [data-example-id]").get_attribute("data-example-id"))
    suggested = services.annotate.suggestion("moods", shown)["labels"]
    expect(suggestion).to_contain_text(f"Suggested: {suggested[0]}")
    shot(page, "label-suggestion")
    page.locator("#ftd-card").click()
    page.keyboard.press("Enter")
    expect(count(page)).to_have_text("7 / 8 labelled")
    expect(page.locator("#ftd-label-msg")).to_contain_text(f"#{shown} labelled {suggested[0]} (the suggestion)")
    last = services.annotate.get("moods", shown).history[-1]
    assert (last["labels"], last["suggested"], last["suggestion_model"], last["suggestion_outcome"]) == \
        (suggested, suggested, "instant", "accepted")
    [row] = services.annotate.acceptance("moods")
    assert (row["model"], row["accepted"], row["changed"]) == ("instant", 1, 0)
    expect(page.locator("#ftd-assist")).to_contain_text("accepted: the instant model 100% of 1")


FILMS = ["a wonderful, moving film", "brilliant acting and a great story", "I loved every minute",
         "delightful and funny", "superb performances all round", "an absolute joy to watch",
         "a boring, tedious mess", "terrible acting and a dull plot", "I hated every minute", "painfully unfunny",
         "awful performances all round", "a chore to sit through"]


def test_review_tab_relabels_with_enter_undoes_and_confirms_with_keys(app, page) -> None:
    _, services = app
    from ftdemo.services import Actor

    services.datasets.create("films", "single_label", ["pos", "neg"], actor=Actor("setup"))
    ids = [services.annotate.add("films", text, actor=Actor("setup")).id for text in FILMS]
    for i, example_id in enumerate(ids):
        wrong = i in (0, 8)  # two planted label errors
        services.annotate.label("films", example_id, "pos" if (i < 6) != wrong else "neg", actor=Actor("ann"))
    services.assist.ensure_embeddings("films", wait=True)
    first = services.review.suspects("films", wait=True).suspects[0]
    page.reload()
    page.get_by_role("tab", name="Review").click()
    status = page.locator("#ftd-review-status")
    expect(status).to_contain_text("labelled examples")  # the first dataset's list
    choose_dataset(page, "films")  # with the tab on screen, the new dataset's suspects come at once
    card = page.locator("#ftd-review-card")
    expect(card).to_contain_text(first.text)
    expect(card).to_contain_text(f"given: {first.given[0]}")
    expect(status).to_contain_text("among 12 labelled examples checked")
    shot(page, "review")
    page.get_by_role("tab", name="Review").click()  # focus on the tab button: Enter must still relabel
    page.keyboard.press("Enter")
    message = page.locator("#ftd-review-msg")
    expect(message).to_contain_text(f"#{first.id}: {first.given[0]} → {first.suggested[0]}")
    last = services.annotate.get("films", first.id).history[-1]
    assert (last["labels"], last["origin"]) == (first.suggested, "review")
    page.keyboard.press("u")
    expect(message).to_contain_text(f"#{first.id}: relabel undone; its label is {first.given[0]}")
    expect(card).to_contain_text(first.text)
    page.keyboard.press("c")
    expect(message).to_contain_text(f"#{first.id}: {first.given[0]} confirmed")
    assert first.id not in {x.id for x in services.review.suspects("films").suspects}
    # an admin checks the labels from the tab (the default five fine-tunes: a slider moved by a script does
    # not reliably reach gradio); the list takes the check in when it ends
    open_accordion(page, "Check the labels with fine-tunes")
    start = page.locator("#ftd-review-check-start")
    expect(start).to_have_text("Run 5 fine-tunes")
    start.click()
    expect(message).to_contain_text("Fine-tune check #")
    check = page.locator("#ftd-review-check")
    expect(check).to_contain_text("label check of 12 labelled examples with 5 fine-tunes", timeout=240_000)
    expect(status).to_contain_text("fine-tune check (run")
    expect(message).to_contain_text("done: the suspects include it")
    expect(page.locator("#ftd-review-check-start")).to_be_enabled()  # another check may start
    shot(page, "review-check")


def test_pair_example_shows_both_texts_and_fast_keys_label_once(app, page) -> None:
    _, services = app
    from ftdemo.services import Actor

    services.annotate.add("nli", "Two dogs run.", "Animals are moving.", actor=Actor("setup", "admin"))
    choose_dataset(page, "nli")
    card = page.locator("#ftd-card")
    expect(card).to_contain_text("A man is sleeping on a sofa.")
    expect(card).to_contain_text("A person is resting.")
    expect(page.locator("#ftd-label-3")).to_have_text("3 · contradiction")
    shot(page, "label-pair")
    page.keyboard.press("1")
    page.keyboard.press("1")  # typed before the next example arrives: must not label #4 twice
    expect(count(page)).to_have_text("1 / 2 labelled")
    expect(card).to_contain_text("Two dogs run.")
    page.wait_for_timeout(500)
    assert len(services.annotate.get("nli", 4).history) == 1
    assert services.datasets.stats("nli").labelled == 1


def test_a_label_key_whose_click_gradio_dropped_is_sent_again(app, page) -> None:
    """Gradio drops a click while the button's last event is finishing (trigger_mode "once"), which can
    outlast the next card's arrival, and restyles the card as that event ends: the key's click is sent
    again until an answer comes (the card's render stamp), and the example is labelled once."""
    _, services = app
    choose_dataset(page, "drops")
    card = page.locator("#ftd-card")
    expect(card).to_contain_text("the first of two")
    page.evaluate("""() => {
      let left = 3;  // the first click and the next two sent again: the event before lasts 1 s
      window.__ftdDropped = 0;
      const drop = (ev) => {  // as Gradio does: the click never reaches the button's handler
        if (!ev.target.closest || !ev.target.closest("#ftd-label-1")) return;
        ev.stopImmediatePropagation();
        document.getElementById("ftd-card").classList.toggle("ftd-restyled");  // as Gradio's status does
        window.__ftdDropped += 1;
        if (--left === 0) window.removeEventListener("click", drop, true);
      };
      window.addEventListener("click", drop, true);
    }""")
    page.keyboard.press("1")
    expect(count(page)).to_have_text("1 / 2 labelled")
    expect(card).to_contain_text("the second of two")
    assert page.evaluate("window.__ftdDropped") == 3
    page.wait_for_timeout(2500)  # past every resend: nothing more is sent
    [first], _ = services.annotate.search("drops", text="the first of two")
    assert first.labels == ["yes"] and len(services.annotate.get("drops", first.id).history) == 1
    assert services.datasets.stats("drops").labelled == 1


def test_one_key_pressed_the_moment_each_card_shows_labels_every_example_once(app, page) -> None:
    """The real race behind the resend: the same key pressed as soon as the next card is on screen, when
    the previous press's event can still be finishing (Gradio drops the click) and restyles the card as it
    ends (which once made the dropped click look answered, and lost the key about one run in three)."""
    _, services = app
    from ftdemo.services import Actor

    services.datasets.create("streak", "single_label", ["keep", "toss"], actor=Actor("setup", "admin"))
    ids = [services.annotate.add("streak", f"item number {i}", actor=Actor("setup", "admin")).id
           for i in range(STREAK + 2)]
    page.reload()
    choose_dataset(page, "streak")
    expect(count(page)).to_have_text(f"0 / {len(ids)} labelled")
    for done in range(1, STREAK + 1):
        page.keyboard.press("1")
        expect(count(page)).to_have_text(f"{done} / {len(ids)} labelled")
    page.wait_for_timeout(2500)  # past every resend: nothing more is sent
    views = [services.annotate.get("streak", i) for i in ids]
    assert [v.labels for v in views] == [["keep"]] * STREAK + [[]] * 2
    assert [len(v.history) for v in views] == [1] * STREAK + [0] * 2


def test_data_tab_browse_edit_import(app, page, tmp_path) -> None:
    choose_dataset(page, "reviews")
    page.get_by_role("tab", name="Data").click()
    table = page.locator("#ftd-table")
    expect(table).to_contain_text("Second review")
    expect(table).to_contain_text(XSS)  # escaped in the table too
    assert table.locator("img").count() == 0

    # search, then select a row to edit
    search = field(page, "ftd-search")
    search.fill("Second")
    search.press("Enter")
    expect(table).not_to_contain_text("First review")
    _, services = app
    second = services.annotate.search("reviews", text="Second review")[0][0]
    picked = page.get_by_text(f"Example #{second.id}")

    def pick_row() -> bool:
        if not picked.is_visible():  # a click while the filtered table still re-renders can be lost: again
            table.get_by_test_id("cell-0-1").click()
        return picked.is_visible()

    wait_for(pick_row, timeout=30, every=2)
    expect(picked).to_be_visible()
    expect(field(page, "ftd-edit-text")).to_have_value("Second review")
    shot(page, "data")

    # import a CSV: preview with the planned counts and the bad row, then import the valid rows
    csv = tmp_path / "more.csv"
    csv.write_text("text,label\nFourth review,good\nFifth review,nope\nSixth review,\n", encoding="utf-8")
    open_accordion(page, "Import a file")
    page.locator("#ftd-upload input[type=file]").set_input_files(str(csv))
    expect(page.get_by_text("rows ready to import")).to_be_visible()
    expect(page.locator("#ftd-import-issues")).to_contain_text("'nope' is not in this dataset's labels")
    shot(page, "data-import")
    page.get_by_role("button", name="Import valid rows").click()
    expect(page.get_by_text("imported 2 examples")).to_be_visible()
    assert services.datasets.info("reviews").examples == 6


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory: pytest.TempPathFactory, serve_app) -> Iterator[str]:
    from ftdemo.services import Actor, Services
    from ftdemo.settings import Settings, User

    settings = Settings(data_dir=tmp_path_factory.mktemp("e2e-auth"), seed_demo=False, queue_order="in_order",
                        users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    services = Services(settings)
    services.datasets.create("reviews", "single_label", ["good", "bad"], actor=Actor("ada"))
    services.annotate.add("reviews", "Signed-in labelling works", actor=Actor("ada"))
    with serve_app(services, close_services=True) as url:
        yield url, services


def test_annotator_login_labels_as_themselves_and_sees_no_admin_panels(auth_app, browser) -> None:
    url, services = auth_app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(url)
    page.get_by_label("username").fill("ann")
    page.get_by_label("password").fill("pw-b")
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#ftd-identity")).to_contain_text("Signed in as ann (annotator)")
    expect(page.locator("#ftd-annotator")).to_be_hidden()
    expect(count(page)).to_have_text("0 / 1 labelled")
    page.locator("#ftd-card").click()
    page.keyboard.press("2")
    expect(count(page)).to_have_text("1 / 1 labelled")
    assert services.annotate.get("reviews", 1).history[-1]["annotator"] == "ann"
    page.get_by_role("tab", name="Data").click()
    expect(page.locator("#ftd-table")).to_contain_text("Signed-in labelling works")
    for admin_panel in ("Datasets and labels", "Import a file", "Export"):
        expect(page.get_by_role("button", name=admin_panel)).to_have_count(0)
    page.locator("#ftd-table").get_by_test_id("cell-0-1").click()
    expect(page.get_by_role("button", name="Save label")).to_be_visible()
    # single-label: choosing another label replaces the current one (no need to remove it first)
    page.locator("#ftd-edit-label input").click()
    page.get_by_role("option", name="good").click()
    page.get_by_role("button", name="Save label").click()
    wait_for(lambda: services.annotate.get("reviews", 1).labels == ["good"], timeout=15)
    expect(page.get_by_role("button", name="Delete")).to_have_count(0)
    expect(page.get_by_role("button", name="Save text")).to_have_count(0)
    shot(page, "data-annotator")
    page.get_by_role("tab", name="Review").click()
    expect(page.locator("#ftd-review-status")).to_contain_text("labelled examples")
    expect(page.get_by_role("button", name="Check the labels with fine-tunes")).to_have_count(0)
    context.close()


def test_error_toast_shows_user_text_as_text(app, page) -> None:
    _, services = app
    from ftdemo.services import Actor

    services.datasets.create(XSS, "single_label", ["a", "b"], actor=Actor("setup", "admin"))
    page.get_by_role("tab", name="Data").click()
    open_accordion(page, "Datasets and labels")
    field(page, "ftd-new-dataset").fill(XSS)
    field(page, "ftd-new-labels").fill("a, b")
    page.locator("#ftd-create-dataset").click()
    toast = page.get_by_test_id("toast-text").first
    expect(toast).to_contain_text(f"a dataset named '{XSS}' already exists")
    assert toast.locator("img").count() == 0
    assert page.dialogs == []


def test_bulk_labelling_similar_examples_records_the_suggestions_listed(app, page) -> None:
    from ftdemo.services import Actor

    _, services = app
    admin = Actor("setup", "admin")
    services.datasets.create("bulk", "single_label", ["good", "bad"], actor=admin)
    ids = [services.annotate.add("bulk", text, actor=admin).id for text in FILMS[:4] + FILMS[6:10]]
    for i in (0, 4):
        services.annotate.label("bulk", ids[i], "good" if i == 0 else "bad", actor=Actor("seed"))
    services.assist.ensure_embeddings("bulk", wait=True)
    page.reload()
    choose_dataset(page, "bulk")
    open_accordion(page, "Similar examples: find and label many at once")
    field(page, "ftd-similar-query").fill("a great film")
    page.locator("#ftd-similar-find").click()
    results = page.locator("#ftd-similar-results input[type=checkbox]")
    expect(results).to_have_count(8)
    expect(page.locator("#ftd-similar-results")).to_contain_text("suggested")
    page.get_by_role("button", name="Select all", exact=True).click()
    expect(page.locator("#ftd-similar-results input[type=checkbox]:checked")).to_have_count(8)
    page.locator("#ftd-bulk-labels input").click()
    page.get_by_role("option", name="good", exact=True).click()
    page.locator("#ftd-bulk-apply").click()
    expect(page.locator("#ftd-similar-note")).to_contain_text("undoes them all")
    shot(page, "label-bulk-similar")

    listed = {i: services.annotate.get("bulk", i).history[-1] for i in ids if i not in (ids[0], ids[4])}
    assert all(h["labels"] == ["good"] and h["suggestion_model"] == "instant" for h in listed.values())
    took = sum(h["suggested"] == ["good"] for h in listed.values())
    assert {h["suggestion_outcome"] for h in listed.values()} <= {"accepted", "changed"}
    [row] = services.annotate.acceptance("bulk")
    assert (row["model"], row["shown"], row["accepted"]) == ("instant", 6, took)

    expect(page.locator("#ftd-similar-results")).not_to_contain_text("suggested")  # the list shows the labels
    page.locator("#ftd-bulk-undo").click()
    expect(page.locator("#ftd-similar-note")).to_contain_text("undone: your label “good” on 8 examples (#")
    expect(page.locator("#ftd-similar-results")).to_contain_text("suggested")  # found again: unlabelled once more
    assert all(services.annotate.get("bulk", i).labels == [] for i in listed)
