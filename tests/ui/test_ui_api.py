"""The gradio_client API (next, label, stats, datasets) against the running app, with and without auth."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from tiny import FAST_TRAIN

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings, User

gradio_client = pytest.importorskip("gradio_client")
# gradio's queue uses pandas APIs that pandas 3 deprecates; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


def _serve(settings: Settings, texts: int, serve_app) -> Iterator[tuple[str, Services]]:
    services = Services(settings)
    services.datasets.create("api", "single_label", ["pos", "neg"], actor=Actor("setup"))
    for i in range(texts):
        services.annotate.add("api", f"text number {i}", actor=Actor("setup"))
    with serve_app(services, close_services=True) as url:
        yield url, services


@pytest.fixture(scope="module")
def open_app(tmp_path_factory, serve_app) -> Iterator[tuple[str, Services]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("api"), seed_demo=False)
    yield from _serve(settings, 210, serve_app)


@pytest.fixture(scope="module")
def auth_app(tmp_path_factory, serve_app) -> Iterator[tuple[str, Services]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("api-auth"), seed_demo=False,
                        users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    yield from _serve(settings, 3, serve_app)


def test_next_label_stats(open_app) -> None:
    url, _ = open_app
    client = gradio_client.Client(url, verbose=False)
    assert [d["name"] for d in client.predict(api_name="/datasets")] == ["api"]
    example = client.predict("api", "zoe", "in_order", 0, api_name="/next")
    result = client.predict("api", example["id"], "neg", "zoe", api_name="/label")
    assert result == {**example, "labels": ["neg"]}
    stats = client.predict("api", api_name="/stats")
    assert stats["annotators"]["zoe"] == 1 and stats["label_counts"]["neg"] >= 1


def test_label_with_the_suggestion_shown_and_label_many(open_app) -> None:
    url, services = open_app
    client = gradio_client.Client(url, verbose=False)
    example = client.predict("api", "yan", "in_order", 0, api_name="/next")
    shown = {"labels": ["pos"], "model": "instant", "probability": 0.93}
    client.predict("api", example["id"], "neg", "yan", shown, api_name="/label_with_suggestion")
    last = services.annotate.get("api", example["id"]).history[-1]
    assert (last["suggested"], last["suggestion_model"], last["suggestion_outcome"]) == (["pos"], "instant", "changed")
    ids = [e.id for e in services.annotate.search("api", limit=5, offset=150)[0]]
    result = client.predict("api", ids + [10**9], "pos", "yan", api_name="/label_many")
    assert (result["labelled"], result["unchanged"], result["missing"], result["deleted"]) == (5, 0, [10**9], [])
    assert result["batch"] and "1 not in the dataset" in result["message"]
    undone = services.annotate.undo("api", actor=Actor("yan"))
    assert undone.examples == 5 and all(not services.annotate.get("api", i).labels for i in ids)


def test_two_annotators_are_handed_different_examples_unless_overlap(open_app) -> None:
    url, _ = open_app
    client = gradio_client.Client(url, verbose=False)
    first = client.predict("api", "uma", "shuffled", 5, api_name="/next")
    assert client.predict("api", "vic", "shuffled", 5, api_name="/next")["id"] != first["id"]
    assert client.predict("api", "uma", "shuffled", 5, api_name="/next")["id"] == first["id"]  # still uma's
    both = client.predict("api", "wes", "shuffled", 5, {"overlap": True}, api_name="/next_with_options")
    assert both["id"] == first["id"]  # double annotation asked for: uma's lease does not keep it from wes


def test_errors_come_back_as_messages(open_app) -> None:
    url, _ = open_app
    client = gradio_client.Client(url, verbose=False)
    with pytest.raises(gradio_client.exceptions.AppError, match="not in this dataset's labels"):
        client.predict("api", 1, "posi", "zoe", api_name="/label")
    with pytest.raises(gradio_client.exceptions.AppError, match="no dataset named"):
        client.predict("nope", api_name="/stats")


def test_train_options_of_the_wrong_type_are_refused_by_name(open_app) -> None:
    url, _ = open_app
    client = gradio_client.Client(url, verbose=False)
    with pytest.raises(gradio_client.exceptions.AppError, match="epochs must be a whole number, got '3'"):
        client.predict("api", {"epochs": "3"}, "zoe", api_name="/train")
    with pytest.raises(gradio_client.exceptions.AppError, match="epochs must be 0 .automatic. or at least 1, and at most 200"):
        client.predict("api", {"epochs": 10 ** 9}, "zoe", api_name="/train")


@pytest.fixture(scope="module")
def client(open_app):  # one gradio_client for the argument checks
    return gradio_client.Client(open_app[0], verbose=False)


BIG = 2**63  # one more than SQLite's largest integer
BAD_ARGUMENTS = [  # (endpoint, arguments, what the refusal says)
    ("/label", ("api", BIG, "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", "abc", "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", None, "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", True, "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", 1.5, "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", 0, "pos", "zoe"), "example_id must be a whole number"),
    ("/label", ("api", 1, 5, "zoe"), "labels_csv must be text"),
    ("/label", ("api", 1, "pos", ["zoe"]), "annotator must be text"),
    ("/label_with_suggestion", ("api", 1, "pos", "zoe", "pos"), "suggestion must be a JSON object"),
    ("/label_with_suggestion", ("api", 1, "pos", "zoe", {"labels": "pos"}), "a suggestion's labels must be a list"),
    ("/label_with_suggestion", ("api", "abc", "pos", "zoe", None), "example_id must be a whole number"),
    ("/label_many", ("api", "1,2", "pos", "zoe"), "example_ids must be a JSON list"),
    ("/label_many", ("api", [1, "x"], "pos", "zoe"), "each of example_ids must be a whole number"),
    ("/label_many", ("api", [1, BIG], "pos", "zoe"), "each of example_ids must be a whole number"),
    ("/label_many", ("api", [1, 2], 5, "zoe"), "labels_csv must be text"),
    ("/label_many", ("api", [1, 2], "posi", "zoe"), "not in this dataset's labels"),
    ("/run", (BIG,), "run_id must be a whole number"),
    ("/run", ("1; drop table runs",), "run_id must be a whole number"),
    ("/next", ("api", "zoe", "in_order", "x"), "seed must be a whole number"),
    ("/next", ("api", "zoe", "in_order", BIG), "seed must be a whole number"),
    ("/next", ("api", "zoe", 3, 0), "order must be text"),
    ("/next_with_options", ("api", "zoe", "in_order", 0, "yes"), "options must be a JSON object"),
    ("/next_with_options", ("api", "zoe", "in_order", 0, {"overlap": "yes"}), "option 'overlap' must be true or false"),
    ("/next_with_options", ("api", "zoe", "in_order", 0, {"sugest": False}), "unknown option 'sugest'"),
    ("/stats", (123,), "dataset must be text"),
    ("/models", (None,), "dataset must be text"),
    ("/audit", (None,), "dataset must be text"),
    ("/set_audit_share", ("api", "0.1", "zoe"), "share must be a number"),
    ("/set_audit_share", ("api", 0.9, "zoe"), "audit share must be a number from 0"),
    ("/train", ("api", {"epochs": 1}, 7), "annotator must be text"),
    ("/predict", ("api", None), "text must be text"),
    ("/predict", ("api", "hello", "", 3), "version must be text"),
    ("/explain", ("api", "hello", "", "ig", -1, -1, "", "x"), "ig_steps must be a whole number"),
    ("/explain", ("api", "hello", "", "ig", -1, -1, "", 2.5), "ig_steps must be a whole number"),
    ("/explain", ("api", "hello", "", "cls", "last", -1, "", 32), "layer must be a whole number"),
    ("/explain", ("api", "hello", "", "cls", -1, BIG, "", 32), "head must be a whole number"),
    ("/explain", ("api", "hello", "", ["cls"], -1, -1, "", 32), "method must be text"),
]


@pytest.mark.parametrize(("endpoint", "arguments", "refusal"), BAD_ARGUMENTS,
                         ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(BAD_ARGUMENTS)])
def test_arguments_of_the_wrong_type_or_range_are_refused_with_a_reason(client, open_app, endpoint, arguments,
                                                                       refusal) -> None:
    _, services = open_app
    before = services.annotate.get("api", 1).history
    with pytest.raises(gradio_client.exceptions.AppError, match=refusal):
        client.predict(*arguments, api_name=endpoint)
    assert services.annotate.get("api", 1).history == before  # 1.5 once labelled example 1


def test_whole_numbers_may_come_as_integral_floats_or_digits(client) -> None:
    assert client.predict("api", "zoe", "in_order", "7", api_name="/next")["id"]
    assert client.predict("api", "zoe", "in_order", 7.0, api_name="/next")["id"]


@pytest.fixture(scope="module")
def damaged(open_app, tiny_model_dir) -> str:
    """Dataset 'damaged' whose only model version has unreadable weights on disk."""
    _, services = open_app
    admin = Actor.local("setup")
    services.datasets.create("damaged", "single_label", ["pos", "neg"], actor=admin)
    for i in range(20):
        services.annotate.add("damaged", f"item {i}", labels=["pos" if i % 2 else "neg"], actor=admin)
    run = services.training.train_sync("damaged", {**FAST_TRAIN, "base_model": str(tiny_model_dir)}, actor=admin)
    assert run["status"] == "succeeded", run["error"]
    _, path = services.models.path("damaged", None)
    (path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not a header")
    return "damaged"


def test_an_unexpected_failure_answers_a_message_and_logs_the_details(client, damaged, caplog) -> None:
    for endpoint, arguments in (("/predict", (damaged, "hello")), ("/explain", (damaged, "hello"))):
        with pytest.raises(gradio_client.exceptions.AppError) as refused:
            client.predict(*arguments, api_name=endpoint)
        assert "something went wrong on the server" in str(refused.value), str(refused.value)
        assert "header" not in str(refused.value)  # the exception's own words stay in the log
    assert any("SafetensorError" in (r.exc_text or "") for r in caplog.records if r.levelname == "ERROR")


def test_four_clients_label_concurrently(open_app) -> None:
    """4 gradio_client clients × 50 labels: every write present exactly once, no lock error, DB intact."""
    url, services = open_app
    per_client = 50

    def work(who: str) -> int:
        client = gradio_client.Client(url, verbose=False)
        done = 0
        for i in range(per_client):
            # each client labels its own slice, so nobody races for the same example
            example_id = 2 + per_client * int(who[-1]) + i
            client.predict("api", example_id, "pos" if i % 2 else "neg", who, api_name="/label")
            done += 1
        return done

    names = [f"client{k}" for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, names)) == 4 * per_client
    annotators = services.datasets.stats("api").annotators
    assert all(annotators[n] == per_client for n in names)
    from sqlalchemy import text

    with services.db.read() as s:
        rows = s.execute(text("SELECT annotator, example_id, count(*) FROM annotations "
                              "WHERE annotator LIKE 'client%' GROUP BY 1, 2")).all()
    assert len(rows) == 4 * per_client and all(n == 1 for _, _, n in rows)
    assert services.db.integrity_check() == "ok"


CLIENTS, LABELS_EACH = 20, 50  # 1,000 writes from 20 threads at once: 100 each took 3.5 min of the suite's 30


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory, serve_app, pg_database) -> Iterator[tuple[str, Services]]:
    """The app on a PostgreSQL database with one example per label the clients below will write."""
    from ftdemo.store import repo

    with pg_database() as url:
        services = Services(Settings(data_dir=tmp_path_factory.mktemp("api-pg"), db_url=url, seed_demo=False))
        services.datasets.create("api", "single_label", ["pos", "neg"], actor=Actor("setup"))
        with services.db.write() as s:
            repo.add_examples(s, repo.get_dataset(s, "api"),
                              [repo.NewExample(f"text number {i}") for i in range(CLIENTS * LABELS_EACH)],
                              created_by="setup")
        with serve_app(services, close_services=True) as app_url:
            yield app_url, services


@pytest.mark.slow  # 1,000 gradio requests: ~100 s on 2 cores (gradio's own time; the database's is a fraction)
def test_twenty_clients_label_concurrently_on_postgresql(pg_app) -> None:
    """20 gradio_client clients × 50 labels against the app on PostgreSQL: every write there exactly once."""
    url, services = pg_app

    def work(k: int) -> list[int]:
        client = gradio_client.Client(url, verbose=False)
        written = []
        for i in range(LABELS_EACH):
            example_id = 1 + k * LABELS_EACH + i  # each client its own slice
            written.append(client.predict("api", example_id, "pos" if i % 2 else "neg", f"client{k}",
                                          api_name="/label")["id"])
        return written

    with ThreadPoolExecutor(CLIENTS) as pool:
        acknowledged = [example_id for ids in pool.map(work, range(CLIENTS)) for example_id in ids]
    from sqlalchemy import text

    with services.db.read() as s:
        rows = s.execute(text("SELECT annotator, example_id, count(*) FROM annotations GROUP BY 1, 2")).all()
    assert sorted(acknowledged) == list(range(1, CLIENTS * LABELS_EACH + 1))
    assert {(a, e) for a, e, _ in rows} == {(f"client{(e - 1) // LABELS_EACH}", e) for e in acknowledged}
    assert all(n == 1 for _, _, n in rows)
    stats = services.datasets.stats("api")
    assert stats.labelled == CLIENTS * LABELS_EACH and stats.label_counts == {"pos": CLIENTS * LABELS_EACH // 2, "neg": CLIENTS * LABELS_EACH // 2}
    assert services.db.integrity_check() == "ok"


def test_with_auth_the_login_is_the_annotator(auth_app) -> None:
    url, services = auth_app
    client = gradio_client.Client(url, auth=("ann", "pw-b"), verbose=False)
    client.predict("api", 1, "pos", "someone-else", api_name="/label")
    assert services.annotate.get("api", 1).history[-1]["annotator"] == "ann"
    with pytest.raises(Exception):
        gradio_client.Client(url, auth=("ann", "wrong"), verbose=False)


def test_the_audit_sample_is_set_by_admins_and_read_by_anyone(auth_app) -> None:
    url, _ = auth_app
    annotator = gradio_client.Client(url, auth=("ann", "pw-b"), verbose=False)
    with pytest.raises(gradio_client.exceptions.AppError, match="only an admin can change a dataset's audit sample"):
        annotator.predict("api", 0.2, "", api_name="/set_audit_share")
    admin = gradio_client.Client(url, auth=("ada", "pw-a"), verbose=False)
    try:
        assert admin.predict("api", 0.2, "", api_name="/set_audit_share")["share"] == 0.2
        assert annotator.predict("api", api_name="/audit") == admin.predict("api", api_name="/audit")
        assert annotator.predict("api", api_name="/audit")["share"] == 0.2
    finally:
        admin.predict("api", 0, "", api_name="/set_audit_share")


@pytest.fixture(scope="module")
def failed_run(auth_app, tmp_path_factory) -> tuple[int, str]:
    """A run of dataset 'runs' that failed inside transformers: its error is a traceback naming server files."""
    _, services = auth_app
    ada = Actor("ada", "admin")
    services.datasets.create("runs", "single_label", ["pos", "neg"], actor=ada)
    for i in range(20):
        services.annotate.add("runs", f"item {i}", labels=["pos" if i % 2 else "neg"], actor=ada)
    broken = tmp_path_factory.mktemp("broken-model")
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    run = services.training.train_sync("runs", {**FAST_TRAIN, "base_model": str(broken)}, actor=ada)
    assert run["status"] == "failed" and "Traceback" in run["error"] and "site-packages" in run["error"]
    return run["id"], str(broken)


def test_run_errors_are_one_line_for_annotators_and_in_full_for_admins(auth_app, failed_run) -> None:
    url, _ = auth_app
    run_id, broken = failed_run
    ann = gradio_client.Client(url, auth=("ann", "pw-b"), verbose=False).predict(run_id, api_name="/run")
    ada = gradio_client.Client(url, auth=("ada", "pw-a"), verbose=False).predict(run_id, api_name="/run")
    assert "Traceback" in ada["error"] and broken in ada["error"]
    assert ann["error"].startswith("OSError:") and "config.json" in ann["error"]
    assert "\n" not in ann["error"] and "Traceback" not in ann["error"]
    assert broken not in ann["error"] and "site-packages" not in ann["error"] and "/tmp" not in ann["error"]
    assert {k: v for k, v in ann.items() if k != "error"} == {k: v for k, v in ada.items() if k != "error"}
