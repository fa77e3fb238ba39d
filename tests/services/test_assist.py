"""AssistService over a real database and a tiny encoder: the cache across restarts, suggestions, similar
examples, quality, and the model-ranked queue orders through AnnotationService.next."""

from __future__ import annotations

import numpy as np
import pytest
from polling import wait_for

from ftdemo.services import Actor, Services
from ftdemo.store import repo

WORDS = ["good", "bad"]


@pytest.fixture
def sv(assist_settings):  # type: ignore[no-untyped-def]
    services = Services(assist_settings)
    yield services
    services.close()


def _dataset(sv: Services, name: str = "reviews", n: int = 40, labelled: int = 0, task: str = "single_label",
             labels: str = "pos,neg") -> list[int]:
    sv.datasets.create(name, task, labels, actor=Actor.local())
    with sv.db.write() as s:
        ds = repo.get_dataset(s, name)
        pair = task == "pair"
        ids = repo.add_examples(s, ds, [repo.NewExample(f"item {i} was {WORDS[i % 2]} " + "very " * (i % 5),
                                                        f"claim {i}" if pair else None) for i in range(n)],
                                created_by="t")
        if labelled:
            names = labels.split(",")
            repo.add_label_annotations(s, ds, [(i, [names[k % 2]]) for k, i in enumerate(ids[:labelled])],
                                       annotator="t")
    return ids


def test_cache_survives_a_restart_and_computes_only_new_examples(assist_settings) -> None:  # type: ignore[no-untyped-def]
    first = Services(assist_settings)
    try:
        _dataset(first, n=30)
        progress = first.assist.ensure_embeddings("reviews", wait=True)
        assert (progress.done, progress.total, progress.complete) == (30, 30, True)
        assert first.assist.embedded_texts == 30
    finally:
        first.close()
    second = Services(assist_settings)
    try:
        assert second.assist.ensure_embeddings("reviews", wait=True).done == 30
        assert second.assist.embedded_texts == 0  # all 30 came from disk
        second.annotate.add("reviews", "a brand new text", actor=Actor.local())
        second.annotate.add("reviews", "and another one", actor=Actor.local())
        assert second.assist.ensure_embeddings("reviews", wait=True).done == 32
        assert second.assist.embedded_texts == 2
    finally:
        second.close()


def test_background_worker_fills_the_index_without_blocking(sv: Services) -> None:
    _dataset(sv, n=20)
    first = sv.assist.ensure_embeddings("reviews")  # returns at once; the worker embeds
    assert first.total == 20
    wait_for(lambda: sv.assist.progress("reviews").complete, timeout=60)
    assert sv.assist.embedded_texts == 20


def test_no_suggestion_without_labels_then_instant_suggestions(sv: Services) -> None:
    ids = _dataset(sv, n=40)
    sv.assist.ensure_embeddings("reviews", wait=True)
    assert sv.assist.suggest("reviews", example_id=ids[0]) is None
    with sv.db.write() as s:
        ds = repo.get_dataset(s, "reviews")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids[:20])],
                                   annotator="t")
    sv.assist.ensure_embeddings("reviews", wait=True)
    got = sv.assist.suggest("reviews", example_id=ids[30])
    assert got is not None and got.model == "instant" and got.labels[0] in ("pos", "neg")
    assert set(got.probabilities) == {"pos", "neg"} and abs(sum(got.probabilities.values()) - 1) < 1e-3
    d = got.to_dict()
    assert set(d) >= {"label", "labels", "probabilities", "model"} and d["label"] == got.labels[0]
    typed = sv.assist.suggest("reviews", text="a text nobody stored")
    assert typed is not None and typed.model == "instant"
    q = sv.assist.quality("reviews")
    assert q["serving"] == "instant" and q["finetuned"] is None and q["labelled"] == 20
    assert q["instant"]["folds"] == 5 and q["instant"]["n"] == 20


def test_a_label_added_or_renamed_reaches_the_suggestions(sv: Services) -> None:
    ids = _dataset(sv, n=40, labelled=20)
    sv.assist.ensure_embeddings("reviews", wait=True)
    assert set(sv.assist.suggest("reviews", example_id=ids[30]).probabilities) == {"pos", "neg"}
    sv.datasets.add_label("reviews", "meh", actor=Actor.local())
    with sv.db.write() as s:  # the index was made with two labels; the examples now use three
        ds = repo.get_dataset(s, "reviews")
        repo.add_label_annotations(s, ds, [(i, ["meh"]) for i in ids[20:26]], annotator="t")
    sv.assist.ensure_embeddings("reviews", wait=True)
    vec = sv.assist.labelled_vectors("reviews")
    assert vec.labels == ("pos", "neg", "meh") and vec.given.count(("meh",)) == 6
    def three() -> object:
        got = sv.assist.suggest("reviews", example_id=ids[35])
        return got if got is not None and set(got.probabilities) == {"pos", "neg", "meh"} else None

    got = wait_for(three, timeout=30)
    assert abs(sum(got.probabilities.values()) - 1) < 1e-3
    sv.datasets.rename_label("reviews", "meh", "so-so", actor=Actor.local())
    wait_for(lambda: sv.assist.labelled_vectors("reviews").labels == ("pos", "neg", "so-so"), timeout=10)  # CHECK_S


def test_similar_examples_with_labels_and_the_text_filter(sv: Services) -> None:
    ids = _dataset(sv, n=30, labelled=10)
    sv.assist.ensure_embeddings("reviews", wait=True)
    found = sv.assist.similar("reviews", example_id=ids[3], limit=5)
    assert len(found) == 5 and ids[3] not in [f["id"] for f in found]
    assert all(set(f) == {"id", "text", "text_pair", "labels", "suggestion", "score"} for f in found)
    assert [f["score"] for f in found] == sorted((f["score"] for f in found), reverse=True)
    assert any(f["labels"] for f in sv.assist.similar("reviews", example_id=ids[3], limit=29))
    filtered = sv.assist.similar("reviews", text="item 4 was good", limit=50, text_filter="BAD")
    assert filtered and all("bad" in f["text"] for f in filtered)
    top = sv.assist.similar("reviews", text="item 0 was good", limit=1)[0]
    assert top["id"] == ids[0] and top["score"] > 0.999  # the stored text itself


def test_pair_datasets_embed_the_pair(sv: Services) -> None:
    ids = _dataset(sv, "nli", n=20, labelled=10, task="pair", labels="yes,no")
    sv.assist.ensure_embeddings("nli", wait=True)
    got = sv.assist.suggest("nli", example_id=ids[15])
    assert got is not None and got.labels[0] in ("yes", "no")
    assert sv.assist.suggest("nli", text="item 1 was bad", text_pair="claim 1") is not None


def test_multi_label_suggestions(sv: Services) -> None:
    sv.datasets.create("tags", "multi_label", "a,b,c", actor=Actor.local())
    with sv.db.write() as s:
        ds = repo.get_dataset(s, "tags")
        ids = repo.add_examples(s, ds, [repo.NewExample(f"thing {i} {WORDS[i % 2]}") for i in range(30)],
                                created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["a", "b"] if k % 2 else ["a"]) for k, i in enumerate(ids[:20])],
                                   annotator="t")
    sv.assist.ensure_embeddings("tags", wait=True)
    got = sv.assist.suggest("tags", example_id=ids[25])
    assert got is not None and "a" in got.labels and set(got.probabilities) == {"a", "b", "c"}


@pytest.mark.parametrize("order", ["uncertain", "diverse", "default"])
def test_ranked_orders_hand_out_unlabelled_examples_with_a_suggestion(sv: Services, order: str) -> None:
    ids = _dataset(sv, n=40, labelled=12)
    me = Actor("ann", "annotator")
    early = sv.annotate.next("reviews", me, order=order)  # nothing embedded yet: shuffled, never an error
    assert early is not None and early.id in ids[12:]
    sv.assist.ensure_embeddings("reviews", wait=True)
    seen = []
    for _ in range(5):
        view = sv.annotate.next("reviews", me, order=order, exclude=seen)
        assert view is not None and view.id in ids[12:] and view.id not in seen
        assert view.suggestion is not None and view.suggestion["model"] == "instant"
        assert view.to_dict()["suggestion"] == view.suggestion
        seen.append(view.id)
    assert sv.annotate.next("reviews", me, order=order, suggest=False).suggestion is None


def test_uncertain_order_follows_the_instant_model(sv: Services) -> None:
    ids = _dataset(sv, n=40, labelled=16)
    sv.assist.ensure_embeddings("reviews", wait=True)
    ranked = sv.assist.ranked_ids("reviews", "uncertain")
    assert ranked and not set(ranked) & set(ids[:16])
    idx = sv.assist._indexes["reviews"]
    probs = idx.instant.predict_proba(idx.X[[idx.row[i] for i in ranked]])
    margins = np.abs(probs[:, 0] - probs[:, 1])
    assert np.all(np.diff(margins) >= -1e-9)  # least sure first
    view = sv.annotate.next("reviews", Actor("ann", "annotator"), order="uncertain")
    assert view.id == ranked[0]


def test_every_ranked_example_labelled_falls_back_to_the_rest(sv: Services) -> None:
    ids = _dataset(sv, n=12, labelled=4)
    sv.assist.ensure_embeddings("reviews", wait=True)
    ranked = sv.assist.ranked_ids("reviews", "diverse")
    me = Actor("ann", "annotator")
    for i in ranked:
        sv.annotate.skip("reviews", i, actor=me)
    rest = set(ids[4:]) - set(ranked)
    view = sv.annotate.next("reviews", me, order="diverse")
    assert (view is None) if not rest else (view.id in rest)


def test_a_fine_tune_that_learned_the_labels_is_not_its_own_judge(sv: Services, tiny_model_dir) -> None:
    """Labels that are noise, fine-tuned long enough to be learned by heart: the fine-tune's embeddings then
    encode them, so cross-validating the instant model there scores high. Once it serves, the instant model is
    scored on the labels the fine-tune never learned, and the suspects still rest on the base embeddings."""
    import random

    from tiny import FAST_TRAIN

    from ftdemo.assist.instant import InstantModel
    from ftdemo.tasks import LabelledText
    from ftdemo.training.splits import make_splits

    rng, me = random.Random(0), Actor.local()
    words = "apple river stone cloud piano tiger lemon candle rocket garden mirror violin".split()
    sv.datasets.create("noise", "single_label", "pos,neg", actor=me)
    with sv.db.write() as s:
        ds = repo.get_dataset(s, "noise")
        ids = repo.add_examples(s, ds, [repo.NewExample(" ".join(rng.choice(words) for _ in range(6)) + f" {i}")
                                        for i in range(82)], created_by="t")
        given = {i: rng.choice(["pos", "neg"]) for i in ids[:80]}
        repo.add_label_annotations(s, ds, [(i, [lab]) for i, lab in given.items()], annotator="t")
    sv.assist.ensure_embeddings("noise", wait=True)
    base_vec = sv.assist.labelled_vectors("noise")
    before = sv.review.suspects("noise", wait=True, limit=None)
    assert sv.assist.quality("noise")["instant"]["method"] == "cross-validated"

    learn = {**FAST_TRAIN, "base_model": str(tiny_model_dir), "epochs": 30, "learning_rate": 1e-3,
             "early_stopping_patience": 0}
    run = sv.training.train_sync("noise", learn, actor=me)
    assert run["status"] == "succeeded" and sv.models.active("noise")["version"] == run["version"]
    assert sv.assist.ensure_embeddings("noise", wait=True).model == run["version"]
    serving = sv.assist._indexes["noise"]  # the fine-tune's embeddings of the labelled rows: the leak is real
    leaky = InstantModel.cross_validate(serving.X[[serving.row[i] for i in base_vec.ids]], base_vec.targets(),
                                        task="single_label", labels=base_vec.labels)
    assert leaky["macro_f1"] > 0.8

    quality = sv.assist.quality("noise")["instant"]
    examples = [LabelledText(i, "", None, (lab,)) for i, lab in given.items()]
    split = make_splits(examples, ["pos", "neg"], "single_label")  # the run's defaults
    assert quality["method"] == "held-out" and quality["n"] == len(split.validation) + len(split.test)
    assert quality["macro_f1"] < 0.6  # on rows it never learned, a noise label is a coin toss
    vec = sv.assist.labelled_vectors("noise")
    assert vec.encoder == base_vec.encoder == sv.settings.base_model_name() and vec.ids == base_vec.ids
    assert np.allclose(vec.X, base_vec.X)
    after = sv.review.suspects("noise", wait=True, limit=None)
    assert after.encoder == before.encoder and [x.id for x in after.suspects] == [x.id for x in before.suspects]

    sv.annotate.label("noise", ids[80], "pos", actor=me)  # labelled after the fine-tune: it never learned it
    sv.annotate.label("noise", ids[81], "neg", actor=me)
    assert sv.assist.ensure_embeddings("noise", wait=True).model == run["version"]
    assert sv.assist.quality("noise")["instant"]["n"] == quality["n"] + 2
    latest = sv.assist.labelled_vectors("noise", wait=True)  # the base checkpoint embeds the two new labels
    assert latest.encoder == vec.encoder and set(latest.ids) == set(vec.ids) | {ids[80], ids[81]}


def test_the_first_suggestion_of_a_process_does_not_wait_for_the_worker(assist_settings) -> None:  # type: ignore[no-untyped-def]
    first = Services(assist_settings)
    try:
        ids = _dataset(first, n=30, labelled=12)
        first.assist.ensure_embeddings("reviews", wait=True)
    finally:
        first.close()
    second = Services(assist_settings)  # a restart: embeddings on disk, no instant model yet
    try:
        got = second.assist.suggest("reviews", example_id=ids[20])
        assert got is not None and got.model == "instant"
    finally:
        second.close()


def test_an_example_whose_label_the_model_learned_is_suggested_without_it(sv: Services) -> None:
    ids = _dataset(sv, n=40, labelled=20)
    me = Actor.local()
    sv.annotate.label("reviews", ids[30], "neg", actor=me)
    sv.assist.ensure_embeddings("reviews", wait=True)
    idx = sv.assist._indexes["reviews"]
    model, row = idx.instant, idx.fitted_rows[ids[30]]
    oof, full = model.out_of_fold(row), model.predict_proba(idx.X[[idx.row[ids[30]]]])[0]
    assert oof is not None and not np.allclose(oof, full)  # the fold that held it out is another model
    rounded = lambda probs: {lab: round(float(p), 6) for lab, p in zip(idx.labels, probs)}  # noqa: E731
    assert sv.assist.suggest("reviews", example_id=ids[30]).probabilities == rounded(oof)
    listed = {r["id"]: r for r in sv.assist.similar("reviews", text="item", limit=40)}
    assert listed[ids[30]]["suggestion"]["probabilities"] == rounded(oof)
    sv.annotate.undo("reviews", actor=me)  # shown again at once, before or after the worker's refit
    for _ in range(20):  # the worker may refit while we look: judge against the model that answered
        model, rows = idx.instant, idx.fitted_rows
        got = sv.assist.suggest("reviews", example_id=ids[30]).probabilities
        if idx.instant is model:
            break
    if ids[30] in rows:  # fitted while the label stood: the fold that never saw it answers
        assert got == rounded(model.out_of_fold(rows[ids[30]]))
    else:  # refit without it
        assert got == rounded(model.predict_proba(idx.X[[idx.row[ids[30]]]])[0])


def test_the_worker_fills_the_base_embeddings_of_the_labels_beside_a_fine_tune(sv: Services, tiny_model_dir) -> None:
    from tiny import FAST_TRAIN

    _dataset(sv, n=40, labelled=24)  # fine-tuned before anything was embedded: the base cache is empty
    run = sv.training.train_sync("reviews", {**FAST_TRAIN, "base_model": str(tiny_model_dir)}, actor=Actor.local())
    assert run["status"] == "succeeded"
    sv.assist.ensure_embeddings("reviews")  # no waiting: the worker embeds, the fine-tune's and the base's

    def checked() -> object:
        found = sv.review.suspects("reviews")
        return found if found.checked == 24 else None

    found = wait_for(checked, timeout=60)
    assert found.encoder == sv.settings.base_model_name() and sv.assist.progress("reviews").model == run["version"]
    assert sv.assist.embedded_texts == 40 + 24  # every example by the fine-tune, the labelled ones by the base
