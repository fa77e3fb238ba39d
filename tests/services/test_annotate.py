import pytest

from ftdemo.errors import AlreadyExistsError, InvalidInputError, NotFoundError, PermissionDeniedError
from ftdemo.services import Actor


@pytest.fixture
def sent(services, admin):
    services.datasets.create("sent", "single_label", "pos,neg,neutral", actor=admin)
    return [services.annotate.add("sent", t, actor=admin).id for t in ("good", "bad", "meh", "fine")]


def test_label_appends_and_current_label_is_latest_per_annotator(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    view = services.annotate.label("sent", sent[0], "neg", actor=admin)
    assert view.labels == ["neg"] and view.annotators == 1
    hist = services.annotate.get("sent", sent[0]).history
    assert [h["labels"] for h in hist] == [["pos"], ["neg"]]  # history kept, nothing overwritten


def test_unknown_label_message_lists_the_labels(services, sent, admin):
    with pytest.raises(InvalidInputError, match="'posi' is not in this dataset's labels: pos, neg, neutral"):
        services.annotate.label("sent", sent[0], "posi", actor=admin)


def test_single_label_takes_exactly_one(services, sent, admin):
    with pytest.raises(InvalidInputError, match="exactly one label"):
        services.annotate.label("sent", sent[0], "pos,neg", actor=admin)


def test_disagreement_is_a_conflict_and_majority_wins(services, sent):
    for who, lab in (("a", "pos"), ("b", "pos"), ("c", "neg")):
        view = services.annotate.label("sent", sent[0], lab, actor=Actor(who, "annotator"))
    assert view.labels == ["pos"] and view.annotators == 3 and view.agreement == pytest.approx(2 / 3, abs=1e-3)
    st = services.datasets.stats("sent")
    assert st.multi_annotated == 1 and st.conflicts == 1
    [conflict] = services.annotate.conflicts("sent")
    assert conflict.id == sent[0] and [h["annotator"] for h in conflict.history] == ["a", "b", "c"]


def test_undo_restores_previous_state_as_new_rows(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.annotate.label("sent", sent[0], "neg", actor=admin)
    services.annotate.label("sent", sent[1], "neg", actor=admin)
    assert services.annotate.undo("sent", actor=admin).example.id == sent[1]
    assert services.annotate.get("sent", sent[1]).labels == []
    assert services.annotate.undo("sent", actor=admin).example.labels == ["pos"]  # back to the first label
    assert services.annotate.undo("sent", actor=admin).example.labels == []
    assert services.annotate.undo("sent", actor=admin) is None
    assert len(services.annotate.get("sent", sent[0]).history) == 4  # 2 labels + 2 undo rows


def test_undo_is_per_annotator(services, sent):
    a, b = Actor("a", "annotator"), Actor("b", "annotator")
    services.annotate.label("sent", sent[0], "pos", actor=a)
    services.annotate.label("sent", sent[1], "neg", actor=b)
    assert services.annotate.undo("sent", actor=a).example.id == sent[0]
    assert services.annotate.get("sent", sent[1]).labels == ["neg"]


def test_queue_skips_labelled_and_own_skips(services, sent, admin):
    other = Actor("other", "annotator")
    assert services.annotate.next("sent", admin).id == sent[0]
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.annotate.skip("sent", sent[1], actor=admin)
    assert services.annotate.next("sent", admin).id == sent[2]
    assert services.annotate.next("sent", other).id == sent[1]  # someone else's skip doesn't hide it
    assert services.annotate.next("sent", admin, exclude=[sent[2]]).id == sent[3]


def test_shuffled_queue_is_stable_per_seed_and_covers_the_pool(services, sent, admin):
    firsts = {services.annotate.next("sent", admin, order="shuffled", seed=s).id for s in range(20)}
    assert len(firsts) > 1
    assert services.annotate.next("sent", admin, order="shuffled", seed=3).id == \
        services.annotate.next("sent", admin, order="shuffled", seed=3).id


@pytest.mark.parametrize("seed", [1, 7, 12345])
def test_shuffled_queue_walks_round_the_whole_pool_from_the_seeds_place(services, admin, seed):
    from ftdemo.store.derived import shuffle_key

    services.datasets.create("ring", "single_label", "pos,neg", actor=admin)
    ids = [services.annotate.add("ring", f"text {i}", actor=admin).id for i in range(30)]
    start = shuffle_key(seed)
    ring = sorted(ids, key=lambda i: (shuffle_key(i) < start, shuffle_key(i), i))  # from the seed's place round
    seen = []
    while (ex := services.annotate.next("ring", admin, order="shuffled", seed=seed)) is not None:
        seen.append(ex.id)
        services.annotate.label("ring", ex.id, "pos", actor=admin)
    assert seen == ring


def test_add_example_rejects_duplicates_and_empty(services, sent, admin):
    with pytest.raises(InvalidInputError, match="already in the dataset"):
        services.annotate.add("sent", "  good ", actor=admin)
    with pytest.raises(InvalidInputError, match="empty"):
        services.annotate.add("sent", "   ", actor=admin)
    view = services.annotate.add("sent", "great", labels=["pos"], actor=admin)
    assert view.labels == ["pos"]


def test_pair_dataset_needs_both_texts(services, admin):
    services.datasets.create("nli", "pair", "entailment,neutral,contradiction", actor=admin)
    with pytest.raises(InvalidInputError, match="second text"):
        services.annotate.add("nli", "A man sleeps.", actor=admin)
    view = services.annotate.add("nli", "A man sleeps.", "Someone rests.", ["entailment"], actor=admin)
    assert view.text_pair == "Someone rests." and view.labels == ["entailment"]


def test_multi_label_sets_and_consensus(services, admin):
    services.datasets.create("topics", "multi_label", "sports,politics,tech", actor=admin)
    ex = services.annotate.add("topics", "Election app crashes", actor=admin).id
    assert services.annotate.label("topics", ex, "tech,politics", actor=admin).labels == ["politics", "tech"]
    view = services.annotate.label("topics", ex, ["tech"], actor=Actor("b", "annotator"))
    assert view.labels == ["politics", "tech"]  # politics chosen by half the annotators stays
    assert services.datasets.stats("topics").label_counts == {"sports": 0, "politics": 1, "tech": 1}


def test_soft_delete_hides_from_queue_stats_and_snapshot(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.annotate.delete("sent", sent[0], actor=admin)
    assert services.datasets.stats("sent").examples == 3
    assert services.annotate.snapshot("sent") == []
    with pytest.raises(NotFoundError):
        services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.annotate.delete("sent", sent[0], actor=admin, restore=True)
    assert [x.id for x in services.annotate.snapshot("sent")] == [sent[0]]


def test_annotators_cannot_edit_delete_or_create(services, sent, annotator):
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        services.annotate.delete("sent", sent[0], actor=annotator)
    with pytest.raises(PermissionDeniedError):
        services.annotate.edit("sent", sent[0], "x", actor=annotator)
    with pytest.raises(PermissionDeniedError):
        services.datasets.create("x", "pair", "a,b", actor=annotator)
    with pytest.raises(PermissionDeniedError):
        services.datasets.add_label("sent", "mixed", actor=annotator)
    assert services.annotate.label("sent", sent[0], "pos", actor=annotator).labels == ["pos"]


def test_edit_example_refuses_clash(services, sent, admin):
    with pytest.raises(AlreadyExistsError, match=f"example {sent[1]}"):
        services.annotate.edit("sent", sent[0], "bad", actor=admin)
    assert services.annotate.edit("sent", sent[0], "very good", actor=admin).text == "very good"


def test_search_filters(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.annotate.label("sent", sent[1], "neg", actor=Actor("zed", "annotator"))
    assert [v.id for v in services.annotate.search("sent", label="pos")[0]] == [sent[0]]
    assert [v.id for v in services.annotate.search("sent", annotator="zed")[0]] == [sent[1]]
    assert services.annotate.search("sent", unlabelled=True)[1] == 2
    assert [v.text for v in services.annotate.search("sent", text="BA")[0]] == ["bad"]
    assert services.annotate.search("sent", text="%")[1] == 0  # wildcards are literal


def test_label_rename_keeps_history_and_retire_hides(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin)
    services.datasets.rename_label("sent", "pos", "positive", actor=admin)
    assert services.annotate.get("sent", sent[0]).labels == ["positive"]
    services.datasets.retire_label("sent", "neutral", actor=admin)
    info = services.datasets.info("sent")
    assert info.labels == ["positive", "neg"] and info.retired_labels == ["neutral"]
    with pytest.raises(InvalidInputError):
        services.annotate.label("sent", sent[1], "neutral", actor=admin)
    services.datasets.add_label("sent", "neutral", actor=admin)  # adding back restores it
    assert services.datasets.info("sent").labels == ["positive", "neg", "neutral"]


def test_dataset_name_rules(services, admin):
    with pytest.raises(InvalidInputError):
        services.datasets.create("a/b", "pair", "x,y", actor=admin)
    with pytest.raises(InvalidInputError, match="at least 2 labels"):
        services.datasets.create("one", "single_label", "x", actor=admin)
    services.datasets.create("ok", "multi_label", "x", actor=admin)
    with pytest.raises(AlreadyExistsError):
        services.datasets.create("ok", "multi_label", "x", actor=admin)
    with pytest.raises(NotFoundError, match="existing datasets: ok"):
        services.datasets.info("nope")


def test_saving_the_same_labels_again_adds_no_history(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin, origin="data")
    services.annotate.label("sent", sent[0], "pos", actor=admin, origin="data")  # saved again, unchanged
    services.annotate.clear("sent", sent[0], actor=admin)
    services.annotate.clear("sent", sent[0], actor=admin)  # nothing left to withdraw
    assert [h["kind"] for h in services.annotate.get("sent", sent[0]).history] == ["label", "clear"]


def test_undo_from_one_face_leaves_the_others_alone(services, sent, admin):
    services.annotate.label("sent", sent[0], "pos", actor=admin, origin="label")
    services.annotate.label("sent", sent[1], "neg", actor=admin, origin="data")  # later, in the Data tab
    undone = services.annotate.undo("sent", actor=admin, origin="label")
    assert undone.example.id == sent[0] and undone.action == "label “pos”"
    assert undone.restored == "no label of yours"
    assert services.annotate.get("sent", sent[1]).labels == ["neg"]
    assert services.annotate.undo("sent", actor=admin, origin="label") is None


@pytest.mark.parametrize("example_id", [0, -1, 2**31, 2**63 - 1])
def test_an_id_no_row_can_have_is_not_found(services, sent, admin, example_id):
    """PostgreSQL's INTEGER ids are 32 bits: a larger id (typed into the API) is 'not found' there too,
    not an 'integer out of range' error from the server."""
    with pytest.raises(NotFoundError, match=f"example {example_id} is not in dataset 'sent'"):
        services.annotate.label("sent", example_id, "pos", actor=admin)
    with pytest.raises(NotFoundError, match=f"training run {example_id} does not exist"):
        services.training.run(example_id)
    assert services.annotate.label("sent", sent[0], "pos", actor=admin).labels == ["pos"]  # nothing broken
