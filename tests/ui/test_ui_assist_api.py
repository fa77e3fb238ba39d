"""The assist API against the running app: /next with its suggestion and the new orders, /suggest, /similar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ftdemo.services import Actor, Services
from ftdemo.settings import Settings, User
from ftdemo.store import repo

gradio_client = pytest.importorskip("gradio_client")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")


@pytest.fixture(scope="module")
def app(tmp_path_factory, serve_app, tiny_models) -> Iterator[tuple[str, Services, list[int]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("assist-api"), seed_demo=False,
                        base_model=str(tiny_models("api-base", model_class="BertModel")),
                        users={"ada": User("ada", "pw-a", "admin"), "ann": User("ann", "pw-b", "annotator")})
    services = Services(settings)
    services.datasets.create("api", "single_label", ["pos", "neg"], actor=Actor("setup"))
    with services.db.write() as s:
        ds = repo.get_dataset(s, "api")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"text {i} is {'good' if i % 2 else 'bad'}")
                                        for i in range(30)], created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids[:12])],
                                   annotator="t")
    services.assist.ensure_embeddings("api", wait=True)
    with serve_app(services, close_services=True) as url:
        yield url, services, ids


@pytest.fixture(scope="module")
def client(app):  # type: ignore[no-untyped-def]
    return gradio_client.Client(app[0], auth=("ann", "pw-b"), verbose=False)


@pytest.mark.parametrize("order", ["uncertain", "diverse", "default"])
def test_next_takes_the_new_orders_and_carries_the_suggestion(client, app, order: str) -> None:
    _, _, ids = app
    example = client.predict("api", "", order, 0, api_name="/next")
    assert example["id"] in ids[12:] and example["labels"] == []
    assert example["suggestion"]["model"] == "instant" and example["suggestion"]["label"] in ("pos", "neg")
    plain = client.predict("api", "", order, 0, False, api_name="/next")
    assert plain["suggestion"] is None


def test_suggest_a_typed_text(client) -> None:
    got = client.predict("api", "text 99 is good", api_name="/suggest")
    assert set(got) >= {"label", "labels", "probabilities", "model"} and got["model"] == "instant"


def test_similar_by_example_and_by_text_with_a_filter(client, app) -> None:
    _, _, ids = app
    by_example = client.predict("api", ids[2], "", 3, "", api_name="/similar")
    assert len(by_example) == 3 and ids[2] not in [f["id"] for f in by_example]
    by_text = client.predict("api", 0, "text 2 is bad", 5, "good", api_name="/similar")
    assert by_text and all("good" in f["text"] for f in by_text)


@pytest.mark.parametrize(("endpoint", "arguments", "refusal"), [
    ("/similar", ("api", 0, "", 5, ""), "give an example_id or a text"),
    ("/similar", ("api", -3, "", 5, ""), "example_id must be a whole number"),
    ("/similar", ("api", 0, "hello", 0, ""), "limit must be a whole number"),
    ("/suggest", ("api", None), "text must be text"),
    ("/suggest", ("api", "  "), "give an example id or a text"),
    ("/suggest", ("nope", "hello"), "no dataset named"),
    ("/next", ("api", "", "best", 0), "unknown queue order"),
    ("/next", ("api", "", "default", 0, "yes"), "suggest must be true or false"),
])
def test_bad_arguments_are_refused_with_a_reason(client, endpoint, arguments, refusal) -> None:
    with pytest.raises(gradio_client.exceptions.AppError, match=refusal):
        client.predict(*arguments, api_name=endpoint)


def test_the_endpoints_need_a_login(app) -> None:
    with pytest.raises(Exception):  # noqa: B017 - gradio_client refuses to connect without credentials
        gradio_client.Client(app[0], verbose=False).predict("api", "hello", api_name="/suggest")
