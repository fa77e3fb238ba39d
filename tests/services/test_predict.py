"""Predictions from the active version, hot swap on activation, compare mode, eval on a file."""

import contextlib
import threading

import pytest
from tiny import FAST_TRAIN

from ftdemo.errors import BusyError, InvalidInputError, NotFoundError
from ftdemo.services.predict import MAX_EXPLAIN_PER_CALLER
from ftdemo.store import repo

FAST = FAST_TRAIN


@pytest.fixture
def two_versions(services, admin, tiny_model_dir):
    services.datasets.create("kw", "single_label", "pos,neg", actor=admin)
    with services.db.write() as s:
        ds = repo.get_dataset(s, "kw")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"item {i} {'good' if i % 2 else 'bad'}") for i in range(60)],
                                created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids)], annotator="t")
    for seed in (1, 2):
        run = services.training.train_sync("kw", {**FAST, "seed": seed, "base_model": str(tiny_model_dir)}, actor=admin)
        assert run["status"] == "succeeded", run["error"]
    services.models.activate("kw", "v0001", actor=admin)
    return "kw"


def test_no_model_yet_is_actionable(services, admin):
    services.datasets.create("empty", "single_label", "a,b", actor=admin)
    with pytest.raises(NotFoundError, match="train one first"):
        services.predict.predict("empty", "hello")


def test_activation_swaps_the_served_model_without_errors(services, admin, two_versions):
    assert services.predict.predict(two_versions, "good stuff")["model_version"] == "v0001"
    seen, errors = set(), []

    def client():
        for _ in range(10):
            try:
                seen.add(services.predict.predict(two_versions, "good stuff")["model_version"])
            except Exception as err:  # noqa: BLE001 - counted below
                errors.append(err)

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    services.models.activate(two_versions, "v0002", actor=admin)
    for t in threads:
        t.join()
    assert errors == []
    assert services.predict.predict(two_versions, "good stuff")["model_version"] == "v0002"
    assert seen <= {"v0001", "v0002"}


def test_a_version_activated_by_another_instance_is_served_without_a_restart(services, admin, two_versions):
    """Another app instance (or a training worker's guard) on the same database activates a version: this
    instance serves it from its next request on (the active version is read from the database per request)."""
    from ftdemo.services import Services

    assert services.predict.predict(two_versions, "good stuff")["model_version"] == "v0001"
    other = Services(services.settings)
    try:
        other.models.activate(two_versions, "v0002", actor=admin)
        assert services.predict.predict(two_versions, "good stuff")["model_version"] == "v0002"
        other.models.rollback(two_versions, actor=admin)
        assert services.predict.predict(two_versions, "good stuff")["model_version"] == "v0001"
    finally:
        other.close()
    assert services.predict.loaded() == [f"{two_versions}/v0001"]  # swapped in place: one model in memory


def test_compare_mode_and_rollback(services, admin, two_versions):
    services.models.activate(two_versions, "v0002", actor=admin)
    a = services.predict.predict(two_versions, "good", version="v0001")
    b = services.predict.predict(two_versions, "good")
    assert (a["model_version"], b["model_version"]) == ("v0001", "v0002")
    assert services.models.rollback(two_versions, actor=admin)["version"] == "v0001"
    assert services.predict.predict(two_versions, "good")["model_version"] == "v0001"


def test_explain_and_empty_input(services, two_versions):
    ex = services.predict.explain(two_versions, "a good item", method="ig", ig_steps=16)
    assert [w["text"] for w in ex["words"]] == ["a", "good", "item"] and ex["completeness_error"] < 0.05
    with pytest.raises(InvalidInputError):
        services.predict.predict(two_versions, "   ")


def test_long_text_is_truncated_with_a_notice_and_huge_text_refused(services, two_versions):
    limit = services.settings.max_text_chars
    long = services.predict.predict(two_versions, "good " * (limit // 5))  # ~limit chars, far over 32 tokens
    assert long["truncated"] and long["label"] in ("pos", "neg")
    for call in (services.predict.predict, services.predict.explain):
        with pytest.raises(InvalidInputError, match="FTDEMO_MAX_TEXT_CHARS"):
            call(two_versions, "x" * (limit + 1))


def test_eval_on_a_labelled_file(services, two_versions, tmp_path):
    f = tmp_path / "eval.csv"
    f.write_text("text,label\n" + "".join(f"thing {i} {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}\n"
                                          for i in range(20)), encoding="utf-8")
    out = services.models.evaluate(two_versions, f)
    assert out["n"] == 20 and 0 <= out["accuracy"] <= 1 and len(out["confusion_matrix"]) == 2
    assert sum(map(sum, out["confusion_matrix"])) == 20


def test_delete_refuses_the_active_version(services, admin, two_versions):
    with pytest.raises(InvalidInputError, match="active"):
        services.models.delete(two_versions, "v0001", actor=admin)
    services.models.delete(two_versions, "v0002", actor=admin)
    assert [v["version"] for v in services.models.list(two_versions)] == ["v0001"]


def test_each_caller_runs_a_few_explanations_at_once(services, two_versions):
    """bob holds every explanation slot (as if his explanations were running): his next one is refused at
    once, alice's runs; when one of his ends he may explain again."""
    explain = services.predict.explain
    with contextlib.ExitStack() as running:
        for _ in range(MAX_EXPLAIN_PER_CALLER):
            running.enter_context(services.predict.explaining.slot("bob"))
        with pytest.raises(BusyError, match=f"{MAX_EXPLAIN_PER_CALLER} explanations running"):
            explain(two_versions, "a good item", method="ig", ig_steps=8, caller="bob")
        with pytest.raises(BusyError):
            services.predict.explanation(two_versions, "a good item", caller="bob")
        assert explain(two_versions, "a good item", method="ig", ig_steps=8, caller="alice")["words"]
    assert explain(two_versions, "a good item", method="ig", ig_steps=8, caller="bob")["words"]
    assert services.predict.explaining.running() == {}


def test_a_failed_explanation_gives_its_slot_back(services, two_versions):
    for _ in range(MAX_EXPLAIN_PER_CALLER + 1):
        with pytest.raises(InvalidInputError):
            services.predict.explain(two_versions, "a good item", method="nope", caller="bob")
    assert services.predict.explaining.running() == {}

